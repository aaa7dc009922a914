//! DAX queries next to semantic SQL: each dashboard visual's DAX twin (`sql/dashboards/dax/*.dax`) against its
//! SQL version (`sql/dashboards/*.sql`), same engine, same in-memory tables:
//! - `compile`: parse + bind + plan to SQL, per visual (`dax` vs `sql`);
//! - `page_scale<N>`: every visual of a page run end to end (compile + plan + execute, warm), DAX vs SQL.
//!
//! Run: `cargo bench --bench dax`. Data is generated once under target/bench-data/ (not committed).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{run_page, runtime, warm_engine};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use omnimarket::dashboards::{Dashboard, load, parse};

/// The SQL pages and their DAX twins, to warm an engine with.
fn all_pages() -> Vec<Dashboard> {
    pages().into_iter().flat_map(|(s, d)| [s, d]).collect()
}

/// Each page as (SQL visuals, DAX twins), visuals in the same order.
fn pages() -> Vec<(Dashboard, Dashboard)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for d in load(root).expect("dashboards") {
        let file = std::fs::read_dir(root.join("sql/dashboards/dax"))
            .expect("sql/dashboards/dax")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_stem().is_some_and(|s| s.to_string_lossy().ends_with(&d.name)))
            .expect("a DAX twin file per page");
        let twins = parse(&file.display().to_string(), &std::fs::read_to_string(&file).expect("reads")).expect("parses");
        let mut ordered = twins.clone();
        ordered.visuals = d.visuals.iter().map(|v| twins.visuals.iter().find(|t| t.name == v.name).expect("a twin per visual").clone()).collect();
        out.push((d, ordered));
    }
    out
}

fn compile(c: &mut Criterion) {
    let rt = runtime();
    let engine = warm_engine(&rt, 1, &all_pages());
    let mut g = c.benchmark_group("compile");
    g.sample_size(30).measurement_time(Duration::from_secs(1)).warm_up_time(Duration::from_millis(200));
    for (sql, dax) in pages() {
        for (s, d) in sql.visuals.iter().zip(&dax.visuals) {
            let id = format!("{}/{}", sql.name, s.name);
            g.bench_function(BenchmarkId::new("sql", &id), |b| b.iter(|| rt.block_on(engine.compile(&s.sql)).expect("compiles")));
            g.bench_function(BenchmarkId::new("dax", &id), |b| b.iter(|| rt.block_on(engine.compile(&d.sql)).expect("compiles")));
        }
    }
    g.finish();
}

fn pages_end_to_end(c: &mut Criterion) {
    let rt = runtime();
    for scale in [1, 10] {
        let engine = warm_engine(&rt, scale, &all_pages());
        let mut g = c.benchmark_group(format!("page_scale{scale}"));
        g.sample_size(10).measurement_time(Duration::from_secs(if scale == 1 { 4 } else { 15 })).warm_up_time(Duration::from_secs(1));
        for (sql, dax) in pages() {
            g.bench_function(BenchmarkId::new("sql", &sql.name), |b| b.iter(|| rt.block_on(run_page(&engine, &sql))));
            g.bench_function(BenchmarkId::new("dax", &dax.name), |b| b.iter(|| rt.block_on(run_page(&engine, &dax))));
        }
        g.finish();
    }
}

criterion_group!(benches, compile, pages_end_to_end);
criterion_main!(benches);
