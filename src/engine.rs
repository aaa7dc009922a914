//! The engine every front end shares (CLI, shell, Flight SQL server, HTTP API): one project session, the
//! semantic model, and one entry point, [`Engine::sql`], that takes the user's SQL, plain or semantic, and
//! returns a DataFrame. The model is bound to the data (columns, keys, BLANK members) on the first semantic
//! query, so plain SQL over one source never loads the others.

use std::sync::Arc;

use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Visit, visit_relations};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use tokio::sync::OnceCell;

use crate::model::bind::{BoundModel, bind};
use crate::model::load::load_project;
use crate::model::{Model, ModelError};
use crate::project::{Project, ProjectError};
use crate::query::plan::compile;
use crate::query::Predicate;
use crate::query::catalog::SemanticSchema;
use crate::query::surface::SEMANTIC_SCHEMA;
use crate::query::surface::{is_model_table, rewrite_with_filters};
use crate::sources::RawSchema;

#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    raw: Option<Arc<RawSchema>>,
    model: Arc<Model>,
    bound: Arc<OnceCell<Arc<BoundModel>>>,
}

fn plan_error(message: impl Into<String>) -> DataFusionError {
    DataFusionError::Plan(message.into())
}

impl Engine {
    /// Opens the project: sources declared, SQL models and the semantic model checked; no data is read yet.
    pub fn open(project: &Project) -> Result<Engine, ProjectError> {
        let model = load_project(&project.dir)?;
        let (ctx, raw) = project.session()?;
        Ok(Engine { ctx, raw: Some(raw), model: Arc::new(model), bound: Arc::new(OnceCell::new()) }.with_semantic_schema())
    }

    /// An engine over a session the caller prepared (tests, embedding): the model's table sources must resolve
    /// in `ctx`.
    pub fn with_context(ctx: SessionContext, model: Model) -> Engine {
        Engine { ctx, raw: None, model: Arc::new(model), bound: Arc::new(OnceCell::new()) }.with_semantic_schema()
    }

    /// Registers the `semantic` schema (the model table, for metadata) in the `omnimarket` catalog.
    fn with_semantic_schema(self) -> Self {
        if let Some(catalog) = self.ctx.catalog(crate::project::CATALOG) {
            let schema = SemanticSchema::new(&self.ctx, self.model.clone(), self.bound.clone());
            let _ = catalog.register_schema(SEMANTIC_SCHEMA, Arc::new(schema));
        }
        self
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The names of the raw tables, for "did you mean" on an unknown table.
    pub fn raw_table_names(&self) -> Vec<String> {
        self.raw.as_ref().map(|r| r.names()).unwrap_or_default()
    }

    /// The model bound to the data (done once, on first use).
    pub async fn bound_model(&self) -> Result<Arc<BoundModel>, ModelError> {
        self.bound.get_or_try_init(|| bind((*self.model).clone(), &self.ctx)).await.cloned()
    }

    /// Does the SQL read the model's virtual table?
    pub fn is_semantic(&self, sql: &str) -> bool {
        let Ok(statements) = Parser::parse_sql(&GenericDialect {}, sql) else { return false };
        let mut found = false;
        for s in &statements {
            let _ = visit_relations(s, |name| {
                if is_model_table(name, &self.model.name) {
                    found = true;
                }
                std::ops::ControlFlow::<()>::Continue(())
            });
            let _ = s.visit(&mut NoopVisitor);
        }
        found
    }

    /// The SQL that runs for `sql`: semantic blocks compiled, plain SQL unchanged (`None`).
    pub async fn compile(&self, sql: &str) -> Result<Option<String>, DataFusionError> {
        self.compile_with_filters(sql, &[]).await
    }

    /// As [`Engine::compile`], with `filters` (a page's slicers) added to every semantic block.
    pub async fn compile_with_filters(&self, sql: &str, filters: &[Predicate]) -> Result<Option<String>, DataFusionError> {
        if !self.is_semantic(sql) {
            return Ok(None);
        }
        let bound = self.bound_model().await.map_err(|e| plan_error(e.to_string()))?;
        let mut compile_block = |q: &crate::query::SemanticQuery| compile(&bound, q).map_err(|e| e.0);
        rewrite_with_filters(sql, &bound.model, filters, &mut compile_block).map_err(|e| plan_error(e.0))
    }

    /// Plans the user's SQL, plain or semantic.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame, DataFusionError> {
        self.sql_with_filters(sql, &[]).await
    }

    /// Plans the user's SQL with `filters` added to the filter context of every semantic block (slicers).
    pub async fn sql_with_filters(&self, sql: &str, filters: &[Predicate]) -> Result<DataFrame, DataFusionError> {
        match self.compile_with_filters(sql, filters).await? {
            Some(compiled) => self.ctx.sql(&compiled).await,
            None => self.ctx.sql(sql).await,
        }
    }
}

struct NoopVisitor;
impl datafusion::sql::sqlparser::ast::Visitor for NoopVisitor {
    type Break = ();
}
