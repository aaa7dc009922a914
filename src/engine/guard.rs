//! What a client may run: one read-only statement (a query, EXPLAIN, SHOW or DESCRIBE) of bounded size and
//! nesting. Every front end shares the engine, so every front end gets this check; DataFusion's own
//! `SQLOptions` check runs after it on the plan as a second line. Nothing a client sends can write a file, read
//! one the model does not declare, change a table or change a setting that other clients see.

use std::collections::VecDeque;
use std::ops::ControlFlow;

use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{Expr, Query, Statement, Visit, Visitor};

/// The longest SQL text accepted (BI tools write long queries, but not megabytes).
pub const MAX_SQL_BYTES: usize = 1 << 20;
/// sqlparser's recursion limit (brackets, subqueries): deeper text is a parse error, not a stack overflow.
pub const PARSER_RECURSION_LIMIT: usize = 64;
/// The deepest expression tree accepted. `a OR b OR c ...` is a chain as deep as it is long, so this allows
/// filters of a few hundred values; planning is recursive, and the query threads' stacks are sized for it.
pub const MAX_EXPR_DEPTH: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("permission denied: {0} is not allowed; the server is read-only (queries, EXPLAIN, SHOW and DESCRIBE only)")]
    NotReadOnly(String),
    #[error("one statement at a time, please: this text holds {0}")]
    Several(usize),
    #[error("the query text is {0} bytes; at most {MAX_SQL_BYTES} are accepted")]
    TooLong(usize),
    #[error("the query nests expressions more than {MAX_EXPR_DEPTH} levels deep; write long OR chains as IN (...)")]
    TooDeep,
}

impl Refusal {
    /// A statement the server refuses on principle (as opposed to a query it cannot take as written).
    pub fn is_permission(&self) -> bool {
        matches!(self, Refusal::NotReadOnly(_))
    }
}

/// The refusal behind an engine error, if that is what it is.
pub fn refusal(e: &DataFusionError) -> Option<&Refusal> {
    match e.find_root() {
        DataFusionError::External(inner) => inner.downcast_ref::<Refusal>(),
        _ => None,
    }
}

/// True when `e` is a read-only refusal (PERMISSION_DENIED on Flight SQL, 403 on HTTP).
pub fn is_permission_denied(e: &DataFusionError) -> bool {
    refusal(e).is_some_and(Refusal::is_permission)
}

fn refuse(r: Refusal) -> DataFusionError {
    DataFusionError::External(Box::new(r))
}

/// The plan-level check DataFusion applies after ours: no DDL, no DML (COPY included), no statements (SET).
pub fn read_only_options() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// Checks `sql` before it is planned: size, one statement, read-only, nesting depth.
pub fn check(sql: &str) -> Result<(), DataFusionError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(refuse(Refusal::TooLong(sql.len())));
    }
    let statements: VecDeque<DFStatement> = DFParserBuilder::new(sql).with_recursion_limit(PARSER_RECURSION_LIMIT).build()?.parse_statements()?;
    if statements.len() > 1 {
        return Err(refuse(Refusal::Several(statements.len())));
    }
    for statement in &statements {
        check_statement(statement)?;
    }
    Ok(())
}

fn check_statement(statement: &DFStatement) -> Result<(), DataFusionError> {
    match statement {
        DFStatement::Statement(s) => check_sql_statement(s),
        DFStatement::Explain(e) => check_statement(&e.statement),
        DFStatement::CreateExternalTable(_) => Err(refuse(Refusal::NotReadOnly("CREATE EXTERNAL TABLE".into()))),
        DFStatement::CopyTo(_) => Err(refuse(Refusal::NotReadOnly("COPY".into()))),
        DFStatement::Reset(_) => Err(refuse(Refusal::NotReadOnly("RESET".into()))),
    }
}

