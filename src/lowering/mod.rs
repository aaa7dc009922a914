//! From DAX syntax to the planner's IR, once the model is bound to the data: [`binder`] resolves names and
//! inlines measures, [`tables`] binds table expressions and CALCULATE's filters, [`time`] the time
//! intelligence; [`functions`] is the registry of every supported DAX function. Data flows one way:
//! `dax` (syntax) → `model` (files, data) → `lowering` (IR) → `query` (SQL).

pub mod binder;
pub mod functions;
pub mod ir;
pub mod query;
mod tables;
#[cfg(test)]
pub mod test_model;
mod time;
pub mod types;

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::graph::{Upstream, upstream};
use crate::model::{Model, ModelError};
use ir::Node;

/// A model checked against the data, ready to compile queries. A measure that does not bind is kept in
/// `invalid` with its error; every other measure works.
#[derive(Debug)]
pub struct BoundModel {
    pub model: Model,
    pub measures: HashMap<String, Node>,
    pub invalid: Vec<(String, ModelError)>,
    /// For each table, the tables that filter it and through which relationships.
    pub upstream: Vec<Upstream>,
}

impl BoundModel {
    pub fn new(model: Model) -> Arc<BoundModel> {
        // Binding recurses along the measure's syntax tree (up to the parser's depth limit, plus inlined
        // measures); it runs on a thread with a stack as large as the query runtime's, whatever thread asks.
        let (measures, invalid) = std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("bind-measures".into())
                .stack_size(crate::engine::runtime::QUERY_STACK_BYTES)
                .spawn_scoped(s, || bind_measures(&model))
                .ok()
                .and_then(|h| h.join().ok())
        })
        .unwrap_or_else(|| bind_measures(&model));
        let upstream = (0..model.tables.len()).map(|t| upstream(&model, t)).collect();
        Arc::new(BoundModel { model, measures, invalid, upstream })
    }

    /// The error of an invalid measure.
    pub fn invalid(&self, name: &str) -> Option<&ModelError> {
        self.invalid.iter().find(|(n, _)| n == name).map(|(_, e)| e)
    }
}

/// Every measure bound: the valid ones, and each invalid one with its error (in model order).
pub fn bind_measures(model: &Model) -> (HashMap<String, Node>, Vec<(String, ModelError)>) {
    let mut out = HashMap::new();
    let mut invalid = Vec::new();
    for m in &model.measures {
        match binder::Binder::new(model).measure(m) {
            Ok(node) => {
                out.insert(m.name.clone(), node);
            }
            Err(e) => invalid.push((m.name.clone(), e)),
        }
    }
    (out, invalid)
}

/// The model bound to the data in `ctx`, then its measures bound.
pub async fn bind_model(model: Model, ctx: &datafusion::prelude::SessionContext) -> Result<Arc<BoundModel>, ModelError> {
    Ok(BoundModel::new(crate::model::bind::bind(model, ctx).await?))
}
