//! The hand-made dataset of tests/fixtures/semantic_small.sql in a session, and helpers to compare results.
#![allow(dead_code)]

use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider};
use datafusion::prelude::SessionContext;
use omnimarket::engine::Engine;
use omnimarket::model::Model;
use omnimarket::model::load::load_project;

pub const FIXTURE: &str = include_str!("../fixtures/semantic_small.sql");

/// The fixture's session (catalog `omnimarket`, schema `staging`).
pub async fn fixture_context() -> SessionContext {
    let ctx = SessionContext::new_with_config(omnimarket::project::session_config());
    let catalog = MemoryCatalogProvider::new();
    catalog.register_schema("staging", Arc::new(MemorySchemaProvider::new())).expect("schema");
    catalog.register_schema("raw", Arc::new(MemorySchemaProvider::new())).expect("schema");
    ctx.register_catalog("omnimarket", Arc::new(catalog));
    for statement in FIXTURE.split("\n;\n").map(str::trim).filter(|s| !s.is_empty()) {
        ctx.sql(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}")).collect().await.expect("fixture");
    }
    ctx
}

pub fn bundled_model() -> Model {
    load_project(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).expect("the bundled model loads")
}

/// The bundled model over the fixture.
pub async fn fixture() -> Engine {
    Engine::with_context(fixture_context().await, bundled_model())
}

pub type Rows = Vec<Vec<String>>;

pub async fn rows_of(df: datafusion::dataframe::DataFrame) -> Rows {
    let batches = df.collect().await.expect("runs");
    let mut out = Vec::new();
    for b in &batches {
        for r in 0..b.num_rows() {
            out.push(
                b.columns().iter().map(|c| if c.is_null(r) { "NULL".to_string() } else { array_value_to_string(c, r).unwrap_or_default() }).collect(),
            );
        }
    }
    out
}

pub async fn semantic(e: &Engine, sql: &str) -> Rows {
    let df = e.sql(sql).await.unwrap_or_else(|err| panic!("{sql}\n{err}"));
    rows_of(df).await
}

pub async fn plain(e: &Engine, sql: &str) -> Rows {
    rows_of(e.context().sql(sql).await.unwrap_or_else(|err| panic!("{sql}\n{err}"))).await
}

pub fn same(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
        _ => a == b,
    }
}

#[track_caller]
pub fn assert_rows(actual: &Rows, expected: &[&[&str]]) {
    let ok = actual.len() == expected.len()
        && actual.iter().zip(expected).all(|(a, e)| a.len() == e.len() && a.iter().zip(e.iter()).all(|(x, y)| same(x, y)));
    assert!(ok, "rows differ\nactual:   {actual:?}\nexpected: {expected:?}");
}

#[track_caller]
pub fn assert_same_rows(actual: &Rows, expected: &Rows) {
    let e: Vec<Vec<&str>> = expected.iter().map(|r| r.iter().map(String::as_str).collect()).collect();
    let e: Vec<&[&str]> = e.iter().map(|r| r.as_slice()).collect();
    assert_rows(actual, &e);
}

/// A damaged copy of `text` for the fuzz tests: cut, a byte changed, a piece repeated, `nest(depth)` inserted
/// (deep nesting), or `splice` inserted when given.
pub fn damage(text: &str, nest: fn(usize) -> String, splice: Option<&'static str>) -> impl proptest::strategy::Strategy<Value = String> + use<> {
    use proptest::prelude::*;
    let bytes = text.as_bytes().to_vec();
    let n = bytes.len().max(1);
    let kinds = if splice.is_some() { 5 } else { 4 };
    (0usize..kinds, 0..n, 0..n, any::<u8>(), 1usize..2000).prop_map(move |(kind, a, b, byte, depth)| {
        let mut v = bytes.clone();
        match kind {
            0 => v.truncate(a),
            1 => {
                if a < v.len() {
                    v[a] = byte;
                }
            }
            2 => {
                let (lo, hi) = (a.min(b), a.max(b));
                let piece = v[lo..hi.min(lo + 200)].to_vec();
                v.splice(lo..lo, piece);
            }
            3 => {
                let at = a.min(v.len());
                v.splice(at..at, nest(depth).into_bytes());
            }
            _ => {
                let at = a.min(v.len());
                v.splice(at..at, splice.unwrap_or_default().bytes());
            }
        }
        String::from_utf8_lossy(&v).into_owned()
    })
}
