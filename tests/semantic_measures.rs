//! Every measure of model.md, evaluated through the semantic SQL surface on a small hand-made dataset
//! (tests/fixtures/semantic_small.sql), against values computed by hand (the comments show the arithmetic) or
//! by an independent plain-SQL query over the same tables.

mod semantic_fixture;

use semantic_fixture::{assert_rows, assert_same_rows, fixture, plain, same, semantic};

const T: &str = "omnimarket.staging";

#[tokio::test]
async fn sales_measures_by_channel_match_plain_sql() {
    let e = fixture().await;
    let got = semantic(
        &e,
        "SELECT Nom_Canal, MEASURE(CA_Total), MEASURE(CA_HT), MEASURE(Nb_Transactions), MEASURE(Panier_Moyen), MEASURE(Quantite_Vendue), \
         MEASURE(Marge_Totale), MEASURE(Taux_Marge), MEASURE(Marge_Moyenne), MEASURE(Remise_Totale), MEASURE(Taux_Remise_Moyen) \
         FROM omnimarket GROUP BY Nom_Canal",
    )
    .await;
    let want = plain(
        &e,
        &format!(
            "SELECT c.\"Nom_Canal\", SUM(\"Montant_TTC\"), SUM(\"Montant_HT\"), COUNT(*), SUM(\"Montant_TTC\") / COUNT(*), SUM(\"Quantite\"), \
             SUM(\"Marge\"), SUM(\"Marge\") / SUM(\"Montant_TTC\"), AVG(\"Marge\"), SUM(\"Remise_Appliquee\"), SUM(\"Remise_Appliquee\") / SUM(\"Montant_HT\") \
             FROM {T}.stg_ventes v JOIN {T}.stg_canaux c ON c.\"ID_Canal\" = v.\"ID_Canal\" GROUP BY 1 ORDER BY 1"
        ),
    )
    .await;
    assert_same_rows(&got, &want);
    // Hand check: Magasin is sale 5 alone (TTC 360).
    assert_eq!(got[0][0], "Magasin");
    assert!(same(&got[0][1], "360"));
}

#[tokio::test]
async fn totals_without_group_by_and_filters() {
    let e = fixture().await;
    // 1656 = 360 + 60 + 456 + 120 (2023) + 300 + 120 + 240 (2024); 11 sales; 4 clients (1, 2, 3 and orphan 99).
    let got = semantic(&e, "SELECT MEASURE(CA_Total), MEASURE(Nb_Transactions), MEASURE(Nb_Clients_Actifs), MEASURE(Nb_Produits_Vendus) FROM omnimarket").await;
    assert_rows(&got, &[&["1656", "11", "4", "3"]]);
    // Filters: 2024 web and mobile sales are 7, 8, 9, 10, 11 = 240 + 60 + 120 + 120 + 120.
    let got = semantic(&e, "SELECT MEASURE(CA_Total) FROM omnimarket WHERE Annee = 2024 AND Nom_Canal IN ('Web', 'Mobile')").await;
    assert_rows(&got, &[&["660"]]);
    let got = semantic(&e, "SELECT MEASURE(CA_Total) AS ca FROM omnimarket WHERE Mois BETWEEN 2 AND 3 AND Nom_Canal <> 'Web'").await;
    // Mobile/Magasin in Feb/Mar: sale 9 (120).
    assert_rows(&got, &[&["120"]]);
}

#[tokio::test]
async fn year_over_year_and_previous_month_at_month_grain_with_missing_months() {
    let e = fixture().await;
    let got = semantic(
        &e,
        "SELECT Annee, Mois, MEASURE(CA_Total), MEASURE(CA_Mois_Precedent), MEASURE(Evolution_vs_Mois_Precedent), MEASURE(CA_Annee_Precedente) \
         FROM omnimarket WHERE Annee = 2023 AND Mois <= 4 GROUP BY Annee, Mois",
    )
    .await;
    // March has no sale but its previous month has: the row stays (Evolution = (0 - 60) / 60 = -1).
    // April: previous month March is BLANK, CA BLANK: every measure BLANK except DIVIDE's 0 -> kept with 0.
    assert_rows(
        &got,
        &[
            &["2023", "1", "360", "NULL", "0", "NULL"],
            &["2023", "2", "60", "360", "-0.8333333333333334", "NULL"],
            &["2023", "3", "NULL", "60", "-1", "NULL"],
            &["2023", "4", "NULL", "NULL", "0", "NULL"],
        ],
    );
    let got = semantic(&e, "SELECT Annee, MEASURE(CA_Total), MEASURE(CA_Annee_Precedente), MEASURE(Evolution_CA_YoY) FROM omnimarket GROUP BY Annee").await;
    // 2024 vs 2023: (660 - 996) / 996; 2023 has no year before (BLANK) and DIVIDE's alternate 0.
    assert_rows(&got, &[&["2023", "996", "NULL", "0"], &["2024", "660", "996", "-0.3373493975903614"]]);
    // January 2024's previous month is December 2023 (crossing the year).
    let got = semantic(&e, "SELECT MEASURE(CA_Mois_Precedent) FROM omnimarket WHERE Annee = 2024 AND Mois = 1").await;
    assert_rows(&got, &[&["120"]]);
}

