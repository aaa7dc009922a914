//! The HTTP server against the attacks of a security review: cross-site requests and DNS rebinding through the
//! user's own browser, requests without a login, brute force on the login form, the session cookie's flags,
//! https, statements that would write or change settings, and expressions built to exhaust the stack.

mod common;
mod web_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use omnimarket::auth::{Authenticator, Users, hash_password};
use omnimarket::flight::TlsFiles;
use omnimarket::web::Web;
use web_support::{Response, dashboards, engine, exchange, get, request, start, start_with};

fn users(ttl: Duration) -> Authenticator {
    let text = format!("alice:{}\n", hash_password("pw").expect("hash"));
    Authenticator::with_users(Users::parse("users", &text).expect("users"), ttl)
}

fn body(sql: &str) -> Vec<u8> {
    serde_json::json!({ "sql": sql }).to_string().into_bytes()
}

/// `POST /api/query` as JSON with `headers` added.
async fn api(addr: SocketAddr, sql: &str, headers: &[(&str, &str)]) -> Response {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    request(addr, "POST", "/api/query", &all, &body(sql)).await
}

fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish().into_bytes()
}

async fn login(addr: SocketAddr, user: &str, password: &str, next: &str) -> Response {
    let body = form(&[("user", user), ("password", password), ("next", next)]);
    request(addr, "POST", "/login", &[("Content-Type", "application/x-www-form-urlencoded")], &body).await
}

/// `omnimarket_session=...` from a login's Set-Cookie, as a Cookie header value.
fn session_cookie(r: &Response) -> String {
    let set = r.header("set-cookie").unwrap_or_else(|| panic!("no Set-Cookie: {:?}", r.headers));
    set.split(';').next().expect("a cookie").trim().to_string()
}

