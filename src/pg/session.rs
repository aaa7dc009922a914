//! The queries of a Postgres connection, simple and extended protocol, on the shared [`Engine`]: its guard,
//! semantic compiler, time limit and query threads, exactly as Flight SQL uses them. Results stream batch by
//! batch from the query threads to the socket, and stop on CancelRequest or the connection's
//! `statement_timeout`.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion_postgres::{arrow_pg, pgwire};
use futures::{Sink, SinkExt, Stream, StreamExt};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::DataRow;
use pgwire::messages::startup::ParameterStatus;
use pgwire::types::format::FormatOptions;
use tokio::sync::watch;

use super::cancel::Registration;
use super::settings;
use super::statement::{PgStatement, classify};
use crate::engine::Engine;

/// A parsed statement (extended protocol): what it is and, for a query, its plan with placeholders.
#[derive(Clone)]
pub struct Prepared {
    statement: PgStatement,
    query: Option<Planned>,
}

#[derive(Clone)]
struct Planned {
    df: DataFrame,
    /// `$1, $2, ...` in order, with the type DataFusion inferred (None: the client's type decides).
    params: Vec<Option<DataType>>,
}

pub struct Session {
    engine: Engine,
    parser: Arc<Planner>,
}

pub struct Planner {
    engine: Engine,
}

impl Session {
    pub fn new(engine: Engine) -> Session {
        Session { engine: engine.clone(), parser: Arc::new(Planner { engine }) }
    }
}

/// The Postgres error for an engine error: the SQLSTATE a driver can act on, and the CLI's message.
pub fn pg_error(e: &DataFusionError, engine: &Engine) -> PgWireError {
    use crate::engine::runtime::{Interrupted, interrupted};
    let message = crate::errors::describe_error(e);
    let code = if let Some(refusal) = crate::engine::guard::refusal(e) {
        if refusal.is_permission() { "42501" } else { "54000" }
    } else if let Some(i) = interrupted(e) {
        match i {
            Interrupted::Timeout(_) => "57014",
            Interrupted::ShuttingDown => "57P01",
            Interrupted::Panicked(_) => "XX000",
        }
    } else {
        match e.find_root() {
            DataFusionError::SQL(..) => "42601",
            DataFusionError::Plan(..) | DataFusionError::SchemaError(..) => "42000",
            DataFusionError::NotImplemented(..) => "0A000",
            DataFusionError::ResourcesExhausted(..) => "53200",
            DataFusionError::External(inner) if inner.is::<crate::sources::SourceError>() || inner.is::<crate::transform::TransformError>() => {
                "58030"
            }
            _ => "XX000",
        }
    };
    let message = if code == "42000" { crate::cli::errors::with_table_suggestion(message, &engine.raw_table_names()) } else { message };
    user_error(code, message)
}

fn user_error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), code.into(), message.into())))
}

fn cancelled(reason: &str) -> PgWireError {
    user_error("57014", format!("canceling statement due to {reason}"))
}

/// The placeholders of a plan, `$1` first.
fn parameter_types(df: &DataFrame) -> Result<Vec<Option<DataType>>, DataFusionError> {
    let types = df.logical_plan().get_parameter_types()?;
    let mut numbered: Vec<(usize, Option<DataType>)> = Vec::with_capacity(types.len());
    for (id, ty) in types {
        let n = id
            .trim_start_matches('$')
            .parse::<usize>()
            .map_err(|_| DataFusionError::Plan(format!("parameter {id}: write parameters as $1, $2, ...")))?;
        numbered.push((n, ty));
    }
    numbered.sort_by_key(|(n, _)| *n);
    Ok(numbered.into_iter().map(|(_, t)| t).collect())
}

