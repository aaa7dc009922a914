//! The pg_catalog Postgres clients read on connect and for their table lists (psql's `\d`, JDBC's
//! `DatabaseMetaData`, psqlODBC's `SQLTables`/`SQLColumns`): datafusion-pg-catalog's tables over the
//! engine's catalog, with one addition: `pg_description` carries the semantic table's column comments (each
//! measure's description, folder and format; each attribute's source column), so a BI tool shows them where
//! it shows a database's comments.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{MemTable, SchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog;

use crate::engine::Engine;
use crate::project::CATALOG;
use crate::query::catalog::{DESCRIPTION_KEY, FOLDER_KEY, FORMAT_KEY, KIND_KEY, SOURCE_KEY};
use crate::query::surface::SEMANTIC_SCHEMA;

/// `pg_class`'s oid in Postgres: pg_description's `classoid` for comments on tables and columns.
const PG_CLASS_OID: i64 = 1259;

/// The engine's session, for reading the semantic table's columns (weak: the catalog lives inside it).
type SessionHandle = Arc<dyn Fn() -> Option<SessionContext> + Send + Sync>;

/// Installs pg_catalog (once) in the engine's catalog.
pub fn install(engine: &Engine) -> std::result::Result<(), String> {
    let ctx = engine.context();
    let catalog = ctx.catalog(CATALOG).ok_or_else(|| format!("no catalog `{CATALOG}`"))?;
    if catalog.schema("pg_catalog").is_some() {
        return Ok(());
    }
    datafusion_pg_catalog::setup_pg_catalog(ctx, CATALOG, EmptyContextProvider).map_err(|e| e.to_string())?;
    // Drivers parse `version()` to learn what they talk to (SQLAlchemy refuses to connect without
    // `PostgreSQL <major>.<minor>` in it); DataFusion's own says "Apache DataFusion ...".
    let version =
        format!("PostgreSQL {} on OmniMarket 360 {} (Apache DataFusion)", super::settings::SERVER_VERSION_NUMBER, env!("CARGO_PKG_VERSION"));
    ctx.register_udf(datafusion::logical_expr::create_udf(
        "version",
        vec![],
        DataType::Utf8,
        datafusion::logical_expr::Volatility::Immutable,
        Arc::new(move |_| Ok(datafusion::logical_expr::ColumnarValue::Scalar(datafusion::scalar::ScalarValue::Utf8(Some(version.clone()))))),
    ));
    // Every type is visible on the search path here (there are no user schemas of types): SQLAlchemy's
    // reflection asks.
    ctx.register_udf(datafusion::logical_expr::create_udf(
        "pg_type_is_visible",
        vec![DataType::Int32],
        DataType::Boolean,
        datafusion::logical_expr::Volatility::Immutable,
        Arc::new(|args: &[datafusion::logical_expr::ColumnarValue]| {
            use datafusion::logical_expr::ColumnarValue;
            Ok(match &args[0] {
                ColumnarValue::Array(a) => ColumnarValue::Array(Arc::new(datafusion::arrow::array::BooleanArray::from(vec![true; a.len()]))),
                ColumnarValue::Scalar(_) => ColumnarValue::Scalar(datafusion::scalar::ScalarValue::Boolean(Some(true))),
            })
        }),
    ));
    let inner = catalog.schema("pg_catalog").ok_or("pg_catalog was not registered")?;
    let weak = ctx.state_weak_ref();
    let session: SessionHandle = Arc::new(move || weak.upgrade().map(|s| SessionContext::new_with_state(s.read().clone())));
    let with_comments = WithComments { inner, session };
    catalog.register_schema("pg_catalog", Arc::new(with_comments)).map_err(|e| e.to_string())?;
    Ok(())
}

struct WithComments {
    inner: Arc<dyn SchemaProvider>,
    session: SessionHandle,
}

impl std::fmt::Debug for WithComments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithComments").finish_non_exhaustive()
    }
}

#[async_trait]
impl SchemaProvider for WithComments {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let table = self.inner.table(name).await?;
        match table {
            Some(base) if name.eq_ignore_ascii_case("pg_description") => {
                Ok(Some(Arc::new(Described { base, inner: self.inner.clone(), session: self.session.clone() })))
            }
            other => Ok(other),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

async fn collect(table: Arc<dyn TableProvider>, sql: &str) -> Result<Vec<RecordBatch>> {
    let ctx = SessionContext::new();
    ctx.register_table("t", table)?;
    ctx.sql(sql).await?.collect().await
}

fn strings(batches: &[RecordBatch], column: usize) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let Ok(col) = cast(b.column(column), &datafusion::arrow::datatypes::DataType::Utf8) else { continue };
        if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
            out.extend(a.iter().map(|v| v.map(str::to_string)));
        }
    }
    out
}

