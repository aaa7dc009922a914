//! SCRAM-SHA-256 (RFC 5802, RFC 7677) for Postgres-wire logins: the verifier kept in the users file and the
//! server's side of the exchange. The server keeps only `StoredKey` and `ServerKey`, in PostgreSQL's own format
//! (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`): enough to check a client's proof and to prove
//! itself to the client, not enough to log in (unlike the salted password, which pgwire's SCRAM would need
//! stored). The password never crosses the wire, TLS or not.
//!
//! Channel binding (`SCRAM-SHA-256-PLUS`) is not offered; a client that asks for it is refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac, pbkdf2};

pub const MECHANISM: &str = "SCRAM-SHA-256";
/// PostgreSQL's default (`scram_iterations`): what psql, libpq and pgJDBC expect and accept.
pub const ITERATIONS: u32 = 4096;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 18;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScramError {
    #[error("not a SCRAM-SHA-256 secret (expected `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`): {0}")]
    BadSecret(&'static str),
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("channel binding is not supported by this server: use SCRAM-SHA-256 without -PLUS")]
    ChannelBinding,
    #[error("the SCRAM nonce changed between messages")]
    NonceMismatch,
    #[error("password authentication failed")]
    BadProof,
    #[error("no system randomness: {0}")]
    Random(String),
}

/// What the server stores per user.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramSecret {
    pub iterations: u32,
    pub salt: Vec<u8>,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

impl std::fmt::Debug for ScramSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramSecret").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ScramError> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|e| ScramError::Random(e.to_string()))?;
    Ok(out)
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn key32(text: &str) -> Result<[u8; 32], ScramError> {
    let bytes = STANDARD.decode(text).map_err(|_| ScramError::BadSecret("a key is not base64"))?;
    bytes.try_into().map_err(|_| ScramError::BadSecret("a key is not 32 bytes"))
}

impl ScramSecret {
    /// The secret of `password` with a fresh random salt. The password is SASLprep-normalised first, as libpq
    /// and pgJDBC do (falling back to the raw bytes when it cannot be, as they do too).
    pub fn new(password: &str) -> Result<ScramSecret, ScramError> {
        let salt = random_bytes::<SALT_LEN>()?.to_vec();
        Ok(ScramSecret::derive(password, salt, ITERATIONS))
    }

    pub fn derive(password: &str, salt: Vec<u8>, iterations: u32) -> ScramSecret {
        let normalized = stringprep::saslprep(password).map(|c| c.into_owned()).unwrap_or_else(|_| password.to_string());
        let mut salted = [0u8; 32];
        let rounds = std::num::NonZeroU32::new(iterations.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
        pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, rounds, &salt, normalized.as_bytes(), &mut salted);
        let client_key = hmac_sha256(&salted, b"Client Key");
        ScramSecret { iterations, salt, stored_key: sha256(&client_key), server_key: hmac_sha256(&salted, b"Server Key") }
    }

    /// A secret no password opens, with a salt that depends only on `name` and `server_key`: an unknown user
    /// goes through the same exchange, with the same salt on every try, so the answers do not tell which user
    /// names exist.
    pub fn decoy(name: &str, server_key: &[u8]) -> ScramSecret {
        let salt = hmac_sha256(server_key, name.as_bytes())[..SALT_LEN].to_vec();
        let unguessable = hmac_sha256(server_key, b"decoy keys");
        ScramSecret { iterations: ITERATIONS, salt, stored_key: unguessable, server_key: hmac_sha256(&unguessable, name.as_bytes()) }
    }

