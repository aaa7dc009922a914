//! The `staging` schema: each SQL model materialised in memory on first use, after the models it reads.
//!
//! Models run in a session of their own that sees the same raw tables, so building one never re-enters the
//! user's session; results are kept for the life of the session (import mode). With a [`ModelCache`], a model
//! whose snapshot is fresh is read back from disk instead, and then neither its raw files nor the models
//! upstream of it are touched; a model built from SQL is written to the cache for the next start.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::prelude::SessionContext;

use super::cache::{CacheKey, Miss, ModelCache};
use super::models::{Model, ModelSet, TransformError};
use super::snapshot_table::SnapshotTable;
use super::template::{Dependency, render};
use crate::project::{CATALOG, RAW_SCHEMA, STAGING_SCHEMA, session_config};
use crate::sources::RawSchema;
use crate::sources::table::round_robin;

/// What happened to a model's snapshot, in order; tests and `refresh` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheEvent {
    /// Served from the cache.
    Hit { model: String, rows: u64 },
    /// Not served (absent, stale or corrupt): the model is built from SQL.
    Miss { model: String, why: Miss },
    /// Built from SQL and written to the cache.
    Written { model: String, rows: u64, bytes: u64 },
    /// Built from SQL, but the snapshot could not be written (the query still gets its rows).
    WriteFailed { model: String, message: String },
    /// A snapshot's rows read into memory (on the first scan of its table).
    Read { model: String, rows: u64 },
}

/// One line of `omnimarket refresh`.
#[derive(Debug, Clone)]
pub struct RefreshEntry {
    pub model: String,
    /// None: the snapshot was fresh and kept; Some: why it was rebuilt.
    pub rebuilt: Option<Miss>,
    pub rows: u64,
    pub elapsed: Duration,
}

pub struct StagingSchema {
    models: Arc<ModelSet>,
    raw: Arc<RawSchema>,
    runner: SessionContext,
    built: Arc<MemorySchemaProvider>,
    building: tokio::sync::Mutex<()>,
    cache: Option<Arc<ModelCache>>,
    events: Mutex<Vec<CacheEvent>>,
    quiet: AtomicBool,
    partitions: usize,
    /// Models whose snapshot proved unreadable this session: rebuilt from SQL, never served from the cache.
    distrusted: Mutex<HashSet<String>>,
    /// This schema, for the lazily read tables it registers (they hand an unreadable snapshot back to it).
    me: Weak<StagingSchema>,
}

impl std::fmt::Debug for StagingSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagingSchema").field("models", &self.table_names()).finish()
    }
}

impl StagingSchema {
    /// The schema, with a snapshot cache when `cache` is given.
    pub fn new(models: ModelSet, raw: Arc<RawSchema>, cache: Option<ModelCache>) -> Result<Arc<Self>, DataFusionError> {
        let built = Arc::new(MemorySchemaProvider::new());
        let catalog = MemoryCatalogProvider::new();
        catalog.register_schema(RAW_SCHEMA, raw.clone())?;
        catalog.register_schema(STAGING_SCHEMA, built.clone())?;
        let config = session_config();
        let partitions = config.target_partitions();
        let runner = SessionContext::new_with_config(config);
        runner.register_catalog(CATALOG, Arc::new(catalog));
        Ok(Arc::new_cyclic(|me| StagingSchema {
            models: Arc::new(models),
            raw,
            runner,
            built,
            building: tokio::sync::Mutex::new(()),
            cache: cache.map(Arc::new),
            events: Mutex::new(Vec::new()),
            quiet: AtomicBool::new(false),
            partitions,
            distrusted: Mutex::new(HashSet::new()),
            me: me.clone(),
        }))
    }

    pub fn models(&self) -> &ModelSet {
        &self.models
    }

    pub fn cache(&self) -> Option<&ModelCache> {
        self.cache.as_deref()
    }

    /// What the cache did so far.
    pub fn cache_events(&self) -> Vec<CacheEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Stop printing cache notes on stderr (a caller that reports them itself, like `refresh`).
    pub fn set_quiet(&self, quiet: bool) {
        self.quiet.store(quiet, Ordering::Relaxed);
    }

    pub(crate) fn record(&self, event: CacheEvent) {
        if !self.quiet.load(Ordering::Relaxed) {
            // Only the unexpected is worth a line: a first build (absent) or a hit is the normal course.
            match &event {
                CacheEvent::Miss { model, why: why @ (Miss::Stale(_) | Miss::Corrupt(_)) } => {
                    let file = self.cache.as_ref().map(|c| c.entry_path(model).display().to_string()).unwrap_or_default();
                    eprintln!("note: cache {file}: {why}; rebuilding `{model}`");
                }
                CacheEvent::WriteFailed { message, .. } => eprintln!("note: cache not written: {message}"),
                _ => {}
            }
        }
        if let Ok(mut e) = self.events.lock() {
            e.push(event);
        }
    }

