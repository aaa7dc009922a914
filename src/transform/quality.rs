//! The data-quality report: per model its rows in and out, what each cleaning rule did (a counting query),
//! dbt-style tests (unique, not_null, accepted_values, relationships) and reconciliations of two copies of
//! the same data. Declared in `sql/quality.yaml`; `omnimarket check` prints it.

use std::path::Path;

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::models::{ModelSet, TransformError};
use super::template::{Dependency, render};
use crate::project::{CATALOG, RAW_SCHEMA, STAGING_SCHEMA};

pub const BUNDLED_QUALITY: &str = include_str!("../../sql/quality.yaml");

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityFile {
    #[serde(default)]
    pub models: Vec<ModelChecks>,
    #[serde(default)]
    pub reconciliations: Vec<Reconciliation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelChecks {
    pub model: String,
    /// What the model reads, for the "rows in" figure (a `{{ source() }}` or `{{ ref() }}`).
    pub input: Option<String>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub tests: Vec<TestDecl>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    /// A query returning one count: the rows the rule acted on.
    pub count: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Error,
    Warn,
}

/// One test; exactly one kind is given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestDecl {
    pub unique: Option<String>,
    pub not_null: Option<String>,
    pub accepted_values: Option<AcceptedValues>,
    pub relationships: Option<Relationship>,
    #[serde(default)]
    pub severity: Severity,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedValues {
    pub column: String,
    pub values: Vec<serde_norway::Value>,
    #[serde(default)]
    pub severity: Option<Severity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relationship {
    pub column: String,
    /// A model or a raw table.
    pub to: String,
    pub field: String,
    #[serde(default)]
    pub severity: Option<Severity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reconciliation {
    pub name: String,
    pub left: String,
    pub right: String,
    #[serde(default)]
    pub sums: Vec<String>,
    #[serde(default)]
    pub severity: Severity,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub models: Vec<ModelReport>,
    pub reconciliations: Vec<ReconciliationReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub model: String,
    pub rows_in: Option<u64>,
    pub rows_out: u64,
    pub rules: Vec<(String, u64)>,
    pub tests: Vec<TestReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub test: String,
    pub severity: Severity,
    pub failing_rows: u64,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReconciliationReport {
    pub name: String,
    pub severity: Severity,
    /// (what, left, right)
    pub figures: Vec<(String, f64, f64)>,
    pub passed: bool,
}

impl Report {
    /// Whether a test or reconciliation of severity `error` failed.
    pub fn has_errors(&self) -> bool {
        self.models.iter().flat_map(|m| &m.tests).any(|t| !t.passed && t.severity == Severity::Error)
            || self.reconciliations.iter().any(|r| !r.passed && r.severity == Severity::Error)
    }
}

/// The project's `sql/quality.yaml`, or the bundled one.
pub fn load_quality(project_dir: &Path) -> Result<(String, QualityFile), TransformError> {
    let path = project_dir.join("sql").join("quality.yaml");
    let (file, text) = if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| TransformError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        (path.display().to_string(), text)
    } else if project_dir.join("sql").is_dir() {
        return Ok((path.display().to_string(), QualityFile::default()));
    } else {
        ("<bundled>/sql/quality.yaml".to_string(), BUNDLED_QUALITY.to_string())
    };
    let parsed = serde_norway::from_str(&text).map_err(|e| {
        let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        TransformError { file: file.clone(), line, column, message: e.to_string() }
    })?;
    Ok((file, parsed))
}

/// Run every rule, test and reconciliation of `q` in `ctx` (a project session).
pub async fn run_report(ctx: &SessionContext, models: &ModelSet, file: &str, q: &QualityFile) -> Result<Report, TransformError> {
    let err = |message: String| TransformError { file: file.to_string(), line: 0, column: 0, message };
    let table = |name: &str| {
        if models.get(name).is_some() { format!("{CATALOG}.{STAGING_SCHEMA}.\"{name}\"") } else { format!("{CATALOG}.{RAW_SCHEMA}.\"{name}\"") }
    };
    let count = |sql: String| async move {
        let rendered = render(&sql, |d| match d {
            Dependency::Source(s) => format!("{CATALOG}.{RAW_SCHEMA}.\"{s}\""),
            Dependency::Model(m) => format!("{CATALOG}.{STAGING_SCHEMA}.\"{m}\""),
        })
        .map_err(|e| e.message)?;
        scalar_f64(ctx, &rendered).await
    };
    let mut out = Report { models: vec![], reconciliations: vec![] };
    for m in &q.models {
        if models.get(&m.model).is_none() {
            return Err(err(format!("quality checks name an unknown model `{}`", m.model)));
        }
        let t = table(&m.model);
        let rows_out = count(format!("SELECT COUNT(*) FROM {t}")).await.map_err(&err)? as u64;
        let rows_in = match &m.input {
            Some(i) => Some(count(format!("SELECT COUNT(*) FROM {i}")).await.map_err(&err)? as u64),
            None => None,
        };
        let mut rules = Vec::new();
        for r in &m.rules {
            let n = count(r.count.clone()).await.map_err(|e| err(format!("rule `{}`: {e}", r.name)))?;
            rules.push((r.name.clone(), n as u64));
        }
        let mut tests = Vec::new();
        for d in &m.tests {
            let (label, sql, severity) = test_sql(d, &t, &table).map_err(&err)?;
            let failing = count(sql).await.map_err(|e| err(format!("test `{label}`: {e}")))? as u64;
            tests.push(TestReport { test: label, severity, failing_rows: failing, passed: failing == 0 });
        }
        out.models.push(ModelReport { model: m.model.clone(), rows_in, rows_out, rules, tests });
    }
    for r in &q.reconciliations {
        let (l, rt) = (table(&r.left), table(&r.right));
        let mut figures = vec![(
            "rows".to_string(),
            count(format!("SELECT COUNT(*) FROM {l}")).await.map_err(&err)?,
            count(format!("SELECT COUNT(*) FROM {rt}")).await.map_err(&err)?,
        )];
        for c in &r.sums {
            figures.push((
                format!("SUM({c})"),
                count(format!("SELECT CAST(SUM(\"{c}\") AS DOUBLE) FROM {l}")).await.map_err(&err)?,
                count(format!("SELECT CAST(SUM(\"{c}\") AS DOUBLE) FROM {rt}")).await.map_err(&err)?,
            ));
        }
        // Amounts agree to the cent; counts exactly.
        let passed = figures.iter().all(|(_, a, b)| (a - b).abs() < 0.005);
        out.reconciliations.push(ReconciliationReport { name: r.name.clone(), severity: r.severity, figures, passed });
    }
    Ok(out)
}

fn test_sql(d: &TestDecl, t: &str, table: &dyn Fn(&str) -> String) -> Result<(String, String, Severity), String> {
    let kinds = [d.unique.is_some(), d.not_null.is_some(), d.accepted_values.is_some(), d.relationships.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err("each test names exactly one of unique, not_null, accepted_values, relationships".into());
    }
    if let Some(c) = &d.unique {
        let sql = format!("SELECT COUNT(*) FROM (SELECT \"{c}\" FROM {t} WHERE \"{c}\" IS NOT NULL GROUP BY \"{c}\" HAVING COUNT(*) > 1)");
        return Ok((format!("unique({c})"), sql, d.severity));
    }
    if let Some(c) = &d.not_null {
        return Ok((format!("not_null({c})"), format!("SELECT COUNT(*) FROM {t} WHERE \"{c}\" IS NULL"), d.severity));
    }
    if let Some(a) = &d.accepted_values {
        let values: Vec<String> = a
            .values
            .iter()
            .map(|v| match v {
                serde_norway::Value::String(s) => Ok(format!("'{}'", s.replace('\'', "''"))),
                serde_norway::Value::Number(n) => Ok(n.to_string()),
                serde_norway::Value::Bool(b) => Ok(b.to_string()),
                other => Err(format!("accepted_values: unsupported value {other:?}")),
            })
            .collect::<Result<_, _>>()?;
        let sql = format!("SELECT COUNT(*) FROM {t} WHERE \"{}\" IS NOT NULL AND \"{}\" NOT IN ({})", a.column, a.column, values.join(", "));
        return Ok((format!("accepted_values({})", a.column), sql, a.severity.unwrap_or(d.severity)));
    }
    let r = d.relationships.as_ref().ok_or("no test kind")?;
    let sql = format!(
        "SELECT COUNT(*) FROM {t} x LEFT JOIN {} y ON x.\"{}\" = y.\"{}\" WHERE x.\"{}\" IS NOT NULL AND y.\"{}\" IS NULL",
        table(&r.to),
        r.column,
        r.field,
        r.column,
        r.field
    );
    Ok((format!("relationships({} → {}.{})", r.column, r.to, r.field), sql, r.severity.unwrap_or(d.severity)))
}

async fn scalar_f64(ctx: &SessionContext, sql: &str) -> Result<f64, String> {
    use datafusion::arrow::array::{Array, Float64Array, Int64Array};
    let batches =
        ctx.sql(sql).await.map_err(|e| crate::errors::describe_error(&e))?.collect().await.map_err(|e| crate::errors::describe_error(&e))?;
    let col = batches.iter().find(|b| b.num_rows() > 0).map(|b| b.column(0).clone());
    let Some(col) = col else { return Ok(0.0) };
    if col.is_null(0) {
        return Ok(0.0);
    }
    if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
        return Ok(a.value(0) as f64);
    }
    if let Some(a) = col.as_any().downcast_ref::<Float64Array>() {
        return Ok(a.value(0));
    }
    let cast = datafusion::arrow::compute::cast(&col, &datafusion::arrow::datatypes::DataType::Float64).map_err(|e| e.to_string())?;
    Ok(cast.as_any().downcast_ref::<Float64Array>().map(|a| a.value(0)).unwrap_or(0.0))
}
