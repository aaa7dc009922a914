//! Fuzzing of the model loaders, the DAX parser and compiler, and the semantic SQL surface, on stable Rust
//! with proptest: the bundled files and measures damaged by truncation, byte flips, splices and deep nesting.
//! Assertions: no panic; an error names a place (file:line:col, or an offset inside the text); a measure that
//! compiles gives SQL of size linear in the measure.
//!
//! Cases per target: `PROPTEST_CASES` (default 128). A longer run: `PROPTEST_CASES=5000 cargo test --test fuzz_dax`.

mod semantic_fixture;

use std::sync::Arc;

use omnimarket::dax::parser::{MAX_DEPTH, parse};
use omnimarket::engine::Engine;
use omnimarket::lowering::BoundModel;
use omnimarket::model::load::{BUNDLED_MEASURES, BUNDLED_MODEL, load, measure_from_dax};
use omnimarket::model::{Model, SourceText};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128)
}

fn config() -> Config {
    Config { cases: cases(), failure_persistence: None, ..Config::default() }
}

/// A damaged copy of `text`: cut, a byte changed, a piece repeated, brackets nested deep, or an open
/// CALCULATE(SUMX(FILTER(...)) spliced in.
fn damage(text: &str) -> impl Strategy<Value = String> + use<> {
    let parens = |depth: usize| format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
    semantic_fixture::damage(text, parens, Some("CALCULATE(SUMX(FILTER(ALL(Dim_Produit), [CA_Total] > 1), "))
}

fn bundled_measure_texts() -> Vec<String> {
    let model = semantic_fixture::bundled_model();
    model.measures.iter().map(|m| m.dax.clone()).collect()
}

#[test]
fn damaged_model_files_load_or_fail_with_a_position() {
    let mut runner = TestRunner::new(config());
    runner
        .run(&(damage(BUNDLED_MODEL), damage(BUNDLED_MEASURES), any::<bool>()), |(model, measures, which)| {
            let (m, s) = if which { (model, BUNDLED_MEASURES.to_string()) } else { (BUNDLED_MODEL.to_string(), measures) };
            let result = load(SourceText { file: "model.yaml".into(), text: m }, SourceText { file: "measures.yaml".into(), text: s });
            if let Err(e) = result {
                let shown = e.to_string();
                prop_assert!(shown.contains(".yaml"), "the error names the file: {shown}");
            }
            Ok(())
        })
        .expect("no panic, errors name the file");
}

#[test]
fn damaged_measures_parse_or_fail_at_an_offset_inside_the_text() {
    let texts = bundled_measure_texts();
    let mut runner = TestRunner::new(config());
    runner
        .run(&(0..texts.len()).prop_flat_map(|i| damage(&bundled_measure_texts()[i])), |dax| {
            if let Err(e) = parse(&dax) {
                prop_assert!(e.at <= dax.len().max(omnimarket::dax::parser::MAX_TEXT), "offset {} beyond {} bytes", e.at, dax.len());
                prop_assert!(!e.message.is_empty());
            }
            Ok(())
        })
        .expect("the parser never panics");
    let _ = texts;
}

/// The bundled model bound over the fixture, with extra measures.
fn bound_with(extra: &[(&str, &str)]) -> (Engine, Arc<BoundModel>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut model: Model = semantic_fixture::bundled_model();
        for (name, dax) in extra {
            if let Ok(m) = measure_from_dax(name, dax) {
                model.measures.push(m);
            }
        }
        let e = Engine::with_context(semantic_fixture::fixture_context().await, model);
        let bm = e.bound_model().await.expect("binds");
        (e, bm)
    })
}

