//! Fuzzing of DAX queries (EVALUATE) on stable Rust with proptest, over the hand-made fixture:
//! - damaged queries (cut, a byte changed, a piece repeated, brackets nested deep) compile or fail with a place
//!   in the query (`<query>:line:col`), never a panic;
//! - composed queries agree with their rewrites: CALCULATETABLE(SUMMARIZECOLUMNS(...), f = v) with a TREATAS
//!   filter table, FILTER(... NOT ISBLANK) with the query itself, ADDCOLUMNS(VALUES(...)) without its BLANK rows
//!   with SUMMARIZECOLUMNS, SUMMARIZECOLUMNS with the semantic SQL of the same question, and TOPN keeps the
//!   largest rows.
//!
//! Cases per target: `PROPTEST_CASES` (default 32 here: each case runs several queries).

mod semantic_fixture;

use omnimarket::engine::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use semantic_fixture::{Rows, rows_of};

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// (DAX column, semantic SQL attribute)
const COLUMNS: &[(&str, &str)] = &[
    ("Dim_Canal[Nom_Canal]", "Nom_Canal"),
    ("Dim_Temps[Annee]", "Annee"),
    ("Dim_Produit[Categorie]", "Categorie"),
    ("Dim_Client[Ville]", "Ville"),
    ("Dim_Produit[Nom_Produit]", "Nom_Produit"),
];
const MEASURES: &[&str] = &["CA_Total", "Nb_Transactions", "Marge_Totale", "Panier_Moyen", "Nb_Retours"];
/// (DAX column, a value of it, the value as DAX writes it)
const FILTERS: &[(&str, &str)] = &[("Dim_Canal[Nom_Canal]", "\"Web\""), ("Dim_Temps[Annee]", "2024"), ("Dim_Produit[Categorie]", "\"Mode\"")];

const QUERIES: &[&str] = &[
    "EVALUATE SUMMARIZECOLUMNS(Dim_Canal[Nom_Canal], TREATAS({ 2024 }, Dim_Temps[Annee]), \"CA\", [CA_Total]) ORDER BY [CA] DESC",
    "DEFINE MEASURE Fait_Ventes[X] = CALCULATE([CA_Total], ALL(Dim_Canal)) VAR T = TOPN(2, VALUES(Dim_Produit[Nom_Produit]), [CA_Total]) EVALUATE ADDCOLUMNS(T, \"X\", [X], \"Y\", [X] / 2)",
    "EVALUATE GROUPBY(SUMMARIZECOLUMNS(Dim_Produit[Nom_Produit], \"C\", [Classe_ABC], \"CA\", [CA_Total]), [C], \"N\", COUNTX(CURRENTGROUP(), 1))",
    "EVALUATE SELECTCOLUMNS(FILTER(CROSSJOIN(VALUES(Dim_Canal[Type]), { 1, 2 }), [Value] > 1), \"T\", Dim_Canal[Type]) ORDER BY [T] START AT \"Online\"",
];

/// A damaged copy of `text`: cut, a byte changed, a piece repeated, or FILTER nested deep.
fn damage(text: &'static str) -> impl Strategy<Value = String> {
    let filters = |depth: usize| format!("{}VALUES(Dim_Canal[Nom_Canal]){}", "FILTER(".repeat(depth), ", TRUE())".repeat(depth));
    semantic_fixture::damage(text, filters, None)
}

#[test]
fn damaged_queries_compile_or_fail_with_a_place() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let engine = rt.block_on(semantic_fixture::fixture());
    let mut runner = TestRunner::new(config());
    let strategy = (0..QUERIES.len()).prop_flat_map(|i| damage(QUERIES[i]));
    runner
        .run(&strategy, |text| {
            // Only queries the DAX front end takes: a damage that removed EVALUATE makes it SQL.
            if !omnimarket::query::dax::is_dax(&text) {
                return Ok(());
            }
            if let Err(e) = rt.block_on(engine.compile(&text)) {
                let shown = e.to_string();
                prop_assert!(shown.contains("<query>:") || shown.contains("longer than"), "the error points into the query: {shown}");
            }
            Ok(())
        })
        .expect("no panic; errors point into the query");
}

async fn run(engine: &Engine, q: &str) -> Result<Rows, String> {
    let df = engine.sql(q).await.map_err(|e| format!("{q}\n{e}"))?;
    let mut rows = rows_of(df).await;
    rows.sort();
    Ok(rows)
}

fn same(a: &Rows, b: &Rows) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(u, v)| semantic_fixture::same(u, v)))
}

#[test]
fn composed_queries_agree_with_their_rewrites() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let engine = rt.block_on(semantic_fixture::fixture());
    let mut runner = TestRunner::new(config());
    let strategy = (0..COLUMNS.len(), 0..MEASURES.len(), 0..FILTERS.len(), 1i64..4);
    runner
        .run(&strategy, |(c, m, f, k)| {
            let ((col, attr), measure, (fcol, fval)) = (COLUMNS[c], MEASURES[m], FILTERS[f]);
            let base = format!("SUMMARIZECOLUMNS({col}, \"m\", [{measure}])");
            let check = |a: &str, b: &str| -> Result<(), TestCaseError> {
                let (x, y) = rt.block_on(async { (run(&engine, a).await, run(&engine, b).await) });
                let (x, y) = (x.map_err(TestCaseError::fail)?, y.map_err(TestCaseError::fail)?);
                prop_assert!(same(&x, &y), "{a}\n  {x:?}\n{b}\n  {y:?}");
                Ok(())
            };
            check(
                &format!("EVALUATE CALCULATETABLE({base}, {fcol} = {fval})"),
                &format!("EVALUATE SUMMARIZECOLUMNS({col}, TREATAS({{ {fval} }}, {fcol}), \"m\", [{measure}])"),
            )?;
            check(&format!("EVALUATE FILTER({base}, NOT ISBLANK([m]))"), &format!("EVALUATE {base}"))?;
            check(&format!("EVALUATE FILTER(ADDCOLUMNS(VALUES({col}), \"m\", [{measure}]), NOT ISBLANK([m]))"), &format!("EVALUATE {base}"))?;
            check(&format!("EVALUATE {base}"), &format!("SELECT {attr}, MEASURE({measure}) FROM omnimarket GROUP BY {attr}"))?;
            // TOPN: at most the table's rows, at least min(k, rows), and none left out is larger than one kept.
            let (all, top) = rt.block_on(async {
                (run(&engine, &format!("EVALUATE {base}")).await, run(&engine, &format!("EVALUATE TOPN({k}, {base}, [m], DESC)")).await)
            });
            let (all, top) = (all.map_err(TestCaseError::fail)?, top.map_err(TestCaseError::fail)?);
            prop_assert!(top.len() <= all.len() && top.len() >= (k as usize).min(all.len()), "{k}: {top:?} of {all:?}");
            let value = |r: &Vec<String>| r[1].parse::<f64>().unwrap_or(f64::NEG_INFINITY);
            let least_kept = top.iter().map(value).fold(f64::INFINITY, f64::min);
            prop_assert!(all.iter().filter(|r| !top.contains(r)).all(|r| value(r) <= least_kept), "{top:?} of {all:?}");
            Ok(())
        })
        .expect("the rewrites agree");
}
