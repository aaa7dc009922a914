//! `serve --pg`: the PostgreSQL wire protocol on the shared [`Engine`], for the BI tools and drivers that speak
//! it (psql, Power BI's and Tableau's PostgreSQL connectors, Metabase, Superset, DBeaver, psqlODBC, pgJDBC,
//! psycopg, SQLAlchemy).
//!
//! The protocol is pgwire's (through datafusion-postgres, with its Arrow → Postgres encoding and its pg_catalog
//! tables); the handlers are ours, so that a Postgres client is held to the same rules as a Flight SQL one:
//! - [`startup`]: the users file, SCRAM-SHA-256 ([`crate::auth::scram`]), the same login throttling; TLS with
//!   the same certificate; `--no-auth` only on loopback (checked by `serve`).
//! - [`session`]: every query goes through the engine (read-only guard, semantic SQL and DAX, time limit, query
//!   threads); results stream; [`cancel`] stops them.
//! - [`statement`] and [`settings`]: `SET`/`SHOW`/`BEGIN` are answered per connection and never touch the
//!   settings other clients share.
//! - [`catalog`]: the pg_catalog and the column comments of the semantic table.
//!
//! Connections are capped in total and per address as on Flight SQL; pgwire gives a client a fixed time to
//! finish its login.

pub mod cancel;
pub mod catalog;
pub mod session;
pub mod settings;
pub mod startup;
pub mod statement;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use datafusion_postgres::pgwire;
use pgwire::api::PgWireServerHandlers;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::auth::Authenticator;
use crate::engine::Engine;
use crate::flight::connections::OpenConnections;
use crate::flight::tls::TlsFiles;

#[derive(Debug, thiserror::Error)]
pub enum PgServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(#[from] crate::web::tls::TlsError),
    #[error("cannot set up pg_catalog: {0}")]
    Catalog(String),
}

pub struct PgConfig {
    pub addr: SocketAddr,
    pub tls: Option<TlsFiles>,
    pub auth: Arc<Authenticator>,
}

pub struct RunningPg {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
    pub open: Arc<OpenConnections>,
}

impl RunningPg {
    /// Waits until the server stops accepting (the shutdown future resolved).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// The handlers of one connection (pgwire asks for them once per connection).
struct Handlers {
    session: Arc<session::Session>,
    shared: Arc<startup::Shared>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl pgwire::api::query::SimpleQueryHandler> {
        self.session.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl pgwire::api::query::ExtendedQueryHandler> {
        self.session.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        Arc::new(startup::Startup::new(self.shared.clone()))
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::new(cancel::CancelRequests(self.shared.cancels.clone()))
    }
}

/// The TLS acceptor for Postgres clients: the same certificate as the other servers, announced by ALPN as
/// `postgresql` (what libpq 17's direct TLS asks for).
fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, PgServeError> {
    let mut config = crate::web::tls::server_config(files)?;
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Binds `config.addr` and serves until `shutdown` resolves. The engine gets the pg_catalog schema and the
/// functions clients call on connect (`current_schema()`, `format_type`, `pg_get_userbyid`...).
pub async fn start(engine: Engine, config: PgConfig, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<RunningPg, PgServeError> {
    catalog::install(&engine).map_err(PgServeError::Catalog)?;
    let tls = config.tls.as_ref().map(acceptor).transpose()?;
    let listener = TcpListener::bind(config.addr).await.map_err(|source| PgServeError::Bind { addr: config.addr, source })?;
    let addr = listener.local_addr().map_err(|source| PgServeError::Bind { addr: config.addr, source })?;
    let handlers =
        Arc::new(Handlers { session: Arc::new(session::Session::new(engine)), shared: Arc::new(startup::Shared::new(config.auth, tls.is_some())) });
    let open = Arc::new(OpenConnections::default());
    let task = tokio::spawn(accept_loop(listener, tls, handlers, open.clone(), shutdown));
    Ok(RunningPg { addr, task, open })
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    handlers: Arc<Handlers>,
    open: Arc<OpenConnections>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => a,
        };
        let (socket, peer) = match accepted {
            Ok(a) => a,
            // Out of file descriptors and the like: wait a little rather than spin.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        // Past the caps the connection is closed at once; those already open are not affected.
        let Some(slot) = open.enter(peer.ip()) else { continue };
        let _ = socket.set_nodelay(true);
        let (tls, handlers) = (tls.clone(), handlers.clone());
        tokio::spawn(async move {
            let _slot = slot;
            // A client that breaks the protocol or goes away ends its own connection only.
            let _ = pgwire::tokio::process_socket(socket, tls, handlers).await;
        });
    }
}
