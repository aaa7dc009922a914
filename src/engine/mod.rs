//! The engine every front end shares (CLI, shell, Flight SQL server, HTTP API): one project session, the
//! semantic model, and one entry point, [`Engine::sql`], that takes the user's SQL, plain or semantic, and
//! returns a DataFrame; [`Engine::execute`] and [`Engine::collect`] run it. The model is bound to the data
//! (columns, keys, BLANK members) on the first semantic query, so plain SQL over one source never loads the
//! others.
//!
//! Every client is treated as hostile: SQL passes the read-only [`guard`] first, plans in a session of its own
//! (nothing one query sets is seen by another), and plans and runs on the query [`runtime`] under a time limit.

pub mod cooperative;
pub mod guard;
pub mod runtime;
pub mod shared;

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Visit, visit_relations};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use tokio::sync::OnceCell;

use crate::lowering::{BoundModel, bind_model as bind};
use crate::model::load::load_project;
use crate::model::{Model, ModelError};
use crate::project::{Project, ProjectError};
use crate::query::Predicate;
use crate::query::catalog::SemanticSchema;
use crate::query::dax::is_dax;
use crate::query::plan::compile;
use crate::query::surface::SEMANTIC_SCHEMA;
use crate::query::surface::{is_model_table, rewrite_with_filters};
use crate::sources::RawSchema;

/// The default `--query-timeout`: long enough for any dashboard at scale 100, short enough that a runaway
/// query does not hold a core for the afternoon.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    raw: Option<Arc<RawSchema>>,
    model: Arc<Model>,
    bound: Arc<OnceCell<Arc<BoundModel>>>,
    timeout: Duration,
    running: runtime::RunningQueries,
}

fn plan_error(message: impl Into<String>) -> DataFusionError {
    DataFusionError::Plan(message.into())
}

impl Engine {
    /// Opens the project: sources declared, SQL models and the semantic model checked; no data is read yet.
    pub fn open(project: &Project) -> Result<Engine, ProjectError> {
        let model = load_project(&project.dir)?;
        let (ctx, raw) = project.session()?;
        Ok(Engine {
            ctx,
            raw: Some(raw),
            model: Arc::new(model),
            bound: Arc::new(OnceCell::new()),
            timeout: DEFAULT_QUERY_TIMEOUT,
            running: runtime::RunningQueries::default(),
        }
        .with_semantic_schema())
    }

    /// An engine over a session the caller prepared (tests, embedding): the model's table sources must resolve
    /// in `ctx`.
    pub fn with_context(ctx: SessionContext, model: Model) -> Engine {
        Engine {
            ctx,
            raw: None,
            model: Arc::new(model),
            bound: Arc::new(OnceCell::new()),
            timeout: DEFAULT_QUERY_TIMEOUT,
            running: runtime::RunningQueries::default(),
        }
        .with_semantic_schema()
    }

    /// The same engine with another time limit per query (planning, and each execution).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// This engine's queries planning or running now (a cancelled one leaves when its work has stopped).
    pub fn running_queries(&self) -> usize {
        self.running.count()
    }

