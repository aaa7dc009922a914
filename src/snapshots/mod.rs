//! Parquet snapshots: the cleaned staging models written as Parquet files (`omnimarket refresh --to
//! DIR_OR_URL`), on a local disk or an S3 bucket, and a project opened on them (`--snapshots DIR_OR_URL`) without
//! parsing a raw file. They are what another engine (Ballista's executors) or another machine reads.
//!
//! Layout under the root: `<model>/part-<run>.parquet`, or `<model>/year=<YYYY>/part-<run>.parquet` for a fact
//! (a table the date table dates): one file per year of the date its date key points to, rows without one in
//! `year=__null__`, and `_omnimarket_snapshots.json`, the [`manifest`] that lists every file with its rows,
//! size and SHA-256. The manifest is written last and readers take the file list from it, never from a
//! directory listing: a refresh interrupted half-way leaves the previous snapshot whole and served; files of
//! older runs are deleted only once the new manifest is in place.
//!
//! [`write`] writes a snapshot from the staging schema; [`open`] serves one as the `staging` schema (a Parquet
//! listing table per model, files checked against the manifest's sizes when first used; `verify` re-reads every
//! file against its checksum).

pub mod manifest;
pub mod open;
pub mod partition;
pub mod write;

pub use manifest::{MANIFEST_FILE, Manifest};
pub use open::{SnapshotSchema, verify};
pub use write::{fact_partitioning, write_snapshot};

/// Why a snapshot could not be written, opened or trusted. Each names the file (or root) concerned.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Location(#[from] crate::sources::SourceError),
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: cannot encode Parquet: {message}")]
    Encode { file: String, message: String },
    #[error("model `{model}`: {message}")]
    Model { model: String, message: String },
}

impl From<SnapshotError> for datafusion::common::DataFusionError {
    fn from(e: SnapshotError) -> Self {
        datafusion::common::DataFusionError::External(Box::new(e))
    }
}
