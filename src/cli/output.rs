//! Printing query results: an aligned table for people (measures in their declared format), CSV and JSON for
//! scripts (raw numbers).

use std::io::Write;
use std::sync::Arc;

use clap::ValueEnum;
use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use crate::model::{Format, Model};
use crate::web::format::full;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned table; a column named after a measure (`CA_Total`, DAX's `[CA_Total]`) shows in the
    /// measure's format (`3 481 234,56 MAD`, `57,0 %`).
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

/// The measure a result column shows, by its name: `CA_Total`, or `[CA_Total]` as DAX names it.
fn measure_format(model: &Model, column: &str) -> Option<Format> {
    let name = column.strip_prefix('[').and_then(|c| c.strip_suffix(']')).unwrap_or(column);
    model.measure(name).map(|m| m.format).filter(|f| *f != Format::Text)
}

/// As [`write_batches`]; in a table, the columns named after a measure are shown in its format.
pub fn write_batches_for(out: &mut dyn Write, format: OutputFormat, batches: &[RecordBatch], model: &Model) -> Result<(), String> {
    if format != OutputFormat::Table {
        return write_batches(out, format, batches);
    }
    let formatted = batches.iter().map(|b| formatted_batch(b, model)).collect::<Result<Vec<_>, _>>()?;
    write_batches(out, format, &formatted)
}

fn formatted_batch(batch: &RecordBatch, model: &Model) -> Result<RecordBatch, String> {
    let err = |e: &dyn std::fmt::Display| format!("cannot print the result: {e}");
    let schema = batch.schema();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let numeric = field.data_type().is_numeric();
        match measure_format(model, field.name()).filter(|_| numeric) {
            Some(f) => {
                let values = cast(column, &DataType::Float64).map_err(|e| err(&e))?;
                let values = values.as_any().downcast_ref::<datafusion::arrow::array::Float64Array>().ok_or_else(|| err(&"not a number"))?;
                let text: StringArray = (0..values.len()).map(|i| (!values.is_null(i)).then(|| full(values.value(i), f))).collect();
                fields.push(Field::new(field.name(), DataType::Utf8, true));
                columns.push(Arc::new(text));
            }
            None => {
                fields.push(field.as_ref().clone());
                columns.push(column.clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_print_in_their_format_in_tables_only() {
        let model = crate::model::load::load_project(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).expect("bundled model");
        let schema = Arc::new(Schema::new(vec![
            Field::new("Nom_Canal", DataType::Utf8, true),
            Field::new("CA_Total", DataType::Float64, true),
            Field::new("[Taux_Marge]", DataType::Float64, true),
            Field::new("Nb_Transactions", DataType::Int64, true),
            Field::new("autre", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("Web"), Some("Mobile")])),
                Arc::new(datafusion::arrow::array::Float64Array::from(vec![Some(3481234.5), None])),
                Arc::new(datafusion::arrow::array::Float64Array::from(vec![Some(0.18341), Some(0.5)])),
                Arc::new(datafusion::arrow::array::Int64Array::from(vec![Some(12345), Some(7)])),
                Arc::new(datafusion::arrow::array::Float64Array::from(vec![Some(0.5), Some(2.25)])),
            ],
        )
        .expect("batch");
        let mut out = Vec::new();
        write_batches_for(&mut out, OutputFormat::Table, std::slice::from_ref(&batch), &model).expect("prints");
        let text = String::from_utf8(out).expect("utf-8");
        // Written here, not through the formatter: narrow no-break space between thousands, no-break space
        // before the unit.
        assert!(text.contains("3\u{202F}481\u{202F}234,50\u{A0}MAD"), "{text}");
        assert!(text.contains("18,3\u{A0}%") && text.contains("50,0\u{A0}%"), "{text}");
        assert!(text.contains("12\u{202F}345"), "{text}");
        assert!(text.contains("| 0.5 ") && text.contains("2.25"), "a column that is not a measure stays raw: {text}");
        let mut csv = Vec::new();
        write_batches_for(&mut csv, OutputFormat::Csv, &[batch], &model).expect("prints");
        let csv = String::from_utf8(csv).expect("utf-8");
        assert!(csv.contains("Web,3481234.5,0.18341,12345,0.5"), "CSV keeps raw numbers: {csv}");
    }
}