    pub fn parse(text: &str) -> Result<ScramSecret, ScramError> {
        let rest = text.strip_prefix("SCRAM-SHA-256$").ok_or(ScramError::BadSecret("no `SCRAM-SHA-256$` prefix"))?;
        let (params, keys) = rest.split_once('$').ok_or(ScramError::BadSecret("no `$` before the keys"))?;
        let (iterations, salt) = params.split_once(':').ok_or(ScramError::BadSecret("no `:` after the iterations"))?;
        let (stored, server) = keys.split_once(':').ok_or(ScramError::BadSecret("no `:` between the keys"))?;
        let iterations: u32 = iterations.parse().map_err(|_| ScramError::BadSecret("the iteration count is not a number"))?;
        if iterations == 0 {
            return Err(ScramError::BadSecret("the iteration count is 0"));
        }
        let salt = STANDARD.decode(salt).map_err(|_| ScramError::BadSecret("the salt is not base64"))?;
        if salt.is_empty() {
            return Err(ScramError::BadSecret("the salt is empty"));
        }
        Ok(ScramSecret { iterations, salt, stored_key: key32(stored)?, server_key: key32(server)? })
    }

    pub fn to_text(&self) -> String {
        format!(
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(self.stored_key),
            STANDARD.encode(self.server_key)
        )
    }
}

/// The server after its first message, waiting for the client's proof.
#[derive(Debug)]
pub struct ServerFirst {
    /// The `server-first-message` to send (SASLContinue).
    pub message: String,
    client_first_bare: String,
    gs2_header: String,
    nonce: String,
    secret: ScramSecret,
}

/// Reads `client-first-message` and answers with `server-first-message` (a fresh server nonce appended to the
/// client's).
pub fn server_first(client_first: &str, secret: ScramSecret) -> Result<ServerFirst, ScramError> {
    let server_nonce = STANDARD.encode(random_bytes::<NONCE_LEN>()?);
    server_first_with_nonce(client_first, secret, &server_nonce)
}

fn server_first_with_nonce(client_first: &str, secret: ScramSecret, server_nonce: &str) -> Result<ServerFirst, ScramError> {
    // gs2-header: cbind-flag "," [authzid] ","
    let (flag, rest) = client_first.split_once(',').ok_or(ScramError::Malformed("no GS2 header"))?;
    match flag {
        // "y": the client could bind but believes the server cannot (we do not offer -PLUS): accepted.
        "n" | "y" => {}
        f if f.starts_with("p=") => return Err(ScramError::ChannelBinding),
        _ => return Err(ScramError::Malformed("unknown channel-binding flag")),
    }
    let (authzid, bare) = rest.split_once(',').ok_or(ScramError::Malformed("no GS2 header"))?;
    if !authzid.is_empty() {
        return Err(ScramError::Malformed("an authorization identity is not supported"));
    }
    let gs2_header = format!("{flag},{authzid},");
    // client-first-bare: [reserved-mext ","] username "," nonce ["," extensions]. Postgres ignores the user
    // name here (the startup message's counts), and so do we.
    let mut client_nonce = None;
    for attr in bare.split(',') {
        if let Some(n) = attr.strip_prefix("r=") {
            client_nonce = Some(n);
        } else if attr.starts_with("m=") {
            return Err(ScramError::Malformed("mandatory extensions are not supported"));
        }
    }
    let client_nonce = client_nonce.filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b','));
    let client_nonce = client_nonce.ok_or(ScramError::Malformed("no valid client nonce"))?;
    let nonce = format!("{client_nonce}{server_nonce}");
    let message = format!("r={nonce},s={},i={}", STANDARD.encode(&secret.salt), secret.iterations);
    Ok(ServerFirst { message, client_first_bare: bare.to_string(), gs2_header, nonce, secret })
}

