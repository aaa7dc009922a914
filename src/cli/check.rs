//! `omnimarket check`: the data-quality report. Exit code 1 when a test of severity `error` fails.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{ProjectArgs, runtime};
use crate::transform::ModelSet;
use crate::transform::quality::{Report, load_quality, run_report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

pub fn run(args: CheckArgs) -> Result<ExitCode, String> {
    let project = args.project.project()?;
    let (ctx, raw) = project.session().map_err(|e| e.to_string())?;
    let models = ModelSet::load(&project.dir, &raw.names()).map_err(|e| e.to_string())?;
    let (file, quality) = load_quality(&project.dir).map_err(|e| e.to_string())?;
    let report = runtime()?.block_on(run_report(&ctx, &models, &file, &quality)).map_err(|e| e.to_string())?;
    match args.format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?),
        ReportFormat::Table => print_table(&report),
    }
    Ok(if report.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn print_table(r: &Report) {
    for m in &r.models {
        match m.rows_in {
            Some(i) => println!("{}: {i} rows in, {} rows out", m.model, m.rows_out),
            None => println!("{}: {} rows out", m.model, m.rows_out),
        }
        for (rule, n) in &m.rules {
            println!("  rule  {rule:<58} {n:>8}");
        }
        for t in &m.tests {
            let verdict = match (t.passed, t.severity) {
                (true, _) => "pass".to_string(),
                (false, s) => {
                    format!("FAIL ({} rows, {})", t.failing_rows, if s == crate::transform::quality::Severity::Error { "error" } else { "warn" })
                }
            };
            println!("  test  {:<58} {verdict}", t.test);
        }
    }
    for rc in &r.reconciliations {
        println!("reconciliation: {}: {}", rc.name, if rc.passed { "pass" } else { "FAIL" });
        for (what, a, b) in &rc.figures {
            let mark = if (a - b).abs() < 0.005 { "=" } else { "≠" };
            println!("  {what:<28} {a:>18.2} {mark} {b:<18.2}");
        }
    }
}
