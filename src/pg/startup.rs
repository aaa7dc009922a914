//! A Postgres connection's start: the database name, the login (SCRAM-SHA-256 against the users file, throttled
//! like Flight SQL's logins), then the parameters and the key a client cancels its queries with.
//!
//! pgwire asks for one startup handler per connection, so the login's state lives in the handler itself.

use std::collections::HashMap;
use std::fmt::Debug;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion_postgres::pgwire;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata};
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::{Authentication, SecretKey};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use ring::rand::{SecureRandom, SystemRandom};

use super::cancel::Cancels;
use super::settings;
use crate::auth::Authenticator;
use crate::auth::scram::{self, ScramSecret, ServerFirst};

/// The database every client connects to (the project's catalog).
pub const DATABASE: &str = crate::project::CATALOG;

/// What all connections share.
pub struct Shared {
    pub auth: Arc<Authenticator>,
    /// With a certificate, plain-text connections are refused (as `hostssl` lines do in Postgres).
    pub tls_required: bool,
    pub cancels: Arc<Cancels>,
    next_pid: AtomicI32,
    /// Salts unknown users' decoy secrets: random per server start.
    decoy_key: [u8; 32],
}

impl Shared {
    pub fn new(auth: Arc<Authenticator>, tls_required: bool) -> Shared {
        let mut decoy_key = [0u8; 32];
        // Without OS randomness the decoy salts are predictable, which tells nothing but that the user is
        // unknown: acceptable, and SystemRandom does not fail on Linux.
        let _ = SystemRandom::new().fill(&mut decoy_key);
        Shared { auth, tls_required, cancels: Arc::new(Cancels::default()), next_pid: AtomicI32::new(1000), decoy_key }
    }
}

enum Login {
    Start,
    /// AuthenticationSASL sent; waiting for the client-first message.
    AwaitingFirst {
        user: String,
    },
    AwaitingFinal {
        user: String,
        exchange: Box<ServerFirst>,
    },
    Done,
}

pub struct Startup {
    shared: Arc<Shared>,
    login: Mutex<Login>,
}

impl Startup {
    pub fn new(shared: Arc<Shared>) -> Startup {
        Startup { shared, login: Mutex::new(Login::Start) }
    }

    fn take(&self) -> Login {
        std::mem::replace(&mut *self.login.lock().unwrap_or_else(|p| p.into_inner()), Login::Done)
    }

    fn put(&self, login: Login) {
        *self.login.lock().unwrap_or_else(|p| p.into_inner()) = login;
    }
}

/// A FATAL error: the client is told why and the connection closes.
fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("FATAL".into(), code.into(), message.into())))
}

fn login_failed(user: &str) -> PgWireError {
    fatal("28P01", format!("password authentication failed for user \"{user}\""))
}

