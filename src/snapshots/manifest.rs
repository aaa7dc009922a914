//! `_omnimarket_snapshots.json`: what a snapshot holds. It is read from storage anyone may have written to, so
//! every field is checked before use: the format version, model names, and file paths that must stay below
//! the root (no `..`, no absolute path, no other model's directory).

use serde::{Deserialize, Serialize};

use super::SnapshotError;

/// The manifest's name at the snapshot root.
pub const MANIFEST_FILE: &str = "_omnimarket_snapshots.json";
/// The layout version this build writes and reads.
pub const FORMAT: u32 = 1;
/// A manifest larger than this is not one we wrote (a few KB per model).
pub const MAX_MANIFEST_BYTES: usize = 16 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// `omnimarket <version>`.
    pub written_by: String,
    /// The run id in every file name of this snapshot.
    pub run: String,
    /// RFC 3339, UTC.
    pub written_at: String,
    pub models: Vec<ModelFiles>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModelFiles {
    pub name: String,
    pub rows: u64,
    /// The DATE column whose year partitions the files, if any.
    pub partitioned_by: Option<String>,
    /// A digest of the model's SQL text: opening warns when the project's model has changed since.
    pub sql_digest: String,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative to the root, slash-separated.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the whole file.
    pub sha256: String,
}

impl Manifest {
    pub fn model(&self, name: &str) -> Option<&ModelFiles> {
        self.models.iter().find(|m| m.name == name)
    }

    /// Parse and check a manifest read from `file`.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Manifest, SnapshotError> {
        let invalid = |message: String| SnapshotError::Invalid { file: file.to_string(), message };
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(invalid(format!("{} bytes, more than a snapshot manifest can be ({MAX_MANIFEST_BYTES})", bytes.len())));
        }
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| invalid(format!("not a snapshot manifest: line {}, column {}: {e}", e.line(), e.column())))?;
        if manifest.format != FORMAT {
            return Err(invalid(format!(
                "snapshot format {} (this build reads format {FORMAT}); write it again with `omnimarket refresh --to`",
                manifest.format
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for m in &manifest.models {
            if !is_model_name(&m.name) {
                return Err(invalid(format!("model name {:?}: expected letters, digits and `_`", m.name)));
            }
            if !seen.insert(m.name.as_str()) {
                return Err(invalid(format!("model `{}` is listed twice", m.name)));
            }
            if m.files.is_empty() {
                return Err(invalid(format!("model `{}` has no file", m.name)));
            }
            for f in &m.files {
                check_path(&m.name, &f.path).map_err(|why| invalid(format!("model `{}`: file {:?}: {why}", m.name, f.path)))?;
                if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(invalid(format!("model `{}`: file {:?}: sha256 is not 64 hex digits", m.name, f.path)));
                }
            }
            let rows: u64 = m.files.iter().map(|f| f.rows).fold(0u64, u64::saturating_add);
            if rows != m.rows {
                return Err(invalid(format!("model `{}`: its files hold {rows} rows, the model says {}", m.name, m.rows)));
            }
        }
        Ok(manifest)
    }
}

/// Model names as the SQL model files are named.
pub fn is_model_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A file path must stay in its model's directory: `<model>/[year=<YYYY>|year=__null__/]part-<run>.parquet`.
fn check_path(model: &str, path: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = path.split('/').collect();
    let (dir, rest) = parts.split_first().ok_or("empty path")?;
    if *dir != model {
        return Err("not in the model's directory");
    }
    let (file, middle) = rest.split_last().ok_or("no file name")?;
    match middle {
        [] => {}
        [partition] => {
            let year = partition.strip_prefix("year=").ok_or("expected a `year=` partition directory")?;
            if year != super::partition::NULL_YEAR && (year.is_empty() || year.len() > 6 || !year.bytes().all(|b| b.is_ascii_digit() || b == b'-')) {
                return Err("the partition is not a year");
            }
        }
        _ => return Err("too deep"),
    }
    let run = file.strip_prefix("part-").and_then(|f| f.strip_suffix(".parquet")).ok_or("expected part-<run>.parquet")?;
    if run.is_empty() || !run.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("bad run id in the file name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(path: &str) -> String {
        format!(
            r#"{{"format":1,"written_by":"omnimarket 0","run":"r1","written_at":"2026-12-05T00:00:00Z","models":[{{"name":"stg_ventes","rows":2,"partitioned_by":"Date_Vente","sql_digest":"00","files":[{{"path":"{path}","rows":2,"bytes":10,"sha256":"{}"}}]}}]}}"#,
            "a".repeat(64)
        )
    }

    #[test]
    fn accepts_the_layout_it_writes() {
        for path in ["stg_ventes/part-r1.parquet", "stg_ventes/year=2024/part-r1.parquet", "stg_ventes/year=__null__/part-r1.parquet"] {
            let m = Manifest::parse("m.json", manifest(path).as_bytes()).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(m.models[0].files[0].path, path);
        }
    }

    #[test]
    fn refuses_paths_that_leave_the_model_directory() {
        for path in [
            "../etc/passwd",
            "stg_ventes/../stg_clients/part-r1.parquet",
            "/stg_ventes/part-r1.parquet",
            "stg_clients/part-r1.parquet",
            "stg_ventes/year=2024/x/part-r1.parquet",
            "stg_ventes/year=../part-r1.parquet",
            "stg_ventes/part-r1.csv",
            "stg_ventes/part-.parquet",
        ] {
            let err = Manifest::parse("m.json", manifest(path).as_bytes()).expect_err(path).to_string();
            assert!(err.starts_with("m.json: model `stg_ventes`: file"), "{path}: {err}");
        }
    }

    #[test]
    fn refuses_other_formats_and_inconsistent_counts() {
        let newer = manifest("stg_ventes/part-r1.parquet").replace("\"format\":1", "\"format\":2");
        assert!(Manifest::parse("m.json", newer.as_bytes()).unwrap_err().to_string().contains("snapshot format 2"));
        let rows = manifest("stg_ventes/part-r1.parquet").replace("\"rows\":2,\"partitioned_by\"", "\"rows\":3,\"partitioned_by\"");
        assert!(Manifest::parse("m.json", rows.as_bytes()).unwrap_err().to_string().contains("hold 2 rows, the model says 3"));
        let garbage = Manifest::parse("m.json", b"{\"format\":1,").unwrap_err().to_string();
        assert!(garbage.starts_with("m.json: not a snapshot manifest: line 1"), "{garbage}");
    }
}
