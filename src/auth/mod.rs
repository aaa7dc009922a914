//! Who may call the servers (Flight SQL, HTTP): a users file of argon2 password hashes, a login that trades a
//! user name and password for a bearer token (Flight's Handshake, the HTTP login page), and the check every
//! other call makes. Logins are throttled per address and per user ([`limiter`]) and hashed on a bounded pool
//! ([`hasher`]); an unknown user costs the same hash as a known one, so timing does not tell which names
//! exist. Not for transport security (see [`crate::flight::tls`]).
//!
//! The users file has one `name:hash [scram]` per line (`#` starts a comment), the hash a PHC string
//! (`$argon2id$v=19$...`) and the optional second field a SCRAM-SHA-256 secret for Postgres-wire logins
//! ([`scram`]), both written by `omnimarket user add`. Tokens are random, kept in memory and expire:
//! a restarted server forgets them and clients hand-shake again, which every Flight SQL client does on connect.

pub mod hasher;
pub mod limiter;
pub mod scram;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};

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
    #[error("too many failed logins: try again in {0} s")]
    TooManyAttempts(u64),
    #[error(transparent)]
    Hasher(#[from] hasher::HasherError),
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

/// User name → PHC hash string, as read from the users file; and, for the users who have one, the SCRAM-SHA-256
/// secret Postgres-wire clients log in with.
#[derive(Debug, Clone, Default)]
pub struct Users {
    hashes: HashMap<String, String>,
    scram: HashMap<String, scram::ScramSecret>,
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
        let mut scram = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let syntax = |reason: &str| UsersFileError::Syntax { file: file.into(), line: i + 1, reason: reason.into() };
            let (name, rest) = line.split_once(':').ok_or_else(|| syntax("no `:`"))?;
            check_name(name).map_err(|_| syntax("bad user name"))?;
            // `name:<argon2 PHC> [SCRAM-SHA-256$...]`: the second field is for Postgres-wire logins.
            let mut fields = rest.split_whitespace();
            let hash = fields.next().unwrap_or("");
            if let Some(secret) = fields.next() {
                let secret = scram::ScramSecret::parse(secret).map_err(|e| syntax(&e.to_string()))?;
                scram.insert(name.to_string(), secret);
            }
            if fields.next().is_some() {
                return Err(syntax("more than two fields after the name"));
            }
            // Parse now, so a damaged hash is reported at start-up with its line, not as a failed login.
            PasswordHash::new(hash).map_err(|e| syntax(&format!("not a PHC hash: {e}")))?;
            if hashes.insert(name.to_string(), hash.to_string()).is_some() {
                return Err(UsersFileError::Duplicate { file: file.into(), line: i + 1, name: name.into() });
            }
        }
        Ok(Users { hashes, scram })
    }

    /// The user's SCRAM-SHA-256 secret (None for an unknown user, or one added before Postgres-wire logins).
    pub fn scram_secret(&self, name: &str) -> Option<&scram::ScramSecret> {
        self.scram.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.hashes.contains_key(name)
    }

    /// Checks a password in constant time per hash. Slow on purpose (argon2): call it off the async runtime.
    /// An unknown user is checked against `dummy` (a hash of the same cost), so both answers take as long.
    pub fn verify_or_dummy(&self, name: &str, password: &str, dummy: &str) -> bool {
        let (hash, known) = match self.hashes.get(name) {
            Some(h) => (h.as_str(), true),
            None => (dummy, false),
        };
        verify_reusing_memory(hash, password.as_bytes()) && known
    }

    /// [`Users::verify_or_dummy`] without the equal cost for unknown users (tests, tools).
    pub fn verify(&self, name: &str, password: &str) -> bool {
        self.hashes.contains_key(name) && self.verify_or_dummy(name, password, "")
    }
}

thread_local! {
    /// argon2's working memory (19 MiB with the default parameters), kept by each hashing thread. Allocated
    /// and freed per check, such buffers piled up in malloc's arenas: the server grew by about 250 MiB under a
    /// login flood, and by gigabytes with one thread per check.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Recomputes the PHC hash's argon2 output for `password` with the hash's own parameters and salt, in this
/// thread's reused memory, and compares in constant time.
fn verify_reusing_memory(hash: &str, password: &[u8]) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let Ok(params) = argon2::Params::try_from(&parsed) else { return false };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else { return false };
    let version = match parsed.version.map(argon2::Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let expected = expected.as_bytes();
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let computed = ARGON2_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() != blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, &mut out, &mut memory[..]).is_ok()
    });
    computed && constant_time_eq(&out, expected)
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn check_name(name: &str) -> Result<(), UsersFileError> {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok { Ok(()) } else { Err(UsersFileError::BadName(name.into())) }
}