fn error_text(r: &Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_are_refused() {
    let s = start().await;
    let here = format!("http://{}", s.addr);
    let localhost = format!("http://localhost:{}", s.addr.port());
    let sql = body("SELECT 42 AS answer");

    // What a cross-site HTML form or no-preflight fetch sends: refused before anything runs.
    let r = request(s.addr, "POST", "/api/query", &[("Content-Type", "text/plain"), ("Origin", "http://evil.example")], &sql).await;
    assert!(matches!(r.status, 403 | 415), "{} {}", r.status, r.text());
    assert!(r.json().get("rows").is_none() && !error_text(&r).is_empty(), "{}", r.text());
    // Even with the right content type, a foreign (or `null`) Origin is refused, on every route.
    for origin in ["http://evil.example", "null", "https://127.0.0.1", &format!("https://{}", s.addr)] {
        let r = api(s.addr, "SELECT 42 AS answer", &[("Origin", origin)]).await;
        assert_eq!(r.status, 403, "{origin}: {}", r.text());
        assert!(error_text(&r).contains("Origin"), "{}", r.text());
    }
    let r = request(s.addr, "GET", "/api/model", &[("Origin", "http://evil.example")], b"").await;
    assert_eq!(r.status, 403);
    let r = request(s.addr, "GET", "/executive", &[("Origin", "http://evil.example")], b"").await;
    assert_eq!(r.status, 403);

    // The server's own pages (either loopback name) are fine.
    for origin in [&here, &localhost] {
        let r = api(s.addr, "SELECT 42 AS answer", &[("Origin", origin)]).await;
        assert_eq!(r.status, 200, "{origin}: {}", r.text());
        assert_eq!(r.json()["rows"], serde_json::json!([[42]]));
    }
    // Pages may not be framed by another site.
    let r = get(s.addr, "/").await;
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_query_takes_json_only() {
    let s = start().await;
    let sql = body("SELECT 1 AS one");
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""] {
        let r = request(s.addr, "POST", "/api/query", &[("Content-Type", ct)], &sql).await;
        assert_eq!(r.status, 415, "{ct:?}: {}", r.text());
        assert!(error_text(&r).contains("application/json"), "{}", r.text());
    }
    let r = request(s.addr, "POST", "/api/query", &[("Content-Type", "application/json; charset=utf-8")], &sql).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A body past the limit is 413, refused before it is read.
    let r = request(s.addr, "POST", "/api/query", &[("Content-Type", "application/json"), ("Content-Length", "2097152")], b"").await;
    assert_eq!(r.status, 413, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_rebinding_is_refused() {
    let s = start().await;
    let port = s.addr.port();
    let evil = format!("evil.example:{port}");
    for (method, path) in [("POST", "/api/query"), ("GET", "/api/model"), ("GET", "/"), ("GET", "/executive"), ("GET", "/a/b")] {
        let headers = [("Host", evil.as_str()), ("Content-Type", "application/json")];
        let r = request(s.addr, method, path, &headers, &body("SELECT 1")).await;
        assert!(matches!(r.status, 421 | 403), "{method} {path}: {} {}", r.status, r.text());
        assert!(error_text(&r).contains("evil.example"), "{}", r.text());
    }
    let other_port = format!("127.0.0.1:{}", port.wrapping_add(1));
    for host in [other_port.as_str(), "127.0.0.1", "localhost", ""] {
        let r = request(s.addr, "GET", "/api/model", &[("Host", host)], b"").await;
        assert!(matches!(r.status, 421 | 403), "Host {host:?}: {}", r.status);
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("LocalHost:{port}")] {
        let r = request(s.addr, "POST", "/api/query", &[("Host", &host), ("Content-Type", "application/json")], &body("SELECT 1")).await;
        assert_eq!(r.status, 200, "Host {host}: {}", r.text());
    }

    // A deployment behind a DNS name lists it.
    let web = Web::new(engine(), dashboards(), Arc::new(Authenticator::none())).with_allowed_hosts(vec!["bi.example.com".into()]);
    let running = omnimarket::web::start(Arc::new(web), "127.0.0.1:0".parse().expect("addr"), None, std::future::pending()).await.expect("starts");
    let r = request(running.addr, "GET", "/api/model", &[("Host", "bi.example.com"), ("Origin", "https://bi.example.com")], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = request(running.addr, "GET", "/api/model", &[("Host", "evil.example")], b"").await;
    assert_eq!(r.status, 421);
    running.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_cookie_bearer_and_logout() {
    let s = start_with(users(Duration::from_secs(600)), None).await;
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");

    // Without a session: pages go to the login form, the API answers 401.
    let r = get(s.addr, "/executive?Annee=2024").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login?next=%2Fexecutive%3FAnnee%3D2024"));
    assert_eq!(get(s.addr, "/").await.header("location"), Some("/login?next=%2F"));
    let r = api(s.addr, "SELECT 1", &[]).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert!(!error_text(&r).is_empty());
    assert_eq!(get(s.addr, "/api/model").await.status, 401);
    let r = get(s.addr, "/login?next=%2Fexecutive").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(r#"name="password""#) && r.text().contains(r#"value="/executive""#), "{}", r.text());

    // A wrong password: the form again, 401, no cookie.
    let r = login(s.addr, "alice", "nope", "/executive").await;
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    assert!(r.text().contains("incorrect"), "{}", r.text());
    let r = login(s.addr, "mallory", "pw", "/").await;
    assert_eq!(r.status, 401);

    // The right one: back to `next` with a session cookie.
    let r = login(s.addr, "alice", "pw", "/executive").await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/executive"));
    let set = r.header("set-cookie").expect("a cookie").to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=600"] {
        assert!(set.split("; ").any(|f| f == flag), "{flag} missing: {set}");
    }
    assert!(!set.contains("Secure"), "not over plain HTTP: {set}");
    let cookie = session_cookie(&r);
    let r = request(s.addr, "GET", "/executive", &[("Cookie", &cookie)], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(r#"action="/logout""#) && r.text().contains("alice"), "a logout button");
    let r = api(s.addr, "SELECT 7 AS n", &[("Cookie", &format!("theme=dark; {cookie}"))]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["rows"], serde_json::json!([[7]]));
    // Logged in, the login page goes on to `next`.
    let r = request(s.addr, "GET", "/login?next=/finance", &[("Cookie", &cookie)], b"").await;
    assert_eq!((r.status, r.header("location")), (303, Some("/finance")));

    // `next` never leaves the server.
    for next in ["//evil.example/x", "https://evil.example", "/\\evil.example"] {
        let r = login(s.addr, "alice", "pw", next).await;
        assert_eq!(r.header("location"), Some("/"), "{next}");
    }

    // A token from the Authenticator (as Flight SQL's Handshake issues) works as a Bearer token.
    let token = s.web.auth.login("alice", "pw", None).await.expect("login").expect("a token");
    let bearer = format!("Bearer {token}");
    let r = api(s.addr, "SELECT 1 AS one", &[("Authorization", &bearer)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(api(s.addr, "SELECT 1", &[("Authorization", "Bearer forged")]).await.status, 401);
    assert_eq!(api(s.addr, "SELECT 1", &[("Authorization", "Basic YWxpY2U6cHc=")]).await.status, 401);

    // A forged cross-site logout or login is refused by the Origin check.
    let evil = ("Origin", "http://evil.example");
    assert_eq!(request(s.addr, "POST", "/logout", &[("Cookie", &cookie), evil], b"").await.status, 403);
    assert_eq!(api(s.addr, "SELECT 1", &[("Cookie", &cookie)]).await.status, 200, "still logged in");
    let b = form(&[("user", "alice"), ("password", "pw")]);
    assert_eq!(request(s.addr, "POST", "/login", &[form_type, evil], &b).await.status, 403);

    // Logout: the cookie is cleared and its token is dead everywhere.
    let origin = format!("http://{}", s.addr);
    let r = request(s.addr, "POST", "/logout", &[("Cookie", &cookie), ("Origin", &origin)], b"").await;
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    assert!(r.header("set-cookie").is_some_and(|c| c.starts_with("omnimarket_session=;") && c.contains("Max-Age=0")));
    assert_eq!(api(s.addr, "SELECT 1", &[("Cookie", &cookie)]).await.status, 401);
    assert_eq!(request(s.addr, "GET", "/executive", &[("Cookie", &cookie)], b"").await.status, 303);
    let token = cookie.trim_start_matches("omnimarket_session=");
    assert!(s.web.auth.check_token(token).is_err(), "forgotten by the Authenticator (Flight SQL too)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_refused() {
    let s = start_with(users(Duration::ZERO), None).await;
    let r = login(s.addr, "alice", "pw", "/").await;
    assert_eq!(r.status, 303);
    let cookie = session_cookie(&r);
    let r = api(s.addr, "SELECT 1", &[("Cookie", &cookie)]).await;
    assert_eq!(r.status, 401);
    assert!(error_text(&r).contains("expired"), "{}", r.text());
    let r = request(s.addr, "GET", "/", &[("Cookie", &cookie)], b"").await;
    assert_eq!((r.status, r.header("location")), (303, Some("/login?next=%2F")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_are_throttled() {
    let s = start_with(users(Duration::from_secs(600)), None).await;
    for i in 0..6 {
        let r = login(s.addr, "alice", &format!("guess{i}"), "/").await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    // Now refused before any hash, even with the right password.
    let r = login(s.addr, "alice", "pw", "/").await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s >= 1), "{:?}", r.headers);
    assert!(r.header("set-cookie").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_self_signed_certificate() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls;

    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    if !made.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: no openssl to make a test certificate ({made:?})");
        return;
    }
    let s = start_with(users(Duration::from_secs(600)), Some(TlsFiles { cert: cert.clone(), key })).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(&cert).expect("cert")).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let host = format!("localhost:{}", s.addr.port());
    let https = |method: &'static str, path: &'static str, headers: Vec<(&'static str, String)>, body: Vec<u8>| {
        let (connector, addr, host) = (connector.clone(), s.addr, host.clone());
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let tls = connector.connect(ServerName::try_from("localhost").expect("name"), tcp).await.expect("handshake");
            let mut all: Vec<(&str, &str)> = vec![("Host", host.as_str())];
            all.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
            exchange(tls, addr, method, path, &all, &body).await.expect("an answer over TLS")
        }
    };

    // A client that connects and says nothing holds no one up.
    let _stalled = tokio::net::TcpStream::connect(s.addr).await.expect("connect");

    let fields = form(&[("user", "alice"), ("password", "pw")]);
    let ct = ("Content-Type", "application/x-www-form-urlencoded".to_string());
    let r = tokio::time::timeout(Duration::from_secs(5), https("POST", "/login", vec![ct], fields)).await.expect("in time");
    assert_eq!(r.status, 303, "{}", r.text());
    let set = r.header("set-cookie").expect("a cookie");
    assert!(set.split("; ").any(|f| f == "Secure") && set.contains("HttpOnly"), "{set}");
    let cookie = session_cookie(&r);
    let headers = vec![("Content-Type", "application/json".to_string()), ("Cookie", cookie), ("Origin", format!("https://{host}"))];
    let r = https("POST", "/api/query", headers, body("SELECT 5 AS five")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["rows"], serde_json::json!([[5]]));

    // Plain HTTP on the TLS port gets no HTTP answer.
    let tcp = tokio::net::TcpStream::connect(s.addr).await.expect("connect");
    let plain = tokio::time::timeout(Duration::from_secs(5), exchange(tcp, s.addr, "GET", "/login", &[], b"")).await.expect("closed in time");
    assert!(plain.is_none(), "an HTTP answer in plain text: {:?}", plain.map(|r| r.status));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_that_write_are_refused() {
    let s = start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let count = |r: &Response| r.json()["rows"][0][0].as_i64();

    let out = dir.path().join("x.csv");
    let r = api(s.addr, &format!("COPY (SELECT 'x' AS a) TO '{}' STORED AS CSV", out.display()), &[]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(!out.exists(), "COPY wrote {}", out.display());

    let file = dir.path().join("secret.csv");
    std::fs::write(&file, "l\nsecret\n").expect("write");
    let r = api(s.addr, &format!("CREATE EXTERNAL TABLE t (l VARCHAR) STORED AS CSV LOCATION '{}'", file.display()), &[]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = api(s.addr, "SELECT * FROM t", &[]).await;
    assert_eq!(r.status, 400, "the table must not exist: {}", r.text());

    let before = api(s.addr, "SELECT count(*) FROM staging.stg_canaux", &[]).await;
    assert_eq!(before.status, 200, "{}", before.text());
    let r = api(s.addr, "INSERT INTO staging.stg_canaux VALUES (1, 'Web', 'Online')", &[]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let after = api(s.addr, "SELECT count(*) FROM staging.stg_canaux", &[]).await;
    assert_eq!(count(&after), count(&before));

    let r = api(s.addr, "DROP TABLE staging.stg_canaux", &[]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(count(&api(s.addr, "SELECT count(*) FROM staging.stg_canaux", &[]).await), count(&before));

    let mixed = "SELECT Nom_Canal FROM Dim_Canal";
    assert_eq!(api(s.addr, mixed, &[]).await.status, 200);
    let r = api(s.addr, "SET datafusion.sql_parser.enable_ident_normalization = true", &[]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = api(s.addr, mixed, &[]).await;
    assert_eq!(r.status, 200, "the setting changed: {}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_expressions_get_an_answer() {
    let s = start().await;
    for terms in [2_000, 20_000] {
        let sql = format!("SELECT {}", vec!["1"; terms].join("+"));
        let tcp = tokio::net::TcpStream::connect(s.addr).await.expect("connect");
        let headers = [("Content-Type", "application/json")];
        let r = exchange(tcp, s.addr, "POST", "/api/query", &headers, &body(&sql)).await;
        let r = r.unwrap_or_else(|| panic!("{terms} terms: the connection dropped without an answer"));
        assert!((400..500).contains(&r.status), "{terms} terms: {} {}", r.status, r.text());
        assert!(!error_text(&r).is_empty());
    }
    let r = api(s.addr, "SELECT 1 AS one", &[]).await;
    assert_eq!(r.status, 200, "the server still answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_the_server() {
    let web = Arc::new(Web::new(engine(), dashboards(), Arc::new(Authenticator::none())));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let running = omnimarket::web::start(web, "127.0.0.1:0".parse().expect("addr"), None, async move {
        let _ = rx.await;
    })
    .await
    .expect("starts");
    let addr = running.addr;
    assert_eq!(get(addr, "/api/model").await.status, 200);
    // A keep-alive connection left idle does not hold the shutdown.
    let _idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(5), running.wait()).await.expect("stops in time").expect("cleanly");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer listening");
}

#[test]
fn non_loopback_http_needs_users() {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, _, err) = common::run(&["serve", "--http", "0.0.0.0:0", "--data", "nowhere"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--users FILE") && err.contains("loopback"), "{err}");
    let (code, _, err) = common::run(&["serve", "--http", "0.0.0.0:0", "--no-auth", "--data", "nowhere"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--no-auth is only allowed on a loopback address"), "{err}");
    // With users it gets past the check (and then reads the users file).
    let (code, _, err) = common::run(&["serve", "--http", "0.0.0.0:0", "--users", "missing", "--data", "nowhere"], dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("missing"), "{err}");
}
