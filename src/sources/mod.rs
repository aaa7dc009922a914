//! The raw sources: each raw file (CSV, JSON, XML, XLSX, MySQL dump) as a DataFusion table.
//!
//! One module per format, each implementing [`SourceFormat`]; [`FORMATS`] is the one registry. To add a sixth
//! format: write `src/sources/<format>.rs` with a type implementing `SourceFormat`, and add one line to
//! [`FORMATS`]. Nothing else changes: `sources.yaml` names it by [`SourceFormat::name`].
//!
//! This layer ends at a `SessionContext` with the raw tables registered (schema `raw`); cleaning and the
//! semantic model are built on top of it, never inside it.

pub mod builders;
pub mod config;
pub mod csv;
pub mod error;
pub mod json;
pub mod limits;
pub mod location;
pub mod mysql_dump;
pub mod table;
pub mod types;
pub mod xlsx;
mod xlsx_zip;
pub mod xml;

use std::collections::BTreeMap;
use std::fmt::Debug;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use serde::de::DeserializeOwned;

pub use config::{SourceDecl, SourcesFile};
pub use error::{Position, Result, SourceError};
pub use table::{RawSchema, SourceTable};

/// Rows per Arrow batch produced by the readers.
pub const BATCH_ROWS: usize = 8192;

/// A raw file format: parses its `options:` block and builds a reader.
pub trait SourceFormat: Send + Sync + 'static {
    /// The name used in `format:` of `sources.yaml`.
    fn name(&self) -> &'static str;
    /// File extensions (lower case, no dot) that select this format when `format:` is omitted.
    fn extensions(&self) -> &'static [&'static str];
    /// Validate the options (unknown keys are an error) and build a reader.
    fn reader(&self, options: serde_norway::Value) -> std::result::Result<Box<dyn SourceReader>, String>;
}

/// Decodes one file's bytes into Arrow batches, all or nothing.
pub trait SourceReader: Send + Sync + Debug {
    fn read(&self, input: &SourceInput<'_>) -> Result<RawTable>;
}

/// What a reader is given: the bytes, the file name for errors, and the column types the user declared.
pub struct SourceInput<'a> {
    pub file: &'a str,
    pub bytes: &'a [u8],
    pub declared: &'a DeclaredTypes,
}

/// Column name → declared type, from the `columns:` block of a source.
pub type DeclaredTypes = BTreeMap<String, DataType>;

/// A decoded raw table.
#[derive(Debug, Clone)]
pub struct RawTable {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl RawTable {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// Every supported format. The single place a new format is registered.
pub static FORMATS: &[&dyn SourceFormat] = &[&csv::CsvFormat, &json::JsonFormat, &xml::XmlFormat, &xlsx::XlsxFormat, &mysql_dump::MysqlDumpFormat];

pub fn format_by_name(name: &str) -> Option<&'static dyn SourceFormat> {
    FORMATS.iter().copied().find(|f| f.name().eq_ignore_ascii_case(name))
}

pub fn format_by_extension(path: &str) -> Option<&'static dyn SourceFormat> {
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    FORMATS.iter().copied().find(|f| f.extensions().contains(&ext.as_str()))
}

/// Deserialize a format's options block into its typed options (which use `deny_unknown_fields`).
/// A missing block means the defaults.
pub fn parse_options<T: DeserializeOwned + Default>(value: serde_norway::Value) -> std::result::Result<T, String> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_norway::from_value(value).map_err(|e| e.to_string())
}
