//! `omnimarket refresh --to`: the staging models written as a Parquet snapshot (layout in the module docs).

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

use super::SnapshotError;
use super::manifest::{FORMAT, FileEntry, MANIFEST_FILE, Manifest, ModelFiles};
use std::sync::Arc;

use super::partition::{YearOf, partition_dir, split_by_year, years_by_key};
use crate::model::Model;
use crate::sources::location::SourceLocation;
use crate::transform::StagingSchema;

/// Write every model of `staging` (building those not built yet) below `root`, then the manifest, then delete
/// the files of the run it replaces. The models in `facts` are partitioned by year as their entry says.
/// `progress` is called after each model.
pub async fn write_snapshot(
    staging: &StagingSchema,
    root: &SourceLocation,
    facts: &HashMap<String, YearOf>,
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
        let written = write_model(root, &model.name, &run, schema, batches, facts.get(&model.name)).await?;
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

/// How each fact's snapshot is partitioned: the models behind tables that the date table dates (the many side
/// of a one-column relationship from it) get the year of the date table's row their key points to, as the
/// model's time intelligence dates them (a return by its return date, a session by its day).
pub async fn fact_partitioning(model: &Model, staging: &StagingSchema) -> Result<HashMap<String, YearOf>, SnapshotError> {
    let staging_model = |table: usize| model.tables[table].source.strip_prefix("staging.").map(str::to_string);
    let Some(date_model) = staging_model(model.date_table) else { return Ok(HashMap::new()) };
    let mut by_key: HashMap<String, Arc<HashMap<i64, i32>>> = HashMap::new();
    let mut out = HashMap::new();
    // Active relationships first: they are the ones that date a row by default.
    let mut dated: Vec<_> = model.relationships.iter().filter(|r| r.one == model.date_table && r.many != model.date_table).collect();
    dated.sort_by_key(|r| !r.active);
    for r in dated {
        let (Some(fact), [key], [date_key]) = (staging_model(r.many), r.many_columns.as_slice(), r.one_columns.as_slice()) else { continue };
        if out.contains_key(&fact) {
            continue;
        }
        let years = match by_key.get(date_key) {
            Some(y) => y.clone(),
            None => {
                let fail = |message: String| SnapshotError::Model { model: date_model.clone(), message };
                let (_, batches) = staging.rows(&date_model).await.map_err(|e| fail(crate::errors::describe_error(&e)))?;
                let years = Arc::new(years_by_key(&batches, date_key, &model.date_column).map_err(|e| fail(e.to_string()))?);
                by_key.insert(date_key.clone(), years.clone());
                years
            }
        };
        out.insert(fact, YearOf::DateKey { column: key.clone(), years });
    }
    Ok(out)
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
    year_of: Option<&YearOf>,
) -> Result<ModelFiles, SnapshotError> {
    let parts: Vec<(String, Vec<RecordBatch>)> = match year_of {
        None => vec![(format!("{name}/part-{run}.parquet"), batches)],
        Some(year_of) => {
            let years = split_by_year(&batches, year_of).map_err(|e| SnapshotError::Model { model: name.to_string(), message: e.to_string() })?;
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
    Ok(ModelFiles { name: name.to_string(), rows, partitioned_by: year_of.map(YearOf::describe), sql_digest: String::new(), files })
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

/// Delete the files of runs older than the one replaced: `part-*.parquet` files in a model directory of this
/// snapshot or of the one it replaces that neither manifest lists. The replaced run's files stay until the next
/// refresh, so that a server that opened it keeps answering until it is restarted. Nothing else at the root is
/// touched.
async fn remove_replaced(
    root: &SourceLocation,
    existing: &[(String, u64)],
    manifest: &Manifest,
    previous: Option<&Manifest>,
) -> Result<(), SnapshotError> {
    let keep: HashSet<&str> =
        manifest.models.iter().chain(previous.iter().flat_map(|p| p.models.iter())).flat_map(|m| m.files.iter().map(|f| f.path.as_str())).collect();
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
