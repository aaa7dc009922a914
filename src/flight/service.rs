//! The Flight SQL service: statements, prepared statements and metadata calls, each authorised, over the one
//! [`Engine`] the CLI uses. User SQL always goes through [`Engine::sql`], so semantic SQL works here as soon as
//! the engine accepts it. Not for the network setup (see [`super::start`]).

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::{SqlInfoData, XdbcTypeInfoData};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult, CommandGetCatalogs,
    CommandGetCrossReference, CommandGetDbSchemas, CommandGetExportedKeys, CommandGetImportedKeys, CommandGetPrimaryKeys, CommandGetSqlInfo,
    CommandGetTableTypes, CommandGetTables, CommandGetXdbcTypeInfo, CommandPreparedStatementQuery, CommandStatementQuery,
    DoPutPreparedStatementResult, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    Action, ActionType, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage, SchemaAsIpc, Ticket,
};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Request, Response, Status, Streaming};

use super::COMPILE_ACTION;
use super::auth::{AuthError, Authenticator};
use super::metadata::{Metadata, foreign_keys_schema, primary_keys_schema};
use super::prepared::{BindError, HandleError, StatementHandle, bind, number_placeholders, parameter_schema};
use super::results::{ActiveQueries, FlightDataStream, MAX_FLIGHT_DATA_SIZE, plain_schema, status_from_df, stream_frames};
use crate::engine::Engine;

pub struct OmniFlightSql {
    engine: Engine,
    auth: Arc<Authenticator>,
    metadata: Metadata,
    sql_info: SqlInfoData,
    xdbc: XdbcTypeInfoData,
    active: ActiveQueries,
}

impl OmniFlightSql {
    pub fn new(engine: Engine, auth: Arc<Authenticator>, metadata: Metadata, active: ActiveQueries) -> Result<Self, FlightError> {
        Ok(OmniFlightSql { engine, auth, metadata, sql_info: super::metadata::sql_info()?, xdbc: super::metadata::xdbc_type_info()?, active })
    }

    /// Checks the caller's token (or basic credentials, for a client that skips the Handshake: a throttled
    /// login).
    async fn authorize<T>(&self, request: &Request<T>) -> Result<String, Status> {
        if !self.auth.enabled() {
            return Ok(String::new());
        }
        let header = authorization(request.metadata())?;
        let peer = request.remote_addr().map(|a| a.ip());
        self.auth.check(header.as_deref(), peer).await.map_err(auth_status)
    }

    /// Plans the user's SQL (plain or semantic) with the engine; a mistake in it is `InvalidArgument`.
    async fn plan(&self, sql: &str) -> Result<DataFrame, Status> {
        self.engine.sql(sql).await.map_err(|e| self.sql_status(&e))
    }

    fn sql_status(&self, e: &DataFusionError) -> Status {
        let status = status_from_df(e);
        if status.code() != tonic::Code::InvalidArgument {
            return status;
        }
        Status::invalid_argument(with_table_suggestion(status.message(), &self.engine.raw_table_names()))
    }

    /// The DataFrames of a handle (one per bound parameter row) and the schema of their result on the wire.
    /// Semantic SQL keeps its placeholders through compilation, so it binds like plain SQL.
    async fn frames(&self, handle: &StatementHandle) -> Result<(Vec<DataFrame>, SchemaRef), Status> {
        let df = self.plan(&handle.sql).await?;
        let unbound_schema = Arc::new(plain_schema(df.schema().as_arrow()));
        let frames = bind(df, handle.params.as_ref()).map_err(|e| match e {
            BindError::Handle(h) => Status::invalid_argument(h.to_string()),
            BindError::Engine(e) => self.sql_status(&e),
        })?;
        // With parameters bound, the placeholders' types are known: take the schema from the bound plan.
        let schema = frames.first().map(|f| Arc::new(plain_schema(f.schema().as_arrow()))).unwrap_or(unbound_schema);
        Ok((frames, schema))
    }

    fn stream(&self, frames: Vec<DataFrame>, schema: SchemaRef) -> Response<FlightDataStream> {
        Response::new(stream_frames(&self.engine, frames, schema, &self.active))
    }
}

fn authorization(metadata: &MetadataMap) -> Result<Option<String>, Status> {
    match metadata.get("authorization") {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.to_string())).map_err(|_| Status::unauthenticated("the authorization header is not ASCII text")),
    }
}

fn auth_status(e: AuthError) -> Status {
    match e {
        AuthError::TooManyAttempts(_) | AuthError::Hasher(_) => Status::unavailable(e.to_string()),
        _ => Status::unauthenticated(e.to_string()),
    }
}

