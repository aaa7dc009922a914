//! The shell's view of the semantic model: `\measures` lists measures by display folder, `\compile` shows the
//! plain SQL a semantic query becomes. Until the engine carries a model, [`for_engine`] returns `None` and both
//! commands say so.
//!
//! The hook: implement [`SemanticIntrospection`] for the model and return it from [`for_engine`]. Over
//! `--connect`, measures are read from the server's `semantic` schema instead: each measure column of the
//! model table carries field metadata `omnimarket.kind = measure` and optionally `omnimarket.folder`,
//! `omnimarket.expression` ([`measures_from_schema`]).

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;

use crate::engine::Engine;

/// Field-metadata keys the server uses to describe the model table's columns.
pub const KIND_KEY: &str = "omnimarket.kind";
pub const FOLDER_KEY: &str = "omnimarket.folder";
pub const EXPRESSION_KEY: &str = "omnimarket.expression";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureInfo {
    /// Display folder ("Ventes", "Clients\\Fidélité"); empty at the top level.
    pub folder: String,
    pub name: String,
    /// The measure's definition as written in the model (DAX or SQL), when known.
    pub expression: Option<String>,
}

pub trait SemanticIntrospection: Send + Sync {
    fn measures(&self) -> Vec<MeasureInfo>;
    /// The plain SQL that `sql` (semantic SQL over the model table) compiles to, or the compile error.
    fn compile(&self, sql: &str) -> Result<String, String>;
}

/// The semantic model behind this engine, if it has one. The engine carries no model yet.
pub fn for_engine(_engine: &Engine) -> Option<Arc<dyn SemanticIntrospection>> {
    None
}

/// The measures described in a model table's Arrow schema (see the module doc).
pub fn measures_from_schema(schema: &Schema) -> Vec<MeasureInfo> {
    schema
        .fields()
        .iter()
        .filter(|f| f.metadata().get(KIND_KEY).is_some_and(|k| k == "measure"))
        .map(|f| MeasureInfo {
            folder: f.metadata().get(FOLDER_KEY).cloned().unwrap_or_default(),
            name: f.name().clone(),
            expression: f.metadata().get(EXPRESSION_KEY).cloned(),
        })
        .collect()
}
