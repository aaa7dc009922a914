//! Parquet snapshots (`refresh --to`, `--snapshots`): every dashboard gives the same values on the snapshot as
//! on the models built in memory, the files are laid out and checked as the manifest says, and a damaged or
//! hostile snapshot is an error that names the file, never wrong rows. (S3 is tested against a local S3 server
//! by tests/s3/run.sh.)

mod common;

use std::path::{Path, PathBuf};

use datafusion::arrow::array::Array;
use datafusion::arrow::util::display::array_value_to_string;
use omnimarket::engine::Engine;
use omnimarket::project::Project;
use omnimarket::snapshots::{MANIFEST_FILE, Manifest};
use omnimarket::sources::location::SourceLocation;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Write the snapshot of the default dataset to a fresh directory with the CLI; its path.
fn write_snapshot(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let data = common::generated_data().display().to_string();
    let to = dir.display().to_string();
    let (code, out, err) = common::run(&["refresh", "--data", &data, "--to", &to, "--verify"], repo());
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("wrote a Parquet snapshot of 14 models"), "{out}");
    assert!(out.contains("verified"), "{out}");
    dir
}

fn manifest(dir: &Path) -> Manifest {
    let bytes = std::fs::read(dir.join(MANIFEST_FILE)).expect("manifest");
    Manifest::parse("manifest", &bytes).expect("parses")
}

