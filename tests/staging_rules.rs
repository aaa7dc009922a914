//! The cleaning rules of the dimension, stock and objective models (stg_promotions, stg_temps, stg_produits,
//! stg_canaux, stg_livraisons, stg_motifs, stg_stock, stg_objectifs), each on a small hand-written file that
//! holds the case the rule is for. The bundled models and sources.yaml are used as shipped.

mod common;

use std::fs;
use std::path::Path;

use common::{num, scalar};
use datafusion::prelude::SessionContext;
use omnimarket::project::Project;

/// A session of the bundled project over a data directory holding only `files`.
fn session(files: &[(&str, &[u8])]) -> (tempfile::TempDir, SessionContext) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    fs::create_dir_all(&data).expect("mkdir");
    for (name, bytes) in files {
        fs::write(data.join(name), bytes).expect("write");
    }
    let (ctx, _) = Project::new(tmp.path(), &data).session().expect("session");
    (tmp, ctx)
}

#[tokio::test]
async fn the_no_promotion_row_stays_one_row_with_a_visible_code() {
    let csv = "\u{feff}ID_Promotion;Code_Promo;Nom_Campagne;Type_Remise;Valeur_Remise;Date_Debut;Date_Fin\n\
               1;BIENVENUE10;Bienvenue nouveaux clients;Pourcentage;10;2023-01-01;2024-12-31\n\
               2; SOLDES50 ;Soldes saisonnières;Pourcentage;12.5;2023-01-01;2023-02-28\n\
               5;;Sans promotion;;0;;\n";
    let (_t, ctx) = session(&[("Dim_Promotion.csv", csv.as_bytes())]);
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_promotions").await, 3.0);
    assert_eq!(scalar(&ctx, "SELECT Code_Promo FROM staging.stg_promotions WHERE ID_Promotion = 5").await, "Sans promotion");
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_promotions WHERE Code_Promo IS NULL").await, 0.0);
    assert_eq!(scalar(&ctx, "SELECT Code_Promo FROM staging.stg_promotions WHERE ID_Promotion = 2").await, "SOLDES50");
    // No type and no period for "no promotion"; a fractional percent keeps its fraction.
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_promotions WHERE Type_Remise IS NULL AND Date_Debut IS NULL").await, 1.0);
    assert_eq!(num(&ctx, "SELECT Valeur_Remise FROM staging.stg_promotions WHERE ID_Promotion = 2").await, 12.5);
    assert_eq!(scalar(&ctx, "SELECT arrow_typeof(Date_Fin) FROM staging.stg_promotions LIMIT 1").await, "Date32");
}

#[tokio::test]
async fn the_calendar_date_is_a_date() {
    let csv = "\u{feff}ID_Date;Date_Complete;Annee;Trimestre;Mois;Mois_Nom;Semaine;Jour;Jour_Semaine;Est_Weekend;Est_Ferie;Saison_Commerciale\n\
               1;2024-02-28;2024;1;2;February;9;28;Wednesday;0;0;Soldes Hiver\n\
               2;2024-02-29;2024;1;2;February;9;29;Thursday;0;0;Soldes Hiver\n\
               3;2024-03-01;2024;1;3;March;9;1;Friday;0;0;Normal\n";
    let (_t, ctx) = session(&[("Dim_Temps.csv", csv.as_bytes())]);
    assert_eq!(scalar(&ctx, "SELECT arrow_typeof(Date_Complete) FROM staging.stg_temps LIMIT 1").await, "Date32");
    // Date arithmetic works on it (what time intelligence needs): the day after 29 February is 1 March.
    assert_eq!(scalar(&ctx, "SELECT CAST(Date_Complete + INTERVAL '1 day' AS VARCHAR) FROM staging.stg_temps WHERE ID_Date = 2").await, "2024-03-01");
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_temps").await, 3.0);
}

