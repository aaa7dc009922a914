//! DAX queries on every front end, over the default generated dataset: `omnimarket query` (several EVALUATEs,
//! several results; errors with line:col and a caret; exit codes), the shell, Flight SQL (a DAX statement runs
//! like SQL, columns named as DAX names them) and POST /api/dax. Each checks its figures against the semantic
//! SQL of the same question.

mod common;
mod web_support;

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

use arrow_flight::sql::client::FlightSqlServiceClient;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use futures::StreamExt;
use omnimarket::flight::ServerConfig;
use omnimarket::flight::auth::Authenticator;
use tonic::transport::Endpoint;

const DAX_BY_CHANNEL: &str = "EVALUATE SUMMARIZECOLUMNS(Dim_Canal[Nom_Canal], \"CA\", [CA_Total]) ORDER BY Dim_Canal[Nom_Canal]";
const SQL_BY_CHANNEL: &str = "SELECT Nom_Canal, MEASURE(CA_Total) AS ca FROM omnimarket GROUP BY Nom_Canal ORDER BY Nom_Canal";

fn data() -> String {
    common::generated_data().display().to_string()
}

/// (channel, revenue) rows of CSV output (header skipped).
fn csv_rows(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (a, b) = l.rsplit_once(',').expect("two columns");
            (a.to_string(), b.parse().expect("a number"))
        })
        .collect()
}