fn handle_status(e: HandleError) -> Status {
    Status::invalid_argument(e.to_string())
}

fn arrow_status(e: ArrowError) -> Status {
    Status::internal(format!("cannot encode the result: {e}"))
}

/// "did you mean" for an unknown table, as the CLI says it.
fn with_table_suggestion(message: &str, tables: &[String]) -> String {
    let Some(rest) = message.split("table '").nth(1) else { return message.to_string() };
    let Some(full) = rest.split("' not found").next() else { return message.to_string() };
    let name = full.rsplit('.').next().unwrap_or(full);
    match crate::suggest::did_you_mean(name, tables.iter().map(String::as_str)) {
        Some(s) => format!("{message}; did you mean `{s}`?"),
        None => message.to_string(),
    }
}

/// A FlightInfo whose one endpoint's ticket is the command itself: the metadata calls are answered in DoGet.
fn info(cmd: impl ProstMessageExt, schema: &Schema, descriptor: FlightDescriptor) -> Result<Response<FlightInfo>, Status> {
    let endpoint = FlightEndpoint::new().with_ticket(Ticket::new(cmd.as_any().encode_to_vec()));
    let info = FlightInfo::new().try_with_schema(schema).map_err(arrow_status)?.with_endpoint(endpoint).with_descriptor(descriptor);
    Ok(Response::new(info))
}

/// A small, already built result (metadata) as a Flight stream.
fn one_batch(batch: Result<RecordBatch, FlightError>) -> Result<Response<FlightDataStream>, Status> {
    let batch = batch.map_err(Status::from)?;
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(batch.schema())
        .with_max_flight_data_size(MAX_FLIGHT_DATA_SIZE)
        .build(futures::stream::once(async move { Ok(batch) }))
        .map_err(Status::from);
    Ok(Response::new(Box::pin(stream)))
}

fn schema_bytes(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default()).try_into().map_err(arrow_status)?;
    Ok(bytes)
}

