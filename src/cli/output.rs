//! Printing query results: an aligned table for people, CSV and JSON for scripts.

use std::io::Write;

use clap::ValueEnum;
use datafusion::arrow::record_batch::RecordBatch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned table.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON array of row objects (NULLs kept as null).
    Json,
}

pub fn write_batches(out: &mut dyn Write, format: OutputFormat, batches: &[RecordBatch]) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("cannot print the result: {e}");
    match format {
        OutputFormat::Table => {
            let text = datafusion::arrow::util::pretty::pretty_format_batches(batches).map_err(|e| err(&e))?;
            writeln!(out, "{text}").map_err(|e| err(&e))?;
        }
        OutputFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(&mut *out);
            for b in batches {
                w.write(b).map_err(|e| err(&e))?;
            }
        }
        OutputFormat::Json => {
            let mut w = datafusion::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, datafusion::arrow::json::writer::JsonArray>(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs).map_err(|e| err(&e))?;
            w.finish().map_err(|e| err(&e))?;
            drop(w);
            writeln!(out).map_err(|e| err(&e))?;
        }
    }
    Ok(())
}
