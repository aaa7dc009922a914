//! The synthetic business: a seeded generator of the 14 raw files of a Moroccan omnichannel retailer.
//!
//! [`generate`] builds the small tables in memory (calendar, catalogue, clients), streams the large ones
//! (sales, sessions) to disk in bounded memory, and plants the data-quality defects the cleaning must fix, in
//! exact numbers ([`DefectCounts`]). The same seed gives the same bytes in every file. The business patterns
//! (seasons, Pareto, channel mix, returns, ...) are described in `spec/sources.md`.
//!
//! This module writes files only; reading them back is the job of `sources`.

pub mod calendar;
pub mod catalog;
pub mod dims;
pub mod files;
pub mod objectives;
pub mod output;
pub mod people;
pub mod returns;
pub mod rng;
pub mod sales;
pub mod stock;
pub mod traffic;
pub mod writers;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use self::calendar::Calendar;
use self::catalog::Catalog;
use self::files::sales::Stamps;
use self::people::{ClientBase, ClientDefects};
use self::returns::ReturnsGen;
use self::rng::{Stream, stream};
use self::sales::{SalesDefects, SalesStream, day_weights};
use self::traffic::SessionStream;

/// The largest accepted `--scale`: 500 million sales, and client ids that still fit a MySQL `int`.
pub const MAX_SCALE: u32 = 10_000;

/// What to generate and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateConfig {
    pub out_dir: PathBuf,
    /// Multiplies clients, sales, returns and sessions (at least 1).
    pub scale: u32,
    pub seed: u64,
    /// First day of the range.
    pub start: NaiveDate,
    /// Last day of the range (inclusive).
    pub end: NaiveDate,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self {
            out_dir: PathBuf::from("data"),
            scale: 1,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or_default(),
            end: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap_or_default(),
        }
    }
}

impl GenerateConfig {
    /// Checks the configuration before anything is written.
    pub fn validate(&self) -> Result<(), GenerateError> {
        if self.scale == 0 {
            return Err(GenerateError::ZeroScale);
        }
        if self.scale > MAX_SCALE {
            return Err(GenerateError::ScaleTooLarge { scale: self.scale, max: MAX_SCALE });
        }
        if self.end < self.start {
            return Err(GenerateError::EndBeforeStart { start: self.start, end: self.end });
        }
        let min = NaiveDate::from_ymd_opt(1901, 1, 1).unwrap_or_default();
        let max = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default();
        if self.start < min || self.end > max {
            return Err(GenerateError::DateOutOfRange { start: self.start, end: self.end });
        }
        Ok(())
    }

    /// Sales to generate: exactly 50,000 per unit of scale.
    pub fn sales_count(&self) -> u64 {
        50_000 * u64::from(self.scale)
    }

    /// Web sessions to generate: exactly 100,000 per unit of scale.
    pub fn sessions_count(&self) -> u64 {
        100_000 * u64::from(self.scale)
    }

    /// The timestamp stamped into the files in place of the wall clock: the last second of the range.
    fn stamp(&self) -> String {
        format!("{} 23:59:59", self.end.format("%Y-%m-%d"))
    }
}

/// Progress reporting, implemented by the command line (a progress bar) or [`NoProgress`].
pub trait Progress: Send + Sync {
    /// A new stage starts, made of `total_units` units of work.
    fn set_stage(&self, stage: &str, total_units: u64);
    /// `units` more units of the current stage are done.
    fn advance(&self, units: u64);
    /// Everything is done.
    fn finish(&self);
}

/// Progress reporting that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn set_stage(&self, _stage: &str, _total_units: u64) {}
    fn advance(&self, _units: u64) {}
    fn finish(&self) {}
}

