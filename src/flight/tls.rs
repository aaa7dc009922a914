//! TLS for the Flight SQL server (rustls through tonic): a PEM certificate chain and its private key. Without
//! them the server speaks plain HTTP/2 (`grpc://`), which is only sensible on loopback or behind a proxy.

use std::path::{Path, PathBuf};

use tonic::transport::{Identity, ServerTlsConfig};

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{file}: cannot read: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: not a PEM file (expected `-----BEGIN {expected}`)")]
    NotPem { file: String, expected: &'static str },
}

fn read_pem(path: &Path, expected: &'static str) -> Result<String, TlsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TlsError::Read { file: file.clone(), source })?;
    // rustls's own message for a wrong file is only "invalid key" at the first connection: check up front.
    if !text.contains("-----BEGIN ") {
        return Err(TlsError::NotPem { file, expected });
    }
    Ok(text)
}

impl TlsFiles {
    pub fn server_config(&self) -> Result<ServerTlsConfig, TlsError> {
        let cert = read_pem(&self.cert, "CERTIFICATE")?;
        let key = read_pem(&self.key, "PRIVATE KEY")?;
        Ok(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
    }
}
