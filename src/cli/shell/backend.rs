//! Where the shell's statements run: in-process on the embedded engine ([`Local`]) or on a Flight SQL server
//! ([`Remote`]). Both stream results and stop reading after the display limit, so `SELECT *` on a big table
//! neither fills memory nor keeps the query running.

use std::sync::Arc;

use arrow_flight::sql::CommandGetTables;
use arrow_flight::sql::client::FlightSqlServiceClient;
use async_trait::async_trait;
use datafusion::arrow::array::{Array, BinaryArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use futures::StreamExt;
use tonic::transport::Channel;

use super::semantic::MeasureInfo;
use crate::engine::Engine;
use crate::flight::metadata::{Metadata, TableFilter, TableMeta};

/// A result as far as the shell reads it.
pub struct Fetched {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// Rows were left unread because of the display limit.
    pub truncated: bool,
}

#[async_trait]
pub trait Backend: Send {
    /// Shown in the banner: where statements run.
    fn describe_target(&self) -> String;
    async fn query(&mut self, sql: &str, max_rows: usize) -> Result<Fetched, String>;
    async fn tables(&mut self, pattern: Option<&str>) -> Result<Vec<TableMeta>, String>;
    /// The columns of `schema.table` or `table` (first match, `raw` before `staging`).
    async fn columns(&mut self, table: &str) -> Result<Option<(TableMeta, SchemaRef)>, String>;
    /// `None`: no semantic model is loaded (or cannot be reached from here).
    async fn measures(&mut self) -> Result<Option<Vec<MeasureInfo>>, String>;
    /// The plain SQL a semantic query compiles to; `None` when there is no semantic model.
    async fn compile(&mut self, sql: &str) -> Result<Option<String>, String>;
}

fn split_table(name: &str) -> TableFilter {
    let escape = |s: &str| s.replace('_', "\\_").replace('%', "\\%");
    match name.split_once('.') {
        Some((schema, table)) => TableFilter {
            catalog: None,
            schema_pattern: Some(escape(schema.trim_matches('"'))),
            table_pattern: Some(escape(table.trim_matches('"'))),
        },
        None => TableFilter { catalog: None, schema_pattern: None, table_pattern: Some(escape(name.trim_matches('"'))) },
    }
}

/// Reads batches until `max_rows`, then drops the stream (which stops the query).
async fn read_limited<S, E>(schema: SchemaRef, mut stream: S, max_rows: usize) -> Result<Fetched, String>
where
    S: futures::Stream<Item = Result<RecordBatch, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut batches = Vec::new();
    let mut rows = 0;
    let mut truncated = false;
    while let Some(b) = stream.next().await {
        let b = b.map_err(|e| e.to_string())?;
        if rows + b.num_rows() > max_rows {
            batches.push(b.slice(0, max_rows - rows));
            truncated = true;
            break;
        }
        rows += b.num_rows();
        batches.push(b);
    }
    Ok(Fetched { schema, batches, truncated })
}

pub struct Local {
    engine: Engine,
    metadata: Metadata,
}

impl Local {
    pub fn new(engine: Engine) -> Local {
        let metadata = crate::flight::engine_metadata(&engine);
        Local { engine, metadata }
    }
}

#[async_trait]
impl Backend for Local {
    fn describe_target(&self) -> String {
        "the embedded engine".into()
    }

    async fn query(&mut self, sql: &str, max_rows: usize) -> Result<Fetched, String> {
        let explain = |e: datafusion::error::DataFusionError| {
            crate::cli::errors::with_table_suggestion(crate::errors::describe_error(&e), &self.engine.raw_table_names())
        };
        let df = self.engine.sql(sql).await.map_err(explain)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        // Local errors keep the table suggestion: the stream's own errors are described the same way.
        let stream = self.engine.execute(df).map(|r| r.map_err(|e| crate::errors::describe_error(&e)));
        read_limited(schema, stream, max_rows).await
    }

    async fn tables(&mut self, pattern: Option<&str>) -> Result<Vec<TableMeta>, String> {
        let filter = TableFilter { table_pattern: pattern.map(String::from), ..TableFilter::default() };
        self.metadata.tables(&filter, false).await.map_err(|e| crate::errors::describe_error(&e))
    }

    async fn columns(&mut self, table: &str) -> Result<Option<(TableMeta, SchemaRef)>, String> {
        let tables = self.metadata.tables(&split_table(table), true).await.map_err(|e| crate::errors::describe_error(&e))?;
        Ok(tables.into_iter().find_map(|t| t.arrow_schema.clone().map(|s| (t, s))))
    }

    async fn measures(&mut self) -> Result<Option<Vec<MeasureInfo>>, String> {
        let measures = super::semantic::engine_measures(&self.engine);
        Ok((!measures.is_empty()).then_some(measures))
    }

    async fn compile(&mut self, sql: &str) -> Result<Option<String>, String> {
        match self.engine.compile(sql).await.map_err(|e| crate::errors::describe_error(&e))? {
            Some(compiled) => Ok(Some(crate::query::pretty_sql(&compiled))),
            None => Err(NOT_SEMANTIC.into()),
        }
    }
}

pub struct Remote {
    url: String,
    client: FlightSqlServiceClient<Channel>,
}

