//! The models' snapshot cache (`.omnimarket/cache/`) and `omnimarket refresh`: a second start is served from
//! the cache without parsing, a changed source or model rebuilds exactly the models downstream of it, a corrupt
//! snapshot is rebuilt and never served, and an interrupted write leaves the old snapshot usable.
//!
//! Most tests use a three-model fixture project of tiny CSV files, so that every figure is known by heart:
//! `stg_clients` reads `clients`, `stg_ventes` reads `ventes` and refs `stg_clients`, `stg_stock` reads `stock`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{generated_data, num, run};
use omnimarket::project::Project;
use omnimarket::transform::cache::{CACHE_DIR, EXTENSION, Miss};
use omnimarket::transform::staging::CacheEvent;

const SOURCES: &str = "sources:
  - name: clients
    location: clients.csv
  - name: ventes
    location: ventes.csv
  - name: stock
    location: stock.csv
";

struct Fixture {
    _tmp: tempfile::TempDir,
    project: PathBuf,
    data: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let project = tmp.path().join("project");
        let data = tmp.path().join("data");
        for d in [project.join("semantic"), project.join("sql"), data.clone()] {
            fs::create_dir_all(d).expect("mkdir");
        }
        fs::write(project.join("semantic/sources.yaml"), SOURCES).expect("write");
        fs::write(project.join("sql/stg_clients.sql"), "SELECT id, upper(nom) AS nom FROM {{ source('clients') }}").expect("write");
        fs::write(
            project.join("sql/stg_ventes.sql"),
            "SELECT v.id, v.client, c.nom, v.montant FROM {{ source('ventes') }} v LEFT JOIN {{ ref('stg_clients') }} c ON c.id = v.client",
        )
        .expect("write");
        fs::write(project.join("sql/stg_stock.sql"), "SELECT * FROM {{ source('stock') }}").expect("write");
        fs::write(data.join("clients.csv"), "id,nom\n1,amina\n2,youssef\n").expect("write");
        fs::write(data.join("ventes.csv"), "id,client,montant\n1,1,10\n2,2,20\n3,1,30\n").expect("write");
        fs::write(data.join("stock.csv"), "produit,quantite\n1,5\n2,7\n").expect("write");
        Fixture { _tmp: tmp, project, data }
    }

    fn open(&self) -> Opened {
        let (ctx, raw, staging) = Project::new(&self.project, &self.data).open().expect("open");
        Opened { ctx, raw, staging }
    }

    fn entry(&self, model: &str) -> PathBuf {
        let base = self.project.join(CACHE_DIR);
        // One directory per data directory: the fixture has one.
        let dir = fs::read_dir(&base).expect("cache dir").flatten().next().expect("a data dir entry").path();
        dir.join(format!("{model}.{EXTENSION}"))
    }

    fn args(&self) -> [String; 4] {
        ["--project".into(), self.project.display().to_string(), "--data".into(), self.data.display().to_string()]
    }

    /// Run the binary with `--project`/`--data` after `cmd` (and `extra` after them).
    fn run(&self, cmd: &str, extra: &[&str]) -> (i32, String, String) {
        let args = self.args();
        let mut all: Vec<&str> = vec![cmd];
        all.extend(args.iter().map(String::as_str));
        all.extend(extra);
        run(&all, &self.project)
    }
}

struct Opened {
    ctx: datafusion::prelude::SessionContext,
    raw: std::sync::Arc<omnimarket::sources::RawSchema>,
    staging: std::sync::Arc<omnimarket::transform::StagingSchema>,
}

impl Opened {
    fn hits(&self) -> Vec<String> {
        self.events(|e| match e {
            CacheEvent::Hit { model, .. } => Some(model.clone()),
            _ => None,
        })
    }
    fn written(&self) -> Vec<String> {
        self.events(|e| match e {
            CacheEvent::Written { model, .. } => Some(model.clone()),
            _ => None,
        })
    }
    fn misses(&self) -> Vec<(String, Miss)> {
        self.events(|e| match e {
            CacheEvent::Miss { model, why } => Some((model.clone(), why.clone())),
            _ => None,
        })
    }
    fn events<T>(&self, f: impl Fn(&CacheEvent) -> Option<T>) -> Vec<T> {
        self.staging.cache_events().iter().filter_map(f).collect()
    }
}