    /// The model's table, building it (and what it reads) if needed. A model served from its snapshot is
    /// registered with its schema only; its rows are read on the first scan.
    pub async fn build(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        if let Some(t) = self.built.table(name).await? {
            return Ok(Some(t));
        }
        if self.models.get(name).is_none() {
            return Ok(None);
        }
        let _one_at_a_time = self.building.lock().await;
        self.build_locked(name).await
    }

    /// [`StagingSchema::build`] with the build lock held.
    async fn build_locked(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        if let Some(t) = self.built.table(name).await? {
            return Ok(Some(t));
        }
        let closure = self.models.closure(name);
        // Downstream first: a model served from the cache needs none of its inputs, so its upstream models are
        // only wanted if it is not. `closure` is in dependency order, so every model that wants `m` comes
        // after it and is decided by the time the reverse walk reaches `m`.
        let mut wanted: HashSet<&str> = HashSet::from([name]);
        for m in closure.iter().rev() {
            if !wanted.contains(m.name.as_str()) {
                continue;
            }
            if let Some(t) = self.built.table(&m.name).await? {
                // An input of a model about to run: the run scans it under this lock, so a lazily read
                // snapshot is read now, and rebuilt here if its rows are unreadable.
                let Some(lazy) = SnapshotTable::of(&t) else { continue };
                match lazy.load().await {
                    Ok(_) => continue,
                    Err(why) => {
                        self.distrust(&m.name, why);
                        self.built.deregister_table(&m.name)?;
                    }
                }
            }
            // The model asked for is read lazily; an input of a model that runs is read whole now.
            if !self.load_snapshot(m, m.name == name).await? {
                wanted.extend(m.models_used());
            }
        }
        for m in &closure {
            if wanted.contains(m.name.as_str()) && !self.built.table_exist(&m.name) {
                self.run_model(m).await?;
            }
        }
        self.built.table(name).await
    }

    /// A lazily read snapshot whose rows proved unreadable (`why`): the model rebuilt from SQL, once however
    /// many queries found it so.
    pub(crate) async fn rebuild_unreadable(&self, name: &str, why: Miss) -> Result<Arc<dyn TableProvider>, DataFusionError> {
        let _one_at_a_time = self.building.lock().await;
        if let Some(t) = self.built.table(name).await? {
            if SnapshotTable::of(&t).is_none() {
                return Ok(t);
            }
            self.distrust(name, why);
            self.built.deregister_table(name)?;
        }
        self.build_locked(name).await?.ok_or_else(|| DataFusionError::Plan(format!("model `{name}` vanished while it was rebuilt")))
    }

    /// Never serve `name` from its snapshot again this session; the note says why.
    fn distrust(&self, name: &str, why: Miss) {
        let first = self.distrusted.lock().map(|mut d| d.insert(name.to_string())).unwrap_or(true);
        if first {
            self.record(CacheEvent::Miss { model: name.to_string(), why });
        }
    }

    /// A digest of the model's snapshot key (its raw files' stamps, its SQL and its upstream models', the crate
    /// version), when the cache is on: what the rows depend on, without reading them.
    pub async fn fingerprint(&self, name: &str) -> Option<String> {
        let cache = self.cache.as_ref()?;
        self.models.get(name)?;
        let key = self.key_of(cache, name).await.ok()?;
        Some(format!("{:016x}", super::cache::digest(key.lines.join("\n").as_bytes())))
    }

    /// The key of a model from the stamps of the raw files it reads.
    async fn key_of(&self, cache: &ModelCache, name: &str) -> Result<CacheKey, crate::sources::SourceError> {
        let mut stamps = BTreeMap::new();
        for s in ModelCache::sources_of(&self.models, name) {
            if let Some(st) = self.raw.stamp(&s).await? {
                stamps.insert(s, st);
            }
        }
        Ok(cache.key(&self.models, name, &stamps))
    }

    /// Register the model from its snapshot if there is a fresh one; whether it did. `lazy`: check the header
    /// now and read the rows on the first scan; otherwise read them now (an unreadable snapshot is then a miss).
    async fn load_snapshot(&self, m: &Model, lazy: bool) -> Result<bool, DataFusionError> {
        let Some(cache) = self.cache.clone() else { return Ok(false) };
        if self.distrusted.lock().map(|d| d.contains(&m.name)).unwrap_or(true) {
            return Ok(false);
        }
        // A source that cannot be stamped (a missing file) cannot vouch for a snapshot: build, which reports
        // the real problem.
        let Ok(key) = self.key_of(&cache, &m.name).await else { return Ok(false) };
        let name = m.name.clone();
        let opened = tokio::task::spawn_blocking(move || cache.open(&name, &key)).await.map_err(|e| DataFusionError::External(Box::new(e)))?;
        let entry = match opened {
            Ok(entry) => entry,
            Err(why) => {
                self.record(CacheEvent::Miss { model: m.name.clone(), why });
                return Ok(false);
            }
        };
        let rows = entry.rows;
        let table = Arc::new(SnapshotTable::new(m.name.clone(), entry, self.partitions, self.me.clone()));
        if !lazy && let Err(why) = table.load().await {
            self.distrust(&m.name, why);
            return Ok(false);
        }
        self.built.register_table(m.name.clone(), table)?;
        self.record(CacheEvent::Hit { model: m.name.clone(), rows });
        Ok(true)
    }

