//! Resource limits of the readers: a small file must never make a reader use unbounded memory.
//!
//! Each limit is far above what real exports need (the study's files have at most ~20 columns, names under 40
//! bytes and XML 4 levels deep; the generator's `--scale 100` output has 5 sheets of ~1M rows and ~0.5 GB of
//! sheet XML each) and far below what would exhaust a machine. Crossing one is an error naming the file and,
//! where known, the place; never a silent cut.

use super::error::{Position, Result, SourceError};

/// Columns of one table. Wider tables are unusable in SQL anyway; without a cap, an XML or JSON file whose every
/// record brings a new field grows rows × columns of NULLs.
pub const MAX_COLUMNS: usize = 4_096;

/// Bytes of a column (field) name, after flattening nested names with `_`. Real names are under 40 bytes; the cap
/// stops deep nesting from building names that grow with every level (quadratic memory).
pub const MAX_FIELD_NAME_BYTES: usize = 1_024;

/// Element nesting of an XML document. Real files nest 2–4 levels; 300,000 levels once cost over 8 GiB.
pub const MAX_XML_DEPTH: usize = 256;

/// Declared uncompressed size of one XLSX zip entry: 4× the largest sheet the generator writes at scale 100
/// (a full 1,048,576-row sheet is ~0.5 GB of XML).
pub const MAX_XLSX_ENTRY_BYTES: u64 = 2 << 30;

/// Declared uncompressed size of all of a workbook's entries together (scale 100: ~2.6 GB).
pub const MAX_XLSX_TOTAL_BYTES: u64 = 8 << 30;

/// Uncompressed/compressed ratio of one XLSX entry. Spreadsheet XML compresses 3–10×; deflate's ceiling is ~1032×,
/// which is what zip bombs use. Checked only above [`XLSX_RATIO_MIN_BYTES`]: tiny entries may compress very well
/// and cannot hurt.
pub const MAX_XLSX_RATIO: u64 = 100;
pub const XLSX_RATIO_MIN_BYTES: u64 = 1 << 20;

/// Excel's own sheet size: rows 1..=1,048,576 and columns A..=XFD. A cell reference beyond it is corrupt.
pub const MAX_SHEET_ROWS: u32 = 1_048_576;
pub const MAX_SHEET_COLS: u32 = 16_384;

/// Error unless a table of `n` columns is within [`MAX_COLUMNS`].
pub fn check_columns(file: &str, n: usize, at: Position) -> Result<()> {
    if n > MAX_COLUMNS {
        return Err(SourceError::parse(
            file,
            at,
            format!("more than {MAX_COLUMNS} columns (the readers' limit for one table); is the file corrupt?"),
        ));
    }
    Ok(())
}

/// Error unless a column name is within [`MAX_FIELD_NAME_BYTES`].
pub fn check_name(file: &str, name: &str, at: Position) -> Result<()> {
    if name.len() > MAX_FIELD_NAME_BYTES {
        return Err(SourceError::parse(
            file,
            at,
            format!("column name `{}` is longer than {MAX_FIELD_NAME_BYTES} bytes (the readers' limit)", super::error::clip(name)),
        ));
    }
    Ok(())
}

/// Cells (rows × columns) a table may hold per byte of its input, with a floor for small files. Absent fields
/// read as NULL, so a few bytes per record (`<r/>`, `{}`, an empty spreadsheet row) could otherwise stand for
/// thousands of NULL cells each. Real files hold well under one cell per byte: every value takes a delimiter at
/// least.
pub const MAX_CELLS_PER_INPUT_BYTE: u64 = 4;
pub const MIN_CELL_BUDGET: u64 = 1 << 24;

/// The most cells a table read from `input_bytes` bytes may hold.
pub fn cell_budget(input_bytes: u64) -> u64 {
    input_bytes.saturating_mul(MAX_CELLS_PER_INPUT_BYTE).max(MIN_CELL_BUDGET)
}

/// Error unless `rows` × `columns` is within [`cell_budget`] of `input_bytes`.
pub fn check_cells(file: &str, rows: usize, columns: usize, input_bytes: u64, at: Position) -> Result<()> {
    let cells = (rows as u64).saturating_mul(columns as u64);
    let budget = cell_budget(input_bytes);
    if cells > budget {
        return Err(SourceError::parse(
            file,
            at,
            format!(
                "{rows} rows × {columns} columns is more than {budget} cells for a file of {input_bytes} bytes \
                 (the readers' limit: absent values would each become a NULL); is the file corrupt?"
            ),
        ));
    }
    Ok(())
}
