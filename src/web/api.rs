//! The JSON API: `POST /api/query` runs SQL (plain or semantic) and returns `{"columns", "rows"}`, or an Arrow
//! IPC stream when the client's Accept asks for `application/vnd.apache.arrow.stream`; `GET /api/model` is the
//! model (tables, relationships, attributes, measures by folder), as `omnimarket model --format json` prints it.
//! A query the engine rejects is the client's mistake: 400 with `{"error": "..."}` holding the engine's text.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use datafusion::arrow::ipc::writer::StreamWriter;

use super::Web;
use super::table::ResultTable;

pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

#[derive(serde::Deserialize)]
struct QueryRequest {
    sql: String,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

pub async fn query(State(web): State<Arc<Web>>, headers: HeaderMap, body: Bytes) -> Response {
    // The body is parsed here rather than by axum's Json extractor so that every malformed request gets the same
    // 400 with a JSON error, whatever its Content-Type.
    let request: QueryRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("the body must be {{\"sql\": \"...\"}}: {e}")),
    };
    let wants_arrow = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().starts_with(ARROW_STREAM)));
    let describe = |e: datafusion::error::DataFusionError| crate::errors::describe_error(&e);
    let df = match web.engine.sql(&request.sql).await.map_err(describe) {
        Ok(df) => df,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let schema = df.schema().as_arrow().clone();
    let batches = match df.collect().await.map_err(describe) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
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

pub async fn model(State(web): State<Arc<Web>>) -> Response {
    axum::Json(crate::cli::model_json(web.engine.model())).into_response()
}
