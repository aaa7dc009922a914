//! Lists the bundled dashboards (every `sql/dashboards/*.sql`) for `src/dashboards.rs`, so that adding a page is
//! adding a file: no list of names to keep in step.

use std::fmt::Write;
use std::path::Path;

fn main() {
    // Read at run time, not baked in with env!(): a build script compiled in another checkout (a shared target
    // directory) must list this checkout's files, and a missing directory is a build error, not an empty list.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo");
    let dir = Path::new(&manifest).join("sql").join("dashboards");
    println!("cargo:rerun-if-changed={}", dir.display());
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list the bundled dashboards in {}: {e}", dir.display()));
    let mut files: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".sql")).collect();
    files.sort();
    let mut out = String::from("/// The bundled dashboard files: (file name, text), in file-name order.\npub const BUNDLED: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", dir.join(f).display());
        let _ = writeln!(out, "    ({f:?}, include_str!({:?})),", dir.join(f).display().to_string());
    }
    out.push_str("];\n");
    let target = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo")).join("bundled_dashboards.rs");
    std::fs::write(target, out).expect("writes the list of bundled dashboards");
}