/// An argon2id hash of `password` with a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, UsersFileError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| UsersFileError::Hash(e.to_string()))
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
    let secret = scram::ScramSecret::new(password).map_err(|e| UsersFileError::Hash(e.to_string()))?;
    let entry = format!("{name}:{} {}", hash_password(password)?, secret.to_text());
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
    write_atomically(path, out.as_bytes()).map_err(|source| UsersFileError::Write { file, source })?;
    Ok(replaced)
}

/// Writes a sibling temporary file (owner-only permissions), syncs it and renames it over `path`: a server
/// reading the file, or a crash mid-write, sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "users".into());
    let mut suffix = [0u8; 6];
    OsRng.fill_bytes(&mut suffix);
    let tmp = dir.join(format!(".{name}.{}.tmp", URL_SAFE_NO_PAD.encode(suffix)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

struct Session {
    user: String,
    expires: Instant,
}

/// The servers' authentication policy, shared by Flight SQL and HTTP (a token from one works on the other).
pub struct Authenticator {
    /// `None`: `--no-auth`, every call is let through.
    users: Option<Arc<Users>>,
    ttl: Duration,
    tokens: Mutex<HashMap<String, Session>>,
    limiter: limiter::LoginLimiter,
    hasher: hasher::Hasher,
    /// A hash of a random password with the users' cost, checked for unknown users.
    dummy: Arc<String>,
}

impl Authenticator {
    pub fn none() -> Authenticator {
        Authenticator::build(None, DEFAULT_TOKEN_TTL, String::new())
    }

    pub fn with_users(users: Users, ttl: Duration) -> Authenticator {
        let mut random = [0u8; 24];
        OsRng.fill_bytes(&mut random);
        // Hashing cannot fail for a valid salt and default parameters; an empty dummy still fails every check.
        let dummy = hash_password(&URL_SAFE_NO_PAD.encode(random)).unwrap_or_default();
        Authenticator::build(Some(Arc::new(users)), ttl, dummy)
    }

    fn build(users: Option<Arc<Users>>, ttl: Duration, dummy: String) -> Authenticator {
        Authenticator {
            users,
            ttl,
            tokens: Mutex::new(HashMap::new()),
            limiter: limiter::LoginLimiter::default(),
            hasher: hasher::Hasher::default(),
            dummy: Arc::new(dummy),
        }
    }

    pub fn enabled(&self) -> bool {
        self.users.is_some()
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The users file (None with `--no-auth`).
    pub fn users(&self) -> Option<&Users> {
        self.users.as_deref()
    }

    pub fn limiter(&self) -> &limiter::LoginLimiter {
        &self.limiter
    }

    /// A user name and password in, a new token out (`None` when auth is off). Throttled per address and user;
    /// the hash runs on the bounded pool.
    pub async fn login(&self, user: &str, password: &str, peer: Option<IpAddr>) -> Result<Option<String>, AuthError> {
        let Some(users) = &self.users else { return Ok(None) };
        if let Some(wait) = self.limiter.blocked(peer, user, Instant::now()) {
            return Err(AuthError::TooManyAttempts(wait.as_secs().max(1)));
        }
        let (users, dummy) = (users.clone(), self.dummy.clone());
        let (name, pw) = (user.to_string(), password.to_string());
        let ok = self.hasher.run(move || users.verify_or_dummy(&name, &pw, &dummy)).await?;
        if !ok {
            self.limiter.record_failure(peer, user, Instant::now());
            return Err(AuthError::BadCredentials);
        }
        self.limiter.record_success(peer, user);
        Ok(Some(self.issue(user.to_string())))
    }

    /// Flight's Handshake: `Basic` credentials in the authorization header, a token out.
    pub async fn handshake(&self, authorization: Option<&str>, peer: Option<IpAddr>) -> Result<Option<String>, AuthError> {
        if self.users.is_none() {
            return Ok(None);
        }
        let (user, password) = parse_basic(authorization.ok_or(AuthError::MissingHeader)?)?;
        self.login(&user, &password, peer).await
    }

    /// Checks the `authorization` header of a call; returns the user name (`""` when auth is off). A basic
    /// header is accepted too, for clients that send credentials on every call instead of hand-shaking: it is
    /// a login, throttled the same way.
    pub async fn check(&self, authorization: Option<&str>, peer: Option<IpAddr>) -> Result<String, AuthError> {
        if self.users.is_none() {
            return Ok(String::new());
        }
        let header = authorization.ok_or(AuthError::MissingHeader)?;
        if let Some(token) = strip_scheme(header, "Bearer") {
            return self.check_token(token);
        }
        let (user, password) = parse_basic(header)?;
        self.login(&user, &password, peer).await?;
        Ok(user)
    }

    /// The user a token was issued to, if it is known and not expired.
    pub fn check_token(&self, token: &str) -> Result<String, AuthError> {
        if self.users.is_none() {
            return Ok(String::new());
        }
        let token = token.trim();
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let session = tokens.get(token).ok_or(AuthError::UnknownToken)?;
        if session.expires <= Instant::now() {
            tokens.remove(token);
            return Err(AuthError::Expired);
        }
        Ok(session.user.clone())
    }

    /// Forgets a token (HTTP logout): it no longer works anywhere.
    pub fn logout(&self, token: &str) {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).remove(token.trim());
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

    #[tokio::test]
    async fn handshake_then_bearer_then_logout() {
        let text = format!("# analysts\nalice:{}\n", hash_password("s3cret").expect("hash"));
        let auth = Authenticator::with_users(Users::parse("users", &text).expect("parse"), Duration::from_secs(60));
        assert!(matches!(auth.handshake(Some(&basic("alice", "nope")), None).await, Err(AuthError::BadCredentials)));
        assert!(matches!(auth.handshake(Some(&basic("bob", "s3cret")), None).await, Err(AuthError::BadCredentials)));
        assert!(matches!(auth.handshake(None, None).await, Err(AuthError::MissingHeader)));
        let token = auth.handshake(Some(&basic("alice", "s3cret")), None).await.expect("ok").expect("a token");
        assert_eq!(auth.check(Some(&format!("Bearer {token}")), None).await.expect("valid"), "alice");
        assert!(matches!(auth.check(Some("Bearer forged"), None).await, Err(AuthError::UnknownToken)));
        assert!(matches!(auth.check(Some("Digest x"), None).await, Err(AuthError::BadHeader)));
        auth.logout(&token);
        assert!(matches!(auth.check_token(&token), Err(AuthError::UnknownToken)));
    }

    #[tokio::test]
    async fn tokens_expire() {
        let text = format!("alice:{}\n", hash_password("pw").expect("hash"));
        let auth = Authenticator::with_users(Users::parse("users", &text).expect("parse"), Duration::ZERO);
        let token = auth.handshake(Some(&basic("alice", "pw")), None).await.expect("ok").expect("a token");
        assert!(matches!(auth.check(Some(&format!("Bearer {token}")), None).await, Err(AuthError::Expired)));
    }

    #[tokio::test]
    async fn repeated_failures_are_throttled_before_hashing() {
        let text = format!("alice:{}\n", hash_password("pw").expect("hash"));
        let auth = Authenticator::with_users(Users::parse("users", &text).expect("parse"), Duration::from_secs(60));
        let peer: Option<IpAddr> = Some("192.0.2.7".parse().expect("ip"));
        for _ in 0..limiter::FREE_FAILURES + 1 {
            assert!(matches!(auth.login("alice", "guess", peer).await, Err(AuthError::BadCredentials)));
        }
        // Now refused at once, even with the right password, until the backoff ends.
        let t = Instant::now();
        assert!(matches!(auth.login("alice", "pw", peer).await, Err(AuthError::TooManyAttempts(_))));
        assert!(t.elapsed() < Duration::from_millis(5), "no hash is computed while throttled");
    }

    #[test]
    fn unknown_users_cost_a_hash_too() {
        let dummy = hash_password("dummy").expect("hash");
        let users = Users::parse("users", &format!("alice:{}\n", hash_password("pw").expect("hash"))).expect("parse");
        let time = |name: &str| {
            let t = Instant::now();
            assert!(!users.verify_or_dummy(name, "wrong", &dummy));
            t.elapsed()
        };
        let (known, unknown) = (time("alice"), time("mallory"));
        // Both run one argon2 check: within a factor of 3 of each other, where a skipped hash is 100x faster.
        assert!(unknown * 3 > known && known * 3 > unknown, "known {known:?}, unknown {unknown:?}");
        assert!(!users.verify_or_dummy("mallory", "dummy", &dummy), "the dummy's password opens nothing");
    }

    #[test]
    fn reused_memory_verifies_like_the_library() {
        use argon2::password_hash::PasswordVerifier;
        for password in ["s3cret", "", "é ü 漢字"] {
            let hash = hash_password(password).expect("hash");
            let parsed = PasswordHash::new(&hash).expect("parse");
            assert!(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok());
            assert!(verify_reusing_memory(&hash, password.as_bytes()), "{password}");
            assert!(!verify_reusing_memory(&hash, b"wrong"), "{password}");
        }
        // Other parameters (a smaller cost) in the same thread: the memory is resized.
        let salt = SaltString::generate(&mut OsRng);
        let small = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon2::Params::new(1024, 2, 1, None).expect("params"));
        let hash = small.hash_password(b"pw", &salt).expect("hash").to_string();
        assert!(verify_reusing_memory(&hash, b"pw") && !verify_reusing_memory(&hash, b"pW"));
        assert!(!verify_reusing_memory("not a hash", b"pw"));
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
