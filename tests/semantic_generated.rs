//! The semantic layer on the generated default dataset: every dashboard query runs, and the headline measures
//! agree with independent plain-SQL queries over the cleaned tables.

mod common;

use datafusion::arrow::array::Array;
use datafusion::arrow::util::display::array_value_to_string;
use omnimarket::engine::Engine;
use omnimarket::project::Project;

fn engine() -> Engine {
    Engine::open(&Project::new(env!("CARGO_MANIFEST_DIR"), common::generated_data())).expect("engine")
}

async fn rows(e: &Engine, sql: &str, semantic: bool) -> Vec<Vec<String>> {
    let df = if semantic { e.sql(sql).await } else { e.context().sql(sql).await }.unwrap_or_else(|err| panic!("{sql}\n{err}"));
    let batches = df.collect().await.unwrap_or_else(|err| panic!("{sql}\n{err}"));
    let mut out = Vec::new();
    for b in &batches {
        for r in 0..b.num_rows() {
            out.push(
                b.columns().iter().map(|c| if c.is_null(r) { "NULL".into() } else { array_value_to_string(c, r).unwrap_or_default() }).collect(),
            );
        }
    }
    out
}

fn close(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

#[track_caller]
fn assert_close(got: &[Vec<String>], want: &[Vec<String>]) {
    let ok = got.len() == want.len() && got.iter().zip(want).all(|(g, w)| g.len() == w.len() && g.iter().zip(w).all(|(a, b)| close(a, b)));
    assert!(ok, "differ\n got: {got:?}\nwant: {want:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_runs() {
    let e = engine();
    for d in omnimarket::dashboards::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).expect("dashboards") {
        for v in &d.visuals {
            let r = rows(&e, &v.sql, true).await;
            assert!(!r.is_empty(), "{}/{} returned no row", d.name, v.name);
            // Every column has a value somewhere: a measure that is BLANK on every row is a broken visual.
            for c in 0..r[0].len() {
                assert!(r.iter().any(|row| row[c] != "NULL"), "{}/{}: column {c} is empty on every row", d.name, v.name);
            }
            // Numbers are finite.
            assert!(r.iter().flatten().all(|x| !matches!(x.as_str(), "NaN" | "inf" | "-inf")), "{}/{}: {r:?}", d.name, v.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headline_measures_match_plain_sql() {
    let e = engine();
    let s = "omnimarket.staging";
    // Revenue, margin and clients by year and channel.
    let got = rows(
        &e,
        "SELECT Annee, Nom_Canal, MEASURE(CA_Total), MEASURE(Marge_Totale), MEASURE(Nb_Transactions), MEASURE(Nb_Clients_Actifs) FROM omnimarket GROUP BY Annee, Nom_Canal",
        true,
    )
    .await;
    let want = rows(
        &e,
        &format!(
            "SELECT t.\"Annee\", c.\"Nom_Canal\", SUM(v.\"Montant_TTC\"), SUM(v.\"Marge\"), COUNT(*), COUNT(DISTINCT v.\"ID_Client\") FROM {s}.stg_ventes v \
             JOIN {s}.stg_temps t ON t.\"ID_Date\" = v.\"ID_Date\" JOIN {s}.stg_canaux c ON c.\"ID_Canal\" = v.\"ID_Canal\" GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        false,
    )
    .await;
    assert_close(&got, &want);
    // Returns by the month they were returned in, and by the category of the product sold.
    let got =
        rows(&e, "SELECT Categorie, MEASURE(Nb_Retours), MEASURE(Montant_Retours) FROM omnimarket WHERE Annee = 2024 GROUP BY Categorie", true).await;
    let want = rows(
        &e,
        &format!(
            "SELECT p.\"Categorie\", COUNT(*), SUM(r.\"Montant_Rembourse\") FROM {s}.stg_retours r JOIN {s}.stg_temps t ON t.\"ID_Date\" = r.\"ID_Date_Retour\" \
             JOIN {s}.stg_ventes v ON v.\"ID_Vente\" = r.\"ID_Vente\" JOIN {s}.stg_produits p ON p.\"ID_Produit\" = v.\"ID_Produit\" \
             WHERE t.\"Annee\" = 2024 GROUP BY 1 ORDER BY 1"
        ),
        false,
    )
    .await;
    assert_close(&got, &want);
    // Year over year at month grain, against a self-join of monthly totals.
    let got = rows(&e, "SELECT Annee, Mois, MEASURE(CA_Annee_Precedente) FROM omnimarket WHERE Annee = 2024 GROUP BY Annee, Mois", true).await;
    let want = rows(
        &e,
        &format!(
            "SELECT t.\"Annee\" + 1, t.\"Mois\", SUM(v.\"Montant_TTC\") FROM {s}.stg_ventes v JOIN {s}.stg_temps t ON t.\"ID_Date\" = v.\"ID_Date\" \
             WHERE t.\"Annee\" = 2023 GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        false,
    )
    .await;
    assert_close(&got, &want);
    // The ABC classes partition the products, and class A holds at most 70% of the revenue.
    let got = rows(
        &e,
        "SELECT Classe_ABC, COUNT(*), SUM(CA) FROM (SELECT Nom_Produit, MEASURE(Classe_ABC) AS Classe_ABC, MEASURE(CA_Total) AS CA FROM omnimarket GROUP BY Nom_Produit) p GROUP BY Classe_ABC ORDER BY Classe_ABC",
        true,
    )
    .await;
    let products: i64 = got.iter().map(|r| r[1].parse::<i64>().unwrap_or(0)).sum();
    assert_eq!(products, 300, "{got:?}");
    let total: f64 = got.iter().map(|r| r[2].parse::<f64>().unwrap_or(0.0)).sum();
    let a: f64 = got[0][2].parse().unwrap_or(0.0);
    assert!(a / total <= 0.7 + 1e-9 && a / total > 0.5, "{got:?}");
}

/// Amounts are cents stored as floating point. Summed as floats, a total's last digits depend on the order a
/// parallel aggregation adds them in (65117653.049999855 one run, 65117653.05000042 the next); the layer's
/// totals are exact to the cent instead, the same on every run. Checked against integer cents summed here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_are_exact_to_the_cent_and_stable() {
    let e = engine();
    let amounts =
        rows(&e, "SELECT c.Nom_Canal, v.Montant_TTC FROM staging.stg_ventes v JOIN staging.stg_canaux c ON c.ID_Canal = v.ID_Canal", false).await;
    let mut cents: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for r in &amounts {
        let x: f64 = r[1].parse().expect("an amount");
        *cents.entry(r[0].clone()).or_default() += (x * 100.0).round() as i64;
    }
    let sql = "SELECT Nom_Canal, MEASURE(CA_Total) FROM omnimarket GROUP BY Nom_Canal ORDER BY Nom_Canal";
    let first = rows(&e, sql, true).await;
    let got: Vec<(String, f64)> = first.iter().map(|r| (r[0].clone(), r[1].parse().expect("a total"))).collect();
    let want: Vec<(String, f64)> = cents.iter().map(|(canal, c)| (canal.clone(), *c as f64 / 100.0)).collect();
    // Exactly equal: the double nearest to the exact number of cents.
    assert_eq!(got, want, "totals exact to the cent");
    for _ in 0..3 {
        assert_eq!(rows(&e, sql, true).await, first, "the same total every run");
    }
}

/// Every visual of the five dashboards has a DAX twin (`sql/dashboards/dax/*.dax`, same page and name) that
/// returns the same rows as its semantic-SQL version: same columns, same values (rows compared sorted, as the
/// SQL versions without ORDER BY have no order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_visual_has_an_equal_dax_query() {
    let e = engine();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dax_dir = root.join("sql/dashboards/dax");
    let mut twins = Vec::new();
    for entry in std::fs::read_dir(&dax_dir).expect("sql/dashboards/dax") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("a .dax file");
        twins.push(omnimarket::dashboards::parse(&path.display().to_string(), &text).expect("parses"));
    }
    let mut compared = 0;
    let pages = omnimarket::dashboards::load(root).expect("dashboards");
    let visuals: usize = pages.iter().map(|d| d.visuals.len()).sum();
    for d in pages {
        let page = twins.iter().find(|t| t.name == d.name).unwrap_or_else(|| panic!("no sql/dashboards/dax file for page `{}`", d.name));
        for v in &d.visuals {
            let twin = page.visuals.iter().find(|t| t.name == v.name).unwrap_or_else(|| panic!("no DAX twin for {}/{}", d.name, v.name));
            let mut want = rows(&e, &v.sql, true).await;
            let mut got = rows(&e, &twin.sql, true).await;
            assert!(!want.is_empty(), "{}/{} returned no row", d.name, v.name);
            want.sort();
            got.sort();
            assert_eq!(got.first().map(Vec::len), want.first().map(Vec::len), "{}/{}: column count", d.name, v.name);
            let ok = got.len() == want.len() && got.iter().zip(&want).all(|(g, w)| g.iter().zip(w).all(|(a, b)| close(a, b)));
            assert!(ok, "{}/{}: the DAX twin differs\n DAX: {got:?}\n SQL: {want:?}", d.name, v.name);
            compared += 1;
        }
    }
    assert!(compared > 0 && compared == visuals, "every visual of every page is compared");
}

/// Totals print exactly: each month's and channel's `CA_Total` is the DOUBLE nearest to its exact number of
/// cents, so it prints as that decimal (`1006482464.59`, never `1006482464.5899999`). Arrow's DECIMAL to
/// DOUBLE cast rounds twice past 2^53 (totals over 900,000 with ten decimal places) and gets about one in five
/// of those wrong, as the last check shows on a known value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_print_as_their_exact_decimal() {
    let e = engine();
    let amounts = rows(
        &e,
        "SELECT CAST(t.Annee AS VARCHAR) || '-' || CAST(t.Mois AS VARCHAR) || ' ' || c.Nom_Canal, v.Montant_TTC FROM staging.stg_ventes v \
         JOIN staging.stg_canaux c ON c.ID_Canal = v.ID_Canal JOIN staging.stg_temps t ON t.ID_Date = v.ID_Date",
        false,
    )
    .await;
    let mut cents: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for r in &amounts {
        let x: f64 = r[1].parse().expect("an amount");
        *cents.entry(r[0].clone()).or_default() += (x * 100.0).round() as i64;
    }
    let sql = "SELECT CAST(a AS VARCHAR) || '-' || CAST(m AS VARCHAR) || ' ' || canal, ca FROM \
               (SELECT Annee AS a, Mois AS m, Nom_Canal AS canal, MEASURE(CA_Total) AS ca FROM omnimarket GROUP BY Annee, Mois, Nom_Canal) g";
    let got: std::collections::BTreeMap<String, String> = rows(&e, sql, true).await.into_iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    assert_eq!(got.len(), cents.len());
    let mut arrow_cast_wrong = 0;
    for (key, c) in &cents {
        let exact = format!("{}{}.{:02}", if *c < 0 { "-" } else { "" }, c.abs() / 100, c.abs() % 100);
        let nearest: f64 = exact.parse().expect("a decimal");
        // Arrow prints a whole number with `.0`, Rust without.
        assert_eq!(got[key].strip_suffix(".0").unwrap_or(&got[key]), nearest.to_string(), "{key}: exact total {exact}");
        // What `CAST(<DECIMAL(38, 10)> AS DOUBLE)` computes: the unscaled integer divided by 10^10.
        if (*c as i128 * 100_000_000) as f64 / 1e10 != nearest {
            arrow_cast_wrong += 1;
        }
    }
    eprintln!("{arrow_cast_wrong} of {} totals would print wrong through Arrow's cast", cents.len());
    // The function the totals go through, on a value Arrow's cast is known to get wrong.
    let x = rows(
        &e,
        "SELECT decimal_to_double(CAST('1006482464.59' AS DECIMAL(38, 10))) AS x, CAST(CAST('1006482464.59' AS DECIMAL(38, 10)) AS DOUBLE) AS y",
        false,
    )
    .await;
    assert_eq!(x, [["1006482464.59", "1006482464.5899999"]]);
}

/// A warm start reads only the snapshots its query scans: binding the model looks every table up (headers
/// only) and reuses the remembered verdict of its data checks, so a measure over the returns reads the
/// returns' rows and no other table's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_query_reads_only_the_tables_it_scans() {
    let sql = "SELECT MEASURE(Nb_Retours) FROM omnimarket";
    let first = rows(&engine(), sql, true).await;
    let warm = engine();
    assert_eq!(rows(&warm, sql, true).await, first);
    let schema = warm.context().catalog("omnimarket").and_then(|c| c.schema("staging")).expect("staging schema");
    let any: std::sync::Arc<dyn std::any::Any + Send + Sync> = schema;
    let staging = any.downcast::<omnimarket::transform::StagingSchema>().expect("a StagingSchema");
    let read: Vec<String> = staging
        .cache_events()
        .into_iter()
        .filter_map(|e| match e {
            omnimarket::transform::staging::CacheEvent::Read { model, .. } => Some(model),
            _ => None,
        })
        .collect();
    assert_eq!(read, ["stg_retours"], "{:?}", staging.cache_events());
    assert_eq!(first, [[num_rows(&warm, "SELECT COUNT(*) FROM staging.stg_retours").await]]);
}

async fn num_rows(e: &Engine, sql: &str) -> String {
    rows(e, sql, false).await.remove(0).remove(0)
}
