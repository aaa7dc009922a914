//! The Arrow Flight SQL server (`omnimarket serve`): BI tools, notebooks and the remote shell reach the model
//! here. [`start`] binds the address and runs the service until told to stop; the service itself is in
//! [`service`], statement handles in [`prepared`], metadata in [`metadata`], results on the wire in
//! [`results`], authentication in [`auth`] and TLS in [`tls`].

pub mod connections;
pub mod metadata;
pub mod prepared;
pub mod results;
pub mod service;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

pub use crate::auth::{self, Authenticator};
use crate::engine::Engine;
pub use metadata::{CatalogSource, Metadata, MetadataSource};
pub use results::ActiveQueries;
pub use tls::TlsFiles;

/// The DoAction type that returns the plain SQL a semantic query compiles to (the remote shell's `\compile`).
pub const COMPILE_ACTION: &str = "omnimarket.compile";

/// gRPC's default 4 MiB limit is too small for a parameter batch or a wide result batch from a tuned client;
/// 64 MiB bounds what one message can make the server allocate.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// Calls one connection may have in flight at once (each may be a running query).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 64;

pub struct ServerConfig {
    pub addr: SocketAddr,
    pub tls: Option<TlsFiles>,
    pub auth: Arc<Authenticator>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("TLS setup failed: {0}")]
    TlsSetup(tonic::transport::Error),
    #[error("internal: {0}")]
    Internal(String),
    #[error("server failed: {0}")]
    Transport(tonic::transport::Error),
}

/// A server running on a tokio task.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Results being streamed right now.
    pub active: ActiveQueries,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningServer {
    /// Stops accepting calls, lets the calls in flight finish, and waits for the server to end.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.wait().await
    }

    /// Waits until the server ends (after [`RunningServer::stop`] or the shutdown future given to [`start`]).
    pub async fn wait(&mut self) -> Result<(), ServeError> {
        match (&mut self.task).await {
            Ok(r) => r.map_err(ServeError::Transport),
            Err(e) => Err(ServeError::Internal(e.to_string())),
        }
    }
}

/// The metadata the server shows for an engine: everything in its catalog (`raw`, `staging`, and `semantic`
/// once the engine registers the model table there), and the semantic model's keys and relationships.
pub fn engine_metadata(engine: &Engine) -> Metadata {
    use crate::project::{CATALOG, RAW_SCHEMA};
    Metadata::new(vec![
        Arc::new(CatalogSource::new(engine.context().clone(), CATALOG)),
        Arc::new(metadata::ModelKeys::new(engine.model(), CATALOG, RAW_SCHEMA)),
    ])
}

/// Binds `config.addr` (port 0 picks a free port: see [`RunningServer::addr`]) and serves until `shutdown`
/// resolves or [`RunningServer::stop`] is called.
pub async fn start(engine: Engine, config: ServerConfig, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<RunningServer, ServeError> {
    let listener = tokio::net::TcpListener::bind(config.addr).await.map_err(|source| ServeError::Bind { addr: config.addr, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: config.addr, source })?;
    let incoming = connections::within_caps(TcpIncoming::from(listener).with_nodelay(Some(true)), Arc::new(connections::OpenConnections::default()));
    let active = ActiveQueries::default();
    let metadata = engine_metadata(&engine);
    let service = service::OmniFlightSql::new(engine, config.auth, metadata, active.clone()).map_err(|e| ServeError::Internal(e.to_string()))?;
    let svc = FlightServiceServer::new(service).max_decoding_message_size(MAX_MESSAGE_SIZE).max_encoding_message_size(MAX_MESSAGE_SIZE);
    // A client that vanishes without closing (a laptop closed mid-query) is noticed by HTTP/2 pings, and its
    // streams dropped, which cancels their queries. Streams per connection and header sizes are bounded so
    // one connection cannot hold the server's memory or its query threads.
    let mut builder = Server::builder()
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
        .http2_max_header_list_size(Some(64 * 1024))
        .http2_max_pending_accept_reset_streams(Some(100))
        .layer(crate::catch_panic::CatchPanicLayer::new(crate::catch_panic::grpc_internal));
    if let Some(tls) = &config.tls {
        builder = builder.tls_config(tls.server_config()?).map_err(ServeError::TlsSetup)?;
    }
    let (tx, rx) = oneshot::channel::<()>();
    let signal = async move {
        tokio::select! {
            _ = shutdown => {}
            _ = rx => {}
        }
    };
    let router = builder.add_service(svc);
    let task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, signal));
    Ok(RunningServer { addr, active, stop: Some(tx), task })
}
