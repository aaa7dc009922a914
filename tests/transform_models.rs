//! The bundled cleaning models on the default dataset: each rule checked against the raw data with plain SQL.

mod common;

use common::{generated_data, generated_session, num};
use omnimarket::project::Project;

#[tokio::test]
async fn duplicates_are_merged_and_blanks_replaced() {
    let ctx = generated_session();
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_clients").await, 5_000.0);
    assert_eq!(num(&ctx, "SELECT COUNT(DISTINCT Email) FROM staging.stg_clients").await, 5_000.0);
    // The survivor is the lowest ID of each person.
    assert_eq!(
        num(&ctx, "SELECT COUNT(*) FROM staging.stg_clients s JOIN raw.Dim_Client c ON lower(trim(c.Email)) = s.Email AND c.ID_Client < s.ID_Client")
            .await,
        0.0
    );
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_clients WHERE Ville = 'Ville inconnue'").await, 100.0);
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_clients WHERE Telephone = 'Non renseigné'").await, 100.0);
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_clients WHERE Ville IS NULL OR Telephone IS NULL").await, 0.0);
}

#[tokio::test]
async fn cities_are_trimmed_and_proper_cased() {
    let ctx = generated_session();
    // No city is left padded or in the wrong case, and every cleaned city is a city of the referential.
    assert_eq!(
        num(&ctx, "SELECT COUNT(*) FROM staging.stg_clients WHERE Ville <> trim(Ville) OR Ville = lower(Ville) OR Ville = upper(Ville)").await,
        0.0
    );
    assert_eq!(
        num(&ctx, "SELECT COUNT(*) FROM staging.stg_clients c LEFT JOIN staging.stg_geo g ON c.Ville = g.Ville WHERE g.Ville IS NULL AND c.Ville <> 'Ville inconnue'").await,
        0.0
    );
    assert!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_clients WHERE Ville = 'Fès'").await > 0.0);
}

#[tokio::test]
async fn sales_keep_orphans_drop_null_amounts_and_follow_the_survivor() {
    let ctx = generated_session();
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_ventes").await, 50_000.0 - 25.0);
    // Orphans are kept.
    assert_eq!(
        num(&ctx, "SELECT COUNT(*) FROM staging.stg_ventes v LEFT JOIN staging.stg_clients c ON v.ID_Client = c.ID_Client WHERE c.ID_Client IS NULL")
            .await,
        50.0
    );
    // No sale points at a merged duplicate any more, and each survivor has its duplicates' sales.
    assert_eq!(
        num(&ctx, "SELECT COUNT(*) FROM staging.stg_ventes v JOIN staging.stg_client_survivors s ON v.ID_Client = s.ID_Client WHERE s.ID_Client <> s.ID_Client_Survivant").await,
        0.0
    );
    let moved = num(
        &ctx,
        "SELECT COUNT(*) FROM raw.base_ventes v JOIN staging.stg_client_survivors s ON v.ID_Client = s.ID_Client \
         WHERE s.ID_Client <> s.ID_Client_Survivant AND v.Montant_HT IS NOT NULL AND v.Montant_TTC IS NOT NULL",
    )
    .await;
    assert!(moved > 0.0, "the generator plants sales on duplicates");
    let survivors_after = num(
        &ctx,
        "SELECT COUNT(*) FROM staging.stg_ventes WHERE ID_Client IN \
         (SELECT ID_Client_Survivant FROM staging.stg_client_survivors WHERE ID_Client <> ID_Client_Survivant)",
    )
    .await;
    let survivors_before = num(
        &ctx,
        "SELECT COUNT(*) FROM raw.base_ventes WHERE Montant_HT IS NOT NULL AND Montant_TTC IS NOT NULL AND ID_Client IN \
         (SELECT ID_Client_Survivant FROM staging.stg_client_survivors WHERE ID_Client <> ID_Client_Survivant)",
    )
    .await;
    assert_eq!(survivors_after, survivors_before + moved);
    // Totals: the dropped rows are exactly the NULL-amount ones.
    let raw_ttc = num(&ctx, "SELECT CAST(SUM(Montant_TTC) AS DOUBLE) FROM raw.base_ventes WHERE Montant_HT IS NOT NULL").await;
    let stg_ttc = num(&ctx, "SELECT SUM(Montant_TTC) FROM staging.stg_ventes").await;
    assert!((raw_ttc - stg_ttc).abs() < 0.01, "{raw_ttc} vs {stg_ttc}");
    // Marge_Pct is the margin over net revenue.
    assert_eq!(
        num(&ctx, "SELECT COUNT(*) FROM staging.stg_ventes WHERE abs(Marge_Pct * (Montant_HT - Remise_Appliquee) - Marge) > 0.001").await,
        0.0
    );
    // Anonymous sessions stay anonymous; no session points at a merged duplicate.
    assert_eq!(
        num(&ctx, "SELECT COUNT(*) FROM staging.stg_trafic WHERE ID_Client IS NULL").await,
        num(&ctx, "SELECT COUNT(*) FROM raw.Fait_Trafic_Web WHERE ID_Client IS NULL").await
    );
}

#[test]
fn a_broken_model_is_reported_with_its_file_and_line() {
    let project = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(project.path().join("sql")).expect("mkdir");
    std::fs::write(project.path().join("sql/a.sql"), "SELECT *\nFROM {{ ref('b') }}").expect("write");
    std::fs::write(project.path().join("sql/b.sql"), "SELECT *\n  FROM {{ ref('a') }}").expect("write");
    let err = Project::new(project.path(), generated_data()).session().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.ends_with("b.sql:2:8: models form a cycle: a → b → a"), "{err}");
    std::fs::write(project.path().join("sql/b.sql"), "SELECT * FROM {{ source('Dim_Clent') }}").expect("write");
    let err = Project::new(project.path(), generated_data()).session().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.ends_with("b.sql:1:15: unknown source `Dim_Clent`; did you mean `Dim_Client`?"), "{err}");
}
