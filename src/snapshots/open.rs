//! A snapshot served as the `staging` schema: one Parquet listing table per model over exactly the files the
//! manifest lists. The manifest is read on first use; a model's files are checked (present, of the listed size)
//! when its table is first asked for, so a truncated or missing file is an error naming it, not wrong rows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use super::SnapshotError;
use super::manifest::{MANIFEST_FILE, Manifest, ModelFiles};
use super::write::{hex_sha256, sql_digest};
use crate::sources::location::SourceLocation;
use crate::transform::ModelSet;

/// Files checked at once (HEAD requests on S3).
const CONCURRENT_CHECKS: usize = 16;

pub struct SnapshotSchema {
    root: SourceLocation,
    models: Arc<ModelSet>,
    /// Reads Parquet footers to learn a table's schema; it can reach the root's object store.
    inspector: SessionContext,
    manifest: OnceCell<Arc<Manifest>>,
    tables: Mutex<HashMap<String, Arc<dyn TableProvider>>>,
    opening: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SnapshotSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotSchema").field("root", &self.root.display).finish()
    }
}

impl SnapshotSchema {
    /// The snapshot at `root`, for a project whose models are `models`; `ctx` (the query session) is given
    /// access to the root's object store.
    pub fn new(root: SourceLocation, models: ModelSet, ctx: &SessionContext) -> Result<Arc<Self>, SnapshotError> {
        root.register_store(ctx)?;
        let inspector = SessionContext::new_with_config(crate::project::session_config());
        root.register_store(&inspector)?;
        Ok(Arc::new(SnapshotSchema {
            root,
            models: Arc::new(models),
            inspector,
            manifest: OnceCell::new(),
            tables: Mutex::new(HashMap::new()),
            opening: tokio::sync::Mutex::new(()),
        }))
    }

    /// The manifest, read and checked once; every model of the project must be in it.
    pub async fn manifest(&self) -> Result<Arc<Manifest>, SnapshotError> {
        self.manifest
            .get_or_try_init(|| async {
                let manifest = read_manifest(&self.root).await?;
                for m in &self.models.models {
                    match manifest.model(&m.name) {
                        None => {
                            return Err(SnapshotError::Invalid {
                                file: self.root.child(MANIFEST_FILE).display,
                                message: format!(
                                    "no model `{}`: the snapshot was written by another project; write it again with `omnimarket refresh --to`",
                                    m.name
                                ),
                            });
                        }
                        Some(entry) if entry.sql_digest != sql_digest(&m.sql) => {
                            eprintln!("note: snapshot {}: model `{}` was built from other SQL than {} holds now", self.root.display, m.name, m.file);
                        }
                        Some(_) => {}
                    }
                }
                Ok(Arc::new(manifest))
            })
            .await
            .cloned()
    }

    async fn open_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, SnapshotError> {
        if let Some(t) = self.tables.lock().ok().and_then(|t| t.get(name).cloned()) {
            return Ok(Some(t));
        }
        if self.models.get(name).is_none() {
            return Ok(None);
        }
        let _one_at_a_time = self.opening.lock().await;
        if let Some(t) = self.tables.lock().ok().and_then(|t| t.get(name).cloned()) {
            return Ok(Some(t));
        }
        let manifest = self.manifest().await?;
        let Some(entry) = manifest.model(name) else { return Ok(None) };
        check_sizes(&self.root, entry).await?;
        let table = listing_table(&self.root, entry, &self.inspector).await?;
        if let Ok(mut tables) = self.tables.lock() {
            tables.insert(name.to_string(), table.clone());
        }
        Ok(Some(table))
    }
}

async fn read_manifest(root: &SourceLocation) -> Result<Manifest, SnapshotError> {
    let location = root.child(MANIFEST_FILE);
    let bytes = location.read().await.map_err(|e| match e {
        crate::sources::SourceError::Io { file, message } if message.starts_with("no such file") => {
            SnapshotError::Invalid { file, message: "no such file: not a snapshot (write one with `omnimarket refresh --to`)".into() }
        }
        other => other.into(),
    })?;
    Manifest::parse(&location.display, &bytes)
}

/// Every file of the model is there with the size the manifest gives.
async fn check_sizes(root: &SourceLocation, entry: &ModelFiles) -> Result<(), SnapshotError> {
    // Owned (location, size) pairs: the checks run as 'static futures.
    let files: Vec<(SourceLocation, u64)> = entry.files.iter().map(|f| (root.child(&f.path), f.bytes)).collect();
    futures::stream::iter(files)
        .map(|(location, bytes)| async move {
            let meta = location.head().await?;
            if meta.size != bytes {
                return Err(SnapshotError::Invalid {
                    file: location.display,
                    message: format!(
                        "{} bytes, the manifest says {bytes}: the snapshot is damaged; write it again with `omnimarket refresh --to`",
                        meta.size
                    ),
                });
            }
            Ok(())
        })
        .buffer_unordered(CONCURRENT_CHECKS)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}

async fn listing_table(root: &SourceLocation, entry: &ModelFiles, inspector: &SessionContext) -> Result<Arc<dyn TableProvider>, SnapshotError> {
    let invalid = |message: String| SnapshotError::Model { model: entry.name.clone(), message };
    let urls = entry
        .files
        .iter()
        .map(|f| ListingTableUrl::parse(root.child(&f.path).url()).map_err(|e| invalid(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let state = inspector.state();
    let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
    let options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .infer_schema(&state)
        .await
        .map_err(|e| invalid(format!("cannot read the Parquet schema: {}", crate::errors::describe_error(&e))))?;
    let table = ListingTable::try_new(config).map_err(|e| invalid(e.to_string()))?;
    Ok(Arc::new(table))
}

#[async_trait]
impl SchemaProvider for SnapshotSchema {
    fn table_names(&self) -> Vec<String> {
        self.models.models.iter().map(|m| m.name.clone()).collect()
    }
    async fn table(&self, name: &str) -> datafusion::common::Result<Option<Arc<dyn TableProvider>>> {
        self.open_table(name).await.map_err(DataFusionError::from)
    }
    fn table_exist(&self, name: &str) -> bool {
        self.models.get(name).is_some()
    }
}

/// One file's verdict from [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    pub file: String,
    pub why: String,
}

/// Re-read every file of the snapshot at `root` and compare its SHA-256 with the manifest's; the damaged ones.
pub async fn verify(root: &SourceLocation) -> Result<(Manifest, Vec<Damaged>), SnapshotError> {
    let manifest = read_manifest(root).await?;
    let files: Vec<(SourceLocation, u64, String)> =
        manifest.models.iter().flat_map(|m| m.files.iter()).map(|f| (root.child(&f.path), f.bytes, f.sha256.clone())).collect();
    let damaged: Vec<Option<Damaged>> = futures::stream::iter(files)
        .map(|(location, size, sha256)| async move {
            let verdict = match location.read().await {
                Err(e) => Some(e.to_string()),
                Ok(bytes) if bytes.len() as u64 != size => Some(format!("{} bytes, the manifest says {size}", bytes.len())),
                Ok(bytes) => {
                    let sum = tokio::task::spawn_blocking(move || hex_sha256(&bytes)).await.unwrap_or_default();
                    (sum != sha256).then(|| "SHA-256 differs from the manifest's".to_string())
                }
            };
            verdict.map(|why| Damaged { file: location.display, why })
        })
        .buffered(2)
        .collect()
        .await;
    Ok((manifest, damaged.into_iter().flatten().collect()))
}