#[tokio::test]
async fn year_to_date_and_moving_average() {
    let e = fixture().await;
    let got = semantic(
        &e,
        "SELECT Annee, Mois, MEASURE(CA_YTD), MEASURE(CA_YTD_Annee_Precedente), MEASURE(CA_MA_3_Mois) FROM omnimarket \
         WHERE (Annee = 2023 AND Mois IN (1, 3, 12)) OR (Annee = 2024 AND Mois <= 3) GROUP BY Annee, Mois",
    )
    .await;
    // This filter mixes two columns of Dim_Temps with OR: one table, so it is one filter.
    // YTD 2023-12 = 996; 2024-02 = 300 + 120; MA3 2024-02 = (120 + 300 + 120) / 3; MA3 2023-03 = (360 + 60 + 0) / 3;
    // MA3 2023-12 = (0 + 456 + 120) / 3; MA3 2024-01 = (456 + 120 + 300) / 3.
    // YTD last year of 2024-02 = Jan + Feb 2023 = 420.
    assert_rows(
        &got,
        &[
            &["2023", "1", "360", "NULL", "120"],
            &["2023", "3", "420", "NULL", "140"],
            &["2023", "12", "996", "NULL", "192"],
            &["2024", "1", "300", "360", "292"],
            &["2024", "2", "420", "420", "180"],
            &["2024", "3", "660", "420", "220"],
        ],
    );
    // With no date context: YTD runs to the last date of the calendar (2024-12-31): all of 2024.
    assert_rows(&semantic(&e, "SELECT MEASURE(CA_YTD) FROM omnimarket").await, &[&["660"]]);
}

#[tokio::test]
async fn retention_at_year_grain() {
    let e = fixture().await;
    let got = semantic(&e, "SELECT Annee, MEASURE(Taux_Retention) FROM omnimarket GROUP BY Annee").await;
    // 2023 buyers {1, 2, 3}; 2024 buyers {1, 2, 99}: 2 of last year's 3 came back. 2023 has no year before: BLANK, row dropped.
    assert_rows(&got, &[&["2024", "0.6666666666666666"]]);
}

#[tokio::test]
async fn product_ranking_contribution_and_abc() {
    let e = fixture().await;
    let got = semantic(
        &e,
        "SELECT Nom_Produit, MEASURE(CA_Total), MEASURE(Rank_Produit_CA), MEASURE(Contribution_CA), MEASURE(Contribution_Cumul), MEASURE(Classe_ABC) \
         FROM omnimarket GROUP BY Nom_Produit ORDER BY MEASURE(Rank_Produit_CA)",
    )
    .await;
    // Alpha 816, Beta 720, Gamma 120, Delta no sales (ranks last; cumulative share 1; class C).
    assert_rows(
        &got,
        &[
            &["Alpha", "816", "1", "0.4927536231884058", "0.4927536231884058", "A"],
            &["Beta", "720", "2", "0.43478260869565216", "0.927536231884058", "C"],
            &["Gamma", "120", "3", "0.07246376811594203", "1", "C"],
            &["Delta", "NULL", "4", "NULL", "1", "C"],
        ],
    );
    // ALLSELECTED keeps the query's filter: within Mode, Alpha is 816 / 1536 and Beta closes at 1.
    let got = semantic(&e, "SELECT Nom_Produit, MEASURE(Contribution_Cumul) FROM omnimarket WHERE Categorie = 'Mode' GROUP BY Nom_Produit").await;
    assert_rows(&got, &[&["Alpha", "0.53125"], &["Beta", "1"]]);
    // Contribution over ALL products ignores the category filter's share: 816 / 1656.
    let got = semantic(&e, "SELECT Nom_Produit, MEASURE(Contribution_CA) FROM omnimarket WHERE Categorie = 'Mode' GROUP BY Nom_Produit").await;
    assert_rows(&got, &[&["Alpha", "0.4927536231884058"], &["Beta", "0.43478260869565216"]]);
}