/// Rewrite a file and set its mtime back, as if it had not changed (same size needed for the same stamp).
fn rewrite_keeping_stamp(path: &Path, text: &str) {
    let before = fs::metadata(path).expect("metadata").modified().expect("mtime");
    fs::write(path, text).expect("write");
    fs::File::options().write(true).open(path).expect("open").set_modified(before).expect("set mtime");
}

fn touch(path: &Path, ago: Duration) {
    let t = SystemTime::now() - ago;
    fs::File::options().write(true).open(path).expect("open").set_modified(t).expect("set mtime");
}

#[tokio::test]
async fn a_second_start_is_served_from_the_cache_without_parsing() {
    let f = Fixture::new();
    let first = f.open();
    assert_eq!(num(&first.ctx, "SELECT SUM(montant) FROM staging.stg_ventes").await, 60.0);
    assert_eq!(first.written(), ["stg_clients", "stg_ventes"]);
    assert_eq!(first.raw.parsed(), ["clients", "ventes"]);

    let second = f.open();
    assert_eq!(num(&second.ctx, "SELECT SUM(montant) FROM staging.stg_ventes").await, 60.0);
    assert_eq!(num(&second.ctx, "SELECT COUNT(*) FROM staging.stg_ventes WHERE nom = 'AMINA'").await, 2.0);
    // Served whole from its snapshot: no raw file decoded, and the upstream model not even loaded.
    assert_eq!(second.hits(), ["stg_ventes"]);
    assert!(second.raw.parsed().is_empty(), "{:?}", second.raw.parsed());

    // A rewrite with the same size and the mtime set back (`touch -r`) is still a change: the inode's change
    // time moved, and no user can set that back.
    rewrite_keeping_stamp(&f.data.join("ventes.csv"), "id,client,montant\n1,1,90\n2,2,80\n3,1,70\n");
    let third = f.open();
    assert_eq!(num(&third.ctx, "SELECT SUM(montant) FROM staging.stg_ventes").await, 240.0);
    assert_eq!(third.raw.parsed(), ["ventes"]);
    // --no-cache parses: the new amounts.
    let (ctx, _, staging) = Project::new(&f.project, &f.data).with_cache(false).open().expect("open");
    assert_eq!(num(&ctx, "SELECT SUM(montant) FROM staging.stg_ventes").await, 240.0);
    assert!(staging.cache_events().is_empty());
}

#[tokio::test]
async fn a_changed_source_rebuilds_the_models_that_read_it_and_shows_the_new_rows() {
    let f = Fixture::new();
    let first = f.open();
    num(&first.ctx, "SELECT COUNT(*) FROM staging.stg_ventes").await;
    num(&first.ctx, "SELECT COUNT(*) FROM staging.stg_stock").await;

    // One more sale: ventes.csv changes size and mtime.
    fs::write(f.data.join("ventes.csv"), "id,client,montant\n1,1,10\n2,2,20\n3,1,30\n4,2,40\n").expect("write");
    let second = f.open();
    assert_eq!(num(&second.ctx, "SELECT SUM(montant) FROM staging.stg_ventes").await, 100.0);
    let misses = second.misses();
    assert_eq!(misses.len(), 1, "{misses:?}");
    assert_eq!(misses[0].0, "stg_ventes");
    assert!(matches!(&misses[0].1, Miss::Stale(why) if why.starts_with("source `ventes` changed")), "{misses:?}");
    // The rebuild took stg_clients from its snapshot: only the changed file was parsed.
    assert_eq!(second.hits(), ["stg_clients"]);
    assert_eq!(second.raw.parsed(), ["ventes"]);
    assert_eq!(num(&second.ctx, "SELECT COUNT(*) FROM staging.stg_stock").await, 2.0);
    assert_eq!(second.hits(), ["stg_clients", "stg_stock"]);

    // A touch alone (same bytes, new mtime) is a change too.
    touch(&f.data.join("clients.csv"), Duration::from_secs(0));
    let third = f.open();
    assert_eq!(num(&third.ctx, "SELECT COUNT(*) FROM staging.stg_ventes WHERE nom IS NOT NULL").await, 4.0);
    let stale: Vec<String> = third.misses().into_iter().map(|(m, _)| m).collect();
    assert_eq!(stale, ["stg_ventes", "stg_clients"], "downstream first, then what it needs");

    // An edited model rebuilds itself and what reads it, not the others.
    fs::write(f.project.join("sql/stg_clients.sql"), "SELECT id, lower(nom) AS nom FROM {{ source('clients') }}").expect("write");
    let fourth = f.open();
    assert_eq!(num(&fourth.ctx, "SELECT COUNT(*) FROM staging.stg_ventes WHERE nom = 'amina'").await, 2.0);
    let why: Vec<String> = fourth.misses().into_iter().map(|(m, w)| format!("{m}: {w}")).collect();
    assert_eq!(why, ["stg_ventes: stale: model `stg_clients` changed", "stg_clients: stale: model `stg_clients` changed"]);
    num(&fourth.ctx, "SELECT COUNT(*) FROM staging.stg_stock").await;
    assert_eq!(fourth.hits(), ["stg_stock"]);
}

