//! What a Postgres client's text asks for. BI tools and drivers send more than queries: `SET` and `SHOW` of
//! session settings, `BEGIN`/`COMMIT`, `DISCARD ALL`. Those are answered per connection here and never reach
//! the engine, whose read-only guard refuses them; everything else is a query for the engine, which checks it
//! as it checks Flight SQL's. Nothing a client sets is seen by another connection.

use datafusion::sql::sqlparser::ast::{Expr, Set, Statement, Value};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

use crate::query::dax::is_dax;

#[derive(Debug, Clone, PartialEq)]
pub enum PgStatement {
    /// SQL (plain or semantic) or DAX for the engine.
    Query(String),
    /// `SET name = value` (`SET TIME ZONE`, `SET NAMES` included), of this connection only.
    Set {
        name: String,
        value: String,
    },
    /// `SET TRANSACTION ...`, `SET SESSION CHARACTERISTICS ...`: every transaction here is read-only, so
    /// there is nothing to change.
    SetTransaction,
    Show(String),
    Begin,
    Commit,
    Rollback,
    /// `DISCARD ALL` (connection pools, between borrowers): this connection's settings go back to defaults.
    DiscardAll,
    Empty,
}

/// Splits and classifies `text`. The Postgres-compatibility parser rewrites what clients write for a real
/// Postgres (`'t'::regclass`, `OPERATOR(pg_catalog.~)`, `COLLATE pg_catalog.default`) into SQL DataFusion
/// plans. Text it cannot parse goes to the engine as it is, whose error names the place.
pub fn classify(text: &str) -> Vec<PgStatement> {
    if text.trim().trim_matches(';').trim().is_empty() {
        return vec![PgStatement::Empty];
    }
    if is_dax(text) {
        return vec![PgStatement::Query(text.to_string())];
    }
    match PostgresCompatibilityParser::new().parse(text) {
        Ok(statements) if !statements.is_empty() => statements.iter().map(classify_statement).collect(),
        _ => vec![PgStatement::Query(text.to_string())],
    }
}

fn classify_statement(statement: &Statement) -> PgStatement {
    match statement {
        Statement::Set(set) => classify_set(set),
        Statement::ShowVariable { variable } => {
            PgStatement::Show(variable.iter().map(|i| i.value.to_ascii_lowercase()).collect::<Vec<_>>().join(" "))
        }
        Statement::StartTransaction { .. } => PgStatement::Begin,
        Statement::Commit { .. } => PgStatement::Commit,
        Statement::Rollback { savepoint: None, .. } => PgStatement::Rollback,
        Statement::Discard { object_type } if object_type.to_string().eq_ignore_ascii_case("ALL") => PgStatement::DiscardAll,
        other => PgStatement::Query(other.to_string()),
    }
}

fn classify_set(set: &Set) -> PgStatement {
    match set {
        Set::SingleAssignment { variable, values, .. } => PgStatement::Set {
            name: variable.to_string().to_ascii_lowercase(),
            value: values.iter().map(setting_text).collect::<Vec<_>>().join(", "),
        },
        Set::SetTimeZone { value, .. } => PgStatement::Set { name: "timezone".into(), value: setting_text(value) },
        Set::SetNames { charset_name, .. } => PgStatement::Set { name: "client_encoding".into(), value: charset_name.to_string() },
        Set::SetTransaction { .. } | Set::SetSessionParam(_) => PgStatement::SetTransaction,
        // Anything else (`SET ROLE`, `SET a, b = ...`) goes to the engine, whose guard refuses it by name.
        other => PgStatement::Query(Statement::Set(other.clone()).to_string()),
    }
}

/// A setting's value as Postgres shows it back: `'ISO'` and `ISO` are the same value.
fn setting_text(expr: &Expr) -> String {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string().trim_matches('\'').to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_connection_preludes_are_split_and_classified() {
        // psqlODBC's first simple query.
        let s = classify("SET DateStyle = 'ISO';SET extra_float_digits = 2;show transaction_isolation");
        assert_eq!(
            s,
            vec![
                PgStatement::Set { name: "datestyle".into(), value: "ISO".into() },
                PgStatement::Set { name: "extra_float_digits".into(), value: "2".into() },
                PgStatement::Show("transaction_isolation".into()),
            ]
        );
        assert_eq!(
            classify("SET TIME ZONE 'Africa/Casablanca'"),
            vec![PgStatement::Set { name: "timezone".into(), value: "Africa/Casablanca".into() }]
        );
        assert_eq!(classify("BEGIN; COMMIT; ROLLBACK"), vec![PgStatement::Begin, PgStatement::Commit, PgStatement::Rollback]);
        assert_eq!(classify("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"), vec![PgStatement::SetTransaction]);
        assert_eq!(classify(" ; "), vec![PgStatement::Empty]);
        assert_eq!(classify("DISCARD ALL"), vec![PgStatement::DiscardAll]);
    }

    #[test]
    fn queries_and_dax_go_to_the_engine() {
        assert!(matches!(&classify("SELECT 1")[..], [PgStatement::Query(q)] if q == "SELECT 1"));
        let dax = "EVALUATE ROW(\"x\", 1)";
        assert_eq!(classify(dax), vec![PgStatement::Query(dax.into())]);
        // Not Postgres at all: passed on for the engine's own error.
        assert!(matches!(&classify("SELEC 1")[..], [PgStatement::Query(q)] if q == "SELEC 1"));
        // Writes are queries too, for the guard to refuse.
        assert!(matches!(&classify("COPY (SELECT 1) TO '/tmp/x'")[..], [PgStatement::Query(_)]));
    }
}
