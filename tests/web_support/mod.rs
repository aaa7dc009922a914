//! Helpers for the web tests: the HTTP server started in-process on 127.0.0.1:0 over the default generated
//! dataset, a minimal HTTP/1.0 client (no client crate needed for a handful of requests), and HTML scraping of
//! the KPI cards.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use omnimarket::auth::Authenticator;
use omnimarket::engine::Engine;
use omnimarket::flight::TlsFiles;
use omnimarket::project::Project;
use omnimarket::web::{RunningServer, Web};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::common;

pub struct Server {
    pub addr: SocketAddr,
    pub web: Arc<Web>,
    running: RunningServer,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.running.abort();
    }
}

pub fn engine() -> Engine {
    Engine::open(&Project::new(env!("CARGO_MANIFEST_DIR"), common::generated_data())).expect("engine")
}

pub fn dashboards() -> Vec<omnimarket::dashboards::Dashboard> {
    omnimarket::dashboards::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).expect("dashboards")
}

/// The server without authentication (as `serve --http` on loopback without --users).
pub async fn start() -> Server {
    start_with(Authenticator::none(), None).await
}

/// The server with `auth`, over TLS with `tls`.
pub async fn start_with(auth: Authenticator, tls: Option<TlsFiles>) -> Server {
    let web = Arc::new(Web::new(engine(), dashboards(), Arc::new(auth)));
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let running = omnimarket::web::start(web.clone(), addr, tls, std::future::pending()).await.expect("server starts");
    Server { addr: running.addr, web, running }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One request; HTTP/1.0 so the server closes the connection after the body (no chunked decoding needed).
/// Sends `Host: <addr>` unless `headers` holds a Host (an empty value: no Host header at all), and the body's
/// Content-Length unless `headers` holds one.
pub async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    exchange(stream, addr, method, path, headers, body).await.expect("an HTTP answer")
}

/// [`request`] over any stream (TLS in the tests); `None` when the server closed without an HTTP answer.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Response> {
    let mut head = format!("{method} {path} HTTP/1.0\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        if !v.is_empty() {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(body).await.ok()?;
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify: keep what was read.
    let _ = stream.read_to_end(&mut raw).await;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().filter(|l| l.starts_with("HTTP/")).and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok())?;
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    Some(Response { status, headers, body: raw[split + 4..].to_vec() })
}

pub async fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"").await
}

pub async fn query(addr: SocketAddr, sql: &str, accept: &str) -> Response {
    let body = serde_json::json!({ "sql": sql }).to_string();
    request(addr, "POST", "/api/query", &[("Content-Type", "application/json"), ("Accept", accept)], body.as_bytes()).await
}

pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The value of `attr="..."` right after `from` in `html`.
fn attr<'a>(html: &'a str, from: usize, attr: &str) -> Option<&'a str> {
    let key = format!("{attr}=\"");
    let start = html[from..].find(&key)? + from + key.len();
    let end = html[start..].find('"')? + start;
    Some(&html[start..end])
}

/// The KPI cards of a page: (measure, raw value, displayed text), in page order.
pub fn cards(html: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = html[at..].find(r#"<div class="card" "#) {
        let start = at + i;
        let measure = attr(html, start, "data-measure").expect("data-measure");
        let value = attr(html, start, "data-value").expect("data-value");
        let v0 = html[start..].find(r#"<div class="value"#).expect("value") + start;
        let v0 = html[v0..].find('>').expect("value") + v0 + 1;
        let v1 = html[v0..].find("</div>").expect("end") + v0;
        out.push((unescape(measure), unescape(value), unescape(&html[v0..v1])));
        at = v1;
    }
    out
}
