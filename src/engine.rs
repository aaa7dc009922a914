//! The engine every front end shares (CLI, shell, Flight SQL server, HTTP API): one project session and one
//! entry point, [`Engine::sql`], that takes the user's SQL, plain or semantic, and returns a DataFrame.

use std::sync::Arc;

use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use crate::project::{Project, ProjectError};
use crate::sources::RawSchema;

#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    raw: Arc<RawSchema>,
}

impl Engine {
    /// Opens the project: sources declared, models checked; nothing is parsed until a query needs it.
    pub fn open(project: &Project) -> Result<Engine, ProjectError> {
        let (ctx, raw) = project.session()?;
        Ok(Engine { ctx, raw })
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The names of the raw tables, for "did you mean" on an unknown table.
    pub fn raw_table_names(&self) -> Vec<String> {
        self.raw.names()
    }

    /// Plans the user's SQL. Semantic queries (over the `omnimarket` model table) are compiled to plain SQL
    /// first; everything else runs as written.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame, DataFusionError> {
        self.ctx.sql(sql).await
    }
}