#[tokio::test]
async fn top_product_and_product_counts() {
    let e = fixture().await;
    let got = semantic(&e, "SELECT Nom_Canal, MEASURE(Top_Produit_Nom), MEASURE(Nb_Produits_Vendus), MEASURE(CA_Moyen_Produit) FROM omnimarket GROUP BY Nom_Canal").await;
    // Magasin: Beta only (360). Mobile: Alpha 240 vs Beta 120. Web: Alpha 576 of 936 over 3 products.
    assert_rows(&got, &[&["Magasin", "Beta", "1", "360"], &["Mobile", "Alpha", "2", "180"], &["Web", "Alpha", "3", "312"]]);
    // In 2023 within Mode: Beta 480 beats Alpha 456.
    let got = semantic(&e, "SELECT MEASURE(Top_Produit_Nom) FROM omnimarket WHERE Annee = 2023 AND Categorie = 'Mode'").await;
    assert_rows(&got, &[&["Beta"]]);
}

#[tokio::test]
async fn returns_reach_channel_through_their_sale_and_dates_by_return_date() {
    let e = fixture().await;
    let got = semantic(
        &e,
        "SELECT Nom_Canal, MEASURE(Nb_Retours), MEASURE(Taux_Retour), MEASURE(Montant_Retours), MEASURE(CA_Net_Retours), MEASURE(Indice_Qualite_Logistique) \
         FROM omnimarket GROUP BY Nom_Canal",
    )
    .await;
    // Web: returns of sales 1 and 7 (2 of 7 sales, 480; Web CA 936 - 480 = 456); Mobile: sale 6 (1 of 3, 120); Magasin: none.
    assert_rows(
        &got,
        &[
            &["Magasin", "NULL", "NULL", "NULL", "360", "1"],
            &["Mobile", "1", "0.3333333333333333", "120", "240", "0.6666666666666667"],
            &["Web", "2", "0.2857142857142857", "480", "456", "0.7142857142857143"],
        ],
    );
    // Return 2 (sale of 2023-12-28) is dated 2024-01-03: it counts in 2024.
    let got = semantic(&e, "SELECT Annee, MEASURE(Nb_Retours), MEASURE(Montant_Retours) FROM omnimarket GROUP BY Annee").await;
    assert_rows(&got, &[&["2023", "1", "240"], &["2024", "2", "360"]]);
    // Returns by reason: an unrelated dimension repeats CA_Total (the total), as DAX does.
    let got = semantic(&e, "SELECT Motif, MEASURE(Nb_Retours), MEASURE(CA_Total) FROM omnimarket GROUP BY Motif").await;
    assert_rows(&got, &[&["Produit défectueux", "1", "1656"], &["Taille incorrecte", "2", "1656"]]);
    let want = plain(
        &e,
        &format!(
            "SELECT l.\"Transporteur\", COUNT(*), SUM(r.\"Montant_Rembourse\") FROM {T}.stg_retours r JOIN {T}.stg_ventes v ON v.\"ID_Vente\" = r.\"ID_Vente\" \
             JOIN {T}.stg_livraisons l ON l.\"ID_Livraison\" = v.\"ID_Livraison\" GROUP BY 1 ORDER BY 1"
        ),
    )
    .await;
    let got = semantic(&e, "SELECT Transporteur, MEASURE(Nb_Retours), MEASURE(Montant_Retours) FROM omnimarket GROUP BY Transporteur").await;
    assert_same_rows(&got, &want);
}

#[tokio::test]
async fn orphans_read_as_a_blank_member() {
    let e = fixture().await;
    let got = semantic(&e, "SELECT Ville, MEASURE(CA_Total) FROM omnimarket GROUP BY Ville").await;
    // Client 99 is not in Dim_Client: its sale (120) shows under a NULL Ville. Totals stay whole (1656).
    assert_rows(&got, &[&["Casablanca", "780"], &["Rabat", "660"], &["Ville inconnue", "96"], &["NULL", "120"]]);
    // Snowflake: 'Ville inconnue' has no region, nor has the orphan: both fall into the BLANK region. Fès has no sale: dropped.
    let got = semantic(&e, "SELECT Region, MEASURE(CA_Total) FROM omnimarket GROUP BY Region").await;
    assert_rows(&got, &[&["Casablanca-Settat", "780"], &["Rabat-Salé-Kénitra", "660"], &["NULL", "216"]]);
    // A region filter limits the cities a table shows, even for a measure that is never BLANK (DIVIDE's 0):
    // Rabat's 4 sales, 660 / 4.
    let got = semantic(&e, "SELECT Ville, MEASURE(Panier_Moyen) FROM omnimarket WHERE Region = 'Rabat-Salé-Kénitra' GROUP BY Ville").await;
    assert_rows(&got, &[&["Rabat", "165"]]);
}

