//! `omnimarket serve`: the Arrow Flight SQL server (and, on request, HTTP and Postgres wire), until SIGINT/SIGTERM; and `omnimarket user add`, which
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

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Flight SQL address to listen on (port 0: a free port, printed at start) [default: 127.0.0.1:50051; with
    /// --http and no --addr, Flight SQL is not served].
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Also serve the dashboards and the JSON API over HTTP on this address (https with --tls-cert; a login page
    /// with --users; a non-loopback address needs --users). Alone, without --addr, it serves HTTP only.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Also serve the PostgreSQL wire protocol on this address (psql, ODBC, JDBC, psycopg; database
    /// `omnimarket`; SCRAM-SHA-256 logins from --users; TLS with --tls-cert). Without --addr, Flight SQL is not
    /// served.
    #[arg(long, value_name = "ADDR")]
    pub pg: Option<SocketAddr>,
    /// A host name (`name` for any port, or `name:port`) the HTTP server also answers to, besides its address:
    /// the DNS name it is deployed under, or a reverse proxy's. Requests naming any other host are refused
    /// (DNS rebinding). Repeatable.
    #[arg(long, value_name = "HOST", requires = "http", value_parser = check_allowed_host)]
    pub http_allowed_host: Vec<String>,
    /// PEM certificate chain: serve TLS (grpc+tls:// and, with --http, https://) with rustls. Needs --tls-key.
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
    /// Time limit of one query (planning, and each run of it), in seconds: past it the query is cancelled and
    /// the client gets an error (DEADLINE_EXCEEDED on Flight SQL, 503 on HTTP).
    #[arg(long, value_name = "SECS", default_value_t = crate::engine::DEFAULT_QUERY_TIMEOUT.as_secs())]
    pub query_timeout: u64,
}

fn check_allowed_host(text: &str) -> Result<String, String> {
    crate::web::guard::parse_allowed_host(text).map(|_| text.trim().to_string()).map_err(|e| e.to_string())
}

/// `4G`, `512M`, `64k` or a plain number of bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len()));
    let value: f64 = digits.parse().map_err(|_| format!("`{text}` is not a size: write e.g. 4G, 512M or 1048576"))?;
    let factor: f64 = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use K, M, G or T)")),
    };
    let bytes = value * factor;
    if !(bytes >= 1.0 && bytes < usize::MAX as f64) {
        return Err(format!("`{text}` is not a usable memory size"));
    }
    Ok(bytes as usize)
}

