//! DAX queries — `DEFINE MEASURE ... VAR ... EVALUATE <table> ORDER BY ... START AT ...` — compiled to SQL over
//! the model, one statement per EVALUATE, for every front end (CLI, shell, Flight SQL, HTTP).
//!
//! A query table is SQL with columns `c0, c1, ...` plus, per column, the name DAX gives it (`Dim_Canal[Nom_Canal]`,
//! `[CA]`) and its lineage (the model column it comes from, if any). Table functions ([`tables`]) build on each
//! other by wrapping that SQL; the planner does the DAX parts: values per row in the row's filter context
//! (`plan::tables::compile_grid`) and expressions per row with context transition (`plan::tables::compile_rows`).
//! Adding a table function: one case in [`tables::Compiler::table`].

mod tables;

use crate::dax::parser::{is_query, parse_query};
use crate::lowering::BoundModel;
use crate::lowering::query::{query_measure, query_text};
use crate::model::ModelError;

/// One EVALUATE, compiled: its SQL and the DAX names of its columns, in order (the SQL's column aliases).
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub sql: String,
    pub columns: Vec<String>,
}

/// Is the text a DAX query (starts with DEFINE or EVALUATE, after comments)?
pub fn is_dax(text: &str) -> bool {
    is_query(text)
}

/// Compiles a DAX query: one statement per EVALUATE. Errors point into the query text (`<query>:line:col`).
pub fn compile(bm: &BoundModel, text: &str) -> Result<Vec<Compiled>, ModelError> {
    let source = query_text(text);
    let query = parse_query(text).map_err(|e| ModelError::new(Some(source.location(e.at)), e.message))?;
    // The query's measures join the model's for its duration; one with a model measure's name replaces it.
    let mut model = bm.model.clone();
    for d in &query.defines {
        if let crate::dax::ast::Define::Measure { table, name, expr, at } = d {
            if model.table(table).is_none() {
                return Err(ModelError::new(Some(source.location(*at)), format!("DEFINE MEASURE: unknown table `{table}`")));
            }
            if model.attribute(name).is_some() {
                return Err(ModelError::new(Some(source.location(*at)), format!("DEFINE MEASURE: `{name}` is already a column of the model")));
            }
            let m = query_measure(text, name, expr);
            match model.measures.iter_mut().find(|x| x.name == *name) {
                Some(slot) => *slot = m,
                None => model.measures.push(m),
            }
        }
    }
    let mut compiler = tables::Compiler::new(bm, &model, &source);
    compiler.defines(&query.defines)?;
    query.evaluates.iter().map(|e| compiler.evaluate(e)).collect()
}