#[tokio::test]
async fn a_corrupt_or_truncated_snapshot_is_rebuilt_and_never_served() {
    let f = Fixture::new();
    num(&f.open().ctx, "SELECT COUNT(*) FROM staging.stg_ventes").await;
    let entry = f.entry("stg_ventes");
    let good = fs::read(&entry).expect("entry");

    // Garbage over the payload, same size.
    let mut garbage = good.clone();
    let half = garbage.len() / 2;
    for b in &mut garbage[half..] {
        *b = 0x5a;
    }
    fs::write(&entry, &garbage).expect("write");
    let o = f.open();
    assert_eq!(num(&o.ctx, "SELECT SUM(montant) FROM staging.stg_ventes").await, 60.0);
    assert!(matches!(&o.misses()[..], [(m, Miss::Corrupt(_))] if m == "stg_ventes"), "{:?}", o.misses());
    assert_eq!(o.written(), ["stg_ventes"], "rebuilt and rewritten");
    let again = f.open();
    num(&again.ctx, "SELECT COUNT(*) FROM staging.stg_ventes").await;
    assert_eq!(again.hits(), ["stg_ventes"], "the rewritten snapshot is whole");

    // Truncated (a crash of a non-atomic writer would leave this): detected by its length.
    fs::write(&entry, &good[..good.len() - 100]).expect("write");
    let o = f.open();
    assert_eq!(num(&o.ctx, "SELECT SUM(montant) FROM staging.stg_ventes").await, 60.0);
    assert!(matches!(&o.misses()[..], [(_, Miss::Corrupt(why))] if why.contains("truncated")), "{:?}", o.misses());

    // Through the binary: a note on stderr names the file, the rows are right, the exit code is 0.
    fs::write(&entry, b"not an arrow file").expect("write");
    let (code, out, err) = f.run("query", &["--format", "csv", "SELECT SUM(montant) AS s FROM staging.stg_ventes"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "s\n60\n");
    assert!(err.contains("note: cache") && err.contains("stg_ventes.arrows: corrupt") && err.contains("rebuilding `stg_ventes`"), "{err}");
    let (_, _, err) = f.run("query", &["SELECT COUNT(*) FROM staging.stg_ventes"]);
    assert!(err.is_empty(), "fresh again: {err}");
}

#[tokio::test]
async fn an_interrupted_write_leaves_the_old_snapshot_usable() {
    let f = Fixture::new();
    num(&f.open().ctx, "SELECT COUNT(*) FROM staging.stg_ventes").await;
    let entry = f.entry("stg_ventes");
    let good = fs::read(&entry).expect("entry");
    // What a writer killed mid-way leaves: a half-written temp file beside the entry (never the entry itself:
    // it is replaced only by a rename once the temp file is whole and synced).
    let dir = entry.parent().expect("dir");
    let temp = dir.join(format!(".stg_ventes.{EXTENSION}.999999.0.tmp"));
    fs::write(&temp, &good[..good.len() / 2]).expect("write");
    let o = f.open();
    assert_eq!(num(&o.ctx, "SELECT SUM(montant) FROM staging.stg_ventes").await, 60.0);
    assert_eq!(o.hits(), ["stg_ventes"]);
    assert!(o.raw.parsed().is_empty());
    assert_eq!(fs::read(&entry).expect("entry"), good);

    // refresh sweeps a leftover once it is old enough not to belong to a live writer.
    let (code, out, _) = f.run("refresh", &[]);
    assert_eq!(code, 0);
    assert!(temp.exists(), "a young temp file may be a live writer's: {out}");
    touch(&temp, Duration::from_secs(2 * 3600));
    let (code, out, _) = f.run("refresh", &[]);
    assert_eq!(code, 0);
    assert!(!temp.exists() && out.contains("removed 1 leftover file"), "{out}");
}

#[tokio::test]
async fn refresh_rebuilds_only_the_models_downstream_of_a_change() {
    let f = Fixture::new();
    let (code, out, err) = f.run("refresh", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rebuilt 3 of 3 models, kept 0"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("stg_ventes") && l.contains("rebuilt") && l.contains("not cached")), "{out}");

    let (code, out, _) = f.run("refresh", &[]);
    assert_eq!(code, 0);
    assert!(out.contains("rebuilt 0 of 3 models, kept 3") && out.contains("parsed 0 raw file(s)"), "{out}");

    fs::write(f.data.join("clients.csv"), "id,nom\n1,amina\n2,youssef\n3,salma\n").expect("write");
    let (code, out, _) = f.run("refresh", &[]);
    assert_eq!(code, 0);
    let action = |model: &str| out.lines().find(|l| l.starts_with(model)).map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string());
    assert_eq!(action("stg_clients").as_deref(), Some("rebuilt"), "{out}");
    assert_eq!(action("stg_ventes").as_deref(), Some("rebuilt"), "{out}");
    assert_eq!(action("stg_stock").as_deref(), Some("kept"), "{out}");
    assert!(out.contains("source `clients` changed"), "{out}");
    // stock.csv was not read; ventes.csv was, because stg_ventes reads it and had to be rebuilt.
    assert!(out.contains("parsed 2 raw file(s) (clients, ventes)"), "{out}");

    // The refreshed snapshots serve the next start.
    let o = f.open();
    assert_eq!(num(&o.ctx, "SELECT COUNT(*) FROM staging.stg_clients").await, 3.0);
    assert!(o.raw.parsed().is_empty());

    // A model that fails to build: exit 1, with the file named.
    fs::write(f.project.join("sql/stg_stock.sql"), "SELECT nope FROM {{ source('stock') }}").expect("write");
    let (code, _, err) = f.run("refresh", &[]);
    assert_eq!(code, 1);
    assert!(err.contains("stg_stock.sql") && err.contains("nope"), "{err}");
    let (code, _, err) = f.run("refresh", &["--no-cache"]);
    assert_eq!(code, 1);
    assert!(err.contains("--no-cache"), "{err}");
}

#[test]
fn no_cache_writes_nothing() {
    let f = Fixture::new();
    let (code, out, err) = f.run("query", &["--no-cache", "--format", "csv", "SELECT COUNT(*) AS n FROM staging.stg_ventes"]);
    assert_eq!((code, out.as_str()), (0, "n\n3\n"), "{err}");
    assert!(!f.project.join(".omnimarket").exists());
    // The shell and compile honour it too (the shell once read and wrote snapshots regardless).
    let args = f.args();
    let mut cmd = common::binary();
    cmd.arg("shell").args(&args).arg("--no-cache").current_dir(&f.project);
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("shell starts");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"SELECT COUNT(*) AS n FROM staging.stg_ventes;\n").expect("write");
    }
    let out = child.wait_with_output().expect("shell ends");
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains('3'), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, _, err) = f.run("compile", &["--no-cache", "SELECT COUNT(*) FROM staging.stg_ventes"]);
    assert_eq!(code, 0, "{err}");
    assert!(!f.project.join(".omnimarket").exists(), "shell --no-cache and compile --no-cache write no snapshot");
}