enum Next {
    Batch(Option<Result<datafusion::arrow::array::RecordBatch, DataFusionError>>),
    Stopped(&'static str),
}

/// The rows of a query's batches, as they come, until the stream ends, the client cancels or the statement
/// time runs out. Dropping the result (client gone) drops the engine's stream, which stops the query.
fn rows(
    batches: impl Stream<Item = Result<datafusion::arrow::array::RecordBatch, DataFusionError>> + Send + Unpin + 'static,
    fields: Arc<Vec<FieldInfo>>,
    engine: Engine,
    cancel: Option<watch::Receiver<u64>>,
    timeout: Option<Duration>,
) -> impl Stream<Item = PgWireResult<DataRow>> + Send + 'static {
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let state = (batches, cancel, false);
    let batches = futures::stream::unfold(state, move |(mut batches, mut cancel, done)| {
        let engine = engine.clone();
        async move {
            if done {
                return None;
            }
            let next = {
                let cancelled_now = async {
                    match cancel.as_mut() {
                        Some(rx) => {
                            let _ = rx.changed().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                let timed_out = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    next = batches.next() => Next::Batch(next),
                    _ = cancelled_now => Next::Stopped("user request"),
                    _ = timed_out => Next::Stopped("statement timeout"),
                }
            };
            match next {
                Next::Batch(Some(Ok(batch))) => Some((Ok(batch), (batches, cancel, false))),
                Next::Batch(Some(Err(e))) => Some((Err(pg_error(&e, &engine)), (batches, cancel, true))),
                Next::Batch(None) => None,
                Next::Stopped(reason) => Some((Err(cancelled(reason)), (batches, cancel, true))),
            }
        }
    });
    batches
        .map(move |batch| {
            let rows: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send + Sync> = match batch {
                Ok(b) => arrow_pg::datatypes::encode_recordbatch(fields.clone(), b),
                Err(e) => Box::new(std::iter::once(Err(e))),
            };
            futures::stream::iter(rows)
        })
        .flatten()
}

fn format_options(client: &impl ClientInfo) -> Arc<FormatOptions> {
    Arc::new(FormatOptions::from_client_metadata(client.metadata()))
}

fn fields_of(schema: &Schema, format: &Format, options: Option<Arc<FormatOptions>>) -> PgWireResult<Vec<FieldInfo>> {
    arrow_pg::datatypes::arrow_schema_to_pg_fields(schema, format, options)
}

impl Session {
    /// Streams a planned query's rows to the client.
    fn respond_rows<C: ClientInfo>(&self, client: &C, df: DataFrame, format: &Format) -> PgWireResult<Response> {
        let fields = Arc::new(fields_of(df.schema().as_arrow(), format, Some(format_options(client)))?);
        let cancel = client.session_extensions().get::<Registration>().map(|r| r.watch());
        let timeout = settings::statement_timeout(client.metadata());
        let batches = self.engine.execute(df);
        Ok(Response::Query(QueryResponse::new(fields.clone(), rows(batches, fields, self.engine.clone(), cancel, timeout))))
    }

    /// Everything but a query: settings, SHOW, transactions.
    async fn answer<C>(&self, client: &mut C, statement: &PgStatement) -> PgWireResult<Response>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match statement {
            PgStatement::Empty => Ok(Response::EmptyQuery),
            PgStatement::Set { name, value } => {
                let value = settings::check_set(name, value).map_err(|e| user_error(e.code(), e.to_string()))?;
                settings::set(client.metadata_mut(), name, value.clone());
                if settings::is_reported(name) {
                    client.send(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(settings::display_name(name).to_string(), value))).await?;
                }
                Ok(Response::Execution(Tag::new("SET")))
            }
            PgStatement::SetTransaction => Ok(Response::Execution(Tag::new("SET"))),
            PgStatement::Show(name) => show(client, name),
            PgStatement::Begin => Ok(Response::TransactionStart(Tag::new("BEGIN"))),
            PgStatement::Commit => Ok(Response::TransactionEnd(Tag::new("COMMIT"))),
            PgStatement::Rollback => Ok(Response::TransactionEnd(Tag::new("ROLLBACK"))),
            PgStatement::DiscardAll => {
                settings::reset(client.metadata_mut());
                Ok(Response::Execution(Tag::new("DISCARD ALL")))
            }
            PgStatement::Query(_) => Err(user_error("XX000", "internal error: a query reached the settings handler")),
        }
    }
}

/// The names `SHOW` accepts for one setting (`SHOW TRANSACTION ISOLATION LEVEL` is `transaction_isolation`).
fn setting_name(shown: &str) -> String {
    match shown {
        "transaction isolation level" => "transaction_isolation".into(),
        "time zone" => "timezone".into(),
        other => other.to_string(),
    }
}