/// Half of the machine's memory (from /proc/meminfo), or 4 GiB where that cannot be read.
fn default_memory_limit() -> usize {
    let total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok()));
    total_kib.map(|k| k * 1024 / 2).unwrap_or(4 << 30)
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
    // `--http` or `--pg` without `--addr` serve only those; `--addr` (or none of the three) serves Flight SQL.
    let flight_addr = match (args.addr, args.http.is_some() || args.pg.is_some()) {
        (Some(addr), _) => Some(addr),
        (None, true) => None,
        (None, false) => Some(DEFAULT_ADDR),
    };
    // One authentication policy for both servers (a token from Flight's Handshake works over HTTP and back).
    // Without users (--no-auth, or --http alone without --users) everything is open: loopback only.
    let auth = if let Some(users) = &args.users {
        let users = Users::load(users).map_err(|e| e.to_string())?;
        Authenticator::with_users(users, Duration::from_secs(args.token_ttl))
    } else if args.no_auth || (flight_addr.is_none() && args.pg.is_none()) {
        if let Some(addr) = flight_addr.iter().chain(args.http.iter()).chain(args.pg.iter()).find(|a| !a.ip().is_loopback()) {
            if args.no_auth {
                eprintln!("error: --no-auth is only allowed on a loopback address (127.0.0.1, ::1), not {}", addr.ip());
            } else {
                eprintln!(
                    "error: --http without --users has no authentication and only listens on a loopback address (127.0.0.1, ::1), not {}: give --users FILE (see `omnimarket user add`)",
                    addr.ip()
                );
            }
            return Ok(ExitCode::from(2));
        }
        Authenticator::none()
    } else {
        eprintln!("error: give --users FILE (see `omnimarket user add`), or --no-auth on a loopback address");
        return Ok(ExitCode::from(2));
    };
    let auth = Arc::new(auth);
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    // A server always has a limit: half the machine unless --memory-limit says otherwise.
    let memory_limit = args.project.memory_limit.unwrap_or_else(default_memory_limit);
    let project = args.project.project()?.with_memory_limit(Some(memory_limit));
    let engine = Engine::open(&project).map_err(|e| e.to_string())?.with_timeout(Duration::from_secs(args.query_timeout.max(1)));
    let scheme = if tls.is_some() { "grpc+tls" } else { "grpc" };
    let auth_note = match (auth.enabled(), args.no_auth) {
        (true, _) => "user name and password",
        (false, true) => "none (--no-auth)",
        (false, false) => "none (no --users)",
    };
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
                let web = crate::web::Web::new(engine.clone(), dashboards, auth.clone()).with_allowed_hosts(args.http_allowed_host);
                let web = Arc::new(web);
                let server = crate::web::start(web, addr, tls.clone(), stopped(stop_rx.clone())).await.map_err(|e| e.to_string())?;
                // Scripts wait for this line (and read the port from it when --http ends in :0).
                println!("listening on {} (dashboards and JSON API, auth: {auth_note})", server.url());
                let _ = std::io::stdout().flush();
                Some(server)
            }
            None => None,
        };
        let pg = match args.pg {
            Some(addr) => {
                let config = crate::pg::PgConfig { addr, tls: tls.clone(), auth: auth.clone() };
                let server = crate::pg::start(engine.clone(), config, stopped(stop_rx.clone())).await.map_err(|e| e.to_string())?;
                let mode = if tls.is_some() { "sslmode=require" } else { "sslmode=disable" };
                // Scripts wait for this line (and read the port from it when --pg ends in :0).
                println!("listening on postgresql://{}/{}?{mode} (auth: {auth_note})", server.addr, crate::pg::startup::DATABASE);
                let _ = std::io::stdout().flush();
                Some(server)
            }
            None => None,
        };
        if let Some(addr) = flight_addr {
            let config = ServerConfig { addr, tls, auth: auth.clone() };
            let mut server = crate::flight::start(engine, config, stopped(stop_rx)).await.map_err(|e| e.to_string())?;
            // Scripts wait for this line (and read the port from it when --addr ends in :0).
            println!("listening on {scheme}://{} (auth: {auth_note})", server.addr);
            let _ = std::io::stdout().flush();
            server.wait().await.map_err(|e| e.to_string())?;
        }
        if let Some(server) = http {
            server.wait().await.map_err(|e| e.to_string())?;
        }
        if let Some(server) = pg {
            server.wait().await;
        }
        eprintln!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// How long a shutdown waits for the calls in flight before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// SIGINT or SIGTERM: the server stops accepting calls, cancels the running queries and lets the calls in
/// flight end. A second signal, or [`SHUTDOWN_GRACE`] without them ending, exits at once, so neither a client
/// reading a huge result nor a query stuck on the cores can hold a shutdown. Signals are handled on the serving
/// runtime, and the grace timer is a thread of its own: neither waits for the query threads.
async fn shutdown_signal() {
    wait_signal().await;
    eprintln!("shutting down (signal again to exit now)...");
    crate::engine::runtime::shut_down();
    let _ = std::thread::Builder::new().name("omnimarket-shutdown".into()).spawn(|| {
        std::thread::sleep(SHUTDOWN_GRACE);
        eprintln!("exiting with calls still in flight");
        std::process::exit(0);
    });
    tokio::spawn(async {
        wait_signal().await;
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
