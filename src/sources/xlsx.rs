//! XLSX: one sheet (`sheet:`), several (`sheets: [a, b]`) or all (`sheets: "*"`) concatenated under one header,
//! optionally with the sheet name as a column (`sheet_column: Annee`, for workbooks with one sheet per year).
//! The first row of each sheet is the header. Excel stores every number as a float and dates as serial
//! numbers: integral columns become Int64, date-formatted cells Date32 (or Timestamp when a time is present).

use std::io::Cursor;
use std::sync::Arc;

use calamine::{DataRef, Reader, ReaderRef, Xlsx};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use serde::Deserialize;

use super::error::{Position, Result, SourceError};
use super::types::{build_array, infer_type};
use super::{BATCH_ROWS, RawTable, SourceFormat, SourceInput, SourceReader, parse_options};

/// Serial number of 1970-01-01 in Excel's 1900 date system.
const EXCEL_EPOCH_1970: f64 = 25_569.0;

pub struct XlsxFormat;

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SheetSelection {
    /// `"*"`: every sheet, in workbook order.
    All(String),
    List(Vec<String>),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct XlsxOptions {
    pub sheet: Option<String>,
    pub sheets: Option<SheetSelection>,
    /// Name of a column holding the sheet's name.
    pub sheet_column: Option<String>,
}

impl SourceFormat for XlsxFormat {
    fn name(&self) -> &'static str {
        "xlsx"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["xlsx", "xlsm"]
    }
    fn reader(&self, options: serde_norway::Value) -> std::result::Result<Box<dyn SourceReader>, String> {
        let o: XlsxOptions = parse_options(options)?;
        if o.sheet.is_some() && o.sheets.is_some() {
            return Err("give either `sheet` or `sheets`, not both".into());
        }
        if let Some(SheetSelection::All(s)) = &o.sheets
            && s != "*" {
                return Err(format!("`sheets` is a list of sheet names or \"*\", got `{s}`"));
            }
        Ok(Box::new(XlsxReader { options: o }))
    }
}

#[derive(Debug)]
pub struct XlsxReader {
    options: XlsxOptions,
}

/// One cell, reduced to what typing needs.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    /// Excel serial date-time.
    Date(f64),
}

