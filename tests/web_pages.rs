//! The dashboards as pages: each renders, has no failed visual, needs no script or remote resource, and its
//! KPI cards show exactly the values of its semantic `kpis` query, with and without slicers; the executive and
//! traffic cards equal plain SQL over the cleaned tables in French formats written in the test
//! (`cards_show_plain_sql_figures_in_french`). Also `omnimarket report`, which writes the same pages as files.

mod common;
mod web_support;

use omnimarket::model::Format;
use omnimarket::query::{Predicate, Value};
use omnimarket::web::format::compact;
use omnimarket::web::table::Cell;
use web_support::{cards, get, start};

/// The page's cards against the `kpis` query run through the engine with `filters`.
async fn check_cards(s: &web_support::Server, board: &str, html: &str, filters: &[Predicate]) -> Vec<(String, String, String)> {
    let d = s.web.dashboards.iter().find(|d| d.name == board).expect("dashboard");
    let kpis = d.visuals.iter().find(|v| v.chart == "cards").expect("a cards visual");
    let want = omnimarket::web::pages::run(&s.web.engine, &kpis.sql, filters).await.expect("kpis run");
    let got = cards(html);
    assert_eq!(got.len(), want.columns.len(), "{board}: {got:?}");
    let model = s.web.engine.model();
    for ((measure, value, shown), (col, cell)) in got.iter().zip(want.columns.iter().zip(&want.rows[0])) {
        assert_eq!(*measure, col.name, "{board}");
        match (value.parse::<f64>(), cell.number()) {
            // Parallel sums may differ in the last bits between two runs.
            (Ok(x), Some(y)) => assert!((x - y).abs() <= 1e-9 * y.abs().max(1.0), "{board}/{measure}: {x} vs {y}"),
            _ => assert_eq!(*value, cell.text(), "{board}/{measure}"),
        }
        let format = model.measures.iter().find(|m| m.name == *measure).map_or(Format::Decimal, |m| m.format);
        let expected = match cell {
            Cell::Int(_) | Cell::Float(_) => compact(cell.number().unwrap_or_default(), format),
            Cell::Null => "–".into(),
            other => other.text(),
        };
        assert_eq!(*shown, expected, "{board}/{measure}");
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_with_its_measures() {
    let s = start().await;
    let index = get(s.addr, "/").await;
    assert_eq!(index.status, 200);
    let names: Vec<String> = s.web.dashboards.iter().map(|d| d.name.clone()).collect();
    // The pages are the files of sql/dashboards/ (no list to keep in step), in file-name order.
    let mut files: Vec<String> = std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/dashboards"))
        .expect("sql/dashboards")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".sql"))
        .collect();
    files.sort();
    let from_files: Vec<String> =
        files.iter().map(|f| f.trim_end_matches(".sql").split_once('_').map_or(f.clone(), |(_, n)| n.to_string())).collect();
    assert_eq!(names, from_files);
    for n in &names {
        assert!(index.text().contains(&format!("href=\"/{n}\"")), "index lacks /{n}");
    }
    for n in &names {
        let r = get(s.addr, &format!("/{n}")).await;
        assert_eq!(r.status, 200, "{n}");
        assert!(r.header("content-type").is_some_and(|v| v.starts_with("text/html")));
        let html = r.text();
        assert!(!html.contains("class=\"error\""), "{n} has a failed visual:\n{html}");
        assert!(!html.contains("<script"), "{n} must read without JavaScript");
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "{n} must load nothing remote");
        assert!(html.contains("<svg"), "{n} has no chart");
        assert!(html.contains("<form class=\"slicers\" method=\"get\""), "{n} has no slicer form");
        // Every visual of the file is on the page.
        let d = s.web.dashboards.iter().find(|d| d.name == *n).expect("dashboard");
        for v in &d.visuals {
            assert!(html.contains(&format!("data-visual=\"{}\"", v.name)), "{n}/{}", v.name);
        }
        check_cards(&s, n, &html, &[]).await;
    }
    // French formats on the executive cards: `x,xx M MAD` with no-break spaces.
    let html = get(s.addr, "/executive").await.text();
    let ca = cards(&html).into_iter().find(|c| c.0 == "CA_Total").expect("CA_Total card");
    assert!(ca.2.ends_with("\u{a0}M\u{a0}MAD") && ca.2.contains(','), "{ca:?}");
    let trafic = get(s.addr, "/trafic").await.text();
    let conv = cards(&trafic).into_iter().find(|c| c.0 == "Taux_Conversion").expect("Taux_Conversion card");
    assert!(conv.2.ends_with("\u{a0}%") && conv.2.contains(','), "{conv:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slicers_filter_every_visual() {
    let s = start().await;
    let all = cards(&get(s.addr, "/executive").await.text());
    let r = get(s.addr, "/executive?Annee=2024&Nom_Canal=Web&Mois=").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    assert!(html.contains("<option value=\"2024\" selected>"), "the form keeps the choice");
    assert!(html.contains("Année = 2024") && html.contains("Canal = Web"), "the filters are stated");
    let filters = [
        Predicate::Compare { attribute: "Annee".into(), op: "=", value: Value::Number("2024".into()) },
        Predicate::Compare { attribute: "Nom_Canal".into(), op: "=", value: Value::Text("Web".into()) },
    ];
    let sliced = check_cards(&s, "executive", &html, &filters).await;
    let ca = |c: &[(String, String, String)]| c.iter().find(|c| c.0 == "CA_Total").map(|c| c.1.parse::<f64>().expect("a number")).expect("CA_Total");
    assert!(ca(&sliced) < ca(&all) / 2.0, "a year of one channel is well under the total");
    // Every visual is filtered: the channel chart now has the one channel.
    let donut = &html[html.find("data-visual=\"ca_par_canal\"").expect("visual")..];
    let donut = &donut[..donut.find("</section>").expect("end")];
    assert!(donut.contains("Web") && !donut.contains("Magasin"), "{donut}");
    // Two values of one slicer are an IN; a category and a segment reach the other pages.
    for path in
        ["/executive?Nom_Canal=Web&Nom_Canal=Mobile", "/produits?Categorie=Mode", "/clients?Segment_RFM=Gold", "/retours?Code_Promo=RAMADAN20"]
    {
        let r = get(s.addr, path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert!(!r.text().contains("class=\"error\""), "{path}:\n{}", r.text());
    }
}

#[test]
fn report_writes_self_contained_pages() {
    let out = tempfile::tempdir().expect("tempdir");
    let data = common::generated_data();
    let dir = out.path().join("report");
    let (code, stdout, stderr) = common::run(
        &["report", "--out", &dir.to_string_lossy(), "--data", &data.to_string_lossy(), "--project", env!("CARGO_MANIFEST_DIR")],
        out.path(),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let pages = omnimarket::dashboards::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).expect("dashboards");
    let files: Vec<String> = std::iter::once("index.html".to_string()).chain(pages.iter().map(|d| format!("{}.html", d.name))).collect();
    for f in &files {
        let f = f.as_str();
        let html = std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(html.starts_with("<!DOCTYPE html>"), "{f}");
        assert!(
            !html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("href=\"/"),
            "{f} must be self-contained"
        );
        assert!(!html.contains("class=\"error\""), "{f}");
        assert!(stdout.contains(f), "{stdout}");
    }
    let exec = std::fs::read_to_string(dir.join("executive.html")).expect("executive");
    assert!(exec.contains("href=\"clients.html\"") && exec.contains("<svg") && !exec.contains("<form"), "static links, charts, no form");
    // A slicer baked in, and a bad one refused.
    let (code, _, stderr) =
        common::run(&["report", "--out", &dir.to_string_lossy(), "--data", &data.to_string_lossy(), "--filter", "Annee=2023"], out.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::read_to_string(dir.join("executive.html")).expect("executive").contains("Année = 2023"));
    let (code, _, stderr) =
        common::run(&["report", "--out", &dir.to_string_lossy(), "--data", &data.to_string_lossy(), "--filter", "Annee=1900"], out.path());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("1900"), "{stderr}");
}

