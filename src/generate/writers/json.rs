//! JSON the way Python's `json.dump(obj, f, indent=2, ensure_ascii=False)` writes it: two-space indentation,
//! `"key": value` with one space, no trailing newline, `null` for missing values, non-ASCII text as raw UTF-8.
//!
//! [`JsonOut`] streams a document of any size: the sessions file is written record by record.

use std::path::Path;

use super::fmt::{push_i64, push_u64};
use crate::generate::GenerateError;
use crate::generate::output::AtomicFile;

const FLUSH_AT: usize = 256 * 1024;

/// A scalar JSON value.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Int(i64),
    Str(&'a str),
    Null,
}

/// Appends `s` as a JSON string literal.
pub fn push_string(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0x08 => buf.extend_from_slice(b"\\b"),
            0x0C => buf.extend_from_slice(b"\\f"),
            0..=0x1F => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 0xF)]);
            }
            _ => buf.push(b),
        }
    }
    buf.push(b'"');
}

/// A streaming writer of indented JSON. The caller opens and closes containers; the writer tracks the
/// indentation and the commas between members.
pub struct JsonOut {
    file: AtomicFile,
    buf: Vec<u8>,
    /// Per open container: has it had a member yet?
    stack: Vec<bool>,
}

impl JsonOut {
    pub fn create(dir: &Path, name: &str) -> Result<Self, GenerateError> {
        Ok(Self { file: AtomicFile::create(dir, name)?, buf: Vec::with_capacity(FLUSH_AT * 2), stack: Vec::new() })
    }

    /// Starts a new member of the current container (comma, newline, indentation, and the key if any).
    fn member(&mut self, key: Option<&str>) {
        if let Some(has_members) = self.stack.last_mut() {
            if *has_members {
                self.buf.push(b',');
            }
            *has_members = true;
            self.buf.push(b'\n');
            self.buf.resize(self.buf.len() + 2 * self.stack.len(), b' ');
        }
        if let Some(k) = key {
            push_string(&mut self.buf, k);
            self.buf.extend_from_slice(b": ");
        }
    }

    pub fn open_object(&mut self, key: Option<&str>) {
        self.member(key);
        self.buf.push(b'{');
        self.stack.push(false);
    }

    pub fn open_array(&mut self, key: Option<&str>) {
        self.member(key);
        self.buf.push(b'[');
        self.stack.push(false);
    }

    /// Closes the innermost container with `}` or `]`. Empty containers print as `{}` / `[]`, like Python.
    pub fn close(&mut self, bracket: u8) -> Result<(), GenerateError> {
        let had_members = self.stack.pop().unwrap_or(false);
        if had_members {
            self.buf.push(b'\n');
            self.buf.resize(self.buf.len() + 2 * self.stack.len(), b' ');
        }
        self.buf.push(bracket);
        if self.buf.len() >= FLUSH_AT {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    pub fn field(&mut self, key: &str, value: Value<'_>) {
        self.member(Some(key));
        match value {
            Value::Int(v) => push_i64(&mut self.buf, v),
            Value::Str(s) => push_string(&mut self.buf, s),
            Value::Null => self.buf.extend_from_slice(b"null"),
        }
    }

    /// A non-negative integer field (the common case, without the sign check).
    pub fn field_u64(&mut self, key: &str, value: u64) {
        self.member(Some(key));
        push_u64(&mut self.buf, value);
    }

    /// Completes the file; returns its size in bytes.
    pub fn finish(mut self) -> Result<u64, GenerateError> {
        self.file.write_all(&self.buf)?;
        self.file.commit()
    }
}

/// Writes a top-level array of flat objects (the small JSON dimensions); returns (rows, bytes).
pub fn write_records(dir: &Path, name: &str, records: &[Vec<(&str, Value<'_>)>]) -> Result<(u64, u64), GenerateError> {
    let mut out = JsonOut::create(dir, name)?;
    out.open_array(None);
    for rec in records {
        out.open_object(None);
        for (k, v) in rec {
            out.field(k, *v);
        }
        out.close(b'}')?;
    }
    out.close(b']')?;
    Ok((records.len() as u64, out.finish()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_indent_2() {
        let dir = tempfile::tempdir().unwrap();
        let recs = vec![
            vec![("ID_Canal", Value::Int(1)), ("Nom_Canal", Value::Str("Web")), ("X", Value::Null)],
            vec![("ID_Canal", Value::Int(2)), ("Nom_Canal", Value::Str("Réseaux \"x\""))],
        ];
        write_records(dir.path(), "a.json", &recs).unwrap();
        let text = std::fs::read_to_string(dir.path().join("a.json")).unwrap();
        let expected = "[\n  {\n    \"ID_Canal\": 1,\n    \"Nom_Canal\": \"Web\",\n    \"X\": null\n  },\n  {\n    \
                        \"ID_Canal\": 2,\n    \"Nom_Canal\": \"Réseaux \\\"x\\\"\"\n  }\n]";
        assert_eq!(text, expected);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[1]["Nom_Canal"], "Réseaux \"x\"");
    }

    #[test]
    fn nested_and_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = JsonOut::create(dir.path(), "b.json").unwrap();
        out.open_object(None);
        out.field("generated_at", Value::Str("2024-12-31T23:59:59"));
        out.open_array(Some("sessions"));
        out.close(b']').unwrap();
        out.open_object(Some("c"));
        out.field_u64("n", 3);
        out.close(b'}').unwrap();
        out.close(b'}').unwrap();
        out.finish().unwrap();
        let text = std::fs::read_to_string(dir.path().join("b.json")).unwrap();
        assert_eq!(text, "{\n  \"generated_at\": \"2024-12-31T23:59:59\",\n  \"sessions\": [],\n  \"c\": {\n    \"n\": 3\n  }\n}");
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut b = Vec::new();
        push_string(&mut b, "a\u{1}\\b");
        assert_eq!(String::from_utf8(b).unwrap(), "\"a\\u0001\\\\b\"");
    }
}
