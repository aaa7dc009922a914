//! Which requests the HTTP server answers at all, before any login: a browser on the user's machine must not be
//! usable as a relay by the other web pages it has open. Two checks on every route:
//!
//! - **Host** (DNS rebinding): a page at `http://evil.example` whose name is re-pointed to 127.0.0.1 reaches
//!   the server with `Host: evil.example:PORT`. Only the served address is answered: `127.0.0.1`, `localhost`
//!   or `[::1]` with the port on loopback, the bound IP otherwise (any IP literal when bound to `0.0.0.0`/`::`:
//!   a page can only be served from an IP literal by that address itself), plus the host names configured with
//!   [`crate::web::Web::with_allowed_hosts`] (a deployment behind a DNS name or a proxy). Else 421.
//! - **Origin** (cross-site requests): browsers send `Origin` with every cross-origin request and every POST;
//!   a present Origin that is not this server (`null` included) is refused with 403. A simple cross-site form
//!   or `fetch` with `Content-Type: text/plain` is therefore refused before anything runs, and so is a logout
//!   forged by another site. Clients that are not browsers send no Origin and are not affected.
//!
//! Plus [`require_json`] on `POST /api/query` (a body a cross-site form cannot send: 415 otherwise),
//! [`read_body`] (a size limit and a time limit for request bodies), and headers that forbid framing the pages.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// How long a client may take to send a request body (the header has its own timeout, see
/// [`super::server`]): a client trickling a body must not hold a connection forever.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("bad allowed host `{0}`: expected a host name or IP, optionally with `:port` (IPv6 in brackets)")]
    Bad(String),
}