/// Column letters of a 0-based index (0 → A, 26 → AA), as Excel shows them in errors.
fn column_letters(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

fn cell_of(d: &DataRef<'_>) -> Cell {
    match d {
        DataRef::Empty => Cell::Null,
        DataRef::Int(i) => Cell::Int(*i),
        DataRef::Float(f) => Cell::Float(*f),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::String(s) => text_cell(s),
        DataRef::SharedString(s) => text_cell(s),
        DataRef::DateTime(dt) => Cell::Date(dt.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => text_cell(s),
        DataRef::Error(_) => Cell::Null,
    }
}

fn text_cell(s: &str) -> Cell {
    if s.is_empty() { Cell::Null } else { Cell::Text(s.to_string()) }
}

/// Where a cell came from, for errors.
struct Origin {
    sheet: String,
    /// Excel row number (1-based) of the sheet's first data row.
    first_row: usize,
    rows: usize,
}

impl SourceReader for XlsxReader {
    fn read(&self, input: &SourceInput<'_>) -> Result<RawTable> {
        let file = input.file;
        let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(input.bytes)).map_err(|e| {
            SourceError::file(file, format!("not a readable XLSX workbook (expected a zip of sheets): {e}"))
        })?;
        let available = wb.sheet_names();
        let wanted: Vec<String> = match (&self.options.sheet, &self.options.sheets) {
            (Some(s), _) => vec![s.clone()],
            (None, Some(SheetSelection::List(l))) => l.clone(),
            (None, Some(SheetSelection::All(_))) => available.clone(),
            (None, None) => available.first().cloned().into_iter().collect(),
        };
        if wanted.is_empty() {
            return Err(SourceError::file(file, "the workbook has no sheet"));
        }
        let mut header: Option<(String, Vec<String>)> = None;
        let mut columns: Vec<Vec<Cell>> = Vec::new();
        let mut sheet_names: Vec<Cell> = Vec::new();
        let mut origins: Vec<Origin> = Vec::new();
        for sheet in &wanted {
            if !available.contains(sheet) {
                return Err(SourceError::file(
                    file,
                    format!("no sheet `{sheet}`; the workbook has {}", available.join(", ")),
                ));
            }
            let range = wb.worksheet_range_ref(sheet).map_err(|e| {
                SourceError::parse(file, Position::default().with_context(format!("sheet `{sheet}`")), format!("unreadable sheet: {e}"))
            })?;
            let (row0, col0) = range.start().unwrap_or((0, 0));
            let mut rows = range.rows();
            let Some(head) = rows.next() else {
                // An empty sheet contributes no rows (but a missing header is only an error if all are empty).
                continue;
            };
            let names: Vec<String> = head
                .iter()
                .map(|c| match cell_of(c) {
                    Cell::Text(s) => s.trim().to_string(),
                    Cell::Int(i) => i.to_string(),
                    Cell::Float(f) => f.to_string(),
                    _ => String::new(),
                })
                .collect();
            let width = names.iter().rposition(|n| !n.is_empty()).map(|p| p + 1).unwrap_or(0);
            let names = names[..width].to_vec();
            for (i, n) in names.iter().enumerate() {
                let at = Position::default()
                    .with_context(format!("sheet `{sheet}`, cell {}{}", column_letters(col0 as usize + i), row0 + 1));
                if n.is_empty() {
                    return Err(SourceError::parse(file, at, "empty column name in the header row"));
                }
                if names[..i].contains(n) {
                    return Err(SourceError::parse(file, at, format!("duplicate column name `{n}` in the header row")));
                }
            }
            match &header {
                None => {
                    columns = vec![Vec::new(); names.len()];
                    header = Some((sheet.clone(), names.clone()));
                }
                Some((first, h)) if *h != names => {
                    return Err(SourceError::parse(
                        file,
                        Position::default().with_context(format!("sheet `{sheet}`, row {}", row0 + 1)),
                        format!("header [{}] differs from sheet `{first}`'s [{}]", names.join(", "), h.join(", ")),
                    ));
                }
                Some(_) => {}
            }
            let mut n = 0;
            for row in rows {
                if row.iter().all(|c| matches!(c, DataRef::Empty)) {
                    continue;
                }
                for (i, col) in columns.iter_mut().enumerate() {
                    col.push(row.get(i).map(cell_of).unwrap_or(Cell::Null));
                }
                n += 1;
            }
            if self.options.sheet_column.is_some() {
                sheet_names.extend(std::iter::repeat_n(Cell::Text(sheet.clone()), n));
            }
            origins.push(Origin { sheet: sheet.clone(), first_row: row0 as usize + 2, rows: n });
        }
        let Some((_, mut names)) = header else {
            return Err(SourceError::file(file, format!("sheet(s) {} are empty: expected a header row", wanted.join(", "))));
        };
        if let Some(sc) = &self.options.sheet_column {
            if names.contains(sc) {
                return Err(SourceError::file(file, format!("`sheet_column: {sc}` clashes with a column of the sheet")));
            }
            names.push(sc.clone());
            columns.push(sheet_names);
        }

        let locate = |row: usize, col: usize| {
            let mut r = row;
            for o in &origins {
                if r < o.rows {
                    return Position::default().with_context(format!(
                        "sheet `{}`, cell {}{}",
                        o.sheet,
                        column_letters(col),
                        o.first_row + r
                    ));
                }
                r -= o.rows;
            }
            Position::default()
        };
        let mut fields = Vec::with_capacity(names.len());
        let mut arrays = Vec::with_capacity(names.len());
        for (ci, (name, cells)) in names.iter().zip(&columns).enumerate() {
            let t = match input.declared.get(name) {
                Some(t) => t.clone(),
                None => infer_cells(cells),
            };
            let array = to_array(&t, cells).map_err(|(row, msg)| SourceError::parse(file, locate(row, ci).with_field(name), msg))?;
            fields.push(Field::new(name, t, true));
            arrays.push(array);
        }
        let schema = Arc::new(Schema::new(fields));
        let all = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| SourceError::file(file, format!("internal: {e}")))?;
        let batches = (0..all.num_rows())
            .step_by(BATCH_ROWS)
            .map(|o| all.slice(o, BATCH_ROWS.min(all.num_rows() - o)))
            .collect();
        Ok(RawTable { schema, batches })
    }
}