/// pg_description with the semantic table's comments. Built when scanned, not when looked up: pg_class is
/// built by looking up every table (this one included) while it holds its oid table, and the comments need
/// pg_class's oids, so building them at lookup would wait on that very lock.
struct Described {
    base: Arc<dyn TableProvider>,
    inner: Arc<dyn SchemaProvider>,
    session: SessionHandle,
}

impl std::fmt::Debug for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Described").finish_non_exhaustive()
    }
}

#[async_trait]
impl TableProvider for Described {
    fn schema(&self) -> SchemaRef {
        self.base.schema()
    }

    fn table_type(&self) -> TableType {
        self.base.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let table = self.with_comments(self.base.clone()).await?;
        table.scan(state, projection, filters, limit).await
    }
}

impl Described {
    /// The static pg_description plus a row per commented column of the semantic table (and one for the table).
    async fn with_comments(&self, base: Arc<dyn TableProvider>) -> Result<Arc<dyn TableProvider>> {
        let schema: SchemaRef = base.schema();
        let mut batches = collect(base, "SELECT * FROM t").await?;
        if let Some(extra) = self.semantic_comments(&schema).await? {
            batches.push(extra);
        }
        Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
    }

    async fn semantic_comments(&self, schema: &SchemaRef) -> Result<Option<RecordBatch>> {
        let Some(ctx) = (self.session)() else { return Ok(None) };
        let Some(semantic) = ctx.catalog(CATALOG).and_then(|c| c.schema(SEMANTIC_SCHEMA)) else { return Ok(None) };
        // The oids pg_class gave the semantic tables (they are assigned as the catalog is first read, and kept).
        let (Some(classes), Some(namespaces)) = (self.inner.table("pg_class").await?, self.inner.table("pg_namespace").await?) else {
            return Ok(None);
        };
        let namespace = collect(namespaces, &format!("SELECT CAST(oid AS VARCHAR) FROM t WHERE nspname = '{SEMANTIC_SCHEMA}'")).await?;
        let Some(Some(ns_oid)) = strings(&namespace, 0).into_iter().next() else { return Ok(None) };
        let rows = collect(classes, &format!("SELECT CAST(oid AS VARCHAR), relname FROM t WHERE CAST(relnamespace AS VARCHAR) = '{ns_oid}'")).await?;
        let (mut objoid, mut subid, mut text) = (Vec::new(), Vec::new(), Vec::new());
        for (oid, name) in strings(&rows, 0).into_iter().zip(strings(&rows, 1)) {
            let (Some(oid), Some(name)) = (oid.and_then(|o| o.parse::<i64>().ok()), name) else { continue };
            let Some(table) = semantic.table(&name).await? else { continue };
            objoid.push(oid);
            subid.push(0);
            text.push("The semantic model: attributes to group and filter by, measures to aggregate (MEASURE(name) or SUM(name))".to_string());
            for (i, field) in table.schema().fields().iter().enumerate() {
                if let Some(comment) = column_comment(field.metadata()) {
                    objoid.push(oid);
                    subid.push(i as i64 + 1);
                    text.push(comment);
                }
            }
        }
        if objoid.is_empty() {
            return Ok(None);
        }
        let classoid = vec![PG_CLASS_OID; objoid.len()];
        let by_name: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| {
                let raw: ArrayRef = match f.name().as_str() {
                    "objoid" => Arc::new(Int64Array::from(objoid.clone())),
                    "classoid" => Arc::new(Int64Array::from(classoid.clone())),
                    "objsubid" => Arc::new(Int64Array::from(subid.clone())),
                    "description" => Arc::new(StringArray::from(text.clone())),
                    other => return Err(DataFusionError::Plan(format!("pg_description has an unexpected column `{other}`"))),
                };
                Ok(cast(&raw, f.data_type())?)
            })
            .collect::<Result<_>>()?;
        Ok(Some(RecordBatch::try_new(schema.clone(), by_name)?))
    }
}

/// A column's comment from the model's field metadata: a measure's description, folder and format; an
/// attribute's source column.
fn column_comment(metadata: &std::collections::HashMap<String, String>) -> Option<String> {
    match metadata.get(KIND_KEY).map(String::as_str) {
        Some("measure") => {
            let mut parts = Vec::new();
            if let Some(d) = metadata.get(DESCRIPTION_KEY) {
                parts.push(d.clone());
            }
            let folder = metadata.get(FOLDER_KEY).map(|f| format!("folder {f}"));
            let format = metadata.get(FORMAT_KEY).map(|f| format!("format {f}"));
            let tail: Vec<String> = ["measure".to_string()].into_iter().chain(folder).chain(format).collect();
            parts.push(format!("({})", tail.join(", ")));
            Some(parts.join(" "))
        }
        Some("attribute") => metadata.get(SOURCE_KEY).map(|s| format!("attribute from {s}")),
        _ => None,
    }
}