/// Exact numbers of the data-quality defects planted in the files, for the data-quality report to check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefectCounts {
    /// Dim_Client rows that repeat an earlier client under a new ID (50 per unit of scale).
    pub duplicate_clients: u64,
    /// Dim_Client rows without Telephone (100 per unit of scale).
    pub null_telephone: u64,
    /// Dim_Client rows without Ville (100 per unit of scale).
    pub null_ville: u64,
    /// Dim_Client Ville values in the wrong case or with stray spaces (100 per unit of scale, 2%).
    pub messy_ville: u64,
    /// Fait_Ventes rows whose ID_Client is not in Dim_Client: round(0.1% of sales).
    pub orphan_sales: u64,
    /// Fait_Ventes rows with a NULL Montant_HT or Montant_TTC: round(0.05% of sales).
    pub null_amount_sales: u64,
}

impl DefectCounts {
    /// The counts a configuration plants, known without generating anything.
    pub fn expected(cfg: &GenerateConfig) -> Self {
        Self::from_parts(ClientDefects::for_scale(u64::from(cfg.scale)), SalesDefects::for_sales(cfg.sales_count()))
    }

    fn from_parts(c: ClientDefects, s: SalesDefects) -> Self {
        Self {
            duplicate_clients: c.duplicates,
            null_telephone: c.null_telephone,
            null_ville: c.null_ville,
            messy_ville: c.messy_ville,
            orphan_sales: s.orphan_sales,
            null_amount_sales: s.null_amount_sales,
        }
    }
}

/// What a run wrote.
#[derive(Debug, Clone)]
pub struct GenerateSummary {
    /// (file name, data rows, bytes) for each of the 14 files.
    pub files: Vec<(String, u64, u64)>,
    pub elapsed: Duration,
    /// The defects counted on the rows as written (equal to [`DefectCounts::expected`]).
    pub defects: DefectCounts,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("invalid configuration: the scale must be at least 1")]
    ZeroScale,
    #[error("invalid configuration: scale {scale} is above the maximum of {max}")]
    ScaleTooLarge { scale: u32, max: u32 },
    #[error("invalid configuration: the end date {end} is before the start date {start}")]
    EndBeforeStart { start: NaiveDate, end: NaiveDate },
    #[error("invalid configuration: dates must lie between 1901-01-01 and 9999-12-31 (got {start} to {end})")]
    DateOutOfRange { start: NaiveDate, end: NaiveDate },
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot write the workbook {}: {message}", path.display())]
    Xlsx { path: PathBuf, message: String },
    #[error("internal error: the writer of {file} stopped unexpectedly")]
    WriterPanicked { file: String },
    /// A writer stopped because the run failed elsewhere; that other error is what gets reported.
    #[error("writing {file} was abandoned because the run failed")]
    Aborted { file: String },
}

