//! dbt's two macros in model SQL: `{{ source('Dim_Client') }}` names a raw table, `{{ ref('stg_clients') }}`
//! another model. Rendering replaces them with qualified table names and records the dependencies, with the
//! line and column of each, so that an unknown name or a cycle points at the text that caused it.

use std::fmt;

/// What a `{{ ... }}` refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dependency {
    Source(String),
    Model(String),
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dependency::Source(s) => write!(f, "source('{s}')"),
            Dependency::Model(m) => write!(f, "ref('{m}')"),
        }
    }
}

/// A dependency and where it is written (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub dependency: Dependency,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every `{{ source('x') }}` / `{{ ref('x') }}` in `sql`.
pub fn references(sql: &str) -> Result<Vec<Reference>, TemplateError> {
    let mut out = Vec::new();
    scan(sql, |r| {
        out.push(r.clone());
        String::new()
    })?;
    Ok(out)
}

/// Replace each macro by `resolve(dependency)` (a qualified, quoted table name).
pub fn render(sql: &str, mut resolve: impl FnMut(&Dependency) -> String) -> Result<String, TemplateError> {
    scan(sql, |r| resolve(&r.dependency))
}

fn scan(sql: &str, mut on_ref: impl FnMut(&Reference) -> String) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    let mut consumed = 0usize;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let (line, column) = line_col(sql, consumed + open);
        let err = |message: String| TemplateError { line, column, message };
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| err("`{{` without a closing `}}`".into()))?;
        let dependency = parse_call(after[..close].trim()).map_err(err)?;
        out.push_str(&on_ref(&Reference { dependency, line, column }));
        let advance = open + 2 + close + 2;
        consumed += advance;
        rest = &rest[advance..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `source('x')`, `ref("x")`; anything else is an error that says what is accepted.
fn parse_call(inner: &str) -> Result<Dependency, String> {
    let (func, args) = inner.split_once('(').ok_or_else(|| format!("expected source('table') or ref('model'), found `{{{{ {inner} }}}}`"))?;
    let args = args.trim_end().strip_suffix(')').ok_or_else(|| format!("missing `)` in `{{{{ {inner} }}}}`"))?.trim();
    let name = args
        .strip_prefix('\'')
        .and_then(|a| a.strip_suffix('\''))
        .or_else(|| args.strip_prefix('"').and_then(|a| a.strip_suffix('"')))
        .filter(|n| !n.is_empty() && !n.contains(['\'', '"']))
        .ok_or_else(|| format!("expected one quoted name in `{{{{ {inner} }}}}`"))?;
    match func.trim() {
        "source" => Ok(Dependency::Source(name.to_string())),
        "ref" => Ok(Dependency::Model(name.to_string())),
        other => Err(format!("unknown macro `{other}`; expected source('table') or ref('model')")),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_locates() {
        let sql = "SELECT *\nFROM {{ source('Dim_Client') }} c\nJOIN {{ref(\"stg_map\")}} m USING (ID_Client)";
        let refs = references(sql).unwrap();
        assert_eq!(refs[0], Reference { dependency: Dependency::Source("Dim_Client".into()), line: 2, column: 6 });
        assert_eq!(refs[1].dependency, Dependency::Model("stg_map".into()));
        assert_eq!(refs[1].line, 3);
        let out = render(sql, |d| match d {
            Dependency::Source(s) => format!("raw.\"{s}\""),
            Dependency::Model(m) => format!("staging.\"{m}\""),
        })
        .unwrap();
        assert_eq!(out, "SELECT *\nFROM raw.\"Dim_Client\" c\nJOIN staging.\"stg_map\" m USING (ID_Client)");
    }

    #[test]
    fn bad_macros_are_errors() {
        let e = references("SELECT 1 FROM {{ table('x') }}").unwrap_err();
        assert_eq!((e.line, e.column), (1, 15));
        assert!(e.message.contains("unknown macro `table`"));
        assert!(references("SELECT {{ ref('x') ").is_err());
        assert!(references("SELECT {{ ref(x) }}").unwrap_err().message.contains("one quoted name"));
    }
}
