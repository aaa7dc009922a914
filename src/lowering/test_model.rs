//! A small model built in memory, with its column types set by hand instead of read from data, so the
//! binding (DAX → IR) and planning (IR → SQL) stages can be unit-tested without a session.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;

use super::BoundModel;
use crate::model::load::load;
use crate::model::{Model, SourceText};

const MODEL: &str = r#"
model: shop
date_table: Dim_Temps[Date_Complete]
tables:
  - name: Fait_Ventes
    source: s.ventes
    primary_key: ID_Vente
  - name: Dim_Temps
    source: s.temps
    primary_key: ID_Date
    attributes: [Date_Complete, Annee, Mois]
  - name: Dim_Produit
    source: s.produits
    primary_key: ID_Produit
    attributes: [Nom_Produit, Categorie]
relationships:
  - { one: "Dim_Temps[ID_Date]", many: "Fait_Ventes[ID_Date]" }
  - { one: "Dim_Produit[ID_Produit]", many: "Fait_Ventes[ID_Produit]" }
"#;

/// The measures of the tests; more can be appended by a test (`model_with`).
pub const MEASURES: &str = r#"
measures:
  - { name: CA, folder: V, format: currency, dax: "SUM(Fait_Ventes[Montant])" }
  - { name: N, folder: V, format: integer, dax: "COUNTROWS(Fait_Ventes)" }
  - { name: Panier, folder: V, format: currency, dax: "DIVIDE([CA], [N], 0)" }
  - { name: CA_LY, folder: T, format: currency, dax: "CALCULATE([CA], SAMEPERIODLASTYEAR(Dim_Temps[Date_Complete]))" }
  - { name: CA_Jouets, folder: V, format: currency, dax: "CALCULATE([CA], Dim_Produit[Categorie] = \"Jouets\")" }
  - { name: Part, folder: P, format: percent, dax: "DIVIDE([CA], CALCULATE([CA], ALL(Dim_Produit)))" }
  - { name: Part_LY, folder: P, format: percent, dax: "CALCULATE([Part], SAMEPERIODLASTYEAR(Dim_Temps[Date_Complete]))" }
"#;

fn columns(names: &[(&str, DataType)]) -> Vec<(String, DataType)> {
    names.iter().map(|(n, t)| (n.to_string(), t.clone())).collect()
}

/// The model loaded from the texts above (plus `extra_measures`, YAML list items), with column types set.
pub fn model_with(extra_measures: &str) -> Result<Model, super::ModelError> {
    let measures = format!("{MEASURES}{extra_measures}");
    let mut model = load(SourceText { file: "model.yaml".into(), text: MODEL.into() }, SourceText { file: "measures.yaml".into(), text: measures })?;
    let types: HashMap<&str, Vec<(String, DataType)>> = HashMap::from([
        (
            "Fait_Ventes",
            columns(&[
                ("ID_Vente", DataType::Int64),
                ("ID_Date", DataType::Int64),
                ("ID_Produit", DataType::Int64),
                ("Montant", DataType::Float64),
                ("Libelle", DataType::Utf8),
            ]),
        ),
        (
            "Dim_Temps",
            columns(&[("ID_Date", DataType::Int64), ("Date_Complete", DataType::Date32), ("Annee", DataType::Int64), ("Mois", DataType::Int64)]),
        ),
        ("Dim_Produit", columns(&[("ID_Produit", DataType::Int64), ("Nom_Produit", DataType::Utf8), ("Categorie", DataType::Utf8)])),
    ]);
    for t in model.tables.iter_mut() {
        t.columns = types.get(t.name.as_str()).cloned().unwrap_or_default();
    }
    Ok(model)
}

/// The model bound without data: measures lowered, relationship paths found; no BLANK members.
pub fn bound() -> Arc<BoundModel> {
    let model = model_with("").expect("the test model loads");
    let bm = BoundModel::new(model);
    assert!(bm.invalid.is_empty(), "the test measures bind: {:?}", bm.invalid);
    bm
}
