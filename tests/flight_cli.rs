//! `omnimarket serve` and `omnimarket user add` as processes: usage errors, the users file, a real server
//! answering a client, and a clean stop on SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::StreamExt;

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, _, err) = common::run(&["serve", "--no-auth", "--addr", "0.0.0.0:0", "--data", "nowhere"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--no-auth is only allowed on a loopback address"), "{err}");
    let (code, _, err) = common::run(&["serve", "--addr", "127.0.0.1:0", "--data", "nowhere"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--users FILE"), "{err}");
    let (code, _, err) = common::run(&["serve", "--tls-cert", "c.pem", "--no-auth"], dir.path());
    assert_eq!(code, 2, "--tls-cert needs --tls-key: {err}");
}

#[test]
fn a_damaged_users_file_is_reported_with_its_line() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("users"), "# team\nalice:not-a-hash\n").expect("write");
    let (code, _, err) = common::run(&["serve", "--users", "users", "--addr", "127.0.0.1:0", "--data", "nowhere"], dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("users: line 2:"), "{err}");
}

fn add_user(dir: &std::path::Path, name: &str, password: &str) -> String {
    let mut child = common::binary()
        .args(["user", "add", "--users", "users", name])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs");
    child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("write");
    let out = child.wait_with_output().expect("ends");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn serve_answers_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tmp");
    assert!(add_user(dir.path(), "alice", "first").starts_with("added user alice"));
    assert!(add_user(dir.path(), "alice", "wonderland").starts_with("updated user alice"));
    let users = std::fs::read_to_string(dir.path().join("users")).expect("users file");
    assert!(users.starts_with("alice:$argon2id$") && !users.contains("wonderland"), "{users}");

    let data = common::generated_data();
    let mut child = common::binary()
        .args(["serve", "--users", "users", "--addr", "127.0.0.1:0", "--project", env!("CARGO_MANIFEST_DIR"), "--data"])
        .arg(data)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    let addr = line.trim().strip_prefix("listening on grpc://").and_then(|r| r.split(' ').next()).expect(&line).to_string();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("uri").connect().await.expect("connect");
        let mut client = FlightSqlServiceClient::new(channel);
        client.handshake("alice", "wonderland").await.expect("login");
        let info = client.execute("SELECT COUNT(*) AS n FROM Dim_Canal".into(), None).await.expect("execute");
        let mut s = client.do_get(info.endpoint[0].ticket.clone().expect("ticket")).await.expect("do_get");
        let b = s.next().await.expect("a batch").expect("ok");
        assert_eq!(b.num_rows(), 1);
    });

    // Drive the client's connection no more (as a client process that exits), so only the server is waited on.
    drop(rt);
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    // Graceful: well before the 10 s after which the server gives up on calls in flight.
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