#[tokio::test]
async fn one_data_directory_written_three_ways_is_one_cache() {
    let f = Fixture::new();
    let forms = [f.data.clone(), f.data.join("."), f.data.join("../data")];
    for d in &forms {
        let (ctx, _, _) = Project::new(&f.project, d).open().expect("open");
        assert_eq!(num(&ctx, "SELECT SUM(montant) FROM staging.stg_ventes").await, 60.0);
    }
    let dirs = fs::read_dir(f.project.join(CACHE_DIR)).expect("cache dir").count();
    assert_eq!(dirs, 1, "{forms:?} are one directory");
}

/// The bundled models on the default dataset: every model round-trips through its snapshot with the same
/// rows and types, and a warm start parses no raw file at all.
#[tokio::test]
async fn every_bundled_model_round_trips_through_the_cache() {
    let project = tempfile::tempdir().expect("tempdir");
    let all = |o: &Opened| -> Vec<String> { o.staging.models().models.iter().map(|m| m.name.clone()).collect() };
    let cold = {
        let (ctx, raw, staging) = Project::new(project.path(), generated_data()).open().expect("open");
        Opened { ctx, raw, staging }
    };
    let models = all(&cold);
    assert_eq!(models.len(), 14, "{models:?}");
    let mut figures = Vec::new();
    for m in &models {
        let n = num(&cold.ctx, &format!("SELECT COUNT(*) FROM staging.\"{m}\"")).await;
        let schema = cold.ctx.table(format!("staging.\"{m}\"")).await.expect("table").schema().as_arrow().clone();
        figures.push((n, schema));
    }
    assert_eq!(cold.written().len(), 14);
    let (ctx, raw, staging) = Project::new(project.path(), generated_data()).open().expect("open");
    let warm = Opened { ctx, raw, staging };
    for (m, (n, schema)) in models.iter().zip(&figures) {
        assert_eq!(num(&warm.ctx, &format!("SELECT COUNT(*) FROM staging.\"{m}\"")).await, *n, "{m}");
        let again = warm.ctx.table(format!("staging.\"{m}\"")).await.expect("table").schema().as_arrow().clone();
        assert_eq!(&again, schema, "{m}");
    }
    assert_eq!(warm.hits().len(), 14);
    assert!(warm.raw.parsed().is_empty(), "{:?}", warm.raw.parsed());
    // Values survive too: the same sum as the cold build.
    assert_eq!(
        num(&warm.ctx, "SELECT ROUND(SUM(Montant_TTC), 2) FROM staging.stg_ventes").await,
        num(&cold.ctx, "SELECT ROUND(SUM(Montant_TTC), 2) FROM staging.stg_ventes").await
    );
}

