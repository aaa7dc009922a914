//! A model served from its snapshot, read on first scan: opening a project, binding the semantic model and
//! planning a query only read the snapshots' headers (schema and row count), so a query that touches one
//! table reads one table's rows, whatever the size of the others.
//!
//! The rows are read (checksum checked) once, on the first scan, and kept for the life of the session. A
//! snapshot whose rows turn out corrupt then is handed back to the staging schema, which rebuilds the model
//! from SQL and serves that instead.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use tokio::sync::OnceCell;

use super::cache::{Entry, Miss};
use super::staging::{CacheEvent, StagingSchema};
use crate::sources::table::round_robin;

pub struct SnapshotTable {
    model: String,
    entry: Arc<Entry>,
    partitions: usize,
    /// The rows, or why they could not be read. Reading never waits on the staging schema's build lock, so
    /// a build that needs these rows cannot deadlock with a query that found them corrupt.
    rows: OnceCell<Result<Arc<MemTable>, Miss>>,
    staging: Weak<StagingSchema>,
}

impl std::fmt::Debug for SnapshotTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotTable").field("model", &self.model).field("rows", &self.entry.rows).finish()
    }
}

impl SnapshotTable {
    /// `table` as a lazily read snapshot, if it is one.
    pub fn of(table: &Arc<dyn TableProvider>) -> Option<&SnapshotTable> {
        let any: &dyn std::any::Any = table.as_ref();
        any.downcast_ref::<SnapshotTable>()
    }

    pub fn new(model: String, entry: Entry, partitions: usize, staging: Weak<StagingSchema>) -> Self {
        SnapshotTable { model, entry: Arc::new(entry), partitions, rows: OnceCell::new(), staging }
    }

    /// The rows in memory, read on the first call.
    pub async fn load(&self) -> Result<Arc<MemTable>, Miss> {
        self.rows
            .get_or_init(|| async {
                let entry = self.entry.clone();
                let read = tokio::task::spawn_blocking(move || entry.read()).await;
                let batches = read.map_err(|e| Miss::Corrupt(format!("the read was interrupted: {e}")))??;
                if let Some(staging) = self.staging.upgrade() {
                    staging.record(CacheEvent::Read { model: self.model.clone(), rows: self.entry.rows });
                }
                round_robin(self.entry.schema.clone(), batches, self.partitions)
                    .map(Arc::new)
                    .map_err(|e| Miss::Corrupt(format!("the rows do not fit the schema: {e}")))
            })
            .await
            .clone()
    }
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        self.entry.schema.clone()
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
        match self.load().await {
            Ok(table) => table.scan(state, projection, filters, limit).await,
            Err(why) => {
                let staging = self.staging.upgrade().ok_or_else(|| DataFusionError::Plan(format!("`{}`: the session was closed", self.model)))?;
                let rebuilt = staging.rebuild_unreadable(&self.model, why).await?;
                rebuilt.scan(state, projection, filters, limit).await
            }
        }
    }
}
