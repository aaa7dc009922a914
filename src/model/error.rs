//! Errors in a model file, pointing at `file:line:col` with the offending line and a caret, as rustc does.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The line of the file, shown under the message.
    pub text: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub struct ModelError {
    pub location: Option<Location>,
    pub message: String,
}

impl ModelError {
    pub fn new(location: Option<Location>, message: impl Into<String>) -> Self {
        ModelError { location, message: message.into() }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            None => write!(f, "{}", self.message),
            Some(l) => {
                write!(f, "{}:{}:{}: {}", l.file, l.line, l.column, self.message)?;
                if !l.text.is_empty() {
                    let gutter = " ".repeat(l.line.to_string().len());
                    let caret_pad: String = l.text.chars().take(l.column.saturating_sub(1)).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
                    write!(f, "\n{gutter} |\n{} | {}\n{gutter} | {caret_pad}^", l.line, l.text)?;
                }
                Ok(())
            }
        }
    }
}

/// A model file's text, to turn "where in this value" into `file:line:col`.
#[derive(Debug, Clone)]
pub struct SourceText {
    pub file: String,
    pub text: String,
}

impl SourceText {
    /// The location of byte `offset` of the file.
    pub fn location_of(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = self.text[line_start..offset].chars().count() + 1;
        let line_end = self.text[line_start..].find('\n').map(|i| line_start + i).unwrap_or(self.text.len());
        Location { file: self.file.clone(), line, column, text: self.text[line_start..line_end].to_string() }
    }

    /// Where `needle` first appears at or after `from` (falling back to `from` when it does not appear verbatim,
    /// e.g. a value YAML folded).
    pub fn find(&self, needle: &str, from: usize) -> usize {
        let from = from.min(self.text.len());
        self.text[from..].find(needle).map(|i| from + i).unwrap_or(from)
    }

    /// Where the key `name:` or the value `name` of an entry starts: the anchor for its errors.
    pub fn anchor(&self, name: &str) -> usize {
        for pat in
            [format!("name: {name}\n"), format!("name: {name},"), format!("name: {name} "), format!("name: \"{name}\""), format!("name: {name}")]
        {
            if let Some(i) = self.text.find(&pat) {
                return i + pat.find(name).unwrap_or(0);
            }
        }
        self.text.find(name).unwrap_or(0)
    }

    /// The location of byte `offset` of a value (a DAX text) that starts at `value_start` in the file. Block
    /// scalars are indented in the file, so each line of the value is found again in the file.
    pub fn location_in_value(&self, value: &str, value_start: usize, offset: usize) -> Location {
        let offset = offset.min(value.len());
        let line_index = value[..offset].matches('\n').count();
        let line_start_in_value = value[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let value_line = value[line_start_in_value..].split('\n').next().unwrap_or("");
        let mut pos = value_start;
        for (i, l) in value.split('\n').enumerate() {
            let at = self.find(l.trim_start(), pos);
            if i == line_index {
                let leading = l.len() - l.trim_start().len();
                let within = (offset - line_start_in_value).saturating_sub(leading);
                let _ = value_line;
                return self.location_of(at + within);
            }
            pos = at + l.trim_start().len();
        }
        self.location_of(value_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_under_the_column() {
        let src = SourceText { file: "m.yaml".into(), text: "a: 1\nb: SUM(X[y])\n".into() };
        let e = ModelError::new(Some(src.location_of(12)), "unknown table `X`");
        assert_eq!(e.to_string(), "m.yaml:2:8: unknown table `X`\n  |\n2 | b: SUM(X[y])\n  |        ^");
    }

    #[test]
    fn offsets_inside_an_indented_block_value() {
        let text = "dax: |\n  CALCULATE(\n      [CA_Totl]\n  )\n";
        let src = SourceText { file: "m.yaml".into(), text: text.into() };
        let value = "CALCULATE(\n    [CA_Totl]\n)\n";
        let start = src.find("CALCULATE", 0);
        let l = src.location_in_value(value, start, value.find("[CA").unwrap());
        assert_eq!((l.line, l.column), (3, 7));
    }
}
