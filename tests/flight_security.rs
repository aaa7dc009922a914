//! The Flight SQL server under the attacks an outside test used on it, through arrow-flight's own client: a
//! client writing or reading the server's files, changing the shared tables or settings, crashing the server
//! with one deep expression, starving everyone with one heavy query, or leaking its memory with failed logins.
//! Each of these worked before the server was hardened.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{ActionCreatePreparedStatementRequest, CommandStatementQuery, ProstMessageExt};
use arrow_flight::{Action, FlightDescriptor};
use datafusion::arrow::array::{Array, Int64Array, RecordBatch};
use futures::StreamExt;
use omnimarket::engine::Engine;
use omnimarket::flight::auth::{Authenticator, Users, hash_password};
use omnimarket::flight::{COMPILE_ACTION, RunningServer, ServerConfig};
use prost::Message;
use tonic::transport::{Channel, Endpoint};

/// Three copies of the 50,000 sales cross-joined: 1.25e14 rows, hours of CPU, the runaway of the report.
const RUNAWAY: &str = "SELECT SUM(a.Quantite + b.Quantite + c.Quantite) AS s FROM base_ventes a \
                       CROSS JOIN base_ventes b CROSS JOIN base_ventes c";

fn engine(timeout: Duration) -> Engine {
    let project = omnimarket::project::Project::new(env!("CARGO_MANIFEST_DIR"), common::generated_data());
    Engine::open(&project).expect("engine").with_timeout(timeout)
}

async fn start(engine: Engine, auth: Authenticator) -> RunningServer {
    let config = ServerConfig { addr: "127.0.0.1:0".parse().expect("addr"), tls: None, auth: Arc::new(auth) };
    omnimarket::flight::start(engine, config, std::future::pending()).await.expect("server starts")
}

async fn connect(server: &RunningServer) -> FlightSqlServiceClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{}", server.addr)).expect("uri").connect().await.expect("connect");
    FlightSqlServiceClient::new(channel)
}

/// The status GetFlightInfo answers for `sql` (the client folds statuses into strings, so the call is raw).
async fn status(client: &mut FlightSqlServiceClient<Channel>, sql: &str) -> Result<(), tonic::Status> {
    let cmd = CommandStatementQuery { query: sql.into(), transaction_id: None };
    let req = tonic::Request::new(FlightDescriptor::new_cmd(cmd.as_any().encode_to_vec()));
    client.inner_mut().get_flight_info(req).await.map(|_| ())
}

async fn query(client: &mut FlightSqlServiceClient<Channel>, sql: &str) -> Vec<RecordBatch> {
    let info = client.execute(sql.to_string(), None).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut batches = Vec::new();
    for ep in info.endpoint {
        let mut stream = client.do_get(ep.ticket.expect("ticket")).await.expect("do_get");
        while let Some(b) = stream.next().await {
            batches.push(b.expect("batch"));
        }
    }
    batches
}

async fn count(client: &mut FlightSqlServiceClient<Channel>, sql: &str) -> i64 {
    let batches = query(client, sql).await;
    let b = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    b.column(0).as_any().downcast_ref::<Int64Array>().expect("an integer").value(0)
}

