//! `omnimarket refresh`: bring the models' snapshot cache up to date. A model is rebuilt only when its
//! snapshot is absent, corrupt, or stale (a raw file it reads, directly or through the models it refs, or its
//! own or an upstream model's SQL changed); the others are kept without being read. Exit code 1 when a model
//! fails to build, or when a snapshot written with `--to` fails its check.
//!
//! `--to DIR_OR_URL` then writes every model as a Parquet snapshot there (see `crate::snapshots`), which
//! `--snapshots DIR_OR_URL` opens without the raw files; `--verify` re-reads what was written against the
//! manifest's SHA-256.

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use super::progress::Bar;
use super::{ProjectArgs, runtime};
use crate::generate::Progress;
use std::collections::HashMap;
use std::path::Path;

use crate::snapshots::partition::YearOf;
use crate::snapshots::{fact_partitioning, write_snapshot};
use crate::sources::location::SourceLocation;
use crate::transform::staging::RefreshEntry;

#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Also write the cleaned models as a Parquet snapshot at DIR_OR_URL (a path, file:// or
    /// s3://bucket/prefix; facts partitioned by year), replacing the one there once the new one is complete.
    #[arg(long, value_name = "DIR_OR_URL")]
    pub to: Option<String>,
    /// After --to, read every written file back and check it against the manifest's SHA-256.
    #[arg(long, requires = "to")]
    pub verify: bool,
}

pub fn run(args: RefreshArgs) -> Result<ExitCode, String> {
    if args.project.no_cache {
        return Err("refresh updates the snapshot cache; it cannot run with --no-cache".into());
    }
    if args.project.snapshots.is_some() {
        return Err("refresh builds the models from the raw files; it cannot run on --snapshots".into());
    }
    let started = Instant::now();
    let project = args.project.project()?;
    let target = args.to.as_deref().map(|to| SourceLocation::resolve(to, Path::new("."))).transpose().map_err(|e| e.to_string())?;
    let (_ctx, raw, staging) = project.open().map_err(|e| e.to_string())?;
    // The table below says why each model was rebuilt; the per-model notes of a query would repeat it.
    staging.set_quiet(true);
    let bar = Bar::new();
    bar.set_stage("refreshing models", staging.models().models.len() as u64);
    let result = runtime()?.block_on(staging.refresh(|_| bar.advance(1)));
    bar.finish();
    let entries = result.map_err(|e| super::describe_error(&e))?;
    let removed = staging.cache().map(|c| c.prune(staging.models())).unwrap_or_default();
    print_entries(&entries);
    let rebuilt = entries.iter().filter(|e| e.rebuilt.is_some()).count();
    let parsed = raw.parsed();
    println!(
        "rebuilt {rebuilt} of {} models, kept {}, in {:.2} s; parsed {} raw file(s){}",
        entries.len(),
        entries.len() - rebuilt,
        started.elapsed().as_secs_f64(),
        parsed.len(),
        if parsed.is_empty() { String::new() } else { format!(" ({})", parsed.join(", ")) }
    );
    if let Some(c) = staging.cache() {
        println!("cache: {}", c.dir().display());
    }
    if !removed.is_empty() {
        println!("removed {} leftover file(s) (snapshots of deleted models, temp files of interrupted writes)", removed.len());
    }
    match target {
        Some(root) => {
            // The semantic model says which models are facts and what dates them (their partitions by year).
            let model = crate::model::load::load_project(&project.dir).map_err(|e| e.to_string())?;
            let facts = runtime()?.block_on(fact_partitioning(&model, &staging)).map_err(|e| e.to_string())?;
            write_parquet(&staging, &root, &facts, args.verify)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `--to`: the Parquet snapshot, and with `--verify` its check.
fn write_parquet(
    staging: &crate::transform::StagingSchema,
    root: &SourceLocation,
    facts: &HashMap<String, YearOf>,
    verify: bool,
) -> Result<ExitCode, String> {
    let started = Instant::now();
    let bar = Bar::new();
    bar.set_stage("writing Parquet", staging.models().models.len() as u64);
    let rt = runtime()?;
    let written = rt.block_on(write_snapshot(staging, root, facts, |_| bar.advance(1)));
    bar.finish();
    let manifest = written.map_err(|e| e.to_string())?;
    let files: usize = manifest.models.iter().map(|m| m.files.len()).sum();
    let bytes: u64 = manifest.models.iter().flat_map(|m| m.files.iter()).map(|f| f.bytes).sum();
    println!(
        "wrote a Parquet snapshot of {} models ({files} files, {:.1} MB) to {} in {:.2} s (run {})",
        manifest.models.len(),
        bytes as f64 / 1e6,
        root.display,
        started.elapsed().as_secs_f64(),
        manifest.run
    );
    if !verify {
        return Ok(ExitCode::SUCCESS);
    }
    let (_, damaged) = rt.block_on(crate::snapshots::verify(root)).map_err(|e| e.to_string())?;
    for d in &damaged {
        eprintln!("error: {}: {}", d.file, d.why);
    }
    if damaged.is_empty() {
        println!("verified {files} files against their SHA-256");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

fn print_entries(entries: &[RefreshEntry]) {
    let width = entries.iter().map(|e| e.model.len()).max().unwrap_or(5).max(5);
    println!("{:<width$}  {:<7}  {:>9}  {:>8}  why", "model", "action", "rows", "time");
    for e in entries {
        let (action, why) = match &e.rebuilt {
            None => ("kept", String::new()),
            Some(why) => ("rebuilt", why.to_string()),
        };
        let line = format!("{:<width$}  {action:<7}  {:>9}  {:>6.2} s  {why}", e.model, e.rows, e.elapsed.as_secs_f64());
        println!("{}", line.trim_end());
    }
}
