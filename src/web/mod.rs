//! The HTTP face of the semantic layer (`omnimarket serve --http`): the five dashboards as server-rendered
//! pages (no JavaScript needed, slicers as a GET form) and a small JSON/Arrow API over the same engine.
//! `omnimarket report` writes the same pages to files. Not for authentication: the HTTP server has none, so
//! `serve` only binds it to a loopback address.
//!
//! Routes: `/` (navigation), `/{dashboard}?Annee=2024&...` (a page), `POST /api/query`, `GET /api/model`.

pub mod api;
pub mod charts;
pub mod format;
pub mod html;
pub mod pages;
pub mod table;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use crate::dashboards::Dashboard;
use crate::engine::Engine;
use html::Links;
use pages::{Selection, Slicer};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("no dashboard named `{0}`")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Query(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the HTTP server failed: {0}")]
    Server(String),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match self {
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, self.to_string()).into_response()
    }
}

/// What the handlers share: the engine, the dashboards, and the slicers' values (read once, on first use:
/// the data does not change while the server runs).
pub struct Web {
    pub engine: Engine,
    pub dashboards: Vec<Dashboard>,
    slicers: OnceCell<Vec<Slicer>>,
}

impl Web {
    pub fn new(engine: Engine, dashboards: Vec<Dashboard>) -> Web {
        Web { engine, dashboards, slicers: OnceCell::new() }
    }

    pub async fn slicers(&self) -> Result<&[Slicer], WebError> {
        self.slicers.get_or_try_init(|| pages::load_slicers(&self.engine)).await.map(Vec::as_slice)
    }

    /// A dashboard page with the slicers in `params` (`[("Annee", "2024")]`).
    pub async fn render(&self, name: &str, params: &[(String, String)], links: Links) -> Result<pages::Page, WebError> {
        let board = self.dashboards.iter().find(|d| d.name == name).ok_or_else(|| WebError::NotFound(name.to_string()))?;
        let slicers = self.slicers().await?;
        let selection = Selection::parse(slicers, params)?;
        Ok(pages::dashboard(&self.engine, &self.dashboards, board, slicers, &selection, links).await)
    }
}

pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/api/query", post(api::query))
        .route("/api/model", get(api::model))
        .route("/{name}", get(dashboard))
        .with_state(web)
}

async fn index(State(web): State<Arc<Web>>) -> Html<String> {
    Html(pages::index(&web.dashboards, Links::Server))
}

async fn dashboard(State(web): State<Arc<Web>>, Path(name): Path<String>, Query(params): Query<Vec<(String, String)>>) -> Response {
    match web.render(&name, &params, Links::Server).await {
        // A visual that failed shows its error in place; the rest of the page is still worth reading.
        Ok(page) => Html(page.html).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A running HTTP server.
pub struct RunningServer {
    pub addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Waits for the server to end (after `shutdown` resolved and the requests in flight finished).
    pub async fn wait(self) -> Result<(), WebError> {
        match self.task.await {
            Ok(r) => r.map_err(|e| WebError::Server(e.to_string())),
            Err(e) => Err(WebError::Server(e.to_string())),
        }
    }

    /// Stops at once (tests).
    pub fn abort(&self) {
        self.task.abort();
    }
}

/// Binds `addr` (port 0: a free port, see [`RunningServer::addr`]) and serves until `shutdown` resolves.
pub async fn start(web: Arc<Web>, addr: SocketAddr, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<RunningServer, WebError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| WebError::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(|source| WebError::Bind { addr, source })?;
    let app = router(web);
    let task = tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(shutdown).await });
    Ok(RunningServer { addr, task })
}
