//! XLSX workbooks the way a pandas `to_excel` export looks: a bold header row, then one row per record; numbers
//! as numbers, dates as real Excel dates with a date format, NULL as an empty cell, text as inline strings.
//!
//! Worksheets use the constant-memory mode of rust_xlsxwriter (rows go to a temporary file as they are
//! written), so a sheet of a million rows costs no memory. A table longer than an Excel sheet continues on
//! `<name>_2`, `<name>_3`, ... each with its own header row ([`sheet_position`]).

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::generate::GenerateError;
use crate::generate::output::TmpGuard;

/// Data rows per sheet: Excel's 1,048,576 rows minus the header row.
pub const MAX_DATA_ROWS_PER_SHEET: u64 = 1_048_575;

/// Where the data row `index` (0-based) of a table goes: (sheet number from 0, row within the sheet, where
/// row 0 is the header).
pub fn sheet_position(index: u64) -> (usize, u32) {
    let sheet = index / MAX_DATA_ROWS_PER_SHEET;
    let row = index % MAX_DATA_ROWS_PER_SHEET + 1;
    (sheet as usize, row as u32)
}

/// The name of sheet number `sheet` (from 0) of a table split over several sheets: `base`, `base_2`, ...
pub fn split_sheet_name(base: &str, sheet: usize) -> String {
    if sheet == 0 { base.to_string() } else { format!("{base}_{}", sheet + 1) }
}

/// How many sheets `rows` data rows need (at least one, for the header).
pub fn sheets_needed(rows: u64) -> usize {
    rows.div_ceil(MAX_DATA_ROWS_PER_SHEET).max(1) as usize
}

struct Formats {
    header: Format,
    date: Format,
    datetime: Format,
}

/// A workbook being written under its temporary name.
pub struct Book {
    workbook: Workbook,
    formats: Formats,
    guard: TmpGuard,
}

impl Book {
    /// A new workbook for `dir/name`. `created` fixes the document's creation time, which would otherwise be the
    /// wall clock and make two runs with the same seed differ.
    pub fn new(dir: &Path, name: &str, created: NaiveDate) -> Result<Self, GenerateError> {
        let guard = TmpGuard::new(dir.join(name));
        let path = guard.final_path().to_path_buf();
        let mut workbook = Workbook::new();
        // The temporary sheet files go next to the output rather than in /tmp, which may be a small tmpfs.
        workbook.set_tempdir(dir).map_err(xlsx_err(&path))?;
        let when = ExcelDateTime::from_ymd(created.year() as u16, created.month() as u8, created.day() as u8)
            .and_then(|d| d.and_hms(23, 59, 59))
            .map_err(xlsx_err(&path))?;
        workbook.set_properties(&DocProperties::new().set_creation_datetime(&when));
        // A lower deflate level than the default 6: much faster on the big sheets for slightly larger files.
        workbook.set_zip_compression_level(3);
        let formats = Formats {
            header: Format::new().set_bold(),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
        };
        Ok(Self { workbook, formats, guard })
    }

    fn path(&self) -> PathBuf {
        self.guard.final_path().to_path_buf()
    }

    /// Adds a sheet with its header row; returns its index.
    pub fn add_sheet(&mut self, name: &str, header: &[&str]) -> Result<usize, GenerateError> {
        let path = self.path();
        let ws = self.workbook.add_worksheet_with_constant_memory().map_err(xlsx_err(&path))?;
        ws.set_name(name).map_err(xlsx_err(&path))?;
        for (col, h) in header.iter().enumerate() {
            ws.write_string_with_format(0, col as u16, *h, &self.formats.header).map_err(xlsx_err(&path))?;
        }
        Ok(self.workbook.worksheets().len() - 1)
    }

    /// A writer for the cells of sheet `index`.
    pub fn sheet(&mut self, index: usize) -> Result<Sheet<'_>, GenerateError> {
        let path = self.guard.final_path();
        let ws = self.workbook.worksheet_from_index(index).map_err(xlsx_err(path))?;
        Ok(Sheet { ws, formats: &self.formats, path })
    }

    /// Saves and renames the workbook; returns its size in bytes.
    pub fn save(mut self) -> Result<u64, GenerateError> {
        let path = self.path();
        self.workbook.save(self.guard.tmp()).map_err(xlsx_err(&path))?;
        self.guard.commit()
    }
}

/// Cell writing on one sheet. Rows must be written in increasing order (constant-memory mode).
pub struct Sheet<'a> {
    ws: &'a mut Worksheet,
    formats: &'a Formats,
    path: &'a Path,
}

impl Sheet<'_> {
    pub fn number(&mut self, row: u32, col: u16, v: f64) -> Result<(), GenerateError> {
        self.ws.write_number(row, col, v).map(|_| ()).map_err(xlsx_err(self.path))
    }

    pub fn opt_number(&mut self, row: u32, col: u16, v: Option<f64>) -> Result<(), GenerateError> {
        match v {
            Some(v) => self.number(row, col, v),
            None => Ok(()),
        }
    }

    pub fn string(&mut self, row: u32, col: u16, s: &str) -> Result<(), GenerateError> {
        self.ws.write_string(row, col, s).map(|_| ()).map_err(xlsx_err(self.path))
    }

    pub fn opt_string(&mut self, row: u32, col: u16, s: Option<&str>) -> Result<(), GenerateError> {
        match s {
            Some(s) => self.string(row, col, s),
            None => Ok(()),
        }
    }

    /// A date, given as its Excel serial number.
    pub fn date(&mut self, row: u32, col: u16, serial: f64) -> Result<(), GenerateError> {
        self.ws.write_number_with_format(row, col, serial, &self.formats.date).map(|_| ()).map_err(xlsx_err(self.path))
    }

    /// A date and time, given as its Excel serial number.
    pub fn datetime(&mut self, row: u32, col: u16, serial: f64) -> Result<(), GenerateError> {
        self.ws.write_number_with_format(row, col, serial, &self.formats.datetime).map(|_| ()).map_err(xlsx_err(self.path))
    }
}

fn xlsx_err(path: &Path) -> impl Fn(XlsxError) -> GenerateError + '_ {
    move |e| GenerateError::Xlsx { path: path.to_path_buf(), message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_map_to_sheets_at_the_excel_limit() {
        assert_eq!(sheet_position(0), (0, 1));
        assert_eq!(sheet_position(1_048_574), (0, 1_048_575));
        assert_eq!(sheet_position(1_048_575), (1, 1));
        assert_eq!(sheet_position(2 * 1_048_575 - 1), (1, 1_048_575));
        assert_eq!(sheet_position(2 * 1_048_575), (2, 1));
        assert_eq!(sheets_needed(0), 1);
        assert_eq!(sheets_needed(1_048_575), 1);
        assert_eq!(sheets_needed(1_048_576), 2);
        assert_eq!(sheets_needed(5_000_000), 5);
        assert_eq!(split_sheet_name("Fait_Ventes", 0), "Fait_Ventes");
        assert_eq!(split_sheet_name("Fait_Ventes", 1), "Fait_Ventes_2");
        // The last row of a sheet is Excel's last row.
        assert_eq!(sheet_position(MAX_DATA_ROWS_PER_SHEET - 1).1, 1_048_575);
    }
}
