//! `omnimarket refresh`: bring the models' snapshot cache up to date. A model is rebuilt only when its
//! snapshot is absent, corrupt, or stale (a raw file it reads, directly or through the models it refs, or its
//! own or an upstream model's SQL changed); the others are kept without being read. Exit code 1 when a model
//! fails to build.

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use super::progress::Bar;
use super::{ProjectArgs, runtime};
use crate::generate::Progress;
use crate::project::{Project, default_data_dir};
use crate::transform::staging::RefreshEntry;

#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
}

pub fn run(args: RefreshArgs) -> Result<ExitCode, String> {
    if args.project.no_cache {
        return Err("refresh updates the snapshot cache; it cannot run with --no-cache".into());
    }
    let started = Instant::now();
    let data = super::generate::ensure_data(args.project.data.as_deref(), default_data_dir())?;
    let project = Project::new(&args.project.project, data);
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
    Ok(ExitCode::SUCCESS)
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
