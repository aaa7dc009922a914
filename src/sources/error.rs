//! Errors of the source layer: every one names the file and, where it is known, the line/row and column, and
//! says what was expected. They never carry a half-loaded table: a read either yields whole batches or an error.

use std::fmt;

/// Where in a source file something went wrong. Lines and rows are 1-based, as an editor or Excel shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// A spreadsheet sheet, an XML element path, a JSON field, a SQL table...
    pub context: Option<String>,
    /// A column or field name, when the error concerns one value.
    pub field: Option<String>,
}

impl Position {
    pub fn line(line: u64) -> Self {
        Position { line: Some(line), ..Default::default() }
    }
    pub fn line_col(line: u64, column: u64) -> Self {
        Position { line: Some(line), column: Some(column), ..Default::default() }
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(clip(&field.into()));
        self
    }
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(clip_to(&context.into(), MAX_MESSAGE_CHARS));
        self
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(c) = &self.context {
            parts.push(c.clone());
        }
        match (self.line, self.column) {
            (Some(l), Some(c)) => parts.push(format!("line {l}, column {c}")),
            (Some(l), None) => parts.push(format!("line {l}")),
            _ => {}
        }
        if let Some(name) = &self.field {
            parts.push(format!("field `{name}`"));
        }
        write!(f, "{}", parts.join(", "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The data itself is wrong: a syntax error, a row with the wrong shape, a value of the wrong type.
    #[error("{file}: {position}: {message}")]
    Parse { file: String, position: Box<Position>, message: String },

    /// The whole file is unusable (not a zip, no such sheet, empty...).
    #[error("{file}: {message}")]
    File { file: String, message: String },

    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },

    /// `semantic/sources.yaml` (or another source declaration) is wrong.
    #[error("{file}: {message}")]
    Config { file: String, message: String },
}

impl SourceError {
    pub fn parse(file: &str, position: Position, message: impl Into<String>) -> Self {
        let message = clip_to(&message.into(), MAX_MESSAGE_CHARS);
        SourceError::Parse { file: file.to_string(), position: Box::new(position), message }
    }
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        SourceError::File { file: file.to_string(), message: clip_to(&message.into(), MAX_MESSAGE_CHARS) }
    }
    pub fn config(file: &str, message: impl Into<String>) -> Self {
        SourceError::Config { file: file.to_string(), message: message.into() }
    }
}

pub type Result<T, E = SourceError> = std::result::Result<T, E>;

/// 1-based line number of a byte offset: counted only on the error path, so readers need not track lines.
pub fn line_of_offset(bytes: &[u8], offset: usize) -> u64 {
    let end = offset.min(bytes.len());
    memchr::memchr_iter(b'\n', &bytes[..end]).count() as u64 + 1
}

/// 1-based (line, column) of a byte offset; the column counts characters, not bytes.
pub fn line_col_of_offset(bytes: &[u8], offset: usize) -> (u64, u64) {
    let end = offset.min(bytes.len());
    let line_start = memchr::memrchr(b'\n', &bytes[..end]).map(|p| p + 1).unwrap_or(0);
    let col = String::from_utf8_lossy(&bytes[line_start..end]).chars().count() as u64 + 1;
    (line_of_offset(bytes, end), col)
}

/// Characters of a value quoted in an error message: enough to recognise it, never a whole huge field.
pub const MAX_QUOTED_CHARS: usize = 80;

/// Characters of a whole message, context or field name: a safety net for text the readers do not compose
/// themselves (a parser library's error quoting a 100 KB tag name, a list of many names).
pub const MAX_MESSAGE_CHARS: usize = 1_000;

/// `value` cut to [`MAX_QUOTED_CHARS`] characters (with `…` when cut), for error messages.
pub fn clip(value: &str) -> String {
    clip_to(value, MAX_QUOTED_CHARS)
}

/// `value` cut to `max` characters, with `…` when cut.
pub fn clip_to(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_string(),
    }
}