type HandshakeStream = Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl FlightSqlService for OmniFlightSql {
    type FlightService = OmniFlightSql;

    async fn do_handshake(&self, request: Request<Streaming<HandshakeRequest>>) -> Result<Response<HandshakeStream>, Status> {
        let header = authorization(request.metadata())?;
        let peer = request.remote_addr().map(|a| a.ip());
        let token = self.auth.handshake(header.as_deref(), peer).await.map_err(auth_status)?;
        let payload = token.clone().unwrap_or_default();
        let reply = HandshakeResponse { protocol_version: 0, payload: payload.into_bytes().into() };
        let mut response: Response<HandshakeStream> = Response::new(Box::pin(futures::stream::iter([Ok(reply)])));
        if let Some(token) = token {
            let value = MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| Status::internal("cannot write the token header"))?;
            response.metadata_mut().insert("authorization", value);
        }
        Ok(response)
    }

    // ---- statements ----

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        let df = self.plan(&query.query).await?;
        let schema = plain_schema(df.schema().as_arrow());
        let handle = StatementHandle::new(query.query).encode().map_err(handle_status)?;
        let ticket = TicketStatementQuery { statement_handle: handle.into() };
        info(ticket, &schema, request.into_inner())
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        let handle = StatementHandle::decode(&ticket.statement_handle).map_err(handle_status)?;
        let (frames, schema) = self.frames(&handle).await?;
        Ok(self.stream(frames, schema))
    }

    // ---- prepared statements ----

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        self.authorize(&request).await?;
        let sql = number_placeholders(&query.query);
        let df = self.plan(&sql).await?;
        let dataset_schema = schema_bytes(&plain_schema(df.schema().as_arrow()))?;
        let parameter_schema = schema_bytes(&parameter_schema(&df).map_err(|e| self.sql_status(&e))?)?;
        let handle = StatementHandle::new(sql).encode().map_err(handle_status)?;
        Ok(ActionCreatePreparedStatementResult { prepared_statement_handle: handle.into(), dataset_schema, parameter_schema })
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        self.authorize(&request).await?;
        let handle = StatementHandle::decode(&query.prepared_statement_handle).map_err(handle_status)?;
        let mut batches = FlightRecordBatchStream::new_from_flight_data(request.into_inner().map_err(|s| FlightError::Tonic(Box::new(s))));
        let mut received = Vec::new();
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(|e| Status::invalid_argument(format!("cannot read the parameters: {e}")))?;
            received.push(batch);
        }
        let Some(schema) = batches.schema().cloned() else {
            // No schema at all: nothing was bound, the handle stays as it was.
            return Ok(DoPutPreparedStatementResult { prepared_statement_handle: Some(query.prepared_statement_handle) });
        };
        let bound = handle.with_params(schema, &received).map_err(handle_status)?;
        // Plan once now, so a wrong parameter count or type is reported at bind time.
        self.frames(&bound).await?;
        let encoded = bound.encode().map_err(handle_status)?;
        Ok(DoPutPreparedStatementResult { prepared_statement_handle: Some(encoded.into()) })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        let handle = StatementHandle::decode(&cmd.prepared_statement_handle).map_err(handle_status)?;
        let (_, schema) = self.frames(&handle).await?;
        info(cmd, &schema, request.into_inner())
    }

    async fn do_get_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        let handle = StatementHandle::decode(&cmd.prepared_statement_handle).map_err(handle_status)?;
        let (frames, schema) = self.frames(&handle).await?;
        Ok(self.stream(frames, schema))
    }

    async fn do_action_close_prepared_statement(&self, _query: ActionClosePreparedStatementRequest, request: Request<Action>) -> Result<(), Status> {
        // Stateless handles: nothing to free.
        self.authorize(&request).await?;
        Ok(())
    }

    // ---- metadata ----

    async fn get_flight_info_sql_info(&self, query: CommandGetSqlInfo, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        let schema = query.clone().into_builder(&self.sql_info).schema();
        info(query, &schema, request.into_inner())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        one_batch(query.into_builder(&self.sql_info).build())
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        let schema = query.into_builder(&self.xdbc).schema();
        info(query, &schema, request.into_inner())
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        one_batch(query.into_builder(&self.xdbc).build())
    }

    async fn get_flight_info_catalogs(&self, query: CommandGetCatalogs, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        let schema = query.into_builder().schema();
        info(query, &schema, request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        _query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        one_batch(self.metadata.catalogs_batch())
    }

    async fn get_flight_info_schemas(&self, query: CommandGetDbSchemas, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        let schema = query.clone().into_builder().schema();
        info(query, &schema, request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        one_batch(self.metadata.schemas_batch(query))
    }

    async fn get_flight_info_tables(&self, query: CommandGetTables, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        let schema = query.clone().into_builder().schema();
        info(query, &schema, request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        let batch = self.metadata.tables_batch(query).await.map_err(|e| match e {
            super::metadata::TablesError::Load(e) => status_from_df(&e),
            other => Status::internal(other.to_string()),
        })?;
        one_batch(Ok(batch))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        let schema = query.into_builder().schema();
        info(query, &schema, request.into_inner())
    }

    async fn do_get_table_types(
        &self,
        _query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        one_batch(self.metadata.table_types_batch())
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        info(query, &primary_keys_schema(), request.into_inner())
    }

    async fn do_get_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        one_batch(self.metadata.primary_keys_batch(&query))
    }

    async fn get_flight_info_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        info(query, &foreign_keys_schema(), request.into_inner())
    }

    async fn do_get_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        one_batch(self.metadata.imported_keys_batch(&query))
    }

    async fn get_flight_info_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        info(query, &foreign_keys_schema(), request.into_inner())
    }

    async fn do_get_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        one_batch(self.metadata.exported_keys_batch(&query))
    }

    async fn get_flight_info_cross_reference(
        &self,
        query: CommandGetCrossReference,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request).await?;
        info(query, &foreign_keys_schema(), request.into_inner())
    }

    async fn do_get_cross_reference(
        &self,
        query: CommandGetCrossReference,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.authorize(&request).await?;
        one_batch(self.metadata.cross_reference_batch(&query))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}

    // ---- OmniMarket's own actions ----

    async fn list_custom_actions(&self) -> Option<Vec<Result<ActionType, Status>>> {
        Some(vec![Ok(ActionType {
            r#type: COMPILE_ACTION.into(),
            description: "The plain SQL a semantic query runs as (body: the query, UTF-8). No result for plain SQL.".into(),
        })])
    }

    async fn do_action_fallback(&self, request: Request<Action>) -> Result<Response<<Self as FlightService>::DoActionStream>, Status> {
        self.authorize(&request).await?;
        let action = request.into_inner();
        if action.r#type != COMPILE_ACTION {
            return Err(Status::invalid_argument(format!("unknown action `{}`; this server's own action is `{COMPILE_ACTION}`", action.r#type)));
        }
        let sql = std::str::from_utf8(&action.body).map_err(|_| Status::invalid_argument("the query to compile is not UTF-8 text"))?;
        let compiled = self.engine.compile(&number_placeholders(sql)).await.map_err(|e| self.sql_status(&e))?;
        let results = compiled.map(|c| Ok(arrow_flight::Result { body: c.into() }));
        Ok(Response::new(Box::pin(futures::stream::iter(results))))
    }
}