#[test]
fn damaged_measures_bind_compile_and_run_or_fail_cleanly() {
    let texts = bundled_measure_texts();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut runner = TestRunner::new(Config { cases: (cases() / 2).max(16), ..config() });
    let (bound, compiled_count) = (std::sync::atomic::AtomicUsize::new(0), std::sync::atomic::AtomicUsize::new(0));
    runner
        .run(&(0..texts.len()).prop_flat_map(|i| damage(&bundled_measure_texts()[i])), |dax| {
            if parse(&dax).is_err() {
                return Ok(());
            }
            bound.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (e, bm) = bound_with(&[("Fuzz", &dax)]);
            if let Some(err) = bm.invalid("Fuzz") {
                prop_assert!(err.to_string().contains("<slt>"), "a bind error points into the text: {err}");
                return Ok(());
            }
            for sql in [
                "SELECT MEASURE(Fuzz) FROM omnimarket",
                "SELECT Annee, Nom_Canal, MEASURE(Fuzz) FROM omnimarket WHERE Mois <= 6 GROUP BY Annee, Nom_Canal",
            ] {
                let compiled = rt.block_on(e.compile(sql));
                if let Ok(Some(text)) = &compiled {
                    compiled_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    prop_assert!(text.len() < 400_000 + 2_000 * dax.len(), "compiled SQL of {} bytes for {} bytes of DAX", text.len(), dax.len());
                    // Running it either answers or fails with an error; both are fine, a panic is not.
                    let _ = rt.block_on(async { e.sql(sql).await?.collect().await });
                }
            }
            Ok(())
        })
        .expect("binding, compiling and running never panic");
    eprintln!("damaged measures: {} parsed and bound, {} query compilations ran", bound.into_inner(), compiled_count.into_inner());
}

/// Well-formed measures built from the bundled ones by random wrappers (context changes, iterators, time
/// intelligence, logic), nested up to 6 deep: they must bind, compile and run, or fail with an error.
fn composed() -> impl Strategy<Value = String> {
    const WRAP: &[&str] = &[
        "CALCULATE({}, ALL(Dim_Produit))",
        "CALCULATE({}, KEEPFILTERS(Dim_Canal[Nom_Canal] IN {{ \"Web\", \"Mobile\" }}))",
        "SUMX(VALUES(Dim_Canal[Nom_Canal]), {})",
        "AVERAGEX(VALUES(Dim_Temps[Mois]), {})",
        "CALCULATE({}, SAMEPERIODLASTYEAR(Dim_Temps[Date_Complete]))",
        "CALCULATE({}, DATEADD(Dim_Temps[Date_Complete], -1, MONTH))",
        "TOTALYTD({}, Dim_Temps[Date_Complete])",
        "IF({0} > 100, {0}, BLANK())",
        "DIVIDE({}, [CA_Total], 0)",
        "CALCULATE({}, FILTER(VALUES(Dim_Client[ID_Client]), [CA_Total] > 100))",
        "CALCULATE({}, TOPN(2, ALL(Dim_Produit[Nom_Produit]), [CA_Total]))",
        "RANKX(ALL(Dim_Produit[Nom_Produit]), {})",
        "MAXX(Dim_Canal, {})",
        "COALESCE({}, 0) + 1",
        "CALCULATE({}, ALLEXCEPT(Dim_Temps, Dim_Temps[Annee]))",
        "CALCULATE({}, FILTER(ALL(Dim_Temps[Date_Complete]), Dim_Temps[Date_Complete] <= MAX(Dim_Temps[Date_Complete])))",
    ];
    let names: Vec<String> = semantic_fixture::bundled_model().measures.iter().map(|m| format!("[{}]", m.name)).collect();
    (proptest::sample::select(names), proptest::collection::vec(0..WRAP.len(), 0..6)).prop_map(|(base, wraps)| {
        wraps.into_iter().fold(base, |inner, w| WRAP[w].replace("{0}", &inner).replace("{}", &inner).replace("{{", "{").replace("}}", "}"))
    })
}