/// `serve --no-cache` neither reads nor writes snapshots: a corrupt entry is neither reported (it was not
/// read) nor replaced (nothing was written), and the answer comes from the raw files. The same server without
/// the flag, as a control, reads the entry, reports it and rewrites it.
#[test]
fn serve_no_cache_neither_reads_nor_writes_snapshots() {
    let f = Fixture::new();
    let (code, _, err) = f.run("query", &["--format", "csv", "SELECT COUNT(*) FROM staging.stg_ventes"]);
    assert_eq!(code, 0, "{err}");
    let entry = f.entry("stg_ventes");
    let mut bytes = fs::read(&entry).expect("entry");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&entry, &bytes).expect("corrupt the entry");

    let (sum, err) = serve_and_sum(&f, &["--no-cache"]);
    assert_eq!(sum, 60, "{err}");
    assert!(!err.contains("note: cache"), "--no-cache read the snapshot: {err}");
    assert_eq!(fs::read(&entry).expect("entry"), bytes, "--no-cache rewrote the snapshot");

    let (sum, err) = serve_and_sum(&f, &[]);
    assert_eq!(sum, 60, "{err}");
    assert!(err.contains("corrupt") && err.contains("stg_ventes"), "the control server did not read the snapshot: {err}");
    assert_ne!(fs::read(&entry).expect("entry"), bytes, "the control server did not rewrite the snapshot");
}