fn infer_cells(cells: &[Cell]) -> DataType {
    let (mut num, mut int, mut date, mut datetime, mut boolean, mut text) = (false, true, false, false, false, false);
    for c in cells {
        match c {
            Cell::Null => {}
            Cell::Int(_) => num = true,
            Cell::Float(f) => {
                num = true;
                if f.fract() != 0.0 || f.abs() >= 9.0e15 {
                    int = false;
                }
            }
            Cell::Date(f) => {
                date = true;
                if f.fract() != 0.0 {
                    datetime = true;
                }
            }
            Cell::Bool(_) => boolean = true,
            Cell::Text(_) => text = true,
        }
    }
    match (num, date, boolean, text) {
        (false, false, false, false) => DataType::Utf8,
        (true, false, false, false) if int => DataType::Int64,
        (true, false, false, false) => DataType::Float64,
        (false, true, false, false) if datetime => DataType::Timestamp(TimeUnit::Microsecond, None),
        (false, true, false, false) => DataType::Date32,
        (false, false, true, false) => DataType::Boolean,
        (false, false, false, true) => infer_type(cells.iter().map(|c| match c {
            Cell::Text(s) => Some(s.as_str()),
            _ => None,
        })),
        _ => DataType::Utf8,
    }
}

/// Text of a cell, as it would read in a text column.
fn cell_text(c: &Cell) -> Option<String> {
    match c {
        Cell::Null => None,
        Cell::Int(i) => Some(i.to_string()),
        Cell::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some((*f as i64).to_string()),
        Cell::Float(f) => Some(f.to_string()),
        Cell::Bool(b) => Some(b.to_string()),
        Cell::Text(s) => Some(s.clone()),
        Cell::Date(f) => serial_to_micros(*f).and_then(|m| {
            chrono::DateTime::from_timestamp_micros(m).map(|d| {
                let d = d.naive_utc();
                if f.fract() == 0.0 { d.format("%Y-%m-%d").to_string() } else { d.format("%Y-%m-%d %H:%M:%S").to_string() }
            })
        }),
    }
}

fn serial_to_micros(serial: f64) -> Option<i64> {
    let micros = ((serial - EXCEL_EPOCH_1970) * 86_400_000_000.0).round();
    micros.is_finite().then_some(micros as i64)
}