    /// Run the model's SQL (its inputs are registered by now), register the rows and write the snapshot.
    async fn run_model(&self, m: &Model) -> Result<(), DataFusionError> {
        let fail = |message: String| DataFusionError::External(Box::new(TransformError { file: m.file.clone(), line: 0, column: 0, message }));
        let sql = render(&m.sql, |d| match d {
            Dependency::Source(s) => format!("{CATALOG}.{RAW_SCHEMA}.\"{s}\""),
            Dependency::Model(n) => format!("{CATALOG}.{STAGING_SCHEMA}.\"{n}\""),
        })
        .map_err(|e| fail(e.message))?;
        let explain = |e: DataFusionError| fail(format!("model `{}`: {}", m.name, crate::errors::describe_error(&e)));
        let df = self.runner.sql(&sql).await.map_err(explain)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(explain)?;
        self.built.register_table(m.name.clone(), Arc::new(round_robin(schema.clone(), batches.clone(), self.partitions)?))?;
        if let Some(cache) = self.cache.clone() {
            // Keyed after the build: the stamps are then those of the files this session decoded.
            let event = match self.key_of(&cache, &m.name).await {
                Ok(key) => {
                    let name = m.name.clone();
                    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
                    let stored = tokio::task::spawn_blocking(move || cache.store(&name, &key, &schema, &batches)).await;
                    match stored {
                        Ok(Ok(bytes)) => CacheEvent::Written { model: m.name.clone(), rows, bytes },
                        Ok(Err(e)) => CacheEvent::WriteFailed { model: m.name.clone(), message: e.to_string() },
                        Err(e) => CacheEvent::WriteFailed { model: m.name.clone(), message: e.to_string() },
                    }
                }
                Err(e) => CacheEvent::WriteFailed { model: m.name.clone(), message: e.to_string() },
            };
            self.record(event);
        }
        Ok(())
    }

    /// Rebuild every model whose snapshot is not fresh (absent, stale or corrupt), in dependency order, and
    /// keep the others without reading them. `progress` is called once per model, after it is decided.
    pub async fn refresh(&self, mut progress: impl FnMut(&RefreshEntry)) -> Result<Vec<RefreshEntry>, DataFusionError> {
        let Some(cache) = self.cache.clone() else {
            return Err(DataFusionError::Plan("the snapshot cache is off (--no-cache): nothing to refresh".into()));
        };
        let mut out = Vec::with_capacity(self.models.models.len());
        for m in &self.models.models {
            let started = Instant::now();
            let verdict = match self.key_of(&cache, &m.name).await {
                Ok(key) => {
                    let (c, name) = (cache.clone(), m.name.clone());
                    tokio::task::spawn_blocking(move || c.verify(&name, &key)).await.map_err(|e| DataFusionError::External(Box::new(e)))?
                }
                // The build below reports the unreadable source.
                Err(e) => Err(Miss::Stale(e.to_string())),
            };
            let entry = match verdict {
                Ok(rows) => RefreshEntry { model: m.name.clone(), rebuilt: None, rows, elapsed: started.elapsed() },
                Err(why) => {
                    let table = self.build(&m.name).await?;
                    let rows = match table {
                        Some(t) => self.rows_of(t).await?,
                        None => 0,
                    };
                    RefreshEntry { model: m.name.clone(), rebuilt: Some(why), rows, elapsed: started.elapsed() }
                }
            };
            progress(&entry);
            out.push(entry);
        }
        Ok(out)
    }

    /// The model's schema and rows (built or read from its snapshot first): what `refresh --to` writes.
    pub async fn rows(&self, name: &str) -> Result<(SchemaRef, Vec<RecordBatch>), DataFusionError> {
        let table = self.build(name).await?.ok_or_else(|| DataFusionError::Plan(format!("no model `{name}`")))?;
        let df = self.runner.read_table(table)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        Ok((schema, df.collect().await?))
    }

    async fn rows_of(&self, t: Arc<dyn TableProvider>) -> Result<u64, DataFusionError> {
        let batches = self.runner.read_table(t)?.count().await?;
        Ok(batches as u64)
    }
}

#[async_trait]
impl SchemaProvider for StagingSchema {
    fn table_names(&self) -> Vec<String> {
        self.models.models.iter().map(|m| m.name.clone()).collect()
    }
    async fn table(&self, name: &str) -> datafusion::common::Result<Option<Arc<dyn TableProvider>>> {
        self.build(name).await
    }
    fn table_exist(&self, name: &str) -> bool {
        self.models.get(name).is_some()
    }
}
