//! XLSX: one sheet (`sheet:`), several (`sheets: [a, b]`) or all (`sheets: "*"`) concatenated under one header,
//! optionally with the sheet name as a column (`sheet_column: Annee`, for workbooks with one sheet per year).
//! The first row of each sheet is the header. Excel stores every number as a float and dates as serial
//! numbers: integral columns become Int64, date-formatted cells Date32 (or Timestamp when a time is present).

use std::io::Cursor;
use std::sync::Arc;

use calamine::{DataRef, Reader, Xlsx};
use datafusion::arrow::array::{ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use serde::Deserialize;

use super::error::{Position, Result, SourceError, clip};
use super::limits::{MAX_SHEET_COLS, MAX_SHEET_ROWS, cell_budget, check_cells, check_columns, check_name};
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
            && s != "*"
        {
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

/// Where a sheet's rows came from, for errors.
struct Origin {
    sheet: String,
    /// 0-based column of the sheet's first header cell.
    col0: u32,
    /// Excel row number (1-based) of each data row, in order (empty rows are skipped, so they need not follow).
    rows: Vec<u32>,
}

/// One sheet's non-empty cells, in (row, column) order.
struct SheetCells {
    cells: Vec<(u32, u32, Cell)>,
}

/// `A1`-style name of a 0-based (row, column).
fn cell_name(row: u32, col: u32) -> String {
    format!("{}{}", column_letters(col as usize), row as u64 + 1)
}

impl XlsxReader {
    /// Read a sheet's cells one by one (never calamine's dense range, which a single far cell such as `XFD1048576`
    /// would make huge), within Excel's own row and column limits and the table's cell budget.
    fn sheet_cells<RS: std::io::Read + std::io::Seek>(wb: &mut Xlsx<RS>, file: &str, sheet: &str, budget: u64) -> Result<SheetCells> {
        let at = |last: Option<(u32, u32)>| {
            let place = match last {
                Some((r, c)) => format!("sheet `{sheet}`, after cell {}", cell_name(r, c)),
                None => format!("sheet `{sheet}`, before its first cell"),
            };
            Position::default().with_context(place)
        };
        let mut reader = match wb.worksheet_cells_reader(sheet) {
            Ok(r) => r,
            // A chart sheet holds no cells: an empty sheet, as calamine's own range reading says.
            Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(SheetCells { cells: Vec::new() }),
            Err(e) => return Err(SourceError::parse(file, at(None), format!("unreadable sheet: {e}"))),
        };
        let mut cells: Vec<(u32, u32, Cell)> = Vec::new();
        let mut last: Option<(u32, u32)> = None;
        let mut sorted = true;
        loop {
            let cell = match reader.next_cell() {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return Err(SourceError::parse(file, at(last), format!("unreadable sheet: {e}"))),
            };
            let (r, c) = cell.get_position();
            if r >= MAX_SHEET_ROWS || c >= MAX_SHEET_COLS {
                return Err(SourceError::parse(
                    file,
                    at(last),
                    format!(
                        "a cell at row {}, column {} lies beyond Excel's {MAX_SHEET_ROWS} rows × {MAX_SHEET_COLS} columns; is the file corrupt?",
                        r as u64 + 1,
                        c as u64 + 1
                    ),
                ));
            }
            let value = cell_of(cell.get_value());
            if matches!(value, Cell::Null) {
                continue;
            }
            if let Some(&(pr, pc, _)) = cells.last() {
                sorted &= (pr, pc) < (r, c);
            }
            last = Some((r, c));
            cells.push((r, c, value));
            if cells.len() as u64 > budget {
                return Err(SourceError::parse(
                    file,
                    at(last),
                    format!("more than {budget} cells for this workbook's size (the reader's limit); is the file corrupt?"),
                ));
            }
        }
        if !sorted {
            // Writers put rows and cells in order, but the format does not require it; calamine accepts any order.
            cells.sort_by_key(|&(r, c, _)| (r, c));
            if let Some(w) = cells.windows(2).find(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1)) {
                return Err(SourceError::parse(
                    file,
                    Position::default().with_context(format!("sheet `{sheet}`, cell {}", cell_name(w[0].0, w[0].1))),
                    "the cell is written twice in the sheet; is the file corrupt?",
                ));
            }
        }
        Ok(SheetCells { cells })
    }
}

impl SourceReader for XlsxReader {
    fn read(&self, input: &SourceInput<'_>) -> Result<RawTable> {
        let file = input.file;
        // Sizes first, from the central directory alone: nothing is inflated before the zip-bomb limits pass.
        let unpacked = super::xlsx_zip::check_sizes(file, input.bytes)?;
        // The CRC check inflates every entry once more: on the second core, while calamine parses. A CRC error wins
        // over calamine's result, since it explains whatever calamine made of the damaged bytes.
        std::thread::scope(|s| {
            let crcs = s.spawn(|| super::xlsx_zip::verify_crcs(file, input.bytes));
            // calamine 0.38 can panic on a damaged sheet (a reversed `<dimension ref="A9:A1">` overflows a
            // subtraction in debug builds): its panic is this file's error, not the process's end.
            let table = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.read_workbook(input, unpacked)))
                .unwrap_or_else(|_| Err(SourceError::file(file, "malformed workbook: the XLSX parser (calamine) failed on it")));
            crcs.join().unwrap_or_else(|_| Err(SourceError::file(file, "the zip check failed unexpectedly")))?;
            table
        })
    }
}

