//! `sources.yaml`: which raw files exist, where they are, their format and options, and declared column types.
//!
//! Unknown keys are errors (a typo must not silently fall back to a default), reported as `file:line:col`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::{Result, SourceError};
use super::types::parse_type_name;
use super::{DeclaredTypes, SourceFormat, format_by_extension, format_by_name};

/// The sources file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesFile {
    pub sources: Vec<SourceDecl>,
}

/// One raw table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDecl {
    /// The table name (by convention the file's stem).
    pub name: String,
    /// A path relative to the data directory, an absolute path, or a URL (`file:///...`, `s3://bucket/key`).
    pub location: String,
    /// One of the registered formats; inferred from the file extension when omitted.
    #[serde(default)]
    pub format: Option<String>,
    /// Format-specific options, validated by the format.
    #[serde(default)]
    pub options: serde_norway::Value,
    /// Declared column types (`Telephone: utf8`); other columns are inferred.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A declaration checked against the format registry.
pub struct ResolvedSource {
    pub decl: SourceDecl,
    pub format: &'static dyn SourceFormat,
    pub reader: Box<dyn super::SourceReader>,
    pub declared: DeclaredTypes,
}

/// Parse and validate a sources file. `file` is the name shown in errors.
pub fn parse_sources(file: &str, text: &str) -> Result<Vec<ResolvedSource>> {
    let parsed: SourcesFile = serde_norway::from_str(text).map_err(|e| {
        let at = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        SourceError::config(&format!("{file}{at}"), e.to_string())
    })?;
    let mut seen = BTreeMap::new();
    let mut out = Vec::with_capacity(parsed.sources.len());
    for decl in parsed.sources {
        let at = locate(text, &decl.name, None);
        let here = format!("{file}:{at}");
        if let Some(prev) = seen.insert(decl.name.to_ascii_lowercase(), at) {
            return Err(SourceError::config(&here, format!("source `{}` is declared twice (first at line {})", decl.name, prev)));
        }
        let format = match &decl.format {
            Some(name) => format_by_name(name).ok_or_else(|| {
                let known: Vec<_> = super::FORMATS.iter().map(|f| f.name()).collect();
                SourceError::config(
                    &format!("{file}:{}", locate(text, &decl.name, Some("format"))),
                    format!("source `{}`: unknown format `{name}`; expected one of {}", decl.name, known.join(", ")),
                )
            })?,
            None => format_by_extension(&decl.location).ok_or_else(|| {
                SourceError::config(&here, format!("source `{}`: cannot tell the format of `{}`; add `format:`", decl.name, decl.location))
            })?,
        };
        let reader = format.reader(decl.options.clone()).map_err(|msg| {
            let key = msg.split('`').nth(1).map(str::to_string);
            let line = locate(text, &decl.name, key.as_deref().or(Some("options")));
            SourceError::config(&format!("{file}:{line}"), format!("source `{}`: {} options: {msg}", decl.name, format.name()))
        })?;
        let mut declared = DeclaredTypes::new();
        for (col, ty) in &decl.columns {
            let t = parse_type_name(ty).map_err(|msg| {
                SourceError::config(
                    &format!("{file}:{}", locate(text, &decl.name, Some(col))),
                    format!("source `{}`, column `{col}`: {msg}", decl.name),
                )
            })?;
            declared.insert(col.clone(), t);
        }
        out.push(ResolvedSource { decl, format, reader, declared });
    }
    Ok(out)
}

/// Best-effort `line:col` of a source's `name:` line, or of `key` within that source's block. Serde's value
/// tree has no spans, so the text is searched; a miss falls back to the source's own line.
fn locate(text: &str, source: &str, key: Option<&str>) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| {
        let t = l.trim_start().trim_start_matches("- ").trim_start();
        t.strip_prefix("name:").map(|v| v.trim().trim_matches(['"', '\''])) == Some(source)
    });
    let Some(start) = start else { return "1:1".into() };
    let name_col = lines[start].find("name:").unwrap_or(0) + 1;
    if let Some(key) = key {
        for (i, l) in lines.iter().enumerate().skip(start + 1) {
            if l.trim_start().starts_with("- ") || l.trim_start().starts_with("- name:") {
                break;
            }
            if let Some(c) = l.find(&format!("{key}:")) {
                return format!("{}:{}", i + 1, c + 1);
            }
            if let Some(c) = l.find(key) {
                return format!("{}:{}", i + 1, c + 1);
            }
        }
    }
    format!("{}:{}", start + 1, name_col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_top_level_key_is_located() {
        let err =
            parse_sources("s.yaml", "sources:\n  - name: a\n    location: a.csv\n    formt: csv\n").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("s.yaml:4:"), "{err}");
        assert!(err.contains("unknown field `formt`"), "{err}");
    }

    #[test]
    fn unknown_option_is_located() {
        let yaml = "sources:\n  - name: a\n    location: a.csv\n    options:\n      delimter: ';'\n";
        let err = parse_sources("s.yaml", yaml).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("s.yaml:5:7"), "{err}");
        assert!(err.contains("unknown field `delimter`"), "{err}");
    }

    #[test]
    fn format_from_extension_and_bad_type() {
        let ok = parse_sources("s.yaml", "sources:\n  - name: a\n    location: x/a.JSON\n");
        assert_eq!(ok.map(|v| v[0].format.name()).unwrap_or("?"), "json");
        let yaml = "sources:\n  - name: a\n    location: a.csv\n    columns:\n      Age: integr\n";
        let err = parse_sources("s.yaml", yaml).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("s.yaml:5:7") && err.contains("unknown column type `integr`"), "{err}");
    }
}