/// Writes the 14 files into `cfg.out_dir` (created if missing).
pub fn generate(cfg: &GenerateConfig, progress: &dyn Progress) -> Result<GenerateSummary, GenerateError> {
    let started = Instant::now();
    cfg.validate()?;
    let dir = cfg.out_dir.as_path();
    std::fs::create_dir_all(dir).map_err(|e| output::io_err(dir, e))?;
    let scale = u64::from(cfg.scale);
    let seed = cfg.seed;

    let cal = Calendar::new(cfg.start, cfg.end);
    let catalog = Catalog::generate(&mut stream(seed, Stream::Products));
    let clients = ClientBase::generate(scale, cfg.start, cfg.end, &mut stream(seed, Stream::Clients), &mut stream(seed, Stream::ClientDefects));
    let weights = day_weights(&cal, &mut stream(seed, Stream::DayNoise));
    let stamps = Stamps { created: cfg.end, completed_on: cfg.stamp() };
    let mut written = Vec::with_capacity(files::ALL_FILES.len());

    progress.set_stage("dimensions", 7);
    let mut done = |w: files::Written| {
        written.push(w);
        progress.advance(1);
    };
    done(files::dims::dim_temps(dir, &cal)?);
    done(files::dims::dim_promotion(dir, &cal)?);
    done(files::dims::dim_canal(dir)?);
    done(files::dims::dim_livraison(dir)?);
    done(files::dims::dim_motif_retour(dir)?);
    done(files::dims::referentiel_geo(dir)?);
    done(files::dims::dim_produit(dir, &catalog)?);

    // The sales and the sessions are independent streams: they run side by side, each on its own threads, and
    // the first to fail cancels the other.
    progress.set_stage("sales and web sessions", cfg.sales_count() + cfg.sessions_count());
    let generated_at = cfg.stamp().replace(' ', "T");
    let cancel = AtomicBool::new(false);
    let (outcome, sessions_written) = thread::scope(|s| {
        let sessions = s.spawn(|| {
            let rng = stream(seed, Stream::Sessions);
            let sessions = SessionStream::new(&cal, &clients, &weights, cfg.sessions_count(), rng);
            let written = files::facts::fait_trafic_web(dir, &generated_at, sessions, progress, &cancel);
            if written.is_err() {
                cancel.store(true, Ordering::Relaxed);
            }
            written
        });
        let sales =
            SalesStream::new(&cal, &catalog, &clients, &weights, cfg.sales_count(), stream(seed, Stream::Sales), stream(seed, Stream::SalesDefects));
        let last_day = cal.len().saturating_sub(1) as u32;
        let returns = ReturnsGen::new(stream(seed, Stream::Returns), last_day);
        let outcome = files::sales::run(dir, &cal, sales, returns, &stamps, progress, &cancel);
        if outcome.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        let sessions = sessions.join().unwrap_or_else(|_| Err(GenerateError::WriterPanicked { file: files::FAIT_TRAFIC_WEB_JSON.into() }));
        match (outcome, sessions) {
            (Ok(o), Ok(s)) => Ok((o, s)),
            (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
            // One side failed and cancelled the other: report the cause, not the cancellation.
            (Err(a), Err(b)) => Err(if matches!(a, GenerateError::Aborted { .. }) { b } else { a }),
        }
    })?;
    written.extend(outcome.files);
    written.push(sessions_written);

    let stock = stock::snapshots(&cal, &catalog, &mut stream(seed, Stream::Stock));
    progress.set_stage("stock", stock.len() as u64);
    written.push(files::facts::fait_stock(dir, &cal, &stock)?);
    progress.advance(stock.len() as u64);

    progress.set_stage("clients and objectives", 2);
    written.push(files::clients::dim_client(dir, stamps.created, &cal, &clients, &outcome.stats)?);
    progress.advance(1);
    let objectives = objectives::objectives(&outcome.revenue, &mut stream(seed, Stream::Objectives));
    written.push(files::facts::objectifs(dir, stamps.created, &objectives)?);
    progress.advance(1);
    progress.finish();

    written.sort_by_key(|(name, _, _)| files::ALL_FILES.iter().position(|f| f == name));
    Ok(GenerateSummary { files: written, elapsed: started.elapsed(), defects: DefectCounts::from_parts(clients.count_defects(), outcome.defects) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_configurations_are_refused_with_clear_errors() {
        let ok = GenerateConfig::default();
        assert!(ok.validate().is_ok());
        let e = GenerateConfig { scale: 0, ..ok.clone() }.validate().unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
        let e = GenerateConfig { scale: MAX_SCALE + 1, ..ok.clone() }.validate().unwrap_err();
        assert!(matches!(e, GenerateError::ScaleTooLarge { .. }));
        let e = GenerateConfig { start: ok.end, end: ok.start, ..ok.clone() }.validate().unwrap_err();
        assert!(e.to_string().contains("2023-01-01"), "{e}");
        let early = NaiveDate::from_ymd_opt(1800, 1, 1).unwrap();
        assert!(GenerateConfig { start: early, ..ok.clone() }.validate().is_err());
    }

    #[test]
    fn expected_defects_at_scale_1() {
        let d = DefectCounts::expected(&GenerateConfig::default());
        assert_eq!(
            d,
            DefectCounts { duplicate_clients: 50, null_telephone: 100, null_ville: 100, messy_ville: 100, orphan_sales: 50, null_amount_sales: 25 }
        );
    }
}
