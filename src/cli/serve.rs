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
    /// Address to listen on (port 0: a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub addr: SocketAddr,
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

pub fn run(args: ServeArgs) -> Result<ExitCode, String> {
    let auth = if args.no_auth {
        if !args.addr.ip().is_loopback() {
            eprintln!("error: --no-auth is only allowed on a loopback address (127.0.0.1, ::1), not {}", args.addr.ip());
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
    let config = ServerConfig { addr: args.addr, tls, auth: Arc::new(auth) };
    runtime()?.block_on(async move {
        let mut server = crate::flight::start(engine, config, shutdown_signal()).await.map_err(|e| e.to_string())?;
        // Scripts wait for this line (and read the port from it when --addr ends in :0).
        println!("listening on {scheme}://{} (auth: {auth_note})", server.addr);
        let _ = std::io::stdout().flush();
        server.wait().await.map_err(|e| e.to_string())?;
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
