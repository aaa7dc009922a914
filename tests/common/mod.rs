//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
