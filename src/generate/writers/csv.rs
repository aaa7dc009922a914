//! CSV the way pandas writes it with `sep=';'` and `encoding='utf-8-sig'`: a UTF-8 BOM, a header row, `\n`
//! line ends, fields quoted only when they contain the separator, a quote or a line break, NULL as an empty field.

use std::path::Path;

use super::fmt::{push_cents, push_i64, push_u64};
use crate::generate::GenerateError;
use crate::generate::output::AtomicFile;

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// The line buffer is handed to the file writer once it holds this much.
const FLUSH_AT: usize = 64 * 1024;

/// Writes one CSV file row by row: call the field methods in column order, then [`CsvWriter::end_row`].
pub struct CsvWriter {
    file: AtomicFile,
    buf: Vec<u8>,
    at_row_start: bool,
    rows: u64,
}

impl CsvWriter {
    pub fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Self, GenerateError> {
        let mut w = Self { file: AtomicFile::create(dir, name)?, buf: Vec::with_capacity(FLUSH_AT * 2), at_row_start: true, rows: 0 };
        w.buf.extend_from_slice(BOM);
        for h in header {
            w.str(h);
        }
        w.end_line()?;
        Ok(w)
    }

    fn sep(&mut self) {
        if !self.at_row_start {
            self.buf.push(b';');
        }
        self.at_row_start = false;
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.sep();
        if s.bytes().any(|b| matches!(b, b';' | b'"' | b'\n' | b'\r')) {
            self.buf.push(b'"');
            for part in s.split('"').enumerate() {
                if part.0 > 0 {
                    self.buf.extend_from_slice(b"\"\"");
                }
                self.buf.extend_from_slice(part.1.as_bytes());
            }
            self.buf.push(b'"');
        } else {
            self.buf.extend_from_slice(s.as_bytes());
        }
        self
    }

    /// A text field that may be NULL (written empty).
    pub fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.sep();
        push_u64(&mut self.buf, v);
        self
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.sep();
        push_i64(&mut self.buf, v);
        self
    }

    /// An amount in cents, printed with two decimals.
    pub fn cents(&mut self, v: i64) -> &mut Self {
        self.sep();
        push_cents(&mut self.buf, v);
        self
    }

    pub fn end_row(&mut self) -> Result<(), GenerateError> {
        self.rows += 1;
        self.end_line()
    }

    fn end_line(&mut self) -> Result<(), GenerateError> {
        self.buf.push(b'\n');
        self.at_row_start = true;
        if self.buf.len() >= FLUSH_AT {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Completes the file; returns (data rows, bytes).
    pub fn finish(mut self) -> Result<(u64, u64), GenerateError> {
        self.file.write_all(&self.buf)?;
        let rows = self.rows;
        Ok((rows, self.file.commit()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pandas_shape() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = CsvWriter::create(dir.path(), "t.csv", &["A", "B", "C", "D"]).unwrap();
        w.u64(1).str("x;y").opt_str(None).cents(-150);
        w.end_row().unwrap();
        w.str("say \"hi\"").str("Soldes Été").i64(-3).null();
        w.end_row().unwrap();
        assert_eq!(w.finish().unwrap().0, 2);
        let text = std::fs::read(dir.path().join("t.csv")).unwrap();
        assert_eq!(text, "\u{feff}A;B;C;D\n1;\"x;y\";;-1.50\n\"say \"\"hi\"\"\";Soldes Été;-3;\n".as_bytes());
    }
}
