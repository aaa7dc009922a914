//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

/// The real files of the original study, beside the repository (never copied into it).
pub fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed-sources")
}

pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_omnimarket"))
}

/// Run the binary; returns (exit code, stdout, stderr).
pub fn run(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out: Output = binary().args(args).current_dir(cwd).output().expect("the binary runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

pub async fn sql(ctx: &SessionContext, q: &str) -> Vec<RecordBatch> {
    ctx.sql(q).await.unwrap_or_else(|e| panic!("{q}: {e}")).collect().await.unwrap_or_else(|e| panic!("{q}: {e}"))
}

/// The single value of a one-row, one-column result, as text.
pub async fn scalar(ctx: &SessionContext, q: &str) -> String {
    let batches = sql(ctx, q).await;
    let b = batches.iter().find(|b| b.num_rows() > 0).unwrap_or_else(|| panic!("{q}: no row"));
    datafusion::arrow::util::display::array_value_to_string(b.column(0), 0).unwrap_or_default()
}

/// The default dataset (scale 1, seed 42), generated once per test binary under the target's temp dir.
pub fn generated_data() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // One directory per test binary, so that binaries running at once never share a half-written dataset.
        let exe = std::env::current_exe().ok().and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()));
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("data-{}", exe.unwrap_or_default()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = omnimarket::generate::GenerateConfig { out_dir: dir.clone(), ..Default::default() };
        omnimarket::generate::generate(&cfg, &omnimarket::generate::NoProgress).expect("generate");
        dir
    })
}

/// A session of the bundled project on the default dataset.
pub fn generated_session() -> SessionContext {
    omnimarket::project::Project::new(env!("CARGO_MANIFEST_DIR"), generated_data()).session().expect("session").0
}

/// A one-value query read as a number.
pub async fn num(ctx: &SessionContext, q: &str) -> f64 {
    let s = scalar(ctx, q).await;
    s.parse().unwrap_or_else(|_| panic!("{q}: not a number: {s}"))
}