fn check_sql_statement(s: &Statement) -> Result<(), DataFusionError> {
    match s {
        Statement::Explain { statement, .. } => check_sql_statement(statement),
        Statement::Query(_)
        | Statement::ExplainTable { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowViews { .. } => check_depth(s),
        other => Err(refuse(Refusal::NotReadOnly(statement_kind(other)))),
    }
}

/// The statement's leading keywords (`INSERT`, `CREATE TABLE`, `SET`), for the error message.
fn statement_kind(s: &Statement) -> String {
    let text = s.to_string();
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    let n = match words.first().map(|w| w.to_ascii_uppercase()) {
        Some(w) if matches!(w.as_str(), "CREATE" | "DROP" | "ALTER" | "TRUNCATE") => 2,
        _ => 1,
    };
    let kind = words.iter().take(n).map(|w| w.to_ascii_uppercase()).collect::<Vec<_>>().join(" ");
    if kind.is_empty() { "this statement".into() } else { kind }
}

/// Walks the statement with a depth counter and stops at the limit, so the walk itself never goes deeper than
/// [`MAX_EXPR_DEPTH`] frames.
fn check_depth(s: &Statement) -> Result<(), DataFusionError> {
    struct Depth {
        now: usize,
    }
    impl Visitor for Depth {
        type Break = ();
        fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.now += 1;
            if self.now > MAX_EXPR_DEPTH { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        }
        fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.now -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.now += 1;
            if self.now > MAX_EXPR_DEPTH { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.now -= 1;
            ControlFlow::Continue(())
        }
    }
    match s.visit(&mut Depth { now: 0 }) {
        ControlFlow::Break(()) => Err(refuse(Refusal::TooDeep)),
        ControlFlow::Continue(()) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(sql: &str) -> bool {
        check(sql).err().is_some_and(|e| is_permission_denied(&e))
    }

    #[test]
    fn queries_pass_and_writes_are_denied() {
        for ok in [
            "SELECT 1",
            "WITH a AS (SELECT 1 AS x) SELECT x FROM a",
            "VALUES (1), (2)",
            "EXPLAIN SELECT 1",
            "EXPLAIN ANALYZE SELECT 1",
            "SHOW TABLES",
            "SHOW COLUMNS FROM Dim_Canal",
            "SHOW datafusion.execution.batch_size",
            "DESCRIBE Dim_Canal",
            "SELECT 1;",
        ] {
            check(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "COPY (SELECT 'x' AS a) TO '/tmp/x.csv' STORED AS CSV",
            "CREATE EXTERNAL TABLE t (l VARCHAR) STORED AS CSV LOCATION '/etc/passwd'",
            "INSERT INTO staging.stg_canaux VALUES (1, 'Web', 'Online')",
            "DROP TABLE staging.stg_canaux",
            "SET datafusion.sql_parser.enable_ident_normalization = true",
            "RESET datafusion.execution.batch_size",
            "CREATE TABLE t AS SELECT 1",
            "CREATE VIEW v AS SELECT 1",
            "DELETE FROM staging.stg_canaux",
            "UPDATE staging.stg_canaux SET Nom_Canal = 'x'",
            "EXPLAIN COPY (SELECT 1) TO '/tmp/y.csv'",
            "EXPLAIN INSERT INTO t VALUES (1)",
            "BEGIN TRANSACTION",
            "PREPARE p AS SELECT 1",
        ] {
            assert!(denied(bad), "{bad}: {:?}", check(bad));
        }
        let e = check("DROP TABLE staging.stg_canaux").expect_err("denied");
        assert!(e.to_string().contains("DROP TABLE is not allowed"), "{e}");
    }

    #[test]
    fn several_statements_long_text_and_deep_nesting_are_refused() {
        assert!(matches!(check("SELECT 1; DROP TABLE x").as_ref().map_err(refusal), Err(Some(Refusal::Several(2)))));
        let chain = format!("SELECT {}", vec!["1"; 5_000].join("+"));
        assert!(matches!(check(&chain).as_ref().map_err(refusal), Err(Some(Refusal::TooDeep))));
        let ok_chain = format!("SELECT {}", vec!["1"; 500].join("+"));
        check(&ok_chain).expect("500 terms are fine");
        let brackets = format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000));
        let e = check(&brackets).expect_err("too deep for the parser");
        assert!(e.to_string().to_lowercase().contains("recursion"), "{e}");
        let long = format!("SELECT '{}'", "x".repeat(MAX_SQL_BYTES));
        assert!(matches!(check(&long).as_ref().map_err(refusal), Err(Some(Refusal::TooLong(_)))));
    }
}
