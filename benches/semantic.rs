//! The semantic layer's speed: compiling each dashboard query (semantic SQL → SQL), and running each
//! dashboard's full set of queries end to end (compile + plan + execute, warm: model bound, tables in memory)
//! at scale 1 and scale 10; and three visuals as semantic SQL next to hand-written plain SQL (the overhead).
//!
//! Run: `cargo bench --bench semantic`. Data is generated once under target/bench-data/ (not committed).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{run_page, runtime, warm_engine};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use omnimarket::dashboards::{Dashboard, load};

fn dashboards() -> Vec<Dashboard> {
    load(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("dashboards")
}

fn compile(c: &mut Criterion) {
    let rt = runtime();
    let engine = warm_engine(&rt, 1, &dashboards());
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
        let engine = warm_engine(&rt, scale, &dashboards());
        let mut g = c.benchmark_group(format!("dashboard_scale{scale}"));
        g.sample_size(10).measurement_time(Duration::from_secs(if scale == 1 { 5 } else { 20 })).warm_up_time(Duration::from_secs(1));
        for d in dashboards() {
            g.bench_function(&d.name, |b| b.iter(|| rt.block_on(run_page(&engine, &d))));
        }
        g.finish();
    }
}

/// The semantic layer's overhead: a visual as semantic SQL next to the plain SQL one would write by hand for
/// the same figures (same engine, same in-memory tables). The semantic query does more (a channel with no
/// sale still gets its row, orphans their BLANK row), so the ratio is an upper bound on the overhead.
const REFERENCE: &[(&str, &str, &str)] = &[
    (
        "ca_par_canal",
        "SELECT Nom_Canal, MEASURE(CA_Total) FROM omnimarket GROUP BY Nom_Canal",
        "SELECT c.Nom_Canal, SUM(v.Montant_TTC) FROM staging.stg_ventes v JOIN staging.stg_canaux c ON c.ID_Canal = v.ID_Canal GROUP BY c.Nom_Canal",
    ),
    (
        "ca_mensuel",
        "SELECT Annee, Mois, MEASURE(CA_Total), MEASURE(Nb_Transactions) FROM omnimarket GROUP BY Annee, Mois",
        "SELECT t.Annee, t.Mois, SUM(v.Montant_TTC), COUNT(*) FROM staging.stg_ventes v JOIN staging.stg_temps t ON t.ID_Date = v.ID_Date GROUP BY t.Annee, t.Mois",
    ),
    (
        "taux_retour_par_categorie",
        "SELECT Categorie, MEASURE(Nb_Retours), MEASURE(Taux_Retour) FROM omnimarket GROUP BY Categorie",
        "WITH v AS (SELECT p.Categorie, COUNT(*) AS n FROM staging.stg_ventes v JOIN staging.stg_produits p ON p.ID_Produit = v.ID_Produit GROUP BY 1), \
         r AS (SELECT p.Categorie, COUNT(*) AS n FROM staging.stg_retours r JOIN staging.stg_ventes v ON v.ID_Vente = r.ID_Vente \
         JOIN staging.stg_produits p ON p.ID_Produit = v.ID_Produit GROUP BY 1) \
         SELECT v.Categorie, r.n, CAST(r.n AS DOUBLE) / v.n FROM v LEFT JOIN r ON r.Categorie = v.Categorie",
    ),
];

fn semantic_vs_plain(c: &mut Criterion) {
    let rt = runtime();
    for scale in [1, 10] {
        let engine = warm_engine(&rt, scale, &dashboards());
        let mut g = c.benchmark_group(format!("semantic_vs_plain_scale{scale}"));
        g.sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
        for (name, semantic, plain) in REFERENCE {
            for (kind, sql) in [("semantic", semantic), ("plain", plain)] {
                g.bench_function(BenchmarkId::new(*name, kind), |b| {
                    b.iter(|| rt.block_on(async { engine.sql(sql).await.expect("plans").collect().await.expect("runs") }))
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, compile, dashboards_end_to_end, semantic_vs_plain);
criterion_main!(benches);