fn peer(client: &impl ClientInfo) -> Option<IpAddr> {
    Some(client.socket_addr().ip())
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match (self.take(), message) {
            (Login::Start, PgWireFrontendMessage::Startup(startup)) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                // Startup parameters are free text from the client: none may pose as a setting of ours.
                client.metadata_mut().retain(|k, _| !k.starts_with("omnimarket."));
                if self.shared.tls_required && !client.is_secure() {
                    return Err(fatal("28000", "this server requires TLS: connect with sslmode=require (or verify-full)"));
                }
                let user = client.metadata().get("user").cloned().unwrap_or_default();
                if user.is_empty() {
                    return Err(fatal("28000", "no user name given: connect with a user of the server's users file"));
                }
                // libpq's default database is the user's name; Postgres refuses a database that does not exist.
                let database = client.metadata().get("database").cloned().unwrap_or_else(|| user.clone());
                if database != DATABASE {
                    return Err(fatal("3D000", format!("database \"{database}\" does not exist: connect to database \"{DATABASE}\"")));
                }
                if !self.shared.auth.enabled() {
                    return self.finish(client).await;
                }
                if let Some(wait) = self.shared.auth.limiter().blocked(peer(client), &user, Instant::now()) {
                    return Err(fatal("28000", format!("too many failed logins: try again in {} s", wait.as_secs().max(1))));
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.send(PgWireBackendMessage::Authentication(Authentication::SASL(vec![scram::MECHANISM.to_string()]))).await?;
                self.put(Login::AwaitingFirst { user });
                Ok(())
            }
            (Login::AwaitingFirst { user }, PgWireFrontendMessage::PasswordMessageFamily(msg)) => {
                let initial = msg.into_sasl_initial_response()?;
                if initial.auth_method != scram::MECHANISM {
                    return Err(fatal("28000", format!("authentication method {} is not supported: use {}", initial.auth_method, scram::MECHANISM)));
                }
                let data = initial.data.unwrap_or_default();
                let text = std::str::from_utf8(&data).map_err(|_| login_failed(&user))?;
                let secret = self.secret(&user);
                let exchange = scram::server_first(text, secret).map_err(|e| fatal("28000", e.to_string()))?;
                client.send(PgWireBackendMessage::Authentication(Authentication::SASLContinue(Bytes::from(exchange.message.clone())))).await?;
                self.put(Login::AwaitingFinal { user, exchange: Box::new(exchange) });
                Ok(())
            }
            (Login::AwaitingFinal { user, exchange }, PgWireFrontendMessage::PasswordMessageFamily(msg)) => {
                let response = msg.into_sasl_response()?;
                let known = self.shared.auth.users().is_some_and(|u| u.scram_secret(&user).is_some());
                let verdict = std::str::from_utf8(&response.data).ok().map(|t| exchange.finish(t));
                match verdict {
                    Some(Ok(server_final)) if known => {
                        self.shared.auth.limiter().record_success(peer(client), &user);
                        client.send(PgWireBackendMessage::Authentication(Authentication::SASLFinal(Bytes::from(server_final)))).await?;
                        self.finish(client).await
                    }
                    _ => {
                        self.shared.auth.limiter().record_failure(peer(client), &user, Instant::now());
                        Err(login_failed(&user))
                    }
                }
            }
            (_, _) => Err(fatal("08P01", "unexpected message during the connection's start")),
        }
    }
}

impl Startup {
    /// The user's SCRAM secret, or a decoy the same exchange runs against (unknown user, or a user added before
    /// Postgres logins existed, whose line has no SCRAM secret yet: `omnimarket user add` writes one).
    fn secret(&self, user: &str) -> ScramSecret {
        match self.shared.auth.users().and_then(|u| u.scram_secret(user)) {
            Some(s) => s.clone(),
            None => {
                if self.shared.auth.users().is_some_and(|u| u.contains(user)) {
                    eprintln!(
                        "postgres login of `{user}`: the users file has no SCRAM secret for this user; set the password again with `omnimarket user add`"
                    );
                }
                ScramSecret::decoy(user, &self.shared.decoy_key)
            }
        }
    }

    /// AuthenticationOk, the parameters, the cancel key; the connection is then ready for queries.
    async fn finish<C>(&self, client: &mut C) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let pid = self.shared.next_pid.fetch_add(1, Ordering::Relaxed);
        let mut key = [0u8; 4];
        SystemRandom::new().fill(&mut key).map_err(|_| fatal("XX000", "no system randomness for the cancel key"))?;
        let secret = SecretKey::I32(i32::from_be_bytes(key));
        client.set_pid_and_secret_key(pid, secret.clone());
        let registration = self.shared.cancels.register(pid, &secret);
        client.session_extensions().insert(registration);
        finish_authentication(client, &Parameters).await
    }
}

/// The ParameterStatus values sent after the login.
struct Parameters;

impl ServerParameterProvider for Parameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let mut out: HashMap<String, String> = settings::DEFAULTS
            .iter()
            .filter(|(_, _, reported)| *reported)
            .map(|(name, _, _)| (settings::display_name(name).to_string(), settings::get(client.metadata(), name).unwrap_or_default()))
            .collect();
        if let Some(user) = client.metadata().get("user") {
            out.insert("session_authorization".into(), user.clone());
        }
        Some(out)
    }
}
