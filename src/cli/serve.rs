//! `omnimarket serve`: the Arrow Flight SQL server, until SIGINT/SIGTERM; and `omnimarket user add`, which
//! writes the users file it reads.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{ProjectArgs, runtime};
use crate::engine::Engine;
use crate::flight::auth::{Authenticator, DEFAULT_TOKEN_TTL, Users, upsert_user};
use crate::flight::{ServerConfig, TlsFiles};
use crate::project::{Project, default_data_dir};

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Flight SQL address to listen on (port 0: a free port, printed at start) [default: 127.0.0.1:50051; with
    /// --http and no --addr, Flight SQL is not served].
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Also serve the dashboards and the JSON API over HTTP on this address (loopback only: the HTTP side has no
    /// authentication). Alone, without --addr, it serves HTTP only.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// PEM certificate chain: serve TLS (grpc+tls://) with rustls. Needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Users file (`name:argon2-hash` lines, written by `omnimarket user add`): clients hand-shake with a user
    /// name and password and get a bearer token.
    #[arg(long, conflicts_with = "no_auth")]
    pub users: Option<PathBuf>,
    /// Accept every client without credentials. Only allowed on a loopback address.
    #[arg(long)]
    pub no_auth: bool,
    /// Lifetime of a bearer token, in seconds.
    #[arg(long, default_value_t = DEFAULT_TOKEN_TTL.as_secs())]
    pub token_ttl: u64,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub action: UserAction,
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Add a user to the users file (or change their password); the password is read from standard input.
    Add {
        /// The users file (created if missing).
        #[arg(long)]
        users: PathBuf,
        /// The user name.
        name: String,
    },
}

/// Flight SQL's address when `--addr` is not given.
const DEFAULT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50051);

pub fn run(args: ServeArgs) -> Result<ExitCode, String> {
    // `--http` alone serves HTTP only; `--addr` (or neither flag) serves Flight SQL.
    let flight_addr = match (args.addr, args.http) {
        (None, Some(_)) => None,
        (addr, _) => Some(addr.unwrap_or(DEFAULT_ADDR)),
    };
    if let Some(http) = args.http
        && !http.ip().is_loopback()
    {
        eprintln!("error: --http has no authentication and only listens on a loopback address (127.0.0.1, ::1), not {}", http.ip());
        return Ok(ExitCode::from(2));
    }
    let auth = if flight_addr.is_none() {
        Authenticator::none()
    } else if args.no_auth {
        let addr = flight_addr.unwrap_or(DEFAULT_ADDR);
        if !addr.ip().is_loopback() {
            eprintln!("error: --no-auth is only allowed on a loopback address (127.0.0.1, ::1), not {}", addr.ip());
            return Ok(ExitCode::from(2));
        }
        Authenticator::none()
    } else {
        let Some(users) = &args.users else {
            eprintln!("error: give --users FILE (see `omnimarket user add`), or --no-auth on a loopback address");
            return Ok(ExitCode::from(2));
        };
        let users = Users::load(users).map_err(|e| e.to_string())?;
        Authenticator::with_users(users, Duration::from_secs(args.token_ttl))
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let data = super::generate::ensure_data(args.project.data.as_deref(), default_data_dir())?;
    let project = Project::new(&args.project.project, data);
    let engine = Engine::open(&project).map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "grpc+tls" } else { "grpc" };
    let auth_note = if auth.enabled() { "user name and password" } else { "none (--no-auth)" };
    let dashboards = match args.http {
        Some(_) => crate::dashboards::load(&args.project.project).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    runtime()?.block_on(async move {
        // One signal stops both servers.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(());
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<()>| async move {
            let _ = rx.changed().await;
        };
        let http = match args.http {
            Some(addr) => {
                let web = Arc::new(crate::web::Web::new(engine.clone(), dashboards));
                let server = crate::web::start(web, addr, stopped(stop_rx.clone())).await.map_err(|e| e.to_string())?;
                // Scripts wait for this line (and read the port from it when --http ends in :0).
                println!("listening on http://{} (dashboards and JSON API, auth: none)", server.addr);
                let _ = std::io::stdout().flush();
                Some(server)
            }
            None => None,
        };
        if let Some(addr) = flight_addr {
            let config = ServerConfig { addr, tls, auth: Arc::new(auth) };
            let mut server = crate::flight::start(engine, config, stopped(stop_rx)).await.map_err(|e| e.to_string())?;
            // Scripts wait for this line (and read the port from it when --addr ends in :0).
            println!("listening on {scheme}://{} (auth: {auth_note})", server.addr);
            let _ = std::io::stdout().flush();
            server.wait().await.map_err(|e| e.to_string())?;
        }
        if let Some(server) = http {
            server.wait().await.map_err(|e| e.to_string())?;
        }
        eprintln!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// SIGINT or SIGTERM: the server stops accepting calls and finishes those in flight. A second signal, or 10 s
/// without the streams ending, exits at once, so a client reading a huge result cannot hold a shutdown.
async fn shutdown_signal() {
    wait_signal().await;
    eprintln!("shutting down (signal again to exit now)...");
    tokio::spawn(async {
        tokio::select! {
            _ = wait_signal() => {}
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
        eprintln!("exiting with calls still in flight");
        std::process::exit(0);
    });
}

async fn wait_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn run_user(args: UserArgs) -> Result<ExitCode, String> {
    match args.action {
        UserAction::Add { users, name } => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprint!("password for {name} (shown as typed): ");
                let _ = std::io::stderr().flush();
            }
            let mut line = String::new();
            stdin.lock().read_line(&mut line).map_err(|e| format!("cannot read the password: {e}"))?;
            let password = line.trim_end_matches(['\n', '\r']);
            if password.is_empty() {
                eprintln!("error: empty password");
                return Ok(ExitCode::from(2));
            }
            let replaced = upsert_user(&users, &name, password).map_err(|e| e.to_string())?;
            let verb = if replaced { "updated" } else { "added" };
            println!("{verb} user {name} in {}", users.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
