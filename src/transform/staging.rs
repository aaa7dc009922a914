//! The `staging` schema: each SQL model materialised in memory on first use, after the models it reads.
//!
//! Models run in a session of their own that sees the same raw tables, so building one never re-enters the
//! user's session; results are kept for the life of the session (import mode).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, MemTable, MemoryCatalogProvider, MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::prelude::SessionContext;

use super::models::{ModelSet, TransformError};
use super::template::{Dependency, render};
use crate::project::{CATALOG, RAW_SCHEMA, STAGING_SCHEMA, session_config};
use crate::sources::RawSchema;

pub struct StagingSchema {
    models: Arc<ModelSet>,
    runner: SessionContext,
    built: Arc<MemorySchemaProvider>,
    building: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for StagingSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagingSchema").field("models", &self.table_names()).finish()
    }
}

impl StagingSchema {
    pub fn new(models: ModelSet, raw: Arc<RawSchema>) -> Result<Self, DataFusionError> {
        let built = Arc::new(MemorySchemaProvider::new());
        let catalog = MemoryCatalogProvider::new();
        catalog.register_schema(RAW_SCHEMA, raw)?;
        catalog.register_schema(STAGING_SCHEMA, built.clone())?;
        let runner = SessionContext::new_with_config(session_config());
        runner.register_catalog(CATALOG, Arc::new(catalog));
        Ok(StagingSchema { models: Arc::new(models), runner, built, building: tokio::sync::Mutex::new(()) })
    }

    pub fn models(&self) -> &ModelSet {
        &self.models
    }

    /// The model's table, building it (and what it reads) if needed.
    pub async fn build(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>, DataFusionError> {
        if let Some(t) = self.built.table(name).await? {
            return Ok(Some(t));
        }
        if self.models.get(name).is_none() {
            return Ok(None);
        }
        let _one_at_a_time = self.building.lock().await;
        for m in self.models.closure(name) {
            if self.built.table_exist(&m.name) {
                continue;
            }
            let fail = |message: String| {
                DataFusionError::External(Box::new(TransformError { file: m.file.clone(), line: 0, column: 0, message }))
            };
            let sql = render(&m.sql, |d| match d {
                Dependency::Source(s) => format!("{CATALOG}.{RAW_SCHEMA}.\"{s}\""),
                Dependency::Model(n) => format!("{CATALOG}.{STAGING_SCHEMA}.\"{n}\""),
            })
            .map_err(|e| fail(e.message))?;
            let df = self.runner.sql(&sql).await.map_err(|e| fail(format!("model `{}`: {}", m.name, crate::errors::describe_error(&e))))?;
            let schema = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await.map_err(|e| fail(format!("model `{}`: {}", m.name, crate::errors::describe_error(&e))))?;
            let table = MemTable::try_new(schema, vec![batches])?;
            self.built.register_table(m.name.clone(), Arc::new(table))?;
        }
        self.built.table(name).await
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