#[tokio::test]
async fn labels_are_trimmed_and_amounts_are_floats() {
    let produits = "<Dim_Produit><Produit><ID_Produit>1</ID_Produit><SKU>SKU00001</SKU>\
        <Nom_Produit>  Tablette Samsung SE </Nom_Produit><Categorie>Électronique</Categorie>\
        <Sous_Categorie>Tablettes</Sous_Categorie><Marque> Samsung</Marque><Prix_Unitaire>2000</Prix_Unitaire>\
        <Cout_Achat>1500</Cout_Achat><Poids_Kg>0.5</Poids_Kg><Actif>1</Actif></Produit></Dim_Produit>";
    let canaux = r#"[{"ID_Canal": 1, "Nom_Canal": " Web", "Type": "Online "}, {"ID_Canal": 3, "Nom_Canal": "Magasin", "Type": "Offline"}]"#;
    let livraisons = r#"[{"ID_Livraison": 1, "Transporteur": "Amana ", "Type_Livraison": " Standard", "Delai_Prevu_Jours": 3}]"#;
    let motifs = "<Dim_Motif_Retour><Motif><ID_Motif>2</ID_Motif><Motif> Taille incorrecte </Motif>\
        <Categorie>Erreur</Categorie></Motif></Dim_Motif_Retour>";
    let (_t, ctx) = session(&[
        ("Dim_Produit.xml", produits.as_bytes()),
        ("Dim_Canal.json", canaux.as_bytes()),
        ("Dim_Livraison.json", livraisons.as_bytes()),
        ("Dim_Motif_Retour.xml", motifs.as_bytes()),
    ]);
    assert_eq!(scalar(&ctx, "SELECT Nom_Produit || '|' || Marque FROM staging.stg_produits").await, "Tablette Samsung SE|Samsung");
    assert_eq!(scalar(&ctx, "SELECT arrow_typeof(Prix_Unitaire) FROM staging.stg_produits").await, "Float64");
    assert_eq!(scalar(&ctx, "SELECT Nom_Canal || '|' || \"Type\" FROM staging.stg_canaux WHERE ID_Canal = 1").await, "Web|Online");
    assert_eq!(scalar(&ctx, "SELECT Transporteur || '|' || Type_Livraison FROM staging.stg_livraisons").await, "Amana|Standard");
    assert_eq!(scalar(&ctx, "SELECT Motif FROM staging.stg_motifs WHERE ID_Motif = 2").await, "Taille incorrecte");
}

#[tokio::test]
async fn stock_snapshots_keep_orphans_and_value_as_float() {
    let csv = "ID_Stock;ID_Produit;ID_Date;Date_Snapshot;Quantite_Disponible;Quantite_Reservee;Valeur_Stock\n\
               1;1;1;2023-01-01;10;2;100\n\
               2;999;1;2023-01-01;5;0;50.5\n";
    let produits = "<Dim_Produit><Produit><ID_Produit>1</ID_Produit><SKU>SKU00001</SKU><Nom_Produit>A</Nom_Produit>\
        <Categorie>Mode</Categorie><Sous_Categorie>T</Sous_Categorie><Marque>M</Marque><Prix_Unitaire>10</Prix_Unitaire>\
        <Cout_Achat>7</Cout_Achat><Poids_Kg>1</Poids_Kg><Actif>1</Actif></Produit></Dim_Produit>";
    let (_t, ctx) = session(&[("Fait_Stock.csv", csv.as_bytes()), ("Dim_Produit.xml", produits.as_bytes())]);
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_stock").await, 2.0);
    assert_eq!(
        num(&ctx, "SELECT COUNT(*) FROM staging.stg_stock s LEFT JOIN staging.stg_produits p USING (ID_Produit) WHERE p.ID_Produit IS NULL").await,
        1.0
    );
    assert_eq!(
        scalar(&ctx, "SELECT arrow_typeof(Valeur_Stock) || ' ' || arrow_typeof(Date_Snapshot) FROM staging.stg_stock LIMIT 1").await,
        "Float64 Date32"
    );
    assert_eq!(num(&ctx, "SELECT SUM(Valeur_Stock) FROM staging.stg_stock").await, 150.5);
}

