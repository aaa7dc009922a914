//! Every real file of the original study (written by pandas/openpyxl/json/ElementTree) loads with the same
//! readers and the bundled `sources.yaml`, with the types and counts those files really hold.

mod common;

use common::{scalar, seed_dir};
use omnimarket::project::Project;

fn seed_project() -> Project {
    Project::new(env!("CARGO_MANIFEST_DIR"), seed_dir())
}

#[tokio::test]
async fn every_seed_file_loads_with_expected_shape() {
    let (ctx, _) = seed_project().session().expect("session");
    let counts = [
        ("Dim_Temps", 731),
        ("Dim_Produit", 300),
        ("Dim_Canal", 3),
        ("Dim_Livraison", 3),
        ("Dim_Motif_Retour", 7),
        ("Dim_Promotion", 5),
        ("objectifs_mensuels", 24),
        ("base_ventes", 0),
    ];
    for (table, n) in counts {
        assert_eq!(scalar(&ctx, &format!("SELECT COUNT(*) FROM {table}")).await, n.to_string(), "{table}");
    }
    // Files whose size we only know from the file itself: they must load and be non-empty.
    for table in ["Dim_Client", "Stats_RFM", "Fait_Stock", "Fait_Retours", "Referentiel_Geo"] {
        let n: u64 = scalar(&ctx, &format!("SELECT COUNT(*) FROM raw.{table}")).await.parse().unwrap_or(0);
        assert!(n > 0, "{table} is empty");
    }
}

#[tokio::test]
async fn seed_types_and_quirks() {
    let (ctx, _) = seed_project().session().expect("session");
    // BOM stripped: the first column is named exactly ID_Date; dates typed.
    assert_eq!(scalar(&ctx, "SELECT MIN(Date_Complete) FROM Dim_Temps").await, "2023-01-01");
    assert_eq!(scalar(&ctx, "SELECT arrow_typeof(Date_Complete) FROM Dim_Temps LIMIT 1").await, "Date32");
    // The record element and a field share the name `Motif`.
    assert_eq!(scalar(&ctx, "SELECT Motif FROM Dim_Motif_Retour WHERE ID_Motif = 2").await, "Taille incorrecte");
    // Nested record path; accents intact.
    assert_eq!(scalar(&ctx, "SELECT region FROM Referentiel_Geo WHERE nom = 'Fès'").await, "Fès-Meknès");
    // The year of each objective comes from its sheet name, typed as a number.
    assert_eq!(scalar(&ctx, "SELECT COUNT(DISTINCT Annee) FROM objectifs_mensuels").await, "2");
    assert_eq!(scalar(&ctx, "SELECT SUM(Annee) FROM objectifs_mensuels WHERE Mois = 1").await, "4047");
    // "Sans promotion" has an empty code, read as NULL.
    assert_eq!(scalar(&ctx, "SELECT COUNT(*) FROM Dim_Promotion WHERE Code_Promo IS NULL").await, "1");
    // Phone numbers stay text.
    assert_eq!(scalar(&ctx, "SELECT arrow_typeof(Telephone) FROM Dim_Client LIMIT 1").await, "Utf8");
}

#[tokio::test]
async fn ddl_only_dump_keeps_declared_columns() {
    let (ctx, _) = seed_project().session().expect("session");
    let df = ctx.table("base_ventes").await.expect("table");
    let names: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names.len(), 16);
    assert_eq!(names[0], "ID_Vente");
    assert_eq!(names[11], "Montant_HT");
    assert_eq!(df.schema().field(11).data_type(), &datafusion::arrow::datatypes::DataType::Decimal128(12, 2));
}

#[tokio::test]
async fn missing_seed_files_are_named() {
    // The seed set lacks Fait_Trafic_Web.json: the error names the file and says it is missing.
    let (ctx, _) = seed_project().session().expect("session");
    let err = ctx.sql("SELECT * FROM Fait_Trafic_Web").await.err().map(|e| omnimarket::cli::describe_error(&e));
    let err = err.unwrap_or_default();
    assert!(err.contains("Fait_Trafic_Web.json") && err.contains("no such file"), "{err}");
}
