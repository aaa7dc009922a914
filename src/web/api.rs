//! The JSON API: `POST /api/query` runs SQL (plain or semantic) and returns `{"columns", "rows"}`, or an Arrow
//! IPC stream when the client's Accept asks for `application/vnd.apache.arrow.stream`; `GET /api/model` is the
//! model (tables, relationships, attributes, measures by folder), as `omnimarket model --format json` prints it.
//! A query the engine rejects is the client's mistake: 400 with `{"error": "..."}` holding the engine's text;
//! a statement it refuses (a write, a setting) is 403. The body must be `application/json` ([`super::guard`])
//! and at most [`MAX_BODY_BYTES`].

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use datafusion::arrow::ipc::writer::StreamWriter;

use super::Web;
use super::guard::{error, read_body};
use super::table::ResultTable;

pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// The engine takes SQL texts up to 1 MiB ([`crate::engine::guard::MAX_SQL_BYTES`]); JSON escaping needs a
/// little more. Larger bodies are 413.
pub const MAX_BODY_BYTES: usize = crate::engine::guard::MAX_SQL_BYTES + 64 * 1024;

#[derive(serde::Deserialize)]
struct QueryRequest {
    sql: String,
}

pub async fn query(State(web): State<Arc<Web>>, headers: HeaderMap, body: Body) -> Response {
    let body = match read_body(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    // The body is parsed here rather than by axum's Json extractor so that every malformed request gets the same
    // 400 with a JSON error.
    let request: QueryRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("the body must be {{\"sql\": \"...\"}}: {e}")),
    };
    let wants_arrow =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|t| t.trim().starts_with(ARROW_STREAM)));
    let (schema, batches) = match web.engine.query(&request.sql, &[]).await {
        Ok(r) => r,
        Err(e) => return error(engine_status(&e), crate::errors::describe_error(&e)),
    };
    if wants_arrow {
        let mut buf = Vec::new();
        let written = StreamWriter::try_new(&mut buf, &schema).and_then(|mut w| {
            for b in &batches {
                w.write(b)?;
            }
            w.finish()
        });
        return match written {
            Ok(()) => ([(header::CONTENT_TYPE, ARROW_STREAM)], buf).into_response(),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode the result as Arrow IPC: {e}")),
        };
    }
    axum::Json(ResultTable::from_batches(&schema, &batches).json()).into_response()
}

#[derive(serde::Deserialize)]
struct DaxRequest {
    query: String,
}

/// `POST /api/dax` with `{"query": "DEFINE ... EVALUATE ..."}`: `{"results": [table, ...]}`, one table per
/// EVALUATE (each as `/api/query` returns it), columns named as DAX names them (`Dim_Canal[Nom_Canal]`, `[CA]`).
pub async fn dax(State(web): State<Arc<Web>>, body: Body) -> Response {
    let body = match read_body(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let request: DaxRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("the body must be {{\"query\": \"EVALUATE ...\"}}: {e}")),
    };
    let frames = match web.engine.dax(&request.query).await {
        Ok(f) => f,
        Err(e) => return error(engine_status(&e), crate::errors::describe_error(&e)),
    };
    let mut results = Vec::new();
    for df in frames {
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        match web.engine.collect(df).await {
            Ok(batches) => results.push(ResultTable::from_batches(&schema, &batches).json()),
            Err(e) => return error(engine_status(&e), crate::errors::describe_error(&e)),
        }
    }
    axum::Json(serde_json::json!({ "results": results })).into_response()
}

/// The HTTP status for an engine error: a refused statement is 403, a query past its time limit 503 (the
/// server is fine, the query was too heavy), an internal failure 500; any other error is the client's query.
pub fn engine_status(e: &datafusion::error::DataFusionError) -> StatusCode {
    use crate::engine::runtime::{Interrupted, interrupted};
    if crate::engine::guard::is_permission_denied(e) {
        return StatusCode::FORBIDDEN;
    }
    match interrupted(e) {
        Some(Interrupted::Timeout(_)) | Some(Interrupted::ShuttingDown) => StatusCode::SERVICE_UNAVAILABLE,
        Some(Interrupted::Panicked(_)) => StatusCode::INTERNAL_SERVER_ERROR,
        None if matches!(e.find_root(), datafusion::error::DataFusionError::ResourcesExhausted(_)) => StatusCode::SERVICE_UNAVAILABLE,
        None => StatusCode::BAD_REQUEST,
    }
}

pub async fn model(State(web): State<Arc<Web>>) -> Response {
    axum::Json(crate::cli::model_json(web.engine.model())).into_response()
}