fn text_response(columns: &[&str], rows: Vec<Vec<String>>) -> PgWireResult<Response> {
    let fields: Arc<Vec<FieldInfo>> =
        Arc::new(columns.iter().map(|c| FieldInfo::new(c.to_string(), None, None, Type::TEXT, FieldFormat::Text)).collect());
    let mut encoded = Vec::with_capacity(rows.len());
    for row in rows {
        let mut encoder = DataRowEncoder::new(fields.clone());
        for value in row {
            encoder.encode_field(&Some(value))?;
        }
        encoded.push(Ok(encoder.take_row()));
    }
    Ok(Response::Query(QueryResponse::new(fields, futures::stream::iter(encoded))))
}

fn show<C: ClientInfo>(client: &C, shown: &str) -> PgWireResult<Response> {
    if shown == "all" {
        let rows = settings::all(client.metadata()).into_iter().map(|(n, v)| vec![n, v, String::new()]).collect();
        return text_response(&["name", "setting", "description"], rows);
    }
    let name = setting_name(shown);
    match settings::get(client.metadata(), &name) {
        Some(v) => text_response(&[&name], vec![vec![v]]),
        None => Err(user_error("42704", format!("unrecognized configuration parameter \"{name}\""))),
    }
}

#[async_trait]
impl SimpleQueryHandler for Session {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut responses = Vec::new();
        for statement in classify(query) {
            // As Postgres does, the first failing statement ends the text: its error is the answer.
            let response = match &statement {
                PgStatement::Query(sql) => {
                    let df = self.engine.sql(sql).await.map_err(|e| pg_error(&e, &self.engine))?;
                    self.respond_rows(client, df, &Format::UnifiedText)?
                }
                other => self.answer(client, other).await?,
            };
            responses.push(response);
        }
        Ok(responses)
    }
}

#[async_trait]
impl QueryParser for Planner {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, _client: &C, sql: &str, _types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut statements = classify(sql);
        if statements.len() > 1 {
            return Err(user_error("42601", "cannot insert multiple commands into a prepared statement"));
        }
        let Some(statement) = statements.pop() else { return Ok(None) };
        let query = match &statement {
            PgStatement::Query(text) => {
                let df = self.engine.sql(text).await.map_err(|e| pg_error(&e, &self.engine))?;
                let params = parameter_types(&df).map_err(|e| pg_error(&e, &self.engine))?;
                Some(Planned { df, params })
            }
            _ => None,
        };
        Ok(Some(Prepared { statement, query }))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        let Some(q) = &stmt.query else { return Ok(Vec::new()) };
        q.params.iter().map(|t| t.as_ref().map(arrow_pg::datatypes::into_pg_type).unwrap_or(Ok(Type::UNKNOWN))).collect()
    }

    fn get_result_schema(&self, stmt: &Prepared, column_format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        let format = column_format.unwrap_or(&Format::UnifiedText);
        match (&stmt.statement, &stmt.query) {
            (_, Some(q)) => fields_of(q.df.schema().as_arrow(), format, None),
            (PgStatement::Show(name), _) if name == "all" => Ok(["name", "setting", "description"]
                .iter()
                .map(|c| FieldInfo::new(c.to_string(), None, None, Type::TEXT, FieldFormat::Text))
                .collect()),
            (PgStatement::Show(name), _) => Ok(vec![FieldInfo::new(setting_name(name), None, None, Type::TEXT, FieldFormat::Text)]),
            _ => Ok(Vec::new()),
        }
    }
}

#[async_trait]
impl ExtendedQueryHandler for Session {
    type Statement = Prepared;
    type QueryParser = Planner;

    fn query_parser(&self) -> Arc<Planner> {
        self.parser.clone()
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Prepared>, _max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let Some(planned) = &prepared.query else { return self.answer(client, &prepared.statement).await };
        let df = if planned.params.is_empty() {
            planned.df.clone()
        } else {
            let inferred: Vec<Option<&DataType>> = planned.params.iter().map(|t| t.as_ref()).collect();
            let values = arrow_pg::datatypes::df::deserialize_parameters(portal, &inferred)?;
            planned.df.clone().with_param_values(values).map_err(|e| pg_error(&e, &self.engine))?
        };
        self.respond_rows(client, df, &portal.result_column_format)
    }
}
