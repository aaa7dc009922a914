//! Who may call the Flight SQL server: a users file of argon2 password hashes, a Handshake that trades basic
//! credentials for a bearer token, and the check every other call makes. Not for transport security (see
//! [`super::tls`]).
//!
//! The users file has one `name:hash` per line (`#` starts a comment), the hash a PHC string
//! (`$argon2id$v=19$...`) as written by `omnimarket user add`. Tokens are random, kept in memory and expire:
//! a restarted server forgets them and clients hand-shake again, which every Flight SQL client does on connect.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;

/// Base64 for Basic credentials, padding optional: Go's Flight client (under ADBC) sends them unpadded.
const BASIC: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent));

/// How long a token stays valid by default: a working day, so a BI tool left open is not cut off mid-session.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(8 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing authorization header: hand-shake with a user name and password first")]
    MissingHeader,
    #[error("unsupported authorization header: expected `Basic <base64 user:password>` or `Bearer <token>`")]
    BadHeader,
    #[error("invalid user name or password")]
    BadCredentials,
    #[error("unknown token: hand-shake again")]
    UnknownToken,
    #[error("token expired: hand-shake again")]
    Expired,
}

#[derive(Debug, thiserror::Error)]
pub enum UsersFileError {
    #[error("{file}: cannot read: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: line {line}: expected `name:$argon2id$...` ({reason})")]
    Syntax { file: String, line: usize, reason: String },
    #[error("{file}: line {line}: user `{name}` is declared twice")]
    Duplicate { file: String, line: usize, name: String },
    #[error("{file}: no users declared")]
    Empty { file: String },
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("{file}: cannot write: {source}")]
    Write { file: String, source: std::io::Error },
    #[error("bad user name `{0}`: use letters, digits, `.`, `_`, `-` or `@` (no `:`)")]
    BadName(String),
}

/// User name → PHC hash string, as read from the users file.
#[derive(Debug, Clone, Default)]
pub struct Users {
    hashes: HashMap<String, String>,
}

impl Users {
    pub fn load(path: &Path) -> Result<Users, UsersFileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| UsersFileError::Read { file: file.clone(), source })?;
        let users = Users::parse(&file, &text)?;
        if users.hashes.is_empty() {
            return Err(UsersFileError::Empty { file });
        }
        Ok(users)
    }

    pub fn parse(file: &str, text: &str) -> Result<Users, UsersFileError> {
        let mut hashes = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let syntax = |reason: &str| UsersFileError::Syntax { file: file.into(), line: i + 1, reason: reason.into() };
            let (name, hash) = line.split_once(':').ok_or_else(|| syntax("no `:`"))?;
            check_name(name).map_err(|_| syntax("bad user name"))?;
            // Parse now, so a damaged hash is reported at start-up with its line, not as a failed login.
            PasswordHash::new(hash).map_err(|e| syntax(&format!("not a PHC hash: {e}")))?;
            if hashes.insert(name.to_string(), hash.to_string()).is_some() {
                return Err(UsersFileError::Duplicate { file: file.into(), line: i + 1, name: name.into() });
            }
        }
        Ok(Users { hashes })
    }

    /// Checks a password in constant time per hash. Slow on purpose (argon2): call it off the async runtime.
    pub fn verify(&self, name: &str, password: &str) -> bool {
        let Some(hash) = self.hashes.get(name) else { return false };
        match PasswordHash::new(hash) {
            Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    }
}

fn check_name(name: &str) -> Result<(), UsersFileError> {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok { Ok(()) } else { Err(UsersFileError::BadName(name.into())) }
}

/// An argon2id hash of `password` with a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, UsersFileError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UsersFileError::Hash(e.to_string()))
}

