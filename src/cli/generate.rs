//! `omnimarket generate`: write the raw files of the synthetic business.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Args;

use super::progress::Bar;
use crate::generate::{GenerateConfig, GenerateSummary, generate};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write the 14 files into (created if missing).
    #[arg(long, default_value = "data")]
    pub out: PathBuf,
    /// Multiplies clients, sales, returns and sessions (products and dates stay).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub scale: u32,
    /// Random seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// First day of the calendar.
    #[arg(long, default_value = "2023-01-01")]
    pub start: NaiveDate,
    /// Last day of the calendar (inclusive).
    #[arg(long, default_value = "2024-12-31")]
    pub end: NaiveDate,
}

pub fn run(a: GenerateArgs) -> Result<ExitCode, String> {
    let cfg = GenerateConfig { out_dir: a.out, scale: a.scale, seed: a.seed, start: a.start, end: a.end };
    let summary = run_config(&cfg)?;
    print_summary(&cfg.out_dir, &summary);
    Ok(ExitCode::SUCCESS)
}

fn run_config(cfg: &GenerateConfig) -> Result<GenerateSummary, String> {
    let bar = Bar::new();
    let result = generate(cfg, &bar);
    crate::generate::Progress::finish(&bar);
    result.map_err(|e| e.to_string())
}

fn print_summary(dir: &Path, s: &GenerateSummary) {
    let total: u64 = s.files.iter().map(|f| f.2).sum();
    println!("{:<26} {:>12} {:>14}", "file", "rows", "bytes");
    for (name, rows, bytes) in &s.files {
        println!("{name:<26} {rows:>12} {bytes:>14}");
    }
    println!("wrote {} files ({:.1} MB) to {} in {:.2} s", s.files.len(), total as f64 / 1e6, dir.display(), s.elapsed.as_secs_f64());
}

/// The data directory to query: the one given, or `./data`, generated with the defaults when it is missing so
/// that a new user's first query just works.
pub fn ensure_data(given: Option<&Path>, default: &Path) -> Result<PathBuf, String> {
    if let Some(d) = given {
        return Ok(d.to_path_buf());
    }
    let marker = default.join("base_ventes.sql");
    if !marker.exists() {
        eprintln!("no data directory `{}`: generating the default dataset there (scale 1, seed 42)...", default.display());
        let cfg = GenerateConfig { out_dir: default.to_path_buf(), ..GenerateConfig::default() };
        let s = run_config(&cfg)?;
        eprintln!("generated {} files in {:.2} s", s.files.len(), s.elapsed.as_secs_f64());
    }
    Ok(default.to_path_buf())
}
