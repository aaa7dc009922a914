//! The `raw` schema: every declared source as a table, loaded lazily on first use and then kept in memory.
//!
//! Lazy because a query that touches one table should not pay for parsing the 13 others; cached because raw
//! files are immutable for the life of a session. A failed load caches nothing, so a fixed file is picked up.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{MemTable, SchemaProvider, Session, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use tokio::sync::OnceCell;

use super::config::ResolvedSource;
use super::error::{Result, SourceError};
use super::location::{SourceLocation, SourceStamp};
use super::{DeclaredTypes, RawTable, SourceInput, SourceReader};

/// A decoded raw file, queryable. Scans are served from memory.
#[derive(Debug)]
pub struct SourceTable {
    pub name: String,
    pub format: &'static str,
    pub file: String,
    pub bytes: u64,
    pub data: RawTable,
    /// The file's stamp taken just before it was read (None when the store cannot tell): what was decoded,
    /// even if the file has changed since.
    pub stamp: Option<SourceStamp>,
    mem: MemTable,
}

impl SourceTable {
    fn new(name: &str, format: &'static str, file: &str, bytes: u64, data: RawTable, partitions: usize) -> Result<Self> {
        let mem =
            round_robin(data.schema.clone(), data.batches.clone(), partitions).map_err(|e| SourceError::file(file, format!("internal: {e}")))?;
        Ok(SourceTable { name: name.to_string(), format, file: file.to_string(), bytes, data, stamp: None, mem })
    }
}

/// Rows in memory, dealt round-robin over `partitions` so that scans use every core (raw tables here, and the
/// staging models built from them).
pub fn round_robin(schema: SchemaRef, batches: Vec<RecordBatch>, partitions: usize) -> datafusion::common::Result<MemTable> {
    let n = partitions.clamp(1, batches.len().max(1));
    let mut parts = vec![Vec::new(); n];
    for (i, b) in batches.into_iter().enumerate() {
        parts[i % n].push(b);
    }
    MemTable::try_new(schema, parts)
}

#[async_trait]
impl TableProvider for SourceTable {
    fn schema(&self) -> SchemaRef {
        self.data.schema.clone()
    }
    fn table_type(&self) -> TableType {
        TableType::Base
    }
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        self.mem.scan(state, projection, filters, limit).await
    }
}

#[derive(Debug)]
struct LazySource {
    name: String,
    format: &'static str,
    location: SourceLocation,
    reader: Box<dyn SourceReader>,
    declared: DeclaredTypes,
    loaded: OnceCell<Arc<SourceTable>>,
}

/// The schema provider for `raw`.
#[derive(Debug)]
pub struct RawSchema {
    sources: Vec<Arc<LazySource>>,
    by_lower_name: HashMap<String, usize>,
    partitions: usize,
}

impl RawSchema {
    pub fn new(resolved: Vec<ResolvedSource>, data_dir: &Path, partitions: usize) -> Result<Self> {
        let mut sources = Vec::with_capacity(resolved.len());
        let mut by_lower_name = HashMap::new();
        for (i, r) in resolved.into_iter().enumerate() {
            let location = SourceLocation::resolve(&r.decl.location, data_dir)?;
            by_lower_name.insert(r.decl.name.to_ascii_lowercase(), i);
            sources.push(Arc::new(LazySource {
                name: r.decl.name,
                format: r.format.name(),
                location,
                reader: r.reader,
                declared: r.declared,
                loaded: OnceCell::new(),
            }));
        }
        Ok(RawSchema { sources, by_lower_name, partitions })
    }

    pub fn names(&self) -> Vec<String> {
        self.sources.iter().map(|s| s.name.clone()).collect()
    }

    fn find(&self, name: &str) -> Option<&Arc<LazySource>> {
        self.sources.iter().find(|s| s.name == name).or_else(|| self.by_lower_name.get(&name.to_ascii_lowercase()).map(|&i| &self.sources[i]))
    }

    /// The table, decoding its file on first use.
    pub async fn load(&self, name: &str) -> Result<Option<Arc<SourceTable>>> {
        let Some(src) = self.find(name) else { return Ok(None) };
        let partitions = self.partitions;
        let table = src
            .loaded
            .get_or_try_init(|| async {
                // Stamped before reading: if the file changes in between, the stamp is the older one and the
                // snapshot cache sees a change on the next start (a spare rebuild, never stale rows served).
                let stamp = src.location.stamp().await.ok();
                let bytes = src.location.read().await?;
                let src2 = Arc::clone(src);
                // Decoding is CPU work: keep it off the async workers.
                tokio::task::spawn_blocking(move || {
                    let input = SourceInput { file: &src2.location.display, bytes: &bytes, declared: &src2.declared };
                    let data = src2.reader.read(&input)?;
                    let mut t = SourceTable::new(&src2.name, src2.format, &src2.location.display, bytes.len() as u64, data, partitions)?;
                    t.stamp = stamp;
                    Ok::<_, SourceError>(Arc::new(t))
                })
                .await
                .map_err(|e| SourceError::file(&src.location.display, format!("reader crashed: {e}")))?
            })
            .await?;
        Ok(Some(Arc::clone(table)))
    }

    /// The stamp of the source's file: the one taken when it was decoded if it has been, so that a cache key
    /// describes the rows this session actually holds; otherwise the file's current one.
    pub async fn stamp(&self, name: &str) -> Result<Option<SourceStamp>> {
        let Some(src) = self.find(name) else { return Ok(None) };
        if let Some(stamp) = src.loaded.get().and_then(|t| t.stamp.clone()) {
            return Ok(Some(stamp));
        }
        src.location.stamp().await.map(Some)
    }

    /// The sources decoded so far in this session (a cache hit decodes none).
    pub fn parsed(&self) -> Vec<String> {
        self.sources.iter().filter(|s| s.loaded.initialized()).map(|s| s.name.clone()).collect()
    }

    /// Load every source, two at a time (this machine class has 2 cores), failing on the first error.
    pub async fn load_all(&self) -> Result<Vec<Arc<SourceTable>>> {
        use futures::StreamExt;
        let names = self.names();
        let results: Vec<Result<Option<Arc<SourceTable>>>> = futures::stream::iter(names.iter())
            .map(|n| self.load(n))
            .buffered(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
            .collect()
            .await;
        results.into_iter().filter_map(|r| r.transpose()).collect()
    }
}

#[async_trait]
impl SchemaProvider for RawSchema {
    fn table_names(&self) -> Vec<String> {
        self.names()
    }
    async fn table(&self, name: &str) -> datafusion::common::Result<Option<Arc<dyn TableProvider>>> {
        match self.load(name).await {
            Ok(t) => Ok(t.map(|t| t as Arc<dyn TableProvider>)),
            Err(e) => Err(DataFusionError::External(Box::new(e))),
        }
    }
    fn table_exist(&self, name: &str) -> bool {
        self.find(name).is_some()
    }
}