    /// Registers the `semantic` schema (the model table, for metadata) in the `omnimarket` catalog, and makes
    /// joins yield (see [`cooperative`]) and repeated aggregations run once (see [`shared`]) in the session user queries are planned from.
    fn with_semantic_schema(mut self) -> Self {
        let state = SessionStateBuilder::new_from_existing(self.ctx.state())
            .with_physical_optimizer_rule(Arc::new(cooperative::YieldInsideJoins))
            .with_query_planner(Arc::new(shared::SharingQueryPlanner))
            .build();
        self.ctx = SessionContext::new_with_state(state);
        self.ctx.add_analyzer_rule(Arc::new(shared::ShareRepeatedAggregates));
        crate::query::udf::register(&self.ctx);
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

    /// The SQL that runs for `sql`: semantic blocks compiled, plain SQL unchanged (`None`). Checked by the
    /// guard and compiled on the query runtime, like [`Engine::sql`].
    pub async fn compile(&self, sql: &str) -> Result<Option<String>, DataFusionError> {
        let (engine, sql) = (self.clone(), sql.to_string());
        runtime::run(self.timeout, &self.running, async move {
            let dax = is_dax(&sql);
            if !dax {
                guard::check(&sql)?;
            }
            let compiled = engine.compile_with_filters(&sql, &[]).await?;
            if dax && let Some(c) = &compiled {
                guard::check(c)?;
            }
            Ok(compiled)
        })
        .await
    }

    /// Compiles a DAX query (`DEFINE ... EVALUATE ...`): one SQL statement per EVALUATE, with the DAX names
    /// of its columns. Binding recurses along the query: callers run it on the query runtime (its large stack),
    /// as [`Engine::dax`] and [`Engine::compile`] do.
    async fn compile_dax(&self, text: &str) -> Result<Vec<crate::query::dax::Compiled>, DataFusionError> {
        let bound = self.bound_model().await.map_err(|e| plan_error(e.to_string()))?;
        crate::query::dax::compile(&bound, text).map_err(|e| plan_error(e.to_string()))
    }

    /// Plans each EVALUATE of a DAX query, in order (columns named as DAX names them: `Table[Column]`, `[Name]`).
    pub async fn dax(&self, text: &str) -> Result<Vec<DataFrame>, DataFusionError> {
        let (engine, text) = (self.clone(), text.to_string());
        runtime::run(self.timeout, &self.running, async move {
            let compiled = engine.compile_dax(&text).await?;
            let mut out = Vec::new();
            for c in compiled {
                guard::check(&c.sql)?;
                let session = SessionContext::new_with_state(engine.ctx.state());
                out.push(session.sql_with_options(&c.sql, guard::read_only_options()).await?);
            }
            Ok(out)
        })
        .await
    }

    /// As [`Engine::compile`], with `filters` (a page's slicers) added to every semantic block. A DAX query
    /// (one EVALUATE) compiles to its SQL.
    pub async fn compile_with_filters(&self, sql: &str, filters: &[Predicate]) -> Result<Option<String>, DataFusionError> {
        if is_dax(sql) {
            if !filters.is_empty() {
                return Err(plan_error(
                    "page filters do not apply to DAX queries: put them in the query (CALCULATETABLE or SUMMARIZECOLUMNS filters)",
                ));
            }
            let mut compiled = self.compile_dax(sql).await?;
            if compiled.len() != 1 {
                return Err(plan_error(format!(
                    "this DAX query has {} EVALUATE statements and one result is expected here; send them one at a time (`omnimarket query` and POST /api/dax return one result per EVALUATE)",
                    compiled.len()
                )));
            }
            return Ok(Some(compiled.remove(0).sql));
        }
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

    /// Plans the user's SQL with `filters` added to the filter context of every semantic block (slicers). The
    /// SQL is checked by the [`guard`], then planned on the query runtime, in a session of its own.
    pub async fn sql_with_filters(&self, sql: &str, filters: &[Predicate]) -> Result<DataFrame, DataFusionError> {
        let (engine, sql, filters) = (self.clone(), sql.to_string(), filters.to_vec());
        runtime::run(self.timeout, &self.running, async move {
            // DAX is not SQL: the guard checks the SQL it compiles to.
            let dax = is_dax(&sql);
            if !dax {
                guard::check(&sql)?;
            }
            let compiled = engine.compile_with_filters(&sql, &filters).await?;
            let text = compiled.as_deref().unwrap_or(&sql);
            if dax {
                guard::check(text)?;
            }
            // A session of its own, from the shared one: same tables and settings, but whatever this query's
            // plan carries (settings included) is not seen by any other.
            let session = SessionContext::new_with_state(engine.ctx.state());
            session.sql_with_options(text, guard::read_only_options()).await
        })
        .await
    }

    /// Runs a planned query on the query runtime and streams its batches; dropping the stream cancels it.
    pub fn execute(&self, df: DataFrame) -> runtime::QueryStream {
        runtime::stream(self.timeout, &self.running, async move { df.execute_stream().await })
    }

    /// Runs a planned query to the end on the query runtime.
    pub async fn collect(&self, df: DataFrame) -> Result<Vec<RecordBatch>, DataFusionError> {
        runtime::run(self.timeout, &self.running, async move { df.collect().await }).await
    }

    /// Plans and runs `sql` (with slicer `filters`): the result's schema and batches.
    pub async fn query(&self, sql: &str, filters: &[Predicate]) -> Result<(SchemaRef, Vec<RecordBatch>), DataFusionError> {
        let df = self.sql_with_filters(sql, filters).await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        Ok((schema, self.collect(df).await?))
    }
}

struct NoopVisitor;
impl datafusion::sql::sqlparser::ast::Visitor for NoopVisitor {
    type Break = ();
}