#[test]
fn query_command_runs_each_evaluate_and_reports_errors_in_the_query() {
    let dir = common::generated_data();
    let (code, sql_out, err) = common::run(&["query", "--data", &data(), "--format", "csv", SQL_BY_CHANNEL], dir);
    assert_eq!(code, 0, "{err}");
    let want = csv_rows(&sql_out);
    assert_eq!(want.len(), 3, "{sql_out}");

    // Two EVALUATEs: two results, one after the other, each with its header.
    let two = format!("{DAX_BY_CHANNEL}\nEVALUATE ROW(\"Total\", [CA_Total])");
    let (code, out, err) = common::run(&["query", "--data", &data(), "--format", "csv", &two], dir);
    assert_eq!(code, 0, "{err}");
    let (first, second) = out.split_once("\n\n").expect("two results separated by a blank line");
    assert_eq!(first.lines().next(), Some("Dim_Canal[Nom_Canal],[CA]"), "{out}");
    let got = csv_rows(first);
    assert_eq!(got.len(), want.len());
    for ((a, x), (b, y)) in got.iter().zip(&want) {
        assert_eq!(a, b);
        assert!((x - y).abs() <= 1e-6 * y.abs(), "{x} vs {y}");
    }
    let total: f64 = second.lines().nth(1).expect("a total").parse().expect("a number");
    let sum: f64 = want.iter().map(|(_, v)| v).sum();
    assert!((total - sum).abs() <= 1e-6 * sum, "{total} vs {sum}");

    // --dax on text that is not a query: the parser's message; a misspelt column: line:col and a caret; exit 1.
    let (code, _, err) = common::run(&["query", "--data", &data(), "--dax", "SELECT 1"], dir);
    assert_eq!(code, 1);
    assert!(err.contains("expected EVALUATE"), "{err}");
    let (code, _, err) = common::run(&["query", "--data", &data(), "EVALUATE\n  VALUES(Dim_Canal[Nom_Canl])"], dir);
    assert_eq!(code, 1);
    assert!(err.contains("<query>:2:10: unknown column `Dim_Canal[Nom_Canl]`") && err.contains('^'), "{err}");

    // From standard input.
    let mut child = common::binary()
        .args(["query", "--data", &data(), "--format", "csv", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    child.stdin.take().expect("stdin").write_all(DAX_BY_CHANNEL.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(csv_rows(&String::from_utf8_lossy(&out.stdout)).len(), 3);
}

#[test]
fn the_shell_runs_dax_statements() {
    let mut child = common::binary()
        .args(["shell", "--data", &data(), "--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shell starts");
    let script = format!("{DAX_BY_CHANNEL};\nEVALUATE VALUES(Dim_Canal[Nom_Canl]);\n");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Dim_Canal[Nom_Canal],[CA]") && stdout.contains("Magasin,"), "{stdout}");
    assert!(stderr.contains("unknown column `Dim_Canal[Nom_Canl]`"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "a piped script with a failed statement exits 1");
}

async fn run(client: &mut FlightSqlServiceClient<tonic::transport::Channel>, q: &str) -> (datafusion::arrow::datatypes::Schema, Vec<RecordBatch>) {
    let info = client.execute(q.to_string(), None).await.unwrap_or_else(|e| panic!("{q}: {e}"));
    let schema = info.clone().try_decode_schema().expect("schema");
    let mut batches = Vec::new();
    for ep in info.endpoint {
        let mut stream = client.do_get(ep.ticket.expect("ticket")).await.expect("do_get");
        while let Some(b) = stream.next().await {
            batches.push(b.expect("batch"));
        }
    }
    (schema, batches)
}

fn f64_column(batches: &[RecordBatch], i: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for b in batches {
        let c = datafusion::arrow::compute::cast(b.column(i), &DataType::Float64).expect("cast");
        let a = c.as_any().downcast_ref::<datafusion::arrow::array::Float64Array>().expect("f64");
        out.extend((0..a.len()).map(|r| a.value(r)));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flight_sql_runs_a_dax_statement() {
    let engine = web_support::engine();
    let config = ServerConfig { addr: "127.0.0.1:0".parse().expect("addr"), tls: None, auth: Arc::new(Authenticator::none()) };
    let server = omnimarket::flight::start(engine, config, std::future::pending()).await.expect("server starts");
    let channel = Endpoint::from_shared(format!("http://{}", server.addr)).expect("uri").connect().await.expect("connect");
    let mut client = FlightSqlServiceClient::new(channel);
    let (schema, dax) = run(&mut client, DAX_BY_CHANNEL).await;
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["Dim_Canal[Nom_Canal]", "[CA]"]);
    let (_, sql) = run(&mut client, SQL_BY_CHANNEL).await;
    let (a, b) = (f64_column(&dax, 1), f64_column(&sql, 1));
    assert_eq!(a.len(), 3);
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 1e-9 * y.abs()), "{a:?} vs {b:?}");
    // A bad DAX statement is the client's error, and the server goes on.
    let err = client.execute("EVALUATE SUMMARIZECOLUMNS(Dim_Canal[Nom_Canal], \"CA\", [CA_Totl])".into(), None).await.expect_err("rejected");
    assert!(err.to_string().contains("CA_Totl"), "{err}");
    let (_, again) = run(&mut client, DAX_BY_CHANNEL).await;
    assert_eq!(f64_column(&again, 1).len(), 3);
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_dax_returns_one_table_per_evaluate() {
    let s = web_support::start().await;
    let body = serde_json::json!({ "query": format!("{DAX_BY_CHANNEL}\nEVALUATE ROW(\"Total\", [CA_Total])") }).to_string();
    let r = web_support::request(s.addr, "POST", "/api/dax", &[("Content-Type", "application/json")], body.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    let results = j["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["columns"][0]["name"], "Dim_Canal[Nom_Canal]");
    assert_eq!(results[0]["columns"][1]["name"], "[CA]");
    let sql = web_support::query(s.addr, SQL_BY_CHANNEL, "application/json").await.json();
    let (dax_rows, sql_rows) = (results[0]["rows"].as_array().expect("rows"), sql["rows"].as_array().expect("rows"));
    assert_eq!(dax_rows.len(), sql_rows.len());
    for (a, b) in dax_rows.iter().zip(sql_rows) {
        assert_eq!(a[0], b[0]);
        let (x, y) = (a[1].as_f64().unwrap_or_default(), b[1].as_f64().unwrap_or_default());
        assert!((x - y).abs() <= 1e-9 * y.abs(), "{x} vs {y}");
    }
    let total = results[1]["rows"][0][0].as_f64().expect("a total");
    let sum: f64 = sql_rows.iter().map(|r| r[1].as_f64().unwrap_or_default()).sum();
    assert!((total - sum).abs() <= 1e-6 * sum, "{total} vs {sum}");

    // Errors: a 400 with the place in the query; a body without `query`.
    let bad = serde_json::json!({ "query": "EVALUATE\nFILTER(VALUES(Dim_Canal[Nom_Canal]), [CA_Totl] > 0)" }).to_string();
    let r = web_support::request(s.addr, "POST", "/api/dax", &[("Content-Type", "application/json")], bad.as_bytes()).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let e = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(e.contains("<query>:2:38") && e.contains("CA_Totl"), "{e}");
    let r = web_support::request(s.addr, "POST", "/api/dax", &[("Content-Type", "application/json")], br#"{"sql": "EVALUATE {1}"}"#).await;
    assert_eq!(r.status, 400, "{}", r.text());
}