/// Adds or replaces `name` in the users file (created if missing), keeping every other line as it was.
pub fn upsert_user(path: &Path, name: &str, password: &str) -> Result<bool, UsersFileError> {
    check_name(name)?;
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(UsersFileError::Read { file, source }),
    };
    Users::parse(&file, &text)?;
    let entry = format!("{name}:{}", hash_password(password)?);
    let mut replaced = false;
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.trim().split_once(':').is_some_and(|(n, _)| n == name) {
                replaced = true;
                entry.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !replaced {
        lines.push(entry);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    std::fs::write(path, out).map_err(|source| UsersFileError::Write { file, source })?;
    Ok(replaced)
}

struct Session {
    user: String,
    expires: Instant,
}

/// The server's authentication policy.
pub struct Authenticator {
    /// `None`: `--no-auth`, every call is let through.
    users: Option<Users>,
    ttl: Duration,
    tokens: Mutex<HashMap<String, Session>>,
}

impl Authenticator {
    pub fn none() -> Authenticator {
        Authenticator { users: None, ttl: DEFAULT_TOKEN_TTL, tokens: Mutex::new(HashMap::new()) }
    }

    pub fn with_users(users: Users, ttl: Duration) -> Authenticator {
        Authenticator { users: Some(users), ttl, tokens: Mutex::new(HashMap::new()) }
    }

    pub fn enabled(&self) -> bool {
        self.users.is_some()
    }

    /// The Handshake: basic credentials in, a new bearer token out (`None` when auth is off). Runs argon2, so
    /// it is meant to be called from a blocking thread.
    pub fn handshake(&self, authorization: Option<&str>) -> Result<Option<String>, AuthError> {
        let Some(users) = &self.users else { return Ok(None) };
        let header = authorization.ok_or(AuthError::MissingHeader)?;
        let (user, password) = parse_basic(header)?;
        if !users.verify(&user, &password) {
            return Err(AuthError::BadCredentials);
        }
        Ok(Some(self.issue(user)))
    }

    /// Checks the `authorization` header of a call; returns the user name (`""` when auth is off). A basic
    /// header is accepted too, for clients that send credentials on every call instead of hand-shaking.
    pub fn check(&self, authorization: Option<&str>) -> Result<String, AuthError> {
        let Some(users) = &self.users else { return Ok(String::new()) };
        let header = authorization.ok_or(AuthError::MissingHeader)?;
        if let Some(token) = strip_scheme(header, "Bearer") {
            let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
            let session = tokens.get(token.trim()).ok_or(AuthError::UnknownToken)?;
            if session.expires <= Instant::now() {
                tokens.remove(token.trim());
                return Err(AuthError::Expired);
            }
            return Ok(session.user.clone());
        }
        let (user, password) = parse_basic(header)?;
        if users.verify(&user, &password) { Ok(user) } else { Err(AuthError::BadCredentials) }
    }

    fn issue(&self, user: String) -> String {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        // Forget expired tokens here, so the map stays bounded by the logins of one TTL.
        tokens.retain(|_, s| s.expires > now);
        tokens.insert(token.clone(), Session { user, expires: now + self.ttl });
        token
    }
}

fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = header.trim().split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then_some(rest)
}

fn parse_basic(header: &str) -> Result<(String, String), AuthError> {
    let encoded = strip_scheme(header, "Basic").ok_or(AuthError::BadHeader)?;
    let bytes = BASIC.decode(encoded.trim()).map_err(|_| AuthError::BadHeader)?;
    let text = String::from_utf8(bytes).map_err(|_| AuthError::BadHeader)?;
    let (user, password) = text.split_once(':').ok_or(AuthError::BadHeader)?;
    Ok((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", BASIC.encode(format!("{user}:{password}")))
    }

    #[test]
    fn unpadded_basic_credentials_are_accepted() {
        // "alice:pw" is 8 bytes: padded "YWxpY2U6cHc=", unpadded as Go's client sends it.
        assert_eq!(parse_basic("Basic YWxpY2U6cHc").expect("unpadded"), ("alice".into(), "pw".into()));
        assert_eq!(parse_basic("Basic YWxpY2U6cHc=").expect("padded"), ("alice".into(), "pw".into()));
    }

    #[test]
    fn handshake_then_bearer() {
        let text = format!("# analysts\nalice:{}\n", hash_password("s3cret").expect("hash"));
        let auth = Authenticator::with_users(Users::parse("users", &text).expect("parse"), Duration::from_secs(60));
        assert!(matches!(auth.handshake(Some(&basic("alice", "nope"))), Err(AuthError::BadCredentials)));
        assert!(matches!(auth.handshake(Some(&basic("bob", "s3cret"))), Err(AuthError::BadCredentials)));
        assert!(matches!(auth.handshake(None), Err(AuthError::MissingHeader)));
        let token = auth.handshake(Some(&basic("alice", "s3cret"))).expect("ok").expect("a token");
        assert_eq!(auth.check(Some(&format!("Bearer {token}"))).expect("valid"), "alice");
        assert!(matches!(auth.check(Some("Bearer forged")), Err(AuthError::UnknownToken)));
        assert!(matches!(auth.check(Some("Digest x")), Err(AuthError::BadHeader)));
    }

    #[test]
    fn tokens_expire() {
        let text = format!("alice:{}\n", hash_password("pw").expect("hash"));
        let auth = Authenticator::with_users(Users::parse("users", &text).expect("parse"), Duration::ZERO);
        let token = auth.handshake(Some(&basic("alice", "pw"))).expect("ok").expect("a token");
        assert!(matches!(auth.check(Some(&format!("Bearer {token}"))), Err(AuthError::Expired)));
    }

    #[test]
    fn users_file_errors_name_the_line() {
        let e = Users::parse("u.txt", "alice:plain-text-password\n").expect_err("bad hash");
        assert!(e.to_string().starts_with("u.txt: line 1:"), "{e}");
        let h = hash_password("x").expect("hash");
        let e = Users::parse("u.txt", &format!("a:{h}\na:{h}\n")).expect_err("duplicate");
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn upsert_replaces_in_place() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("users");
        assert!(!upsert_user(&path, "alice", "one").expect("add"));
        assert!(!upsert_user(&path, "bob", "two").expect("add"));
        assert!(upsert_user(&path, "alice", "three").expect("replace"));
        let users = Users::load(&path).expect("load");
        assert!(users.verify("alice", "three") && !users.verify("alice", "one") && users.verify("bob", "two"));
    }
}
