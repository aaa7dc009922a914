//! `omnimarket shell`, driven through its standard input: local mode on the generated data, and `--connect`
//! to a server started in-process.

mod common;

use std::io::Write;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use omnimarket::engine::Engine;
use omnimarket::flight::ServerConfig;
use omnimarket::flight::auth::{Authenticator, Users, hash_password};

fn shell(args: &[&str], input: &str, env: &[(&str, &str)]) -> Output {
    let history = tempfile::NamedTempFile::new().expect("history file");
    let mut cmd = common::binary();
    cmd.arg("shell").args(args).arg("--history").arg(history.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("shell starts");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
    child.wait_with_output().expect("shell ends")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn local_statements_and_meta_commands() {
    let data = common::generated_data().to_string_lossy().into_owned();
    let input = "SELECT Nom_Canal FROM Dim_Canal\n  ORDER BY ID_Canal;\n\\dt Dim\\_C%\n\\d staging.stg_ventes\n\\measures\n\
                 \\compile SELECT Nom_Canal, MEASURE(CA_Total) FROM omnimarket GROUP BY 1\n\\format csv\n\
                 SELECT 1 AS one, 2 AS two;\n\\timing on\nSELECT 3 AS three;\n\\limit 2\n\
                 \\format table\nSELECT * FROM Dim_Canal;\n\\q\nSELECT 'never run';\n";
    let out = shell(&["--data", &data], input, &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("| Magasin"), "multi-line statement: {stdout}");
    assert!(stdout.contains("3 rows"), "{stdout}");
    assert!(
        stdout.contains("raw          Dim_Canal                    TABLE\nraw          Dim_Client                   TABLE\n2 tables"),
        "\\dt: {stdout}"
    );
    assert!(stdout.contains("Montant_TTC") && stdout.contains("Float64"), "\\d: {stdout}");
    assert!(stdout.contains("Ventes\n  CA_Total") && stdout.contains("SUM(Fait_Ventes[Montant_TTC])"), "\\measures: {stdout}");
    assert!(stdout.contains("stg_ventes") && stdout.contains("stg_canaux"), "\\compile: {stdout}");
    assert!(stdout.contains("one,two\n1,2\n"), "csv: {stdout}");
    assert!(stdout.contains("Time: "), "timing: {stdout}");
    assert!(stdout.contains("2 rows (first 2; \\limit N to see more)"), "limit: {stdout}");
    assert!(!stdout.contains("never run"));
}

#[test]
fn a_failing_statement_is_reported_and_the_shell_goes_on() {
    let data = common::generated_data().to_string_lossy().into_owned();
    let out = shell(&["--data", &data], "SELECT * FROM Dim_Clien;\n\\nope\n\\compile SELECT 1\nSELECT 42 AS answer;\n", &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "a piped script with a failure exits 1");
    assert!(stderr.contains("did you mean `Dim_Client`?"), "{stderr}");
    assert!(stderr.contains("unknown command `\\nope`"), "{stderr}");
    assert!(stderr.contains("not a semantic query"), "{stderr}");
    assert!(stdout.contains("42"), "{stdout}");
}

#[test]
fn connect_to_a_server() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let project = omnimarket::project::Project::new(env!("CARGO_MANIFEST_DIR"), common::generated_data());
    let engine = Engine::open(&project).expect("engine");
    let measure_count = engine.model().measures.len();
    let users = format!("alice:{}\n", hash_password("wonderland").expect("hash"));
    let auth = Authenticator::with_users(Users::parse("users", &users).expect("users"), Duration::from_secs(600));
    let config = ServerConfig { addr: "127.0.0.1:0".parse().expect("addr"), tls: None, auth: Arc::new(auth) };
    let server = rt.block_on(omnimarket::flight::start(engine, config, std::future::pending())).expect("server");
    let url = format!("grpc://{}", server.addr);

    let input = "SELECT Nom_Canal, COUNT(*) AS n FROM staging.stg_ventes v JOIN Dim_Canal c ON v.ID_Canal = c.ID_Canal\n\
                 GROUP BY Nom_Canal ORDER BY Nom_Canal;\n\\dt stg%\n\\d Dim_Canal\n\
                 SELECT Nom_Canal, MEASURE(CA_Total) AS ca FROM omnimarket GROUP BY 1 ORDER BY 1;\nSELECT * FROM nowhere;\n\
                 \\measures\n\\compile SELECT Nom_Canal, MEASURE(CA_Total) FROM omnimarket WHERE Annee = 2024 GROUP BY 1\n\
                 \\compile SELECT 1\n";
    let out = shell(&["--connect", &url, "--user", "alice"], input, &[("OMNIMARKET_PASSWORD", "wonderland")]);
    let (stdout, stderr) = text(&out);
    // The server's catalog carries each measure's folder and DAX, so the remote list matches the local one.
    assert!(stdout.contains("Ventes\n  CA_Total") && stdout.contains("SUM(Fait_Ventes[Montant_TTC])"), "remote \\measures: {stdout}");
    assert!(stdout.contains("Objectifs\n") && stdout.contains(&format!("\n{measure_count} measures\n")), "remote \\measures: {stdout}");
    assert!(stdout.contains("stg_ventes") && stdout.contains("stg_canaux") && stdout.contains("2024"), "remote \\compile: {stdout}");
    assert!(stderr.contains("not a semantic query"), "remote \\compile of plain SQL: {stderr}");
    assert!(stdout.contains("| Magasin") && stdout.contains("3 rows"), "{stdout}\n{stderr}");
    assert!(stdout.contains("stg_ventes") && stdout.contains("stg_clients"), "{stdout}");
    assert!(stdout.contains("Nom_Canal") && stdout.contains("Utf8"), "{stdout}");
    assert!(stdout.contains("| ca "), "semantic SQL over --connect: {stdout}");
    assert!(stderr.contains("table 'omnimarket.raw.nowhere' not found") || stderr.contains("nowhere"), "{stderr}");
    assert!(!stderr.contains("Status {"), "the server's message, not the client's wrapping: {stderr}");

    let out = shell(&["--connect", &url, "--user", "alice"], "SELECT 1;\n", &[("OMNIMARKET_PASSWORD", "nope")]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("login failed") && stderr.contains("invalid user name or password"), "{stderr}");
    rt.block_on(server.stop()).expect("stop");
}

/// Ctrl-C (SIGINT) during a remote query drops its stream: the server stops the query, and the shell goes on
/// with the next statement.
#[test]
fn ctrl_c_cancels_a_remote_query() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let project = omnimarket::project::Project::new(env!("CARGO_MANIFEST_DIR"), common::generated_data());
    let engine = Engine::open(&project).expect("engine");
    let config = ServerConfig { addr: "127.0.0.1:0".parse().expect("addr"), tls: None, auth: Arc::new(Authenticator::none()) };
    let server = rt.block_on(omnimarket::flight::start(engine, config, std::future::pending())).expect("server");
    let history = tempfile::NamedTempFile::new().expect("history file");
    let mut child = common::binary()
        .args(["shell", "--connect", &format!("grpc://{}", server.addr), "--history"])
        .arg(history.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shell starts");
    let mut stdin = child.stdin.take().expect("stdin");
    // 50,000 × 50,000 × 100 rows: hours of work, so only a cancel ends it within the test.
    stdin
        .write_all(
            b"SELECT SUM(a.Quantite * b.Quantite * n.value) FROM base_ventes a CROSS JOIN base_ventes b CROSS JOIN generate_series(1, 100) n;\n",
        )
        .expect("write");
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until("the query to start on the server", &|| server.active.count() == 1);
    std::thread::sleep(Duration::from_millis(300));
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    until("the server to stop the query", &|| server.active.count() == 0);
    stdin.write_all(b"SELECT 42 AS answer;\n").expect("write");
    drop(stdin);
    let out = child.wait_with_output().expect("shell ends");
    let (stdout, stderr) = text(&out);
    assert!(stderr.contains("cancelled"), "{stderr}");
    assert!(stdout.contains("42"), "the shell goes on after a cancel: {stdout}\n{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    rt.block_on(server.stop()).expect("stop");
}