fn objectives_workbook(path: &Path) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    for (sheet, rows) in [("2023", [(1.0, 3_000_000.0, 250_000.0), (2.0, 3_100_000.0, 260_000.0)]), ("Notes", [(1.0, 0.0, 0.0), (2.0, 0.0, 0.0)])] {
        let ws = wb.add_worksheet();
        ws.set_name(sheet).expect("sheet name");
        for (c, h) in ["Mois", "Objectif_CA", "Budget_Marketing"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).expect("header");
        }
        for (r, (m, o, b)) in rows.iter().enumerate() {
            for (c, v) in [m, o, b].iter().enumerate() {
                ws.write_number(r as u32 + 1, c as u16, **v).expect("cell");
            }
        }
    }
    wb.save(path).expect("save");
}

#[tokio::test]
async fn objectives_take_their_year_from_the_sheet_and_a_sheet_that_is_no_year_reads_null() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let book = tmp.path().join("objectifs_mensuels.xlsx");
    objectives_workbook(&book);
    let bytes = fs::read(&book).expect("read");
    let (_t, ctx) = session(&[("objectifs_mensuels.xlsx", &bytes)]);
    assert_eq!(num(&ctx, "SELECT SUM(Objectif_CA) FROM staging.stg_objectifs WHERE Annee = 2023").await, 6_100_000.0);
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_objectifs WHERE Annee IS NULL").await, 2.0);
    assert_eq!(
        scalar(&ctx, "SELECT arrow_typeof(Annee) || ' ' || arrow_typeof(Mois) || ' ' || arrow_typeof(Objectif_CA) || ' ' || arrow_typeof(Budget_Marketing) FROM staging.stg_objectifs LIMIT 1").await,
        "Int64 Int64 Float64 Float64"
    );
}

#[tokio::test]
async fn on_the_default_data_every_dimension_model_is_whole_and_keyed() {
    let ctx = common::generated_session();
    for (model, rows, key) in [
        ("stg_produits", 300.0, "ID_Produit"),
        ("stg_temps", 731.0, "ID_Date"),
        ("stg_canaux", 3.0, "ID_Canal"),
        ("stg_promotions", 5.0, "ID_Promotion"),
        ("stg_livraisons", 3.0, "ID_Livraison"),
        ("stg_motifs", 7.0, "ID_Motif"),
        ("stg_objectifs", 24.0, "Mois * 10000 + Annee"),
    ] {
        assert_eq!(num(&ctx, &format!("SELECT COUNT(*) FROM staging.{model}")).await, rows, "{model}");
        assert_eq!(num(&ctx, &format!("SELECT COUNT(DISTINCT {key}) FROM staging.{model}")).await, rows, "{model} key");
    }
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM staging.stg_stock").await, num(&ctx, "SELECT COUNT(*) FROM raw.Fait_Stock").await);
    // Every sale finds its date, channel, promotion and (web and mobile) delivery in the cleaned dimensions.
    assert_eq!(
        num(
            &ctx,
            "SELECT COUNT(*) FROM staging.stg_ventes v \
             LEFT JOIN staging.stg_temps t ON v.ID_Date = t.ID_Date \
             LEFT JOIN staging.stg_canaux c ON v.ID_Canal = c.ID_Canal \
             LEFT JOIN staging.stg_promotions p ON v.ID_Promotion = p.ID_Promotion \
             LEFT JOIN staging.stg_livraisons l ON v.ID_Livraison = l.ID_Livraison \
             WHERE t.ID_Date IS NULL OR c.ID_Canal IS NULL OR p.ID_Promotion IS NULL OR (v.ID_Livraison IS NOT NULL AND l.ID_Livraison IS NULL)"
        )
        .await,
        0.0
    );
    assert_eq!(
        num(
            &ctx,
            "SELECT COUNT(*) FROM staging.stg_ventes v JOIN staging.stg_promotions p USING (ID_Promotion) WHERE p.Code_Promo = 'Sans promotion'"
        )
        .await,
        num(&ctx, "SELECT COUNT(*) FROM staging.stg_ventes WHERE ID_Promotion = 5").await
    );
}