fn to_array(t: &DataType, cells: &[Cell]) -> std::result::Result<ArrayRef, (usize, String)> {
    let n = cells.len();
    let bad = |i: usize, what: &str, c: &Cell| (i, format!("expected {what}, found {}", cell_text(c).unwrap_or_default()));
    Ok(match t {
        DataType::Int64 => {
            let mut b = Int64Builder::with_capacity(n);
            for (i, c) in cells.iter().enumerate() {
                match c {
                    Cell::Null => b.append_null(),
                    Cell::Int(v) => b.append_value(*v),
                    Cell::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => b.append_value(*f as i64),
                    Cell::Text(s) => match s.trim().parse::<i64>() {
                        Ok(v) => b.append_value(v),
                        Err(_) => return Err(bad(i, "an integer", c)),
                    },
                    _ => return Err(bad(i, "an integer", c)),
                }
            }
            std::sync::Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::with_capacity(n);
            for (i, c) in cells.iter().enumerate() {
                match c {
                    Cell::Null => b.append_null(),
                    Cell::Int(v) => b.append_value(*v as f64),
                    Cell::Float(f) => b.append_value(*f),
                    Cell::Text(s) => match s.trim().parse::<f64>() {
                        Ok(v) => b.append_value(v),
                        Err(_) => return Err(bad(i, "a number", c)),
                    },
                    _ => return Err(bad(i, "a number", c)),
                }
            }
            std::sync::Arc::new(b.finish())
        }
        DataType::Date32 => {
            let mut b = Date32Builder::with_capacity(n);
            for (i, c) in cells.iter().enumerate() {
                match c {
                    Cell::Null => b.append_null(),
                    Cell::Date(f) => b.append_value((f.floor() - EXCEL_EPOCH_1970) as i32),
                    Cell::Text(s) => match super::types::parse_date(s.trim()) {
                        Some(d) => b.append_value(d),
                        None => return Err(bad(i, "a date", c)),
                    },
                    _ => return Err(bad(i, "a date", c)),
                }
            }
            std::sync::Arc::new(b.finish())
        }
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            let mut b = TimestampMicrosecondBuilder::with_capacity(n);
            for (i, c) in cells.iter().enumerate() {
                match c {
                    Cell::Null => b.append_null(),
                    Cell::Date(f) => match serial_to_micros(*f) {
                        Some(m) => b.append_value(m),
                        None => return Err(bad(i, "a date-time", c)),
                    },
                    Cell::Text(s) => match super::types::parse_timestamp_micros(s.trim()) {
                        Some(m) => b.append_value(m),
                        None => return Err(bad(i, "a date-time", c)),
                    },
                    _ => return Err(bad(i, "a date-time", c)),
                }
            }
            std::sync::Arc::new(b.finish())
        }
        DataType::Boolean => {
            let mut b = BooleanBuilder::with_capacity(n);
            for (i, c) in cells.iter().enumerate() {
                match c {
                    Cell::Null => b.append_null(),
                    Cell::Bool(v) => b.append_value(*v),
                    Cell::Int(v) if *v == 0 || *v == 1 => b.append_value(*v == 1),
                    Cell::Float(v) if *v == 0.0 || *v == 1.0 => b.append_value(*v == 1.0),
                    _ => return Err(bad(i, "a boolean", c)),
                }
            }
            std::sync::Arc::new(b.finish())
        }
        DataType::Utf8 => {
            let mut b = StringBuilder::with_capacity(n, n * 8);
            for c in cells {
                b.append_option(cell_text(c));
            }
            std::sync::Arc::new(b.finish())
        }
        other => {
            // Decimals and anything else declared: go through text, which keeps exact digits.
            let texts: Vec<Option<String>> = cells.iter().map(cell_text).collect();
            build_array(other, texts.iter().map(|s| s.as_deref()))?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
    }

    #[test]
    fn inference_of_cells() {
        assert_eq!(infer_cells(&[Cell::Float(1.0), Cell::Null, Cell::Int(3)]), DataType::Int64);
        assert_eq!(infer_cells(&[Cell::Float(1.5), Cell::Int(3)]), DataType::Float64);
        assert_eq!(infer_cells(&[Cell::Date(45000.0)]), DataType::Date32);
        assert_eq!(infer_cells(&[Cell::Date(45000.5)]), DataType::Timestamp(TimeUnit::Microsecond, None));
        assert_eq!(infer_cells(&[Cell::Text("+2126".into())]), DataType::Utf8);
        assert_eq!(infer_cells(&[Cell::Text("2023".into())]), DataType::Int64);
        assert_eq!(infer_cells(&[Cell::Text("a".into()), Cell::Int(1)]), DataType::Utf8);
    }

    #[test]
    fn serial_dates() {
        assert_eq!(serial_to_micros(25569.0), Some(0));
        assert_eq!(serial_to_micros(25569.5), Some(43_200_000_000));
    }
}
