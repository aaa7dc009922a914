//! The generator's files read back through the source readers, and the business patterns measured with plain
//! SQL over them: an end-to-end check that is independent of the generator's own bookkeeping.

mod common;

use common::{generated_session, num, scalar};

#[tokio::test]
async fn every_table_loads_with_its_volume() {
    let ctx = generated_session();
    for (t, n) in [
        ("base_ventes", 50_000.0),
        ("Fait_Ventes", 50_000.0),
        ("Fait_Trafic_Web", 100_000.0),
        ("Dim_Client", 5_050.0),
        ("Dim_Temps", 731.0),
        ("Dim_Produit", 300.0),
        ("Dim_Canal", 3.0),
        ("Dim_Livraison", 3.0),
        ("Dim_Motif_Retour", 7.0),
        ("Dim_Promotion", 5.0),
        ("objectifs_mensuels", 24.0),
    ] {
        assert_eq!(num(&ctx, &format!("SELECT COUNT(*) FROM {t}")).await, n, "{t}");
    }
    // Stats_RFM, like the study's, has a row per client who bought.
    assert_eq!(
        num(&ctx, "SELECT COUNT(*) FROM Stats_RFM").await,
        num(&ctx, "SELECT COUNT(DISTINCT v.ID_Client) FROM base_ventes v JOIN Dim_Client c ON v.ID_Client = c.ID_Client").await
    );
    let returns = num(&ctx, "SELECT COUNT(*) FROM Fait_Retours").await;
    assert!((2_000.0..3_000.0).contains(&returns), "returns {returns}");
    assert!(num(&ctx, "SELECT COUNT(*) FROM Referentiel_Geo").await >= 12.0);
    // One stock snapshot per product per week, on Sundays.
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM Fait_Stock WHERE date_part('dow', Date_Snapshot) <> 0").await, 0.0);
    assert_eq!(num(&ctx, "SELECT COUNT(*) / COUNT(DISTINCT Date_Snapshot) FROM Fait_Stock").await, 300.0);
}

#[tokio::test]
async fn the_two_copies_of_the_sales_agree_row_by_row() {
    let ctx = generated_session();
    // Every column of the dump equals the workbook's, matched on ID_Vente (NULLs matched as NULLs).
    let q = "SELECT COUNT(*) FROM base_ventes d JOIN Fait_Ventes x ON d.ID_Vente = x.ID_Vente WHERE \
        (d.ID_Client IS DISTINCT FROM x.ID_Client) OR (d.ID_Produit IS DISTINCT FROM x.ID_Produit) OR \
        (d.ID_Date IS DISTINCT FROM x.ID_Date) OR (d.Date_Vente IS DISTINCT FROM x.Date_Vente) OR \
        (d.Heure_Vente IS DISTINCT FROM x.Heure_Vente) OR (d.DateTime_Vente IS DISTINCT FROM x.DateTime_Vente) OR \
        (d.ID_Canal IS DISTINCT FROM x.ID_Canal) OR (d.ID_Promotion IS DISTINCT FROM x.ID_Promotion) OR \
        (d.ID_Livraison IS DISTINCT FROM x.ID_Livraison) OR (d.Quantite IS DISTINCT FROM x.Quantite) OR \
        abs(CAST(d.Montant_HT AS DOUBLE) - x.Montant_HT) > 0.001 OR (d.Montant_HT IS NULL) <> (x.Montant_HT IS NULL) OR \
        abs(CAST(d.Montant_TTC AS DOUBLE) - x.Montant_TTC) > 0.001 OR (d.Montant_TTC IS NULL) <> (x.Montant_TTC IS NULL) OR \
        abs(CAST(d.Cout_Produit AS DOUBLE) - x.Cout_Produit) > 0.001 OR abs(CAST(d.Marge AS DOUBLE) - x.Marge) > 0.001 OR \
        abs(CAST(d.Remise_Appliquee AS DOUBLE) - x.Remise_Appliquee) > 0.001";
    assert_eq!(num(&ctx, q).await, 0.0);
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM base_ventes d JOIN Fait_Ventes x ON d.ID_Vente = x.ID_Vente").await, 50_000.0);
    // Amount sums agree to the cent.
    for c in ["Montant_HT", "Montant_TTC", "Cout_Produit", "Marge", "Remise_Appliquee"] {
        let a = num(&ctx, &format!("SELECT CAST(SUM({c}) AS DOUBLE) FROM base_ventes")).await;
        let b = num(&ctx, &format!("SELECT SUM({c}) FROM Fait_Ventes")).await;
        assert!((a - b).abs() < 0.01, "{c}: {a} vs {b}");
    }
}

#[tokio::test]
async fn seasonality_by_commercial_season() {
    let ctx = generated_session();
    let per_day = |season: &str| {
        format!(
            "SELECT CAST(COUNT(*) AS DOUBLE) / (SELECT COUNT(*) FROM Dim_Temps WHERE Saison_Commerciale = '{season}') \
             FROM base_ventes v JOIN Dim_Temps t ON v.ID_Date = t.ID_Date WHERE t.Saison_Commerciale = '{season}'"
        )
    };
    let normal = num(&ctx, &per_day("Normal")).await;
    let ramadan = num(&ctx, &per_day("Ramadan")).await / normal;
    let black_friday = num(&ctx, &per_day("Black Friday")).await / normal;
    assert!((1.3..1.5).contains(&ramadan), "Ramadan ratio {ramadan}");
    assert!((2.3..2.7).contains(&black_friday), "Black Friday ratio {black_friday}");
    // The real Ramadan 2024 dates, and Moroccan holidays flagged.
    assert_eq!(scalar(&ctx, "SELECT MIN(Date_Complete) FROM Dim_Temps WHERE Saison_Commerciale = 'Ramadan' AND Annee = 2024").await, "2024-03-12");
    assert_eq!(num(&ctx, "SELECT Est_Ferie FROM Dim_Temps WHERE Date_Complete = DATE '2024-11-18'").await, 1.0);
}

