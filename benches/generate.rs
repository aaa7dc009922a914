//! Benchmarks of the generator: a whole scale-1 run (the 14 files, target under 3 s in release) and the
//! in-memory sales and session streams alone, to tell generation cost from writing cost.
//!
//! Run with `cargo bench --bench generate`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use omnimarket::generate::calendar::Calendar;
use omnimarket::generate::catalog::Catalog;
use omnimarket::generate::people::ClientBase;
use omnimarket::generate::rng::{Stream, stream};
use omnimarket::generate::sales::{SalesStream, day_weights};
use omnimarket::generate::traffic::SessionStream;
use omnimarket::generate::{GenerateConfig, NoProgress, generate};

fn whole_run(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cfg = GenerateConfig { out_dir: dir.path().to_path_buf(), ..GenerateConfig::default() };
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    group.bench_function("scale_1_all_files", |b| b.iter(|| generate(black_box(&cfg), &NoProgress).expect("generate")));
    group.finish();
}

fn streams(c: &mut Criterion) {
    let cfg = GenerateConfig::default();
    let cal = Calendar::new(cfg.start, cfg.end);
    let catalog = Catalog::generate(&mut stream(cfg.seed, Stream::Products));
    let clients = ClientBase::generate(1, cfg.start, cfg.end, &mut stream(cfg.seed, Stream::Clients), &mut stream(cfg.seed, Stream::ClientDefects));
    let weights = day_weights(&cal, &mut stream(cfg.seed, Stream::DayNoise));
    let mut group = c.benchmark_group("streams");
    group.sample_size(20);
    group.bench_function("sales_50k_in_memory", |b| {
        b.iter(|| {
            let s =
                SalesStream::new(&cal, &catalog, &clients, &weights, 50_000, stream(cfg.seed, Stream::Sales), stream(cfg.seed, Stream::SalesDefects));
            black_box(s.map(|day| day.len()).sum::<usize>())
        })
    });
    group.bench_function("sessions_100k_in_memory", |b| {
        b.iter(|| {
            let s = SessionStream::new(&cal, &clients, &weights, 100_000, stream(cfg.seed, Stream::Sessions));
            black_box(s.count())
        })
    });
    group.finish();
}

criterion_group!(benches, whole_run, streams);
criterion_main!(benches);