impl ServerFirst {
    /// Checks `client-final-message`'s proof; on success, the `server-final-message` (SASLFinal) that proves
    /// the server knows the secret too.
    pub fn finish(self, client_final: &str) -> Result<String, ScramError> {
        let (without_proof, proof) = client_final.rsplit_once(",p=").ok_or(ScramError::Malformed("no proof"))?;
        let mut binding = None;
        let mut nonce = None;
        for attr in without_proof.split(',') {
            if let Some(c) = attr.strip_prefix("c=") {
                binding = Some(c);
            } else if let Some(r) = attr.strip_prefix("r=") {
                nonce = Some(r);
            }
        }
        let binding = binding.ok_or(ScramError::Malformed("no channel binding attribute"))?;
        if STANDARD.decode(binding).ok().as_deref() != Some(self.gs2_header.as_bytes()) {
            return Err(ScramError::ChannelBinding);
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(ScramError::NonceMismatch);
        }
        let proof = STANDARD.decode(proof).map_err(|_| ScramError::Malformed("the proof is not base64"))?;
        if proof.len() != 32 {
            return Err(ScramError::BadProof);
        }
        let server_first = self.message.as_str();
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = hmac_sha256(&self.secret.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof.iter().zip(client_signature).map(|(p, s)| p ^ s).collect();
        if !super::constant_time_eq(&sha256(&client_key), &self.secret.stored_key) {
            return Err(ScramError::BadProof);
        }
        let server_signature = hmac_sha256(&self.secret.server_key, auth_message.as_bytes());
        Ok(format!("v={}", STANDARD.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3: user "user", password "pencil".
    const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

    fn rfc_secret(password: &str) -> ScramSecret {
        ScramSecret::derive(password, STANDARD.decode(SALT).unwrap(), 4096)
    }

    #[test]
    fn the_rfc_7677_exchange_succeeds_with_its_server_signature() {
        let first = server_first_with_nonce(CLIENT_FIRST, rfc_secret("pencil"), SERVER_NONCE).unwrap();
        assert_eq!(first.message, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
        assert_eq!(first.finish(CLIENT_FINAL).unwrap(), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn a_wrong_password_or_a_changed_nonce_fails() {
        let first = server_first_with_nonce(CLIENT_FIRST, rfc_secret("pencil2"), SERVER_NONCE).unwrap();
        assert_eq!(first.finish(CLIENT_FINAL), Err(ScramError::BadProof));
        let first = server_first_with_nonce(CLIENT_FIRST, rfc_secret("pencil"), "other").unwrap();
        assert_eq!(first.finish(CLIENT_FINAL), Err(ScramError::NonceMismatch));
        let decoy = ScramSecret::decoy("user", b"k");
        let first = server_first_with_nonce(CLIENT_FIRST, decoy, SERVER_NONCE).unwrap();
        assert!(first.finish(CLIENT_FINAL).is_err());
    }

    #[test]
    fn channel_binding_and_damaged_messages_are_refused_without_panics() {
        assert_eq!(server_first("p=tls-server-end-point,,n=,r=abc", rfc_secret("x")).unwrap_err(), ScramError::ChannelBinding);
        for bad in ["", "n", "n,,", "n,,n=user", "n,,r=", "x,,r=abc", "n,a=admin,r=abc", "n,,m=ext,r=abc"] {
            assert!(server_first(bad, rfc_secret("x")).is_err(), "{bad:?}");
        }
        for bad in ["", "c=biws", "p=", "c=biws,r=x,p=!!", "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA"] {
            let first = server_first_with_nonce(CLIENT_FIRST, rfc_secret("pencil"), SERVER_NONCE).unwrap();
            assert!(first.finish(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secrets_round_trip_in_postgres_format_and_match_the_rfc_keys() {
        let s = rfc_secret("pencil");
        let text = s.to_text();
        assert!(text.starts_with("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"), "{text}");
        assert_eq!(ScramSecret::parse(&text).unwrap(), s);
        let fresh = ScramSecret::new("pencil").unwrap();
        assert_ne!(fresh.salt, s.salt, "a fresh salt per secret");
        for bad in ["", "SCRAM-SHA-256$", "SCRAM-SHA-256$0:AAAA$AAAA:AAAA", "SCRAM-SHA-256$4096:!!$a:b", "MD5$x"] {
            assert!(ScramSecret::parse(bad).is_err(), "{bad:?}");
        }
    }
}
