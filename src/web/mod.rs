//! The HTTP face of the semantic layer (`omnimarket serve --http`): the five dashboards as server-rendered
//! pages (no JavaScript needed, slicers as a GET form) and a small JSON/Arrow API over the same engine.
//! `omnimarket report` writes the same pages to files.
//!
//! Routes: `/` (navigation), `/{dashboard}?Annee=2024&...` (a page), `POST /api/query`, `GET /api/model`,
//! `GET|POST /login`, `POST /logout`. Every request first passes the Host and Origin checks ([`guard`]: no DNS
//! rebinding, no cross-site requests), then, with authentication on, the login gate ([`session`], [`login`]);
//! connections are served by [`server`] (timeouts, connection caps), over TLS with [`tls`].

pub mod api;
pub mod charts;
pub mod format;
pub mod guard;
pub mod html;
pub mod login;
pub mod pages;
pub mod server;
pub mod session;
pub mod table;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use crate::auth::Authenticator;
use crate::dashboards::Dashboard;
use crate::engine::Engine;
use crate::flight::tls::TlsFiles;
use guard::Site;
use html::Links;
use pages::{Selection, Slicer};
use session::Session;

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
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Host(#[from] guard::HostError),
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

/// What the handlers share: the engine, the dashboards, the authentication policy (shared with Flight SQL),
/// and the slicers' values (read once, on first use: the data does not change while the server runs).
pub struct Web {
    pub engine: Engine,
    pub dashboards: Vec<Dashboard>,
    pub auth: Arc<Authenticator>,
    allowed_hosts: Vec<String>,
    slicers: OnceCell<Vec<Slicer>>,
}

impl Web {
    /// `auth`: [`Authenticator::none`] serves everyone (loopback only, `serve` checks that).
    pub fn new(engine: Engine, dashboards: Vec<Dashboard>, auth: Arc<Authenticator>) -> Web {
        Web { engine, dashboards, auth, allowed_hosts: Vec::new(), slicers: OnceCell::new() }
    }

    /// Host names (`name` for any port, or `name:port`) accepted in `Host` and `Origin` besides the bound
    /// address: the DNS name of a deployment, or a reverse proxy's. Checked by [`start`].
    pub fn with_allowed_hosts(mut self, hosts: Vec<String>) -> Web {
        self.allowed_hosts = hosts;
        self
    }

    pub fn allowed_hosts(&self) -> &[String] {
        &self.allowed_hosts
    }

    pub async fn slicers(&self) -> Result<&[Slicer], WebError> {
        self.slicers.get_or_try_init(|| pages::load_slicers(&self.engine, &self.dashboards)).await.map(Vec::as_slice)
    }

    /// A dashboard page with the slicers in `params` (`[("Annee", "2024")]`).
    pub async fn render(&self, name: &str, params: &[(String, String)], links: Links) -> Result<pages::Page, WebError> {
        let board = self.dashboards.iter().find(|d| d.name == name).ok_or_else(|| WebError::NotFound(name.to_string()))?;
        // The page's own slicers, in the order it declares them.
        let all = self.slicers().await?;
        let slicers: Vec<Slicer> = board.slicers.iter().filter_map(|d| all.iter().find(|s| s.attribute == d.attribute).cloned()).collect();
        let selection = Selection::parse(&slicers, params)?;
        Ok(pages::dashboard(&self.engine, &self.dashboards, board, &slicers, &selection, links).await)
    }
}

/// Every route with its guards, for a server answering as `site`.
pub fn router(web: Arc<Web>, site: Site) -> Router {
    let query = post(api::query).route_layer(from_fn(guard::require_json));
    let dax = post(api::dax).route_layer(from_fn(guard::require_json));
    Router::new()
        .route("/", get(index))
        .route("/api/query", query)
        .route("/api/dax", dax)
        .route("/api/model", get(api::model))
        .route(session::LOGIN_PATH, get(login::form).post(login::submit))
        .route(session::LOGOUT_PATH, post(login::logout))
        .route("/{name}", get(dashboard))
        // The last layer added runs first: the panic catcher around everything, then the site checks, then the
        // login gate.
        .layer(from_fn_with_state(web.clone(), session::require_login))
        .layer(from_fn_with_state(Arc::new(site), guard::check_site))
        .layer(crate::catch_panic::CatchPanicLayer::new(crate::catch_panic::http_internal))
        .with_state(web)
}

/// A served page, with the logout button when someone is logged in.
fn served(page: String, session: Option<Extension<Session>>) -> Html<String> {
    match session {
        Some(Extension(s)) => Html(html::with_logout(page, &s.user)),
        None => Html(page),
    }
}

async fn index(State(web): State<Arc<Web>>, session: Option<Extension<Session>>) -> Html<String> {
    served(pages::index(&web.dashboards, Links::Server), session)
}

async fn dashboard(
    State(web): State<Arc<Web>>,
    Path(name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    session: Option<Extension<Session>>,
) -> Response {
    match web.render(&name, &params, Links::Server).await {
        // A visual that failed shows its error in place; the rest of the page is still worth reading.
        Ok(page) => served(page.html, session).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A running HTTP server.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// `http://127.0.0.1:8080` (IPv6 in brackets).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

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

/// Binds `addr` (port 0: a free port, see [`RunningServer::addr`]) and serves until `shutdown` resolves, over
/// TLS when `tls` is given. The Host/Origin checks answer for the address actually bound.
pub async fn start(
    web: Arc<Web>,
    addr: SocketAddr,
    tls: Option<TlsFiles>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningServer, WebError> {
    // Certificate problems are reported before the port is taken.
    let acceptor = tls.as_ref().map(tls::acceptor).transpose()?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| WebError::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(|source| WebError::Bind { addr, source })?;
    let site = Site::new(addr, acceptor.is_some(), web.allowed_hosts())?;
    let scheme = site.scheme;
    let app = router(web, site);
    let task = match acceptor {
        Some(acceptor) => {
            let listener = tls::TlsListener::new(listener, acceptor).map_err(|source| WebError::Bind { addr, source })?;
            tokio::spawn(server::serve(listener, app, shutdown))
        }
        None => tokio::spawn(server::serve(listener, app, shutdown)),
    };
    Ok(RunningServer { addr, scheme, task })
}
