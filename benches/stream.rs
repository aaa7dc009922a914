//! Streaming a 5M-row result: the in-process limit (the engine's batches, cast to the wire types, written as
//! Arrow IPC to /dev/null) next to the same result through the Flight SQL server to arrow-flight's Rust client
//! on loopback. The ADBC (Python) figure comes from `tests/clients/stream.py` against `omnimarket serve`.
//!
//! Run: `cargo bench --bench stream`. Data (scale 1) is generated once under target/bench-data/.

mod common;

use std::sync::Arc;
use std::time::Instant;

use arrow_flight::sql::client::FlightSqlServiceClient;
use common::dataset;
use datafusion::arrow::ipc::writer::StreamWriter;
use futures::StreamExt;
use omnimarket::engine::Engine;
use omnimarket::flight::auth::Authenticator;
use omnimarket::flight::results::{plain_schema, to_plain};
use omnimarket::flight::{ServerConfig, start};
use omnimarket::project::Project;

/// 50,000 sales x 100: five million rows of the sales table's columns (ints, dates, timestamps, text, decimals).
const SQL: &str = "SELECT v.*, n.value AS copie FROM base_ventes v CROSS JOIN generate_series(1, 100) n";

/// Counts the bytes written through it.
struct Counter<W> {
    inner: W,
    bytes: u64,
}

impl<W: std::io::Write> std::io::Write for Counter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn report(what: &str, rows: usize, bytes: u64, secs: f64) {
    println!(
        "{what:<40} {rows} rows, {:.0} MB in {secs:.2} s: {:.2} M rows/s, {:.0} MB/s",
        bytes as f64 / 1e6,
        rows as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6
    );
}

async fn in_process(engine: &Engine) {
    let t0 = Instant::now();
    let df = engine.sql(SQL).await.expect("plan");
    let schema = Arc::new(plain_schema(df.schema().as_arrow()));
    let mut stream = df.execute_stream().await.expect("execute");
    let devnull = std::fs::OpenOptions::new().write(true).open("/dev/null").expect("/dev/null");
    let mut out = Counter { inner: std::io::BufWriter::with_capacity(1 << 20, devnull), bytes: 0 };
    let mut w = StreamWriter::try_new(&mut out, &schema).expect("writer");
    let mut rows = 0;
    while let Some(b) = stream.next().await {
        let b = to_plain(b.expect("batch"), &schema).expect("cast");
        rows += b.num_rows();
        w.write(&b).expect("write");
    }
    w.finish().expect("finish");
    drop(w);
    std::io::Write::flush(&mut out).expect("flush");
    report("in-process (Arrow IPC to /dev/null)", rows, out.bytes, t0.elapsed().as_secs_f64());
}

async fn over_flight(engine: Engine) {
    let config = ServerConfig { addr: "127.0.0.1:0".parse().expect("addr"), tls: None, auth: Arc::new(Authenticator::none()) };
    let server = start(engine, config, std::future::pending()).await.expect("server");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr)).expect("uri").connect().await.expect("connect");
    let mut client = FlightSqlServiceClient::new(channel);
    let t0 = Instant::now();
    let info = client.execute(SQL.into(), None).await.expect("execute");
    let mut rows = 0;
    let mut bytes = 0u64;
    for ep in info.endpoint {
        let mut s = client.do_get(ep.ticket.expect("ticket")).await.expect("do_get");
        while let Some(b) = s.next().await {
            let b = b.expect("batch");
            rows += b.num_rows();
            bytes += b.columns().iter().map(|c| c.to_data().get_slice_memory_size().unwrap_or(0) as u64).sum::<u64>();
        }
    }
    report("Flight SQL, Rust client, loopback", rows, bytes, t0.elapsed().as_secs_f64());
    server.stop().await.expect("stop");
}

fn main() {
    let project = Project::new(env!("CARGO_MANIFEST_DIR"), dataset(1));
    let engine = Engine::open(&project).expect("engine");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        // Warm-up: parse the dump once.
        engine.sql("SELECT COUNT(*) FROM base_ventes").await.expect("plan").collect().await.expect("warm-up");
        for _ in 0..3 {
            in_process(&engine).await;
        }
        for _ in 0..3 {
            over_flight(engine.clone()).await;
        }
    });
}
