//! What the benches share: the generated dataset they run on, and a warm engine running dashboard pages.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use omnimarket::dashboards::Dashboard;
use omnimarket::engine::Engine;
use omnimarket::generate::{GenerateConfig, NoProgress, generate};
use omnimarket::project::Project;

/// The generated dataset at `scale`, made once under target/bench-data/ (not committed) and reused.
pub fn dataset(scale: u32) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-data/scale{scale}"));
    if !dir.join("Fait_Trafic_Web.json").exists() {
        let cfg = GenerateConfig { out_dir: dir.clone(), scale, ..GenerateConfig::default() };
        generate(&cfg, &NoProgress).expect("generate bench data");
    }
    dir
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

/// An engine over the dataset at `scale` with the model bound and every table `pages` read in memory.
pub fn warm_engine(rt: &tokio::runtime::Runtime, scale: u32, pages: &[Dashboard]) -> Engine {
    let engine = Engine::open(&Project::new(env!("CARGO_MANIFEST_DIR"), dataset(scale))).expect("engine");
    rt.block_on(async {
        for d in pages {
            run_page(&engine, d).await;
        }
    });
    engine
}

/// Every visual of a page, end to end (compile, plan, execute): the rows returned.
pub async fn run_page(engine: &Engine, d: &Dashboard) -> usize {
    let mut rows = 0;
    for v in &d.visuals {
        let batches = engine.sql(&v.sql).await.expect("plans").collect().await.expect("runs");
        rows += batches.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    rows
}