impl Remote {
    pub fn new(url: String, client: FlightSqlServiceClient<Channel>) -> Remote {
        Remote { url, client }
    }

    async fn remote_tables(&mut self, filter: TableFilter, include_schema: bool) -> Result<Vec<TableMeta>, String> {
        let cmd = CommandGetTables {
            catalog: filter.catalog,
            db_schema_filter_pattern: filter.schema_pattern,
            table_name_filter_pattern: filter.table_pattern,
            table_types: vec![],
            include_schema,
        };
        let info = self.client.get_tables(cmd).await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for ep in info.endpoint {
            let Some(ticket) = ep.ticket else { continue };
            let mut stream = self.client.do_get(ticket).await.map_err(|e| e.to_string())?;
            while let Some(b) = stream.next().await {
                let b = b.map_err(|e| e.to_string())?;
                let text = |i: usize| b.column(i).as_any().downcast_ref::<StringArray>().cloned();
                let (Some(cat), Some(sch), Some(name), Some(ty)) = (text(0), text(1), text(2), text(3)) else {
                    return Err("unexpected GetTables result".into());
                };
                let schemas = if include_schema { b.column(4).as_any().downcast_ref::<BinaryArray>().cloned() } else { None };
                for r in 0..b.num_rows() {
                    let arrow_schema = match &schemas {
                        Some(s) if !s.is_null(r) => {
                            let msg = arrow_flight::IpcMessage(s.value(r).to_vec().into());
                            Some(Arc::new(Schema::try_from(msg).map_err(|e| e.to_string())?))
                        }
                        _ => None,
                    };
                    out.push(TableMeta {
                        catalog: cat.value(r).into(),
                        schema: sch.value(r).into(),
                        name: name.value(r).into(),
                        table_type: ty.value(r).into(),
                        arrow_schema,
                    });
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Backend for Remote {
    fn describe_target(&self) -> String {
        format!("the server at {}", self.url)
    }

    async fn query(&mut self, sql: &str, max_rows: usize) -> Result<Fetched, String> {
        let info = self.client.execute(sql.to_string(), None).await.map_err(|e| remote_error(&e.to_string()))?;
        let schema = Arc::new(info.clone().try_decode_schema().map_err(|e| e.to_string())?);
        let mut all = Fetched { schema: schema.clone(), batches: Vec::new(), truncated: false };
        for ep in info.endpoint {
            let Some(ticket) = ep.ticket else { continue };
            let stream = self.client.do_get(ticket).await.map_err(|e| remote_error(&e.to_string()))?;
            let left = max_rows.saturating_sub(all.batches.iter().map(|b| b.num_rows()).sum());
            let part = read_limited(schema.clone(), stream, left).await.map_err(|e| remote_error(&e))?;
            all.batches.extend(part.batches);
            if part.truncated {
                all.truncated = true;
                break;
            }
        }
        Ok(all)
    }

    async fn tables(&mut self, pattern: Option<&str>) -> Result<Vec<TableMeta>, String> {
        self.remote_tables(TableFilter { table_pattern: pattern.map(String::from), ..TableFilter::default() }, false).await
    }

    async fn columns(&mut self, table: &str) -> Result<Option<(TableMeta, SchemaRef)>, String> {
        let tables = self.remote_tables(split_table(table), true).await?;
        Ok(tables.into_iter().find_map(|t| t.arrow_schema.clone().map(|s| (t, s))))
    }

    async fn measures(&mut self) -> Result<Option<Vec<MeasureInfo>>, String> {
        // The server shows the model as `semantic.omnimarket`, its measures as columns tagged in the field
        // metadata (see `semantic::measures_from_schema`).
        let tables = self.remote_tables(TableFilter { catalog: None, schema_pattern: Some("semantic".into()), table_pattern: None }, true).await?;
        let measures: Vec<MeasureInfo> =
            tables.iter().filter_map(|t| t.arrow_schema.as_ref()).flat_map(|s| super::semantic::measures_from_schema(s)).collect();
        Ok(if tables.is_empty() { None } else { Some(measures) })
    }

    async fn compile(&mut self, sql: &str) -> Result<Option<String>, String> {
        let action = arrow_flight::Action { r#type: crate::flight::COMPILE_ACTION.into(), body: sql.to_string().into() };
        let mut results = self.client.do_action(action).await.map_err(|e| remote_error(&e.to_string()))?;
        match results.next().await {
            Some(Ok(r)) => {
                let compiled = String::from_utf8(r.body.to_vec()).map_err(|_| "the server sent compiled SQL that is not UTF-8".to_string())?;
                Ok(Some(crate::query::pretty_sql(&compiled)))
            }
            Some(Err(e)) => Err(remote_error(&e.to_string())),
            None => Err(NOT_SEMANTIC.into()),
        }
    }
}

const NOT_SEMANTIC: &str = "not a semantic query (it does not read the model table): it runs as written";

/// The server's message without the client's wrapping ("Ipc error: Status { code: ..., message: \"...\" }").
fn remote_error(e: &str) -> String {
    if let Some(start) = e.find("message: \"") {
        let rest = &e[start + "message: \"".len()..];
        if let Some(end) = rest.find("\", ") {
            return rest[..end].replace("\\\"", "\"").replace("\\'", "'");
        }
    }
    e.to_string()
}