#[tokio::test]
async fn channel_mix_and_pareto_clients() {
    let ctx = generated_session();
    let share = |canal: &str| {
        format!(
            "SELECT CAST(COUNT(*) AS DOUBLE) / 50000 FROM base_ventes v JOIN Dim_Canal c ON v.ID_Canal = c.ID_Canal WHERE c.Nom_Canal = '{canal}'"
        )
    };
    for (canal, expected) in [("Web", 0.6), ("Mobile", 0.3), ("Magasin", 0.1)] {
        let s = num(&ctx, &share(canal)).await;
        assert!((s - expected).abs() < 0.02, "{canal} {s}");
    }
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM base_ventes WHERE ID_Canal = 3 AND ID_Livraison IS NOT NULL").await, 0.0);
    // Share of transactions from the top 20% of clients (of all clients, as the Pareto rule is stated).
    let top = num(
        &ctx,
        "WITH c AS (SELECT ID_Client, COUNT(*) n FROM base_ventes GROUP BY ID_Client), \
         r AS (SELECT n, ROW_NUMBER() OVER (ORDER BY n DESC) rk FROM c) \
         SELECT CAST(SUM(CASE WHEN rk <= (SELECT COUNT(*) FROM Dim_Client) * 0.2 THEN n END) AS DOUBLE) / SUM(n) FROM r",
    )
    .await;
    assert!((0.75..0.85).contains(&top), "top 20% share {top}");
}

#[tokio::test]
async fn returns_sessions_and_objectives() {
    let ctx = generated_session();
    let rate = num(&ctx, "SELECT CAST((SELECT COUNT(*) FROM Fait_Retours) AS DOUBLE) / 50000").await;
    assert!((0.04..0.06).contains(&rate), "return rate {rate}");
    let size_colour = num(
        &ctx,
        "SELECT CAST(SUM(CASE WHEN m.Motif IN ('Couleur différente', 'Taille incorrecte') THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) \
         FROM Fait_Retours r JOIN Dim_Motif_Retour m ON r.ID_Motif = m.ID_Motif",
    )
    .await;
    assert!(size_colour > 0.35, "size+colour share {size_colour}");
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM Fait_Retours WHERE Delai_Retour_Jours NOT BETWEEN 1 AND 14").await, 0.0);
    // Sessions: the nested Contexte object is flattened; about half anonymous, half buying.
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM Fait_Trafic_Web WHERE Contexte_ID_Canal NOT IN (1, 2)").await, 0.0);
    let anon = num(&ctx, "SELECT AVG(CASE WHEN ID_Client IS NULL THEN 1.0 ELSE 0.0 END) FROM Fait_Trafic_Web").await;
    let bought = num(&ctx, "SELECT AVG(CAST(A_Achete AS DOUBLE)) FROM Fait_Trafic_Web").await;
    let abandon = num(&ctx, "SELECT AVG(CAST(Panier_Abandonne AS DOUBLE)) FROM Fait_Trafic_Web WHERE A_Achete = 0").await;
    assert!((0.45..0.55).contains(&anon), "anonymous {anon}");
    assert!((0.45..0.55).contains(&bought), "bought {bought}");
    assert!((0.25..0.35).contains(&abandon), "abandon {abandon}");
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM Fait_Trafic_Web WHERE A_Achete = 1 AND Panier_Abandonne = 1").await, 0.0);
    // Objectives within ±20% of each month's net revenue (HT after discount), year from the sheet name.
    let worst = num(
        &ctx,
        "WITH m AS (SELECT t.Annee, t.Mois, SUM(CAST(v.Montant_HT AS DOUBLE) - CAST(v.Remise_Appliquee AS DOUBLE)) net \
         FROM base_ventes v JOIN Dim_Temps t ON v.ID_Date = t.ID_Date GROUP BY t.Annee, t.Mois) \
         SELECT MAX(abs(o.Objectif_CA / m.net - 1)) FROM objectifs_mensuels o JOIN m ON o.Annee = m.Annee AND o.Mois = m.Mois",
    )
    .await;
    assert!(worst <= 0.2, "objective off by {worst}");
}

#[tokio::test]
async fn planted_defects_have_their_exact_counts() {
    let ctx = generated_session();
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM Dim_Client WHERE Telephone IS NULL").await, 100.0);
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM Dim_Client WHERE Ville IS NULL").await, 100.0);
    // The same person under a second ID: same e-mail.
    assert_eq!(num(&ctx, "SELECT COUNT(*) - COUNT(DISTINCT Email) FROM Dim_Client").await, 50.0);
    assert_eq!(
        num(&ctx, "SELECT COUNT(*) FROM base_ventes v LEFT JOIN Dim_Client c ON v.ID_Client = c.ID_Client WHERE c.ID_Client IS NULL").await,
        50.0
    );
    assert_eq!(num(&ctx, "SELECT COUNT(*) FROM base_ventes WHERE Montant_HT IS NULL OR Montant_TTC IS NULL").await, 25.0);
    // About 2% of the cities are mis-cased or padded.
    let messy = num(
        &ctx,
        "SELECT AVG(CASE WHEN Ville <> trim(Ville) OR Ville = lower(Ville) OR Ville = upper(Ville) THEN 1.0 ELSE 0.0 END) \
         FROM Dim_Client WHERE Ville IS NOT NULL",
    )
    .await;
    assert!((0.01..0.03).contains(&messy), "messy cities {messy}");
}