/// Start `omnimarket serve` on the fixture, read `SUM(montant)` of `stg_ventes` over Flight SQL, stop it; the
/// sum and what the server wrote on stderr.
fn serve_and_sum(f: &Fixture, extra: &[&str]) -> (i64, String) {
    use arrow_flight::sql::client::FlightSqlServiceClient;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    use futures::StreamExt;
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;

    let mut child = common::binary()
        .arg("serve")
        .args(f.args())
        .args(["--no-auth", "--addr", "127.0.0.1:0"])
        .args(extra)
        .current_dir(&f.project)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    let addr = line.trim().strip_prefix("listening on grpc://").and_then(|r| r.split(' ').next()).map(str::to_string);
    let sum = addr.map(|addr| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("uri").connect().await.expect("connect");
            let mut client = FlightSqlServiceClient::new(channel);
            let info = client.execute("SELECT CAST(SUM(montant) AS BIGINT) AS s FROM staging.stg_ventes".into(), None).await.expect("execute");
            let mut s = client.do_get(info.endpoint[0].ticket.clone().expect("ticket")).await.expect("do_get");
            let b = s.next().await.expect("a batch").expect("ok");
            let col = b.column(0).as_primitive::<Int64Type>();
            assert_eq!(col.len(), 1);
            col.value(0)
        })
    });
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let mut err = String::new();
    let _ = child.stderr.take().expect("stderr").read_to_string(&mut err);
    (sum.unwrap_or_else(|| panic!("no listening line: {line} {err}")), err)
}

/// A snapshot is read when its table is first scanned, not when it is looked up (binding the semantic model
/// looks every table up): a lookup reads the header only. When a model that must run reads a snapshot whose
/// rows prove unreadable, that input is rebuilt within the same build (no deadlock, right rows).
#[tokio::test]
async fn a_snapshot_is_read_on_first_scan_and_an_unreadable_input_is_rebuilt() {
    let f = Fixture::new();
    num(&f.open().ctx, "SELECT COUNT(*) FROM staging.stg_ventes").await;
    let entry = f.entry("stg_clients");
    let mut bytes = fs::read(&entry).expect("entry");
    // The last batch's values, before the 8-byte end-of-stream marker: the header and schema stay whole.
    let end = bytes.len() - 8;
    bytes[end - 16..end].fill(0x5a);
    fs::write(&entry, &bytes).expect("garble the rows, keep the header");
    fs::write(f.data.join("ventes.csv"), "id,client,montant\n1,1,11\n2,2,20\n3,1,30\n").expect("write");

    let o = f.open();
    let schema = o.ctx.table("staging.stg_clients").await.expect("lookup").schema().as_arrow().clone();
    assert_eq!(schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["id", "nom"]);
    assert_eq!(o.hits(), ["stg_clients"]);
    assert!(o.misses().is_empty(), "a lookup read the rows: {:?}", o.misses());

    let sum = tokio::time::timeout(Duration::from_secs(60), num(&o.ctx, "SELECT SUM(montant) FROM staging.stg_ventes WHERE nom = 'AMINA'")).await;
    assert_eq!(sum.expect("no deadlock"), 41.0);
    let misses = o.misses();
    assert!(misses.iter().any(|(m, why)| m == "stg_clients" && matches!(why, Miss::Corrupt(_))), "{misses:?}");
    assert!(misses.iter().any(|(m, why)| m == "stg_ventes" && matches!(why, Miss::Stale(_))), "{misses:?}");
    assert_eq!(o.written(), ["stg_clients", "stg_ventes"]);
    assert_eq!(num(&o.ctx, "SELECT COUNT(*) FROM staging.stg_clients").await, 2.0);
}