impl XlsxReader {
    fn read_workbook(&self, input: &SourceInput<'_>, unpacked: u64) -> Result<RawTable> {
        let file = input.file;
        let budget = cell_budget(unpacked);
        let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(input.bytes))
            .map_err(|e| SourceError::file(file, format!("not a readable XLSX workbook (expected a zip of sheets): {e}")))?;
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
        let mut total_rows = 0usize;
        for sheet in &wanted {
            if !available.contains(sheet) {
                return Err(SourceError::file(file, format!("no sheet `{sheet}`; the workbook has {}", available.join(", "))));
            }
            let SheetCells { cells } = Self::sheet_cells(&mut wb, file, sheet, budget)?;
            // An empty sheet contributes no rows (but a missing header is only an error if all are empty).
            let Some(&(row0, _, _)) = cells.first() else { continue };
            let col0 = cells.iter().map(|c| c.1).min().unwrap_or(0);
            let header_end = cells.iter().position(|c| c.0 != row0).unwrap_or(cells.len());
            let mut names: Vec<String> = Vec::new();
            for (_, c, v) in &cells[..header_end] {
                let i = (c - col0) as usize;
                check_columns(file, i + 1, Position::default().with_context(format!("sheet `{sheet}`, cell {}", cell_name(row0, *c))))?;
                if names.len() <= i {
                    names.resize(i + 1, String::new());
                }
                names[i] = match v {
                    Cell::Text(s) => s.trim().to_string(),
                    Cell::Int(i) => i.to_string(),
                    Cell::Float(f) => f.to_string(),
                    _ => String::new(),
                };
            }
            let width = names.iter().rposition(|n| !n.is_empty()).map(|p| p + 1).unwrap_or(0);
            names.truncate(width);
            for (i, n) in names.iter().enumerate() {
                let at = Position::default().with_context(format!("sheet `{sheet}`, cell {}", cell_name(row0, col0 + i as u32)));
                if n.is_empty() {
                    return Err(SourceError::parse(file, at, "empty column name in the header row"));
                }
                check_name(file, n, at.clone())?;
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
                        Position::default().with_context(format!("sheet `{sheet}`, row {}", row0 as u64 + 1)),
                        format!("header [{}] differs from sheet `{first}`'s [{}]", names.join(", "), h.join(", ")),
                    ));
                }
                Some(_) => {}
            }
            let mut rows = Vec::new();
            let mut row: Vec<Cell> = vec![Cell::Null; width];
            let mut data = cells.into_iter().skip(header_end).peekable();
            while let Some((r, c, v)) = data.next() {
                let i = (c - col0) as usize;
                let Some(slot) = row.get_mut(i) else {
                    return Err(SourceError::parse(
                        file,
                        Position::default().with_context(format!("sheet `{sheet}`, cell {}", cell_name(r, c))),
                        format!(
                            "value `{}` lies beyond the header's {width} columns ({}{}:{}{}); a cell without a column name would be lost",
                            clip(&cell_text(&v).unwrap_or_default()),
                            column_letters(col0 as usize),
                            row0 as u64 + 1,
                            column_letters(col0 as usize + width.saturating_sub(1)),
                            row0 as u64 + 1,
                        ),
                    ));
                };
                *slot = v;
                if data.peek().is_none_or(|next| next.0 != r) {
                    for (col, cell) in columns.iter_mut().zip(row.iter_mut()) {
                        col.push(std::mem::replace(cell, Cell::Null));
                    }
                    rows.push(r + 1);
                }
            }
            total_rows += rows.len();
            check_cells(file, total_rows, width + 1, unpacked, Position::default().with_context(format!("sheet `{sheet}`")))?;
            if self.options.sheet_column.is_some() {
                sheet_names.extend(std::iter::repeat_n(Cell::Text(sheet.clone()), rows.len()));
            }
            origins.push(Origin { sheet: sheet.clone(), col0, rows });
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
                if let Some(excel_row) = o.rows.get(r) {
                    return Position::default().with_context(format!(
                        "sheet `{}`, cell {}{}",
                        o.sheet,
                        column_letters(o.col0 as usize + col),
                        excel_row
                    ));
                }
                r -= o.rows.len();
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
        let batches = (0..all.num_rows()).step_by(BATCH_ROWS).map(|o| all.slice(o, BATCH_ROWS.min(all.num_rows() - o))).collect();
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
    let bad = |i: usize, what: &str, c: &Cell| (i, format!("expected {what}, found {}", clip(&cell_text(c).unwrap_or_default())));
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
                    Cell::Float(f) if f.is_finite() => b.append_value(*f),
                    Cell::Text(s) => match super::types::parse_finite(s.trim()) {
                        Some(v) => b.append_value(v),
                        None => return Err(bad(i, "a number", c)),
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

    fn workbook(cells: &[(u32, u16, &str)]) -> Vec<u8> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name("S").unwrap();
        for &(r, c, v) in cells {
            match v.parse::<f64>() {
                Ok(n) if n.is_finite() => ws.write_number(r, c, n).unwrap(),
                _ => ws.write_string(r, c, v).unwrap(),
            };
        }
        wb.save_to_buffer().unwrap()
    }

    fn read(bytes: &[u8], declared: &DeclaredTypes) -> Result<RawTable> {
        let r = XlsxFormat.reader(serde_norway::Value::Null).map_err(|e| SourceError::file("t", e))?;
        r.read(&SourceInput { file: "t.xlsx", bytes, declared })
    }

    /// The workbook rebuilt with `edit` applied to each entry's bytes (by name).
    fn rezip(bytes: &[u8], edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) -> Vec<u8> {
        use std::io::{Read, Write};
        let mut zin = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..zin.len() {
            let mut e = zin.by_index(i).unwrap();
            let name = e.name().unwrap().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            out.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
            out.write_all(&edit(&name, data)).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    use crate::sources::{DeclaredTypes, SourceInput};

    #[test]
    fn reads_a_plain_workbook() {
        let b = workbook(&[(0, 0, "ID"), (0, 1, "Nom"), (1, 0, "1"), (1, 1, "a"), (4, 0, "2")]);
        let t = read(&b, &DeclaredTypes::new()).unwrap();
        assert_eq!(t.num_rows(), 2);
        assert_eq!(t.schema.field(0).data_type(), &DataType::Int64);
    }

    /// Outside test finding 3: a cell right of the header was dropped silently.
    #[test]
    fn a_cell_beyond_the_header_is_reported_with_its_name() {
        let b = workbook(&[(0, 0, "ID"), (0, 1, "Nom"), (1, 0, "1"), (6, 1, "b"), (6, 2, "z")]);
        let err = read(&b, &DeclaredTypes::new()).unwrap_err().to_string();
        assert_eq!(
            err,
            "t.xlsx: sheet `S`, cell C7: value `z` lies beyond the header's 2 columns (A1:B1); a cell without a column name would be lost"
        );
        // A lone far cell costs nothing: no dense range is built for it.
        let b = workbook(&[(0, 0, "ID"), (1, 0, "1"), (1_048_575, 16_383, "far")]);
        let err = read(&b, &DeclaredTypes::new()).unwrap_err().to_string();
        assert!(err.starts_with("t.xlsx: sheet `S`, cell XFD1048576: value `far` lies beyond"), "{err}");
    }

    /// Outside test finding 3: bit flips changed numbers with exit 0, since calamine never reads to the end of an
    /// entry where the zip crate checks the CRC-32.
    #[test]
    fn a_crc_mismatch_is_an_error() {
        let mut b = workbook(&[(0, 0, "ID"), (1, 0, "1")]);
        let name = b"xl/worksheets/sheet1.xml";
        // The entry's record in the central directory: `PK\x01\x02`, CRC-32 at +16, name at +46.
        let at = b
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == b"PK\x01\x02")
            .map(|(i, _)| i)
            .find(|&i| b.get(i + 46..i + 46 + name.len()) == Some(&name[..]))
            .unwrap();
        b[at + 16] ^= 0x01;
        let err = read(&b, &DeclaredTypes::new()).unwrap_err().to_string();
        assert!(err.starts_with("t.xlsx: zip entry `xl/worksheets/sheet1.xml` is corrupt (Invalid checksum)"), "{err}");
    }

    /// Outside test finding 2: a 10 MB zip bomb went past 8 GiB.
    #[test]
    fn a_zip_bomb_is_refused_before_inflating() {
        let b = workbook(&[(0, 0, "ID"), (1, 0, "1")]);
        let bomb = rezip(&b, |name, data| if name == "xl/worksheets/sheet1.xml" { vec![b' '; 8 << 20] } else { data });
        let err = read(&bomb, &DeclaredTypes::new()).unwrap_err().to_string();
        assert!(err.contains("zip entry `xl/worksheets/sheet1.xml` expands") && err.contains("more than 100 times"), "{err}");
    }

    /// Outside test finding 4: a corrupt cell reference said "Range is missing the expected column component",
    /// naming no cell.
    #[test]
    fn a_corrupt_cell_reference_names_the_last_good_cell() {
        let b = workbook(&[(0, 0, "ID"), (1, 0, "1"), (2, 0, "2")]);
        let bad = rezip(&b, |name, data| {
            if name == "xl/worksheets/sheet1.xml" { String::from_utf8(data).unwrap().replace("r=\"A3\"", "r=\"3\"").into_bytes() } else { data }
        });
        let err = read(&bad, &DeclaredTypes::new()).unwrap_err().to_string();
        assert!(err.starts_with("t.xlsx: sheet `S`, after cell A2: unreadable sheet"), "{err}");
    }

    #[test]
    fn non_finite_text_in_a_float_column_is_refused() {
        let declared: DeclaredTypes = [("v".to_string(), DataType::Float64)].into_iter().collect();
        let b = workbook(&[(0, 0, "v"), (1, 0, "1.5"), (2, 0, "inf")]);
        let err = read(&b, &declared).unwrap_err().to_string();
        assert_eq!(err, "t.xlsx: sheet `S`, cell A3, field `v`: expected a number, found inf");
    }
}