fn assert_denied(sql: &str, r: Result<(), tonic::Status>) {
    let s = r.expect_err(sql);
    assert_eq!(s.code(), tonic::Code::PermissionDenied, "{sql}: {s:?}");
    assert!(s.message().contains("read-only"), "{sql}: {}", s.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_can_write_files_read_files_or_change_shared_state() {
    let server = start(engine(Duration::from_secs(60)), Authenticator::none()).await;
    let mut attacker = connect(&server).await;
    let mut victim = connect(&server).await;
    let dir = tempfile::tempdir().expect("tmp");

    // Writing a file as the server's user.
    let target = dir.path().join("x.csv");
    let sql = format!("COPY (SELECT 'x' AS a) TO '{}' STORED AS CSV", target.display());
    assert_denied(&sql, status(&mut attacker, &sql).await);
    assert!(!target.exists(), "COPY wrote {}", target.display());

    // Reading the users file (password hashes) through an external table, which others would then see.
    let users = dir.path().join("users");
    std::fs::write(&users, format!("alice:{}\n", hash_password("pw").expect("hash"))).expect("users file");
    let sql = format!("CREATE EXTERNAL TABLE t (l VARCHAR) STORED AS CSV LOCATION '{}'", users.display());
    assert_denied(&sql, status(&mut attacker, &sql).await);
    let s = status(&mut victim, "SELECT * FROM t").await.expect_err("no table t");
    assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
    // Nor is a file path a table.
    let sql = format!("SELECT * FROM '{}'", users.display());
    let s = status(&mut attacker, &sql).await.expect_err("a path is not a table");
    assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");

    // Changing everyone's data.
    let channels = "SELECT COUNT(*) FROM staging.stg_canaux";
    let before = count(&mut victim, channels).await;
    for sql in [
        "INSERT INTO staging.stg_canaux VALUES (1, 'Web', 'Online')",
        "DROP TABLE staging.stg_canaux",
        "DELETE FROM staging.stg_canaux",
        "CREATE TABLE staging.evil AS SELECT 1 AS x",
        "CREATE VIEW v AS SELECT 1 AS x",
    ] {
        assert_denied(sql, status(&mut attacker, sql).await);
    }
    assert_eq!(count(&mut victim, channels).await, before, "the shared table is unchanged");

    // Changing a setting everyone shares.
    let sql = "SET datafusion.sql_parser.enable_ident_normalization = true";
    assert_denied(sql, status(&mut attacker, sql).await);
    assert_eq!(count(&mut victim, "SELECT COUNT(Nom_Canal) FROM Dim_Canal").await, 3, "mixed-case names still resolve");

    // The same through a prepared statement and through the compile action.
    let prepare = ActionCreatePreparedStatementRequest { query: "DROP TABLE staging.stg_canaux".into(), transaction_id: None };
    let action = Action { r#type: "CreatePreparedStatement".into(), body: prepare.as_any().encode_to_vec().into() };
    let s = attacker.inner_mut().do_action(tonic::Request::new(action)).await.expect_err("refused");
    assert_eq!(s.code(), tonic::Code::PermissionDenied, "{s:?}");
    let action = Action { r#type: COMPILE_ACTION.into(), body: "DROP TABLE staging.stg_canaux".as_bytes().to_vec().into() };
    let s = attacker.inner_mut().do_action(tonic::Request::new(action)).await.expect_err("refused");
    assert_eq!(s.code(), tonic::Code::PermissionDenied, "{s:?}");
    assert_eq!(count(&mut victim, channels).await, before);

    // Reading: EXPLAIN, SHOW, DESCRIBE and queries are fine.
    for sql in ["EXPLAIN SELECT 1", "SHOW TABLES", "DESCRIBE Dim_Canal", "SHOW datafusion.execution.batch_size"] {
        status(&mut attacker, sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_expressions_are_errors_not_crashes() {
    let server = start(engine(Duration::from_secs(60)), Authenticator::none()).await;
    let mut client = connect(&server).await;
    for terms in [3_000, 30_000, 300_000] {
        let sql = format!("SELECT {}", vec!["1"; terms].join("+"));
        let s = status(&mut client, &sql).await.expect_err("too deep");
        assert_eq!(s.code(), tonic::Code::InvalidArgument, "{terms} terms: {s:?}");
    }
    let nested = format!("SELECT {}1{}", "(".repeat(50_000), ")".repeat(50_000));
    let s = status(&mut client, &nested).await.expect_err("too deep");
    assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
    let semantic = format!("SELECT MEASURE(CA_Total) FROM omnimarket WHERE Annee = {}", vec!["1"; 30_000].join("+"));
    let s = status(&mut client, &semantic).await.expect_err("too deep");
    assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
    // Just under the limit, a deep expression plans and runs (on the query threads' large stacks).
    assert_eq!(count(&mut client, &format!("SELECT {} AS n", vec!["CAST(1 AS BIGINT)"; 900].join("+"))).await, 900);
    // A long but legitimate filter still works, and so does the server.
    let ors = (0..300).map(|i| format!("ID_Canal = {i}")).collect::<Vec<_>>().join(" OR ");
    assert_eq!(count(&mut client, &format!("SELECT COUNT(*) FROM Dim_Canal WHERE {ors}")).await, 3);
    assert_eq!(count(&mut client, "SELECT COUNT(*) FROM Dim_Canal").await, 3);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_query_neither_starves_others_nor_outlives_its_time_limit() {
    let text = format!("alice:{}\n", hash_password("pw").expect("hash"));
    let auth = Authenticator::with_users(Users::parse("users", &text).expect("users"), Duration::from_secs(600));
    let engine = engine(Duration::from_secs(4));
    let server = start(engine.clone(), auth).await;
    let mut hog = connect(&server).await;
    hog.handshake("alice", "pw").await.expect("login");
    let info = hog.execute(RUNAWAY.into(), None).await.expect("plans");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let started = Instant::now();
    let runaway = tokio::spawn(async move {
        let mut stream = hog.do_get(ticket).await?;
        while let Some(b) = stream.next().await {
            b?;
        }
        Ok::<_, arrow_flight::error::FlightError>(())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(engine.running_queries(), 1, "the runaway is running");

    // Meanwhile another user logs in and gets answers.
    let t = Instant::now();
    let mut other = connect(&server).await;
    other.handshake("alice", "pw").await.expect("login while the runaway runs");
    assert_eq!(count(&mut other, "SELECT COUNT(*) FROM Dim_Canal").await, 3);
    let waited = t.elapsed();
    assert!(waited < Duration::from_secs(3), "login and a small query took {waited:?} beside the runaway");

    // The runaway ends at its limit with DEADLINE_EXCEEDED, and its work stops.
    let e = runaway.await.expect("joins").expect_err("cancelled at the limit");
    let took = started.elapsed();
    assert!(e.to_string().contains("time limit"), "{e}");
    assert!(took < Duration::from_secs(8), "ended after {took:?}");
    wait_until_idle(&engine, Duration::from_secs(2)).await;
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_client_cancels_its_query_within_a_second() {
    let engine = engine(Duration::from_secs(600));
    let server = start(engine.clone(), Authenticator::none()).await;
    let mut hog = connect(&server).await;
    let info = hog.execute(RUNAWAY.into(), None).await.expect("plans");
    let mut stream = hog.do_get(info.endpoint[0].ticket.clone().expect("ticket")).await.expect("do_get");
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.next()).await;
    assert_eq!(engine.running_queries(), 1, "the query is running");
    drop(stream);
    drop(hog);
    wait_until_idle(&engine, Duration::from_secs(1)).await;
    server.stop().await.expect("stops");
}

async fn wait_until_idle(engine: &Engine, within: Duration) {
    let t = Instant::now();
    while engine.running_queries() > 0 {
        assert!(t.elapsed() < within, "the query still runs {:?} after its client left", t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Resident memory of a process, from /proc (kB → bytes).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()).map(|kb| kb * 1024).unwrap_or(0)
}

/// `omnimarket serve` as a child process (killed on drop), and the address it printed.
struct Served {
    child: std::process::Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(users: &Path) -> Served {
    use std::io::BufRead;
    let mut child = common::binary()
        .args(["serve", "--addr", "127.0.0.1:0", "--users"])
        .arg(users)
        .arg("--data")
        .arg(common::generated_data())
        .arg("--project")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).expect("a line");
    let addr = line.split("grpc://").nth(1).and_then(|r| r.split_whitespace().next()).expect("listening line").to_string();
    Served { child, addr }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_and_do_not_grow_the_server() {
    let dir = tempfile::tempdir().expect("tmp");
    let users = dir.path().join("users");
    let text = format!("alice:{}\nbob:{}\n", hash_password("pw").expect("hash"), hash_password("pw2").expect("hash"));
    std::fs::write(&users, text).expect("users file");
    let served = serve(&users);
    let pid = served.child.id();
    let endpoint = |local: std::net::IpAddr| Endpoint::from_shared(format!("http://{}", served.addr)).expect("uri").local_address(Some(local));

    // One address guessing: after a few failures it is refused at once, even with the right password.
    let mut guesser = FlightSqlServiceClient::new(endpoint("127.0.0.1".parse().expect("ip")).connect().await.expect("connect"));
    for _ in 0..5 {
        let e = guesser.handshake("alice", "guess").await.expect_err("wrong password");
        assert!(e.to_string().contains("invalid user name or password"), "{e}");
    }
    let _ = guesser.handshake("alice", "guess").await;
    let t = Instant::now();
    let e = guesser.handshake("bob", "pw").await.expect_err("throttled");
    assert!(e.to_string().contains("too many failed logins"), "{e}");
    assert!(t.elapsed() < Duration::from_millis(500), "refused before hashing");

    // Many addresses (127.0.0.2..), each with its free failures, 16 at a time: the hashing is bounded, and the
    // server's memory with it.
    let base = rss(pid);
    let mut tasks = Vec::new();
    for worker in 0..16u8 {
        let eps: Vec<Endpoint> = (0..4u8).map(|k| endpoint(format!("127.0.1.{}", 2 + worker * 4 + k).parse().expect("ip"))).collect();
        tasks.push(tokio::spawn(async move {
            let mut failures = 0;
            for ep in eps {
                let Ok(ch) = ep.connect().await else { continue };
                let mut c = FlightSqlServiceClient::new(ch);
                for i in 0..5 {
                    if c.handshake(&format!("user{worker}-{i}"), "nope").await.is_err() {
                        failures += 1;
                    }
                }
            }
            failures
        }));
    }
    let mut failures = 0;
    let mut peak = base;
    for t in tasks {
        while !t.is_finished() {
            peak = peak.max(rss(pid));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        failures += t.await.expect("joins");
    }
    assert_eq!(failures, 16 * 4 * 5, "every guess failed");
    let grown = peak.saturating_sub(base);
    eprintln!("server RSS: {} MiB before, +{} MiB at peak under {failures} failed logins", base >> 20, grown >> 20);
    // One argon2 buffer of 19 MiB per hashing thread, plus slack; the leak grew by gigabytes.
    assert!(grown < 100 << 20, "the server grew by {} MiB under {failures} failed logins", grown >> 20);

    // A user who did not fail still gets in from an address that did not fail (alice herself waits out her
    // backoff: failures count per user too, so spreading guesses over addresses does not help).
    let mut bob = FlightSqlServiceClient::new(endpoint("127.0.2.1".parse().expect("ip")).connect().await.expect("connect"));
    bob.handshake("bob", "pw2").await.expect("bob logs in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_while_a_runaway_query_runs() {
    let dir = tempfile::tempdir().expect("tmp");
    let users = dir.path().join("users");
    std::fs::write(&users, format!("alice:{}\n", hash_password("pw").expect("hash"))).expect("users file");
    let mut served = serve(&users);
    let channel = Endpoint::from_shared(format!("http://{}", served.addr)).expect("uri").connect().await.expect("connect");
    let mut hog = FlightSqlServiceClient::new(channel);
    hog.handshake("alice", "pw").await.expect("login");
    let info = hog.execute(RUNAWAY.into(), None).await.expect("plans");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let runaway = tokio::spawn(async move {
        let mut stream = hog.do_get(ticket).await?;
        while let Some(b) = stream.next().await {
            b?;
        }
        Ok::<_, arrow_flight::error::FlightError>(())
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    let pid = served.child.id().to_string();
    let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(killed.success());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = served.child.try_wait().expect("wait") {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(12), "the server ignored SIGTERM for {:?}", t.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "stopped after {:?}: the running query was not cancelled", t.elapsed());
    let e = runaway.await.expect("joins").expect_err("the query was cancelled");
    assert!(e.to_string().contains("shutting down") || e.to_string().contains("transport"), "{e}");
}