/// A JSON `{"error": ...}` response.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// `host[:port]` split, the host lowercased and without IPv6 brackets; `None` if it is not an authority.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (inside, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    let host_ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    // A `:` is only valid inside IPv6 brackets (checked above).
    if !host_ok || (host.contains(':') && !authority.starts_with('[')) {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

/// Checks a `--http-allowed-host` value: `name`, `name:port`, `1.2.3.4`, `[::1]:8080`.
pub fn parse_allowed_host(entry: &str) -> Result<(String, Option<u16>), HostError> {
    split_authority(entry.trim()).ok_or_else(|| HostError::Bad(entry.to_string()))
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

/// The address the server answers as: what `Host` and `Origin` may name.
#[derive(Debug, Clone)]
pub struct Site {
    /// `https` when served over TLS (the cookie gets `Secure`).
    pub scheme: &'static str,
    port: u16,
    /// Hosts (lowercase, IPv6 without brackets) accepted with the served port.
    names: Vec<String>,
    /// Bound to `0.0.0.0` or `::`: any IP literal with the served port.
    any_ip: bool,
    /// Configured names: without a port any port (and either scheme in `Origin`: a TLS proxy in front).
    extra: Vec<(String, Option<u16>)>,
}

impl Site {
    pub fn new(bound: SocketAddr, tls: bool, allowed_hosts: &[String]) -> Result<Site, HostError> {
        let ip = bound.ip();
        let mut names = vec![ip.to_string()];
        if ip.is_loopback() {
            names.extend(["127.0.0.1", "localhost", "::1"].map(String::from));
        }
        let extra = allowed_hosts.iter().map(|h| parse_allowed_host(h)).collect::<Result<_, _>>()?;
        Ok(Site { scheme: if tls { "https" } else { "http" }, port: bound.port(), names, any_ip: ip.is_unspecified(), extra })
    }

    pub fn secure(&self) -> bool {
        self.scheme == "https"
    }

    fn is_extra_any_port(&self, host: &str) -> bool {
        self.extra.iter().any(|(h, p)| h == host && p.is_none())
    }

    /// `host[:port]` as sent by a client that reached the server with `scheme`.
    fn authority_ok(&self, authority: &str, scheme: &str) -> bool {
        let Some((host, port)) = split_authority(authority) else { return false };
        let port = port.unwrap_or_else(|| default_port(scheme));
        if self.extra.iter().any(|(h, p)| *h == host && p.is_none_or(|p| p == port)) {
            return true;
        }
        port == self.port && (self.names.contains(&host) || (self.any_ip && host.parse::<IpAddr>().is_ok()))
    }

    pub fn host_ok(&self, host: &str) -> bool {
        self.authority_ok(host, self.scheme)
    }

    /// `scheme://host[:port]`, exactly (a browser's Origin has no path); `null` is never this server.
    pub fn origin_ok(&self, origin: &str) -> bool {
        let Some((scheme, authority)) = origin.split_once("://") else { return false };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return false;
        }
        let extra_any = split_authority(authority).is_some_and(|(h, _)| self.is_extra_any_port(&h));
        (scheme == self.scheme || extra_any) && self.authority_ok(authority, &scheme)
    }
}

/// Shortens a client-sent value quoted in an error message.
fn quote(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    if s.chars().count() > 80 { format!("{}...", s.chars().take(80).collect::<String>()) } else { s.into_owned() }
}

/// The Host and Origin checks (see the module docs); passes the [`Site`] on to the handlers.
pub async fn check_site(State(site): State<Arc<Site>>, mut request: Request, next: Next) -> Response {
    let hosts: Vec<&HeaderValue> = request.headers().get_all(header::HOST).iter().collect();
    let host = match hosts.as_slice() {
        [] => return error(StatusCode::MISDIRECTED_REQUEST, "missing Host header"),
        [one] => *one,
        _ => return error(StatusCode::BAD_REQUEST, "several Host headers"),
    };
    if !host.to_str().is_ok_and(|h| site.host_ok(h)) {
        return error(StatusCode::MISDIRECTED_REQUEST, format!("Host `{}` is not served here", quote(host.as_bytes())));
    }
    // An absolute-form request line (`GET http://name/ HTTP/1.1`) names the host too.
    if let Some(authority) = request.uri().authority()
        && !site.host_ok(authority.as_str())
    {
        return error(StatusCode::MISDIRECTED_REQUEST, format!("host `{}` is not served here", quote(authority.as_str().as_bytes())));
    }
    for origin in request.headers().get_all(header::ORIGIN) {
        if !origin.to_str().is_ok_and(|o| site.origin_ok(o)) {
            return error(StatusCode::FORBIDDEN, format!("cross-origin request refused: Origin `{}` is not this server", quote(origin.as_bytes())));
        }
    }
    request.extensions_mut().insert(site);
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    // No page of this server may be framed by another (clickjacking the login or logout button).
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// True when the request's Content-Type is `media` (parameters such as `charset` aside).
pub fn has_content_type(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(media))
}

/// `POST /api/query` only takes `application/json`, which a cross-site HTML form cannot send (and a cross-site
/// `fetch` can only send after a CORS preflight, which this server never grants).
pub async fn require_json(request: Request, next: Next) -> Response {
    if !has_content_type(request.headers(), "application/json") {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the query as `Content-Type: application/json`: {\"sql\": \"...\"}");
    }
    next.run(request).await
}

/// Reads a request body of at most `limit` bytes within [`BODY_TIMEOUT`]: 413 when larger, 408 when too slow.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    use axum::body::HttpBody;
    use futures::StreamExt;
    let too_large = || error(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {limit} bytes"));
    // A Content-Length past the limit is refused before reading anything.
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    let read = async {
        let mut stream = body.into_data_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| error(StatusCode::BAD_REQUEST, format!("cannot read the request body: {e}")))?;
            if buf.len() + chunk.len() > limit {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(r) => r,
        Err(_) => Err(error(StatusCode::REQUEST_TIMEOUT, "the request body took too long to arrive")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(bound: &str, tls: bool, extra: &[&str]) -> Site {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Site::new(bound.parse().expect("addr"), tls, &extra).expect("site")
    }

    #[test]
    fn loopback_hosts() {
        let s = site("127.0.0.1:8080", false, &[]);
        for ok in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "[::1]:8080"] {
            assert!(s.host_ok(ok), "{ok}");
        }
        for bad in ["evil.example:8080", "127.0.0.1:8081", "127.0.0.1", "localhost", "", "[::1", "a b:8080", "x@127.0.0.1:8080", "::1:8080"] {
            assert!(!s.host_ok(bad), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let s = site("127.0.0.1:8080", false, &[]);
        assert!(s.origin_ok("http://127.0.0.1:8080") && s.origin_ok("http://localhost:8080"));
        for bad in ["null", "http://evil.example", "https://127.0.0.1:8080", "http://127.0.0.1:8080/x", "file://", "http://127.0.0.1"] {
            assert!(!s.origin_ok(bad), "{bad}");
        }
        let s = site("10.0.0.5:443", true, &[]);
        assert!(s.origin_ok("https://10.0.0.5") && s.host_ok("10.0.0.5") && !s.host_ok("localhost:443"));
    }

    #[test]
    fn configured_names_and_wildcard_binds() {
        let s = site("0.0.0.0:8080", false, &["bi.example.com", "other.example:9000"]);
        assert!(s.host_ok("bi.example.com") && s.host_ok("bi.example.com:8080") && s.host_ok("192.168.1.4:8080"));
        assert!(s.origin_ok("https://bi.example.com") && s.origin_ok("http://other.example:9000"));
        assert!(!s.host_ok("other.example:8080") && !s.host_ok("evil.example:8080") && !s.origin_ok("https://other.example:9000"));
        assert!(parse_allowed_host("bad host").is_err() && parse_allowed_host("[::1]:80").is_ok());
    }
}