/// French number formats written here, independently of the pages' formatter: thousands grouped with a narrow
/// no-break space (U+202F), a decimal comma, a no-break space (U+00A0) before a unit or `%`.
fn fr_grouped(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202F}');
        }
        out.push(c);
    }
    out
}

/// `53,28 M MAD` for the millions of a currency card.
fn fr_millions_mad(x: f64) -> String {
    format!("{}\u{a0}M\u{a0}MAD", format!("{:.2}", x / 1e6).replace('.', ","))
}

/// `2 160 MAD` for a currency between 100 and 10 000.
fn fr_mad(x: f64) -> String {
    format!("{}\u{a0}MAD", fr_grouped(&format!("{x:.0}")))
}

/// `4 987` for a count.
fn fr_count(n: f64) -> String {
    fr_grouped(&format!("{n:.0}"))
}

/// `4,6 %` for a ratio.
fn fr_percent(r: f64) -> String {
    format!("{}\u{a0}%", format!("{:.1}", r * 100.0).replace('.', ","))
}

/// The executive and traffic cards against plain SQL over the cleaned tables (not the semantic layer), in French
/// formats written in this test: a wrong number or a wrong format fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_show_plain_sql_figures_in_french() {
    let s = start().await;
    let ctx = s.web.engine.context();
    let shown =
        |html: &str, measure: &str| -> String { cards(html).into_iter().find(|c| c.0 == measure).unwrap_or_else(|| panic!("no {measure} card")).2 };
    for (path, filter) in [("/executive", "TRUE"), ("/executive?Annee=2024&Nom_Canal=Web", "t.\"Annee\" = 2024 AND c.\"Nom_Canal\" = 'Web'")] {
        // The page first: it also builds the cleaned tables the plain SQL reads.
        let html = get(s.addr, path).await.text();
        let q = |expr: &str| {
            format!(
                "SELECT CAST({expr} AS DOUBLE) FROM omnimarket.staging.stg_ventes v JOIN omnimarket.staging.stg_temps t ON t.\"ID_Date\" = v.\"ID_Date\" \
                 JOIN omnimarket.staging.stg_canaux c ON c.\"ID_Canal\" = v.\"ID_Canal\" WHERE {filter}"
            )
        };
        let ca = common::num(ctx, &q("SUM(v.\"Montant_TTC\")")).await;
        let ht = common::num(ctx, &q("SUM(v.\"Montant_HT\")")).await;
        let marge = common::num(ctx, &q("SUM(v.\"Marge\")")).await;
        let n = common::num(ctx, &q("COUNT(*)")).await;
        // DISTINCTCOUNT counts BLANK as a value.
        let clients = common::num(ctx, &q("COUNT(DISTINCT v.\"ID_Client\") + MAX(CASE WHEN v.\"ID_Client\" IS NULL THEN 1 ELSE 0 END)")).await;
        // Year to date at the last date in context: the calendar ends on 2024-12-31, so all of 2024.
        let ytd = common::num(ctx, &q("SUM(CASE WHEN t.\"Annee\" = 2024 THEN v.\"Montant_TTC\" END)")).await;
        assert_eq!(shown(&html, "CA_Total"), fr_millions_mad(ca), "{path}");
        assert_eq!(shown(&html, "CA_HT"), fr_millions_mad(ht), "{path}");
        assert_eq!(shown(&html, "Marge_Totale"), fr_millions_mad(marge), "{path}");
        assert_eq!(shown(&html, "CA_YTD"), fr_millions_mad(ytd), "{path}");
        assert_eq!(shown(&html, "Panier_Moyen"), fr_mad(ca / n), "{path}");
        assert_eq!(shown(&html, "Nb_Clients_Actifs"), fr_count(clients), "{path}");
    }
    let html = get(s.addr, "/trafic").await.text();
    let sessions = common::num(ctx, "SELECT CAST(COUNT(*) AS DOUBLE) FROM omnimarket.staging.stg_trafic").await;
    let bought = common::num(ctx, "SELECT CAST(COUNT(*) AS DOUBLE) FROM omnimarket.staging.stg_trafic WHERE \"A_Achete\" = 1").await;
    assert_eq!(shown(&html, "Taux_Conversion"), fr_percent(bought / sessions));
    assert!(sessions < 1e6, "a count under a million shows in full");
    assert_eq!(shown(&html, "Nb_Sessions"), fr_count(sessions));
}