async fn rows(e: &Engine, sql: &str) -> Result<Vec<String>, String> {
    let df = e.sql(sql).await.map_err(|err| err.to_string())?;
    let batches = df.collect().await.map_err(|err| err.to_string())?;
    let mut out = Vec::new();
    for b in &batches {
        for r in 0..b.num_rows() {
            let cells: Vec<String> =
                b.columns().iter().map(|c| if c.is_null(r) { "NULL".into() } else { array_value_to_string(c, r).unwrap_or_default() }).collect();
            out.push(cells.join(" | "));
        }
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_is_identical_on_the_parquet_snapshot() {
    let dir = write_snapshot("snap-dashboards");
    let local = Engine::open(&Project::new(repo(), common::generated_data())).expect("local engine");
    // No raw file is needed: the data directory does not even exist.
    let missing_data = dir.join("no-such-data");
    let parquet = Engine::open(&Project::new(repo(), &missing_data).with_snapshots(Some(dir.display().to_string()))).expect("snapshot engine");
    let mut queries = 0;
    for d in omnimarket::dashboards::load(repo()).expect("dashboards") {
        for v in &d.visuals {
            let want = rows(&local, &v.sql).await.unwrap_or_else(|e| panic!("{}/{}: {e}", d.name, v.name));
            let mut got = rows(&parquet, &v.sql).await.unwrap_or_else(|e| panic!("{}/{} on Parquet: {e}", d.name, v.name));
            let mut want_sorted = want.clone();
            // Row order is only fixed where the visual sorts; compare as ordered lists when they already agree.
            if !same_rows(&got, &want) {
                got.sort();
                want_sorted.sort();
            }
            assert!(!want.is_empty(), "{}/{}: no row", d.name, v.name);
            assert!(same_rows(&got, &want_sorted), "{}/{} differs on the Parquet snapshot\n got: {got:?}\nwant: {want_sorted:?}", d.name, v.name);
            queries += 1;
        }
    }
    assert!(queries >= 26, "only {queries} dashboard queries");
    // Column types survive Parquet as they are (money stays DECIMAL, strings plain Utf8 for JDBC clients).
    let types = |e: &Engine| {
        let e = e.clone();
        async move {
            let df = e.context().sql("SELECT * FROM staging.stg_ventes LIMIT 0").await.expect("plan");
            df.schema().fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>()
        }
    };
    assert_eq!(types(&parquet).await, types(&local).await);
}

#[test]
fn facts_are_partitioned_by_year_and_a_new_run_replaces_the_old_files() {
    let dir = write_snapshot("snap-layout");
    let first = manifest(&dir);
    let ventes = first.model("stg_ventes").expect("stg_ventes");
    assert_eq!(ventes.partitioned_by.as_deref(), Some("year of the date table's row for ID_Date"));
    // Sessions have no DATE column, only their date key: partitioned all the same; returns by their return date.
    assert!(first.model("stg_trafic").expect("stg_trafic").files.iter().all(|f| f.path.contains("/year=")));
    assert_eq!(first.model("stg_retours").expect("stg_retours").partitioned_by.as_deref(), Some("year of the date table's row for ID_Date_Retour"));
    let years: Vec<&str> = ventes.files.iter().map(|f| f.path.split('/').nth(1).unwrap_or_default()).collect();
    assert!(years.len() >= 2 && years.iter().all(|y| y.starts_with("year=")), "{years:?}");
    let clients = first.model("stg_clients").expect("stg_clients");
    assert_eq!(clients.partitioned_by, None);
    assert_eq!(clients.files.len(), 1);
    for f in first.models.iter().flat_map(|m| &m.files) {
        assert_eq!(std::fs::metadata(dir.join(&f.path)).expect("listed file exists").len(), f.bytes, "{}", f.path);
    }

    // Each refresh writes a new run and keeps the run it replaces (a server that opened it keeps answering);
    // the run before that is deleted, and nothing that is not ours.
    std::fs::write(dir.join("notes.txt"), "mine").expect("write");
    let data = common::generated_data().display().to_string();
    let refresh = || {
        let (code, out, err) = common::run(&["refresh", "--data", &data, "--to", &dir.display().to_string()], repo());
        assert_eq!(code, 0, "{out}\n{err}");
        manifest(&dir)
    };
    let files_of = |m: &Manifest| m.models.iter().flat_map(|m| m.files.iter().map(|f| dir.join(&f.path).display().to_string())).collect::<Vec<_>>();
    let parquet = || {
        let mut files: Vec<String> = walk(&dir).into_iter().filter(|p| p.ends_with(".parquet")).collect();
        files.sort();
        files
    };
    let second = refresh();
    assert_ne!(first.run, second.run);
    let mut both = [files_of(&first), files_of(&second)].concat();
    both.sort();
    assert_eq!(parquet(), both, "the first and second runs' files, and only those");
    let third = refresh();
    let mut kept = [files_of(&second), files_of(&third)].concat();
    kept.sort();
    assert_eq!(parquet(), kept, "the first run's files are deleted by the third refresh");
    assert!(dir.join("notes.txt").exists(), "a file that is not ours was deleted");
}

#[test]
fn refuses_to_write_into_a_directory_that_is_not_a_snapshot() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("snap-not-ours");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("thesis.docx"), "precious").expect("write");
    let data = common::generated_data().display().to_string();
    let (code, out, err) = common::run(&["refresh", "--data", &data, "--to", &dir.display().to_string()], repo());
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("no _omnimarket_snapshots.json: not a snapshot; refusing to write into it"), "{err}");
    assert_eq!(walk(&dir).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_snapshots_are_errors_that_name_the_file() {
    let dir = write_snapshot("snap-damaged");
    let m = manifest(&dir);
    let file = |model: &str| dir.join(&m.model(model).expect("model").files[0].path);
    let open = || Engine::open(&Project::new(repo(), dir.join("no-data")).with_snapshots(Some(dir.display().to_string()))).expect("engine");

    // Same size, other bytes: only the checksum sees it (`refresh --verify`, snapshots::verify).
    let geo = file("stg_geo");
    let mut bytes = std::fs::read(&geo).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&geo, &bytes).expect("write");
    let root = SourceLocation::resolve(&dir.display().to_string(), Path::new(".")).expect("root");
    let (_, damaged) = omnimarket::snapshots::verify(&root).await.expect("verify runs");
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert!(damaged[0].file.ends_with(&m.model("stg_geo").expect("geo").files[0].path), "{damaged:?}");
    assert!(damaged[0].why.contains("SHA-256"), "{damaged:?}");

    // Truncated: the query names the file and the sizes.
    let motifs = file("stg_motifs");
    let len = std::fs::metadata(&motifs).expect("meta").len();
    std::fs::OpenOptions::new().write(true).open(&motifs).expect("open").set_len(len / 2).expect("truncate");
    let err = rows(&open(), "SELECT COUNT(*) FROM staging.stg_motifs").await.expect_err("a truncated file is an error");
    assert!(err.contains("stg_motifs/part-") && err.contains("the manifest says"), "{err}");

    // Missing.
    std::fs::remove_file(file("stg_canaux")).expect("rm");
    let err = rows(&open(), "SELECT COUNT(*) FROM staging.stg_canaux").await.expect_err("a missing file is an error");
    assert!(err.contains("stg_canaux/part-") && err.contains("no such file"), "{err}");

    // A manifest that points outside the snapshot is refused before any file is read.
    let text = std::fs::read_to_string(dir.join(MANIFEST_FILE)).expect("manifest");
    let path = &m.model("stg_clients").expect("clients").files[0].path;
    std::fs::write(dir.join(MANIFEST_FILE), text.replace(path.as_str(), "../../etc/part-x.parquet")).expect("write");
    let err = rows(&open(), "SELECT COUNT(*) FROM staging.stg_clients").await.expect_err("hostile manifest");
    assert!(err.contains(MANIFEST_FILE) && err.contains("not in the model's directory"), "{err}");

    // No snapshot at all.
    let empty = dir.join("nothing-here");
    let e = Engine::open(&Project::new(repo(), dir.join("no-data")).with_snapshots(Some(empty.display().to_string()))).expect("engine");
    let err = rows(&e, "SELECT COUNT(*) FROM staging.stg_clients").await.expect_err("no snapshot");
    assert!(err.contains("no such file: not a snapshot"), "{err}");
}

/// Equal rows: every cell the same text, except DOUBLE ratios, which may differ in the last bits because the
/// rows reach the sums in another order (a DECIMAL total or a count must match exactly: they print alike).
fn same_rows(a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let (xs, ys): (Vec<&str>, Vec<&str>) = (x.split(" | ").collect(), y.split(" | ").collect());
            xs.len() == ys.len()
                && xs.iter().zip(&ys).all(|(p, q)| {
                    p == q
                        || match (p.parse::<f64>(), q.parse::<f64>()) {
                            // A cent on ten billion is 1e-12 of it: money differences stay visible.
                            (Ok(u), Ok(v)) => p.contains('.') && q.contains('.') && (u - v).abs() <= 1e-12 * u.abs().max(v.abs()),
                            _ => false,
                        }
                })
        })
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}
