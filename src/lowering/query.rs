//! Binding for DAX queries (`EVALUATE ...`, see `crate::query::dax`): the scalar expressions, filter arguments
//! and columns that a query's table functions hold, with the query's `DEFINE`s in scope. The query text stands
//! in for a measure's, so every error points into it with line, column and caret.

use std::sync::Arc;

use super::binder::{Binder, Env, Result, Scope};
use super::ir::{Mod, Node};
use crate::dax::ast::Expr;
use crate::model::{Format, Measure, Model, ModelError, SourceText, TableId};

/// The query's text as a nameless measure: binding errors are located in it and carry no measure name.
pub fn query_text(text: &str) -> Measure {
    Measure {
        name: String::new(),
        folder: String::new(),
        format: Format::Decimal,
        description: String::new(),
        dax: text.to_string(),
        expr: Err(ModelError::new(None, "a query is not a measure")),
        source: Arc::new(SourceText { file: "<query>".into(), text: text.to_string() }),
        dax_start: 0,
    }
}

/// A `DEFINE MEASURE` of the query, as a measure of the model for the query's duration.
pub fn query_measure(text: &str, name: &str, expr: &Expr) -> Measure {
    Measure { name: name.to_string(), expr: Ok(expr.clone()), ..query_text(text) }
}

/// What a query's DEFINE VARs put in scope.
#[derive(Debug, Clone, Default)]
pub struct QueryScope {
    /// Constant VARs (`VAR Seuil = 1000`).
    pub constants: Vec<(String, Node)>,
    /// Table VARs, usable where a table is a filter (`VAR F = TREATAS({2024}, Dim_Temps[Annee])`).
    pub tables: Vec<(String, Expr)>,
}

pub struct QueryBinder<'a> {
    binder: Binder<'a>,
}

impl<'a> QueryBinder<'a> {
    /// `model` holds the query's DEFINE MEASUREs; `text` is [`query_text`] of the query.
    pub fn new(model: &'a Model, text: &'a Measure) -> Self {
        let mut binder = Binder::new(model);
        binder.measure = Some(text);
        QueryBinder { binder }
    }

    fn scope(&self, scope: &QueryScope, externals: &[(String, Node)]) -> Scope {
        Scope {
            vars: scope.constants.iter().map(|(n, v)| (n.clone(), v.clone(), 0)).collect(),
            tables: scope.tables.iter().map(|(n, e)| (n.clone(), e.clone(), Env::default())).collect(),
            externals: externals.to_vec(),
        }
    }

    /// A scalar expression, evaluated per row of a query table: `externals` are that table's columns by the
    /// name they are written with (`Dim_Canal[Nom_Canal]`, `[CA]`); measures and aggregations see the row's
    /// filter context.
    pub fn scalar(&mut self, e: &Expr, scope: &QueryScope, externals: &[(String, Node)]) -> Result<Node> {
        let mut s = self.scope(scope, externals);
        self.binder.lower(e, &Env::default(), &mut s)
    }

    /// Filter arguments (SUMMARIZECOLUMNS's filter tables, CALCULATETABLE's filters) as context changes,
    /// removers first as in CALCULATE.
    pub fn filters(&mut self, args: &[Expr], at: usize, scope: &QueryScope) -> Result<Vec<Mod>> {
        let mut s = self.scope(scope, &[]);
        let args: Vec<Option<Expr>> = args.iter().cloned().map(Some).collect();
        self.binder.filter_args(&args, at, &Env::default(), &mut s)
    }

    /// A column reference `Table[Column]`.
    pub fn column(&self, e: &Expr) -> Result<(TableId, String)> {
        self.binder.column(e).map(|(t, c, _)| (t, c))
    }

    pub fn table(&self, name: &str, at: usize) -> Result<TableId> {
        self.binder.table(name, at)
    }

    /// A whole number written in the query (TOPN's count).
    pub fn integer(&self, e: &Expr, what: &str) -> Result<i64> {
        self.binder.integer(e, what)
    }

    pub fn error(&self, at: usize, message: impl Into<String>) -> ModelError {
        self.binder.err(at, message)
    }

    pub fn model(&self) -> &'a Model {
        self.binder.model
    }
}
