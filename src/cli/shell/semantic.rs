//! The shell's view of the semantic model: `\measures` lists measures by display folder, `\compile` shows the
//! plain SQL a semantic query becomes. Locally both come from the engine's model; over `--connect`, measures
//! are read from the server's `semantic` schema: each measure column of the model table carries the field
//! metadata `omnimarket.kind = measure`, and optionally `omnimarket.folder` and `omnimarket.expression`
//! ([`measures_from_schema`]).

use datafusion::arrow::datatypes::Schema;

use crate::engine::Engine;
use crate::query::catalog::{EXPRESSION_KEY, FOLDER_KEY, KIND_KEY};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureInfo {
    /// Display folder ("Ventes", "Clients\\Fidélité"); empty at the top level.
    pub folder: String,
    pub name: String,
    /// The measure's definition as written in the model (DAX or SQL), when known.
    pub expression: Option<String>,
}

/// The engine's measures, in model order.
pub fn engine_measures(engine: &Engine) -> Vec<MeasureInfo> {
    engine
        .model()
        .folders()
        .into_iter()
        .flat_map(|(folder, measures)| {
            measures.into_iter().map(move |m| MeasureInfo { folder: folder.clone(), name: m.name.clone(), expression: Some(m.dax_one_line()) })
        })
        .collect()
}

/// The measures described in a model table's Arrow schema (see the module doc), folder by folder in the order
/// the folders first appear.
pub fn measures_from_schema(schema: &Schema) -> Vec<MeasureInfo> {
    let mut measures: Vec<MeasureInfo> = schema
        .fields()
        .iter()
        .filter(|f| f.metadata().get(KIND_KEY).is_some_and(|k| k == "measure"))
        .map(|f| MeasureInfo {
            folder: f.metadata().get(FOLDER_KEY).cloned().unwrap_or_default(),
            name: f.name().clone(),
            expression: f.metadata().get(EXPRESSION_KEY).cloned(),
        })
        .collect();
    let mut folders: Vec<String> = Vec::new();
    for m in &measures {
        if !folders.contains(&m.folder) {
            folders.push(m.folder.clone());
        }
    }
    measures.sort_by_key(|m| folders.iter().position(|f| *f == m.folder));
    measures
}