#[tokio::test]
async fn web_traffic_funnel() {
    let e = fixture().await;
    let got = semantic(
        &e,
        "SELECT Nom_Canal, MEASURE(Nb_Sessions), MEASURE(Nb_Sessions_Achat), MEASURE(Taux_Conversion), MEASURE(Nb_Paniers_Abandonnes), MEASURE(Taux_Abandon_Panier) \
         FROM omnimarket WHERE Nom_Canal IN ('Web', 'Mobile') GROUP BY Nom_Canal",
    )
    .await;
    let want = plain(
        &e,
        &format!(
            "SELECT c.\"Nom_Canal\", COUNT(*), SUM(\"A_Achete\"), CAST(SUM(\"A_Achete\") AS DOUBLE) / COUNT(*), SUM(\"Panier_Abandonne\"), \
             CAST(SUM(\"Panier_Abandonne\") AS DOUBLE) / COUNT(*) FROM {T}.stg_trafic s JOIN {T}.stg_canaux c ON c.\"ID_Canal\" = s.\"Contexte_ID_Canal\" GROUP BY 1 ORDER BY 1"
        ),
    )
    .await;
    assert_same_rows(&got, &want);
    // Lost potential: 3 abandoned carts x the average basket 1656 / 11.
    let got = semantic(&e, "SELECT MEASURE(CA_Potentiel_Perdu) FROM omnimarket").await;
    assert_rows(&got, &[&["451.6363636363636"]]);
    // Anonymous sessions (no client) belong to the BLANK client.
    let got = semantic(&e, "SELECT Ville, MEASURE(Nb_Sessions) FROM omnimarket GROUP BY Ville").await;
    assert_rows(&got, &[&["Casablanca", "2"], &["Rabat", "1"], &["Ville inconnue", "1"], &["NULL", "4"]]);
}

#[tokio::test]
async fn stock_is_never_summed_over_time() {
    let e = fixture().await;
    // Last snapshot overall is 2023-02-05 (only Alpha: 25); by product each product's own last snapshot.
    assert_rows(&semantic(&e, "SELECT MEASURE(Stock_Disponible), MEASURE(Valeur_Stock_Cloture) FROM omnimarket").await, &[&["25", "1500"]]);
    let got = semantic(&e, "SELECT Nom_Produit, MEASURE(Stock_Disponible) FROM omnimarket GROUP BY Nom_Produit").await;
    assert_rows(&got, &[&["Alpha", "25"], &["Beta", "12"]]);
    // January 2023 closes on the 29th: 30 + 12, not the sum of its five Sundays.
    let got = semantic(&e, "SELECT Annee, Mois, MEASURE(Stock_Disponible), MEASURE(Valeur_Stock_Cloture) FROM omnimarket GROUP BY Annee, Mois").await;
    assert_rows(&got, &[&["2023", "1", "42", "2640"], &["2023", "2", "25", "1500"]]);
}

#[tokio::test]
async fn objectives_at_month_grain() {
    let e = fixture().await;
    // Objectif_CA of month m of 2023 is 230 + m, of 2024 is 240 + m.
    let got = semantic(&e, "SELECT Annee, MEASURE(Objectif_CA), MEASURE(Taux_Atteinte_Objectif) FROM omnimarket GROUP BY Annee").await;
    // 2023: 12 x 230 + 78 = 2838; net HT 2023 = 200+100+50+100+300+100 - 20 = 830. 2024: 2958; net HT 550.
    assert_rows(&got, &[&["2023", "2838", "0.29245947850599013"], &["2024", "2958", "0.18593644354293442"]]);
    // Some days of a month count that month: Jan 30 .. Feb 2 2024 selects Jan and Feb (241 + 242).
    let got = semantic(&e, "SELECT MEASURE(Objectif_CA) FROM omnimarket WHERE Date_Complete BETWEEN DATE '2024-01-30' AND DATE '2024-02-02'").await;
    assert_rows(&got, &[&["483"]]);
    // Finer than the month: BLANK, so the rows go.
    let got = semantic(&e, "SELECT Date_Complete, MEASURE(Objectif_CA) FROM omnimarket WHERE Annee = 2024 AND Mois = 1 GROUP BY Date_Complete").await;
    assert!(got.is_empty(), "{got:?}");
}

#[tokio::test]
async fn unrelated_dimension_repeats_and_blank_rows_are_dropped() {
    let e = fixture().await;
    // Sessions are not related to products: the total repeats per product (8).
    let got = semantic(&e, "SELECT Categorie, MEASURE(Nb_Sessions), MEASURE(CA_Total) FROM omnimarket GROUP BY Categorie").await;
    assert_rows(&got, &[&["Livres", "8", "NULL"], &["Maison", "8", "120"], &["Mode", "8", "1536"]]);
    // A month with no sales has only BLANK measures: dropped.
    let got = semantic(&e, "SELECT Annee, Mois, MEASURE(CA_Total) FROM omnimarket WHERE Annee = 2023 GROUP BY Annee, Mois").await;
    assert_eq!(got.len(), 4, "{got:?}");
}
