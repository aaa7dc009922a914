//! The JSON API of `serve --http`: status codes, the JSON shape, figures equal to plain SQL over the cleaned
//! tables, Arrow IPC on request, and a bad query turned into a 400 that carries the engine's message.

mod common;
mod web_support;

use datafusion::arrow::ipc::reader::StreamReader;
use web_support::{get, query, request, start};

const SQL: &str = "SELECT Nom_Canal, MEASURE(CA_Total) FROM omnimarket GROUP BY Nom_Canal ORDER BY Nom_Canal";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_query_model_and_errors() {
    let s = start().await;

    // Semantic SQL: columns with their types, rows as arrays.
    let r = query(s.addr, SQL, "application/json").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").is_some_and(|v| v.starts_with("application/json")));
    let j = r.json();
    assert_eq!(j["columns"][0]["name"], "Nom_Canal");
    assert_eq!(j["columns"][1]["name"], "CA_Total");
    assert!(j["columns"][1]["type"].as_str().is_some());
    let rows = j["rows"].as_array().expect("rows");
    let channels: Vec<&str> = rows.iter().map(|r| r[0].as_str().expect("a channel")).collect();
    assert_eq!(channels, ["Magasin", "Mobile", "Web"]);
    assert!(rows.iter().all(|r| r[1].as_f64().is_some_and(|v| v > 0.0)), "{rows:?}");
    // The same numbers as plain SQL over the cleaned tables (not the semantic layer), channel by channel.
    for r in rows {
        let channel = r[0].as_str().expect("a channel");
        let plain = common::num(
            s.web.engine.context(),
            &format!(
                "SELECT CAST(SUM(v.\"Montant_TTC\") AS DOUBLE) FROM omnimarket.staging.stg_ventes v \
                 JOIN omnimarket.staging.stg_canaux c ON c.\"ID_Canal\" = v.\"ID_Canal\" WHERE c.\"Nom_Canal\" = '{channel}'"
            ),
        )
        .await;
        let got = r[1].as_f64().unwrap_or_default();
        assert!((got - plain).abs() <= 1e-6 * plain.abs(), "{channel}: {got} vs {plain}");
    }

    // Plain SQL too; NULL stays null.
    let r = query(s.addr, "SELECT 1 AS one, CAST(NULL AS VARCHAR) AS nothing", "*/*").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["rows"], serde_json::json!([[1, null]]));

    // Arrow IPC stream when asked.
    let r = query(s.addr, SQL, "application/vnd.apache.arrow.stream").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/vnd.apache.arrow.stream"));
    let reader = StreamReader::try_new(std::io::Cursor::new(r.body), None).expect("an Arrow stream");
    assert_eq!(reader.schema().field(1).name(), "CA_Total");
    let n: usize = reader.map(|b| b.expect("a batch").num_rows()).sum();
    assert_eq!(n, 3);

    // A misspelt measure: 400 and the engine's message, with its suggestion.
    let r = query(s.addr, "SELECT MEASURE(CA_Totl) FROM omnimarket", "application/json").await;
    assert_eq!(r.status, 400, "{}", r.text());
    let e = r.json()["error"].as_str().expect("an error text").to_string();
    assert!(e.contains("CA_Totl") && e.contains("CA_Total"), "{e}");
    // A syntax error, an unknown table: 400 as well.
    for bad in ["SELEC 1", "SELECT * FROM no_such_table"] {
        let r = query(s.addr, bad, "application/json").await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(!r.json()["error"].as_str().unwrap_or_default().is_empty());
    }
    // Not the expected body.
    for body in [&b"not json"[..], br#"{"query": "SELECT 1"}"#, b""] {
        let r = request(s.addr, "POST", "/api/query", &[("Content-Type", "application/json")], body).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.json()["error"].as_str().is_some_and(|e| e.contains("sql")));
    }

    // The model: tables, attributes, measures by folder with their format.
    let r = get(s.addr, "/api/model").await;
    assert_eq!(r.status, 200);
    let m = r.json();
    assert_eq!(m["model"], "omnimarket");
    assert!(m["tables"].as_array().is_some_and(|t| t.iter().any(|t| t["name"] == "Fait_Ventes")));
    assert!(m["attributes"].as_array().is_some_and(|a| a.iter().any(|a| a["name"] == "Nom_Canal")));
    let ventes = m["folders"].as_array().and_then(|f| f.iter().find(|f| f["folder"] == "Ventes")).expect("folder Ventes");
    let ca = ventes["measures"].as_array().and_then(|ms| ms.iter().find(|x| x["name"] == "CA_Total")).expect("CA_Total");
    assert_eq!(ca["format"], "currency");

    // Wrong method, unknown page, bad slicers.
    assert_eq!(get(s.addr, "/api/query").await.status, 405);
    assert_eq!(get(s.addr, "/no_such_dashboard").await.status, 404);
    let r = get(s.addr, "/executive?Annee=1900").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("1900"), "{}", r.text());
    let r = get(s.addr, "/executive?Pays=France").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Pays") && r.text().contains("Nom_Canal"), "{}", r.text());
}
