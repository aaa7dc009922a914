//! The semantic layer's speed: compiling each dashboard query (semantic SQL → SQL), and running each
//! dashboard's full set of queries end to end (compile + plan + execute, warm: model bound, tables in memory)
//! at scale 1 and scale 10.
//!
//! Run: `cargo bench --bench semantic`. Data is generated once under target/bench-data/ (not committed).

mod common;

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use common::dataset;
use omnimarket::dashboards::{Dashboard, load};
use omnimarket::engine::Engine;
use omnimarket::project::Project;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

fn dashboards() -> Vec<Dashboard> {
    load(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("dashboards")
}

/// An engine with the model bound and every table it reads in memory.
fn warm_engine(rt: &tokio::runtime::Runtime, scale: u32) -> Engine {
    let engine = Engine::open(&Project::new(env!("CARGO_MANIFEST_DIR"), dataset(scale))).expect("engine");
    rt.block_on(async {
        for d in dashboards() {
            for v in &d.visuals {
                engine.sql(&v.sql).await.expect("plans").collect().await.expect("runs");
            }
        }
    });
    engine
}

async fn run_dashboard(engine: &Engine, d: &Dashboard) -> usize {
    let mut rows = 0;
    for v in &d.visuals {
        let batches = engine.sql(&v.sql).await.expect("plans").collect().await.expect("runs");
        rows += batches.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    rows
}

fn compile(c: &mut Criterion) {
    let rt = runtime();
    let engine = warm_engine(&rt, 1);
    let mut g = c.benchmark_group("compile");
    g.sample_size(50).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(300));
    for d in dashboards() {
        for v in &d.visuals {
            g.bench_function(BenchmarkId::new(&d.name, &v.name), |b| {
                b.iter(|| rt.block_on(engine.compile(&v.sql)).expect("compiles"));
            });
        }
    }
    g.finish();
}

fn dashboards_end_to_end(c: &mut Criterion) {
    let rt = runtime();
    for scale in [1, 10] {
        let engine = warm_engine(&rt, scale);
        let mut g = c.benchmark_group(format!("dashboard_scale{scale}"));
        g.sample_size(10).measurement_time(Duration::from_secs(if scale == 1 { 5 } else { 20 })).warm_up_time(Duration::from_secs(1));
        for d in dashboards() {
            g.bench_function(&d.name, |b| b.iter(|| rt.block_on(run_dashboard(&engine, &d))));
        }
        g.finish();
    }
}

criterion_group!(benches, compile, dashboards_end_to_end);
criterion_main!(benches);