#[test]
fn composed_measures_bind_compile_and_run_or_fail_cleanly() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut runner = TestRunner::new(Config { cases: (cases() / 4).max(16), ..config() });
    let ran = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&composed(), |dax| {
            let (e, bm) = bound_with(&[("Fuzz", &dax)]);
            if bm.invalid("Fuzz").is_some() {
                return Ok(());
            }
            let sql = "SELECT Annee, Nom_Canal, MEASURE(Fuzz) FROM omnimarket WHERE Mois <= 6 GROUP BY Annee, Nom_Canal";
            if let Ok(Some(text)) = rt.block_on(e.compile(sql)) {
                prop_assert!(text.len() < 400_000 + 2_000 * dax.len(), "compiled SQL of {} bytes for {} bytes of DAX", text.len(), dax.len());
                match rt.block_on(async { e.sql(sql).await?.collect().await }) {
                    Ok(_) => {
                        ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(err) if std::env::var_os("FUZZ_VERBOSE").is_some() => eprintln!("{dax}\n  -> {err}"),
                    Err(_) => {}
                }
            }
            Ok(())
        })
        .expect("composed measures never panic");
    eprintln!("composed measures: {} ran to a result", ran.into_inner());
}

#[test]
fn compiled_sql_grows_linearly_with_the_measure() {
    let sum = |n: usize| vec!["[CA_Total]"; n].join(" + ");
    let divide = |n: usize| {
        let mut s = "[CA_Total]".to_string();
        for _ in 0..n {
            s = format!("DIVIDE({s} - [CA_Annee_Precedente], [CA_Annee_Precedente], 0)");
        }
        s
    };
    let (e, bm) = bound_with(&[("S10", &sum(10)), ("S80", &sum(80)), ("D5", &divide(5)), ("D40", &divide(40))]);
    assert!(bm.invalid.is_empty(), "{:?}", bm.invalid);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let size = |m: &str| {
        let sql = format!("SELECT Annee, MEASURE({m}) FROM omnimarket GROUP BY Annee");
        rt.block_on(e.compile(&sql)).expect("compiles").expect("semantic").len()
    };
    let (s10, s80, d5, d40) = (size("S10"), size("S80"), size("D5"), size("D40"));
    eprintln!("compiled SQL: sum of 10 terms {s10} B, of 80 terms {s80} B; DIVIDE nested 5 deep {d5} B, 40 deep {d40} B");
    // 8x the terms: at most about 8x the SQL (it was 2^n before).
    assert!(s80 < s10 * 10, "sum: {s10} bytes for 10 terms, {s80} for 80");
    assert!(d40 < d5 * 10, "nested DIVIDE: {d5} bytes for 5 levels, {d40} for 40");
    // And it runs: 80 × 996 for 2023.
    let rows = rt
        .block_on(async { e.sql("SELECT Annee, MEASURE(S80) FROM omnimarket GROUP BY Annee").await.expect("plans").collect().await.expect("runs") });
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&rows).expect("prints").to_string();
    assert!(text.contains("79680"), "{text}");
}

#[test]
fn measures_too_deep_are_errors_at_load_not_crashes() {
    let too_deep = format!("{}1{}", "ABS(".repeat(MAX_DEPTH + 5), ")".repeat(MAX_DEPTH + 5));
    let err = measure_from_dax("Deep", &too_deep).expect_err("refused");
    assert!(err.to_string().contains("nested more than"), "{err}");
    let long_chain = vec!["[CA_Total]"; 2_000].join(" + ");
    let err = measure_from_dax("Long", &long_chain).expect_err("refused");
    assert!(err.to_string().contains("nested more than"), "{err}");
}

#[test]
fn semantic_queries_damaged_plan_or_fail_cleanly() {
    let (e, _) = bound_with(&[]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let base = "SELECT Annee, Nom_Canal, MEASURE(CA_Total), MEASURE(Contribution_Cumul) AS c FROM omnimarket WHERE Mois BETWEEN 1 AND 6 AND Nom_Canal IN ('Web', 'Mobile') GROUP BY Annee, Nom_Canal HAVING MEASURE(CA_Total) > 10 ORDER BY 1 LIMIT 5";
    let mut runner = TestRunner::new(Config { cases: (cases() / 2).max(16), ..config() });
    runner
        .run(&damage(base), |sql| {
            let _ = rt.block_on(async { e.sql(&sql).await?.collect().await });
            Ok(())
        })
        .expect("the semantic SQL surface never panics");
}
