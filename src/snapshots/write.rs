//! `omnimarket refresh --to`: the staging models written as a Parquet snapshot (layout in the module docs).

use std::collections::HashSet;

use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

use super::SnapshotError;
use super::manifest::{FORMAT, FileEntry, MANIFEST_FILE, Manifest, ModelFiles};
use super::partition::{partition_column, partition_dir, split_by_year};
use crate::sources::location::SourceLocation;
use crate::transform::StagingSchema;

/// Write every model of `staging` (building those not built yet) below `root`, then the manifest, then delete
/// the files of the run it replaces. The models named in `facts` are partitioned by the year of their first
/// DATE column. `progress` is called after each model.
pub async fn write_snapshot(
    staging: &StagingSchema,
    root: &SourceLocation,
    facts: &HashSet<String>,
    mut progress: impl FnMut(&ModelFiles),
) -> Result<Manifest, SnapshotError> {
    let existing = root.list().await?;
    let previous = previous_manifest(root, &existing).await?;
    let run = run_id();
    let mut models = Vec::with_capacity(staging.models().models.len());
    for model in &staging.models().models {
        let (schema, batches) = staging
            .rows(&model.name)
            .await
            .map_err(|e| SnapshotError::Model { model: model.name.clone(), message: crate::errors::describe_error(&e) })?;
        let written = write_model(root, &model.name, &run, schema, batches, facts.contains(&model.name)).await?;
        let written = ModelFiles { sql_digest: sql_digest(&model.sql), ..written };
        progress(&written);
        models.push(written);
    }
    let manifest = Manifest {
        format: FORMAT,
        written_by: format!("omnimarket {}", env!("CARGO_PKG_VERSION")),
        run,
        written_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        models,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| SnapshotError::Invalid { file: MANIFEST_FILE.into(), message: e.to_string() })?;
    // The commit point: until this PUT, readers see the previous snapshot whole.
    root.child(MANIFEST_FILE).put(Bytes::from(text)).await?;
    remove_replaced(root, &existing, &manifest, previous.as_ref()).await?;
    Ok(manifest)
}

/// The digest the manifest keeps of a model's SQL.
pub fn sql_digest(sql: &str) -> String {
    format!("{:016x}", crate::transform::cache::digest(sql.as_bytes()))
}

/// The manifest already at `root`, if any. A root that holds other files and no manifest is not written into:
/// the clean-up after a write would otherwise be deleting in someone else's directory.
async fn previous_manifest(root: &SourceLocation, existing: &[(String, u64)]) -> Result<Option<Manifest>, SnapshotError> {
    if existing.is_empty() {
        return Ok(None);
    }
    if !existing.iter().any(|(path, _)| path == MANIFEST_FILE) {
        return Err(SnapshotError::Invalid {
            file: root.display.clone(),
            message: format!(
                "holds {} file(s) but no {MANIFEST_FILE}: not a snapshot; refusing to write into it (choose an empty or new location)",
                existing.len()
            ),
        });
    }
    let location = root.child(MANIFEST_FILE);
    let bytes = location.read().await?;
    // An unreadable old manifest does not block a new snapshot; its files are then cleaned by name only.
    Ok(Manifest::parse(&location.display, &bytes).ok())
}

/// A run id unique enough that two refreshes never write the same file name: the time and 32 random bits.
fn run_id() -> String {
    format!("{}-{:08x}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string().replace('.', ""), rand::random::<u32>())
}

async fn write_model(
    root: &SourceLocation,
    name: &str,
    run: &str,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    fact: bool,
) -> Result<ModelFiles, SnapshotError> {
    let column = if fact { partition_column(&schema) } else { None };
    let parts: Vec<(String, Vec<RecordBatch>)> = match column {
        None => vec![(format!("{name}/part-{run}.parquet"), batches)],
        Some(c) => {
            let years = split_by_year(&batches, c).map_err(|e| SnapshotError::Model { model: name.to_string(), message: e.to_string() })?;
            if years.is_empty() {
                // No rows: one empty file still carries the schema.
                vec![(format!("{name}/part-{run}.parquet"), Vec::new())]
            } else {
                years.into_iter().map(|(year, b)| (format!("{name}/{}/part-{run}.parquet", partition_dir(year)), b)).collect()
            }
        }
    };
    let mut files = Vec::with_capacity(parts.len());
    for (path, batches) in parts {
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        let location = root.child(&path);
        let (schema, file) = (schema.clone(), location.display.clone());
        let bytes = tokio::task::spawn_blocking(move || encode(schema, &batches, &file))
            .await
            .map_err(|e| SnapshotError::Encode { file: location.display.clone(), message: e.to_string() })??;
        let sha256 = hex_sha256(&bytes);
        let size = bytes.len() as u64;
        location.put(bytes).await?;
        files.push(FileEntry { path, rows, bytes: size, sha256 });
    }
    let rows = files.iter().map(|f| f.rows).sum();
    Ok(ModelFiles { name: name.to_string(), rows, partitioned_by: column.map(|c| schema.field(c).name().clone()), sql_digest: String::new(), files })
}

fn encode(schema: SchemaRef, batches: &[RecordBatch], file: &str) -> Result<Bytes, SnapshotError> {
    let fail = |e: datafusion::parquet::errors::ParquetError| SnapshotError::Encode { file: file.to_string(), message: e.to_string() };
    // Snappy: the cheapest to decode of the codecs in the build, which is what a query pays on every scan.
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(props)).map_err(fail)?;
    for batch in batches {
        writer.write(batch).map_err(fail)?;
    }
    Ok(Bytes::from(writer.into_inner().map_err(fail)?))
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Delete the files of earlier runs: `part-*.parquet` files in a model directory of this snapshot or of the
/// one it replaces that the new manifest does not list. Nothing else at the root is touched.
async fn remove_replaced(
    root: &SourceLocation,
    existing: &[(String, u64)],
    manifest: &Manifest,
    previous: Option<&Manifest>,
) -> Result<(), SnapshotError> {
    let keep: HashSet<&str> = manifest.models.iter().flat_map(|m| m.files.iter().map(|f| f.path.as_str())).collect();
    let dirs: HashSet<&str> = manifest.models.iter().chain(previous.iter().flat_map(|p| p.models.iter())).map(|m| m.name.as_str()).collect();
    for (path, _) in existing {
        let in_model_dir = path.split('/').next().is_some_and(|d| dirs.contains(d));
        let ours = path.rsplit('/').next().is_some_and(|f| f.starts_with("part-") && f.ends_with(".parquet"));
        if in_model_dir && ours && !keep.contains(path.as_str()) {
            root.child(path).delete().await?;
        }
    }
    Ok(())
}
