//! Reader throughput per format (MB/s of file bytes decoded into Arrow), on generated data at scale 10, with
//! DataFusion's own CSV reader on the same CSV file as the reference; and the time to load all the files of
//! the default dataset (scale 1).
//!
//! Run: `cargo bench --bench sources`. Data is generated once under target/bench-data/ (not committed).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::dataset;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use omnimarket::project::Project;
use omnimarket::sources::config::parse_sources;
use omnimarket::sources::{DeclaredTypes, SourceInput};

/// A CSV file big enough to time: the returns (about 1 MB at scale 10) repeated 20 times under one header.
fn big_csv(dir: &Path) -> PathBuf {
    let out = dir.join("Fait_Retours_x20.csv");
    if !out.exists() {
        let text = std::fs::read_to_string(dir.join("Fait_Retours.csv")).expect("csv");
        let (header, body) = text.split_at(text.find('\n').map(|p| p + 1).unwrap_or(0));
        let mut s = String::with_capacity(text.len() * 20);
        s.push_str(header);
        for _ in 0..20 {
            s.push_str(body);
        }
        std::fs::write(&out, s).expect("write");
    }
    out
}

/// An XML file big enough to time: the product referential's records repeated.
fn big_xml(dir: &Path) -> PathBuf {
    let out = dir.join("Dim_Produit_x200.xml");
    if !out.exists() {
        let text = std::fs::read_to_string(dir.join("Dim_Produit.xml")).expect("xml");
        let start = text.find("<Produit>").unwrap_or(0);
        let end = text.rfind("</Dim_Produit>").unwrap_or(text.len());
        let body = &text[start..end];
        let mut s = String::with_capacity(body.len() * 200 + 100);
        s.push_str("<?xml version='1.0' encoding='utf-8'?>\n<Dim_Produit>");
        for _ in 0..200 {
            s.push_str(body);
        }
        s.push_str("</Dim_Produit>");
        std::fs::write(&out, s).expect("write");
    }
    out
}

fn reader_for(name: &str) -> (Box<dyn omnimarket::sources::SourceReader>, DeclaredTypes) {
    let resolved = parse_sources("sources.yaml", omnimarket::project::BUNDLED_SOURCES).expect("sources");
    let r = resolved.into_iter().find(|r| r.decl.name == name).expect("declared");
    (r.reader, r.declared)
}

fn formats(c: &mut Criterion) {
    let dir = dataset(10);
    let xml = big_xml(&dir);
    let csv = big_csv(&dir);
    let cases: Vec<(&str, &str, PathBuf)> = vec![
        ("csv", "Fait_Retours", csv.clone()),
        ("json_sessions", "Fait_Trafic_Web", dir.join("Fait_Trafic_Web.json")),
        ("xml", "Dim_Produit", xml),
        ("xlsx", "Fait_Ventes", dir.join("Fait_Ventes.xlsx")),
        ("mysql_dump", "base_ventes", dir.join("base_ventes.sql")),
    ];
    let mut g = c.benchmark_group("read_scale10");
    g.sample_size(10).measurement_time(Duration::from_secs(20)).warm_up_time(Duration::from_secs(1));
    for (label, source, path) in &cases {
        let bytes = std::fs::read(path).expect("read");
        let (reader, declared) = reader_for(source);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(*label, |b| {
            b.iter(|| {
                let input = SourceInput { file: "bench", bytes: &bytes, declared: &declared };
                reader.read(&input).expect("decode")
            })
        });
    }
    // The reference: DataFusion's own CSV reader, same file, all columns materialised.
    let size = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    g.throughput(Throughput::Bytes(size));
    g.bench_function("csv_datafusion_reference", |b| {
        b.iter(|| {
            rt.block_on(async {
                let ctx = datafusion::prelude::SessionContext::new();
                let opts = datafusion::prelude::CsvReadOptions::new().delimiter(b';').has_header(true);
                let df = ctx.read_csv(csv.display().to_string(), opts).await.expect("read");
                df.collect().await.expect("collect")
            })
        })
    });
    g.finish();
}

fn load_all(c: &mut Criterion) {
    let dir = dataset(1);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut g = c.benchmark_group("load_all");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.bench_function("scale1_all_files", |b| {
        b.iter(|| {
            rt.block_on(async {
                let project = Project::new(env!("CARGO_MANIFEST_DIR"), &dir);
                let (_ctx, raw) = project.session().expect("session");
                raw.load_all().await.expect("load")
            })
        })
    });
    g.finish();
}

criterion_group!(benches, formats, load_all);
criterion_main!(benches);
