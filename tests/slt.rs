//! The sqllogictest suites of DAX measures (`tests/slt/*.slt`, see `tests/slt/README.md`), run over the bundled
//! model on the hand-made fixture (tests/fixtures/semantic_small.sql), one `#[test]` per file.
//!
//! Each file gets a fresh fixture session and the bundled model. Records are sent to
//! [`omnimarket::engine::Engine::sql`] (the semantic SQL surface, or plain SQL over `omnimarket.staging.*`), except
//! one statement the runner handles itself:
//!
//! ```text
//! statement ok
//! DEFINE MEASURE Name = <DAX, on one or more lines (no blank line)>
//! ```
//!
//! adds the measure (folder `Tests`, format decimal, see `omnimarket::model::load::measure_from_dax`) to the model
//! for the rest of the file: the engine is rebuilt over the same session with the model plus the new measure. A
//! DEFINE whose DAX does not parse, or whose name is already an attribute or a measure, fails (so
//! `statement error <regex>` can test it); a measure that parses but does not bind only fails the queries that
//! reach the model, with the compiler's message.
//!
//! Values are rendered as `semantic_fixture::rows_of` does (`NULL` for nulls, Arrow's display otherwise), with
//! these changes so that expected values can be written by hand:
//! - floats (and decimals) are rounded to at most 10 digits after the decimal point, trailing zeros and a
//!   trailing point removed (`1656.0` prints `1656`, `2/3` prints `0.6666666667`, `0.1 + 0.2` prints `0.3`,
//!   `-0` prints `0`); the crate's normal comparison (whitespace-normalised text) then applies, so an integer
//!   and a float of the same value compare equal and last-bit noise does not matter;
//! - an empty string prints `(empty)` (an empty value would vanish in the whitespace-separated expected rows);
//! - a timestamp at midnight prints as its date (`2023-01-01`), as DAX has only one date/time type;
//! - booleans print `true` / `false`.
//!
//! Column type letters in `query` headers (`T`, `I`, `R`) are documentation: they are not checked.
//!
//! A failing file reports every failing record (the runner goes on after a failure), each with `file:line`.

mod semantic_fixture;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, Float16Array, Float32Array, Float64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;
use omnimarket::engine::Engine;
use omnimarket::model::Model;
use omnimarket::model::load::measure_from_dax;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Record, Runner};

/// An error the runner reports: the engine's message, or the DEFINE's.
#[derive(Debug)]
struct SltError(String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

/// One .slt file's database: the fixture session, the model (bundled + DEFINEd measures), the engine over both.
struct SemanticDb {
    ctx: SessionContext,
    model: Model,
    engine: Engine,
}

impl SemanticDb {
    async fn new() -> SemanticDb {
        let ctx = semantic_fixture::fixture_context().await;
        let model = semantic_fixture::bundled_model();
        let engine = Engine::with_context(ctx.clone(), model.clone());
        SemanticDb { ctx, model, engine }
    }

    /// `DEFINE MEASURE Name = dax`: `None` when `sql` is not a DEFINE.
    fn define(&mut self, sql: &str) -> Option<Result<(), SltError>> {
        let text = sql.trim_start();
        let mut words = text.split_whitespace();
        let (Some(w1), Some(w2)) = (words.next(), words.next()) else { return None };
        if !(w1.eq_ignore_ascii_case("DEFINE") && w2.eq_ignore_ascii_case("MEASURE")) {
            return None;
        }
        let rest = text[text.find(w2).unwrap_or(0) + w2.len()..].trim_start();
        // `DEFINE MEASURE Table[Name] = ...` is a DAX query (with EVALUATE): the engine's.
        if rest.split('=').next().is_some_and(|n| n.trim().trim_start_matches('[').contains('[')) {
            return None;
        }
        let Some((name, dax)) = rest.split_once('=') else {
            return Some(Err(SltError("DEFINE MEASURE: expected `DEFINE MEASURE Name = <DAX>`".into())));
        };
        let name = name.trim().trim_start_matches('[').trim_end_matches(']').trim();
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Some(Err(SltError(format!("DEFINE MEASURE: `{name}` is not a measure name (letters, digits, `_`)"))));
        }
        if self.model.attribute(name).is_some() {
            return Some(Err(SltError(format!("DEFINE MEASURE: measure `{name}` has the same name as an attribute"))));
        }
        if self.model.measure(name).is_some() {
            return Some(Err(SltError(format!("DEFINE MEASURE: measure `{name}` has the same name as another measure"))));
        }
        let measure = match measure_from_dax(name, dax) {
            Ok(m) => m,
            Err(e) => return Some(Err(SltError(e.to_string()))),
        };
        self.model.measures.push(measure);
        self.engine = Engine::with_context(self.ctx.clone(), self.model.clone());
        Some(Ok(()))
    }

    async fn query(&self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let describe = |e: datafusion::error::DataFusionError| SltError(omnimarket::errors::describe_error(&e));
        let df = self.engine.sql(sql).await.map_err(describe)?;
        let types = df.schema().fields().iter().map(|f| column_type(f.data_type())).collect();
        let batches = self.engine.collect(df).await.map_err(describe)?;
        let mut rows = Vec::new();
        for b in &batches {
            for r in 0..b.num_rows() {
                rows.push(b.columns().iter().map(|c| render(c, r)).collect());
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }
}

#[async_trait]
impl AsyncDB for SemanticDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        match self.define(sql) {
            Some(Ok(())) => Ok(DBOutput::StatementComplete(0)),
            Some(Err(e)) => Err(e),
            None => self.query(sql).await,
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "omnimarket"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

fn column_type(t: &DataType) -> DefaultColumnType {
    if t.is_integer() {
        DefaultColumnType::Integer
    } else if t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) {
        DefaultColumnType::FloatingPoint
    } else if matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
        DefaultColumnType::Text
    } else {
        DefaultColumnType::Any
    }
}

/// A float rounded to at most 10 digits after the point, without trailing zeros.
fn float_text(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let s = format!("{x:.10}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

fn render(c: &ArrayRef, r: usize) -> String {
    if c.is_null(r) {
        return "NULL".to_string();
    }
    let any = c.as_any();
    if let Some(a) = any.downcast_ref::<Float64Array>() {
        return float_text(a.value(r));
    }
    if let Some(a) = any.downcast_ref::<Float32Array>() {
        return float_text(a.value(r) as f64);
    }
    if let Some(a) = any.downcast_ref::<Float16Array>() {
        return float_text(a.value(r).to_f64());
    }
    let text = array_value_to_string(c, r).unwrap_or_default();
    match c.data_type() {
        DataType::Decimal128(..) | DataType::Decimal256(..) => text.parse::<f64>().map(float_text).unwrap_or(text),
        DataType::Timestamp(..) => match text.strip_suffix("T00:00:00") {
            Some(date) => date.to_string(),
            None => text,
        },
        _ if text.is_empty() => "(empty)".to_string(),
        _ => text,
    }
}

fn slt_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("slt")
}

/// Runs every record of `tests/slt/<file>`, going on after failures; fails with each failing record's
/// `file:line` and error.
async fn run_file(file: &str) {
    let path = slt_dir().join(file);
    let records = sqllogictest::parse_file::<DefaultColumnType>(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut runner = Runner::new(|| async { Ok::<_, SltError>(SemanticDb::new().await) });
    let mut failures = Vec::new();
    let mut checked = 0;
    for record in records {
        let counts = matches!(record, Record::Statement { .. } | Record::Query { .. });
        if let Err(e) = runner.run_async(record).await {
            let kind = e.kind();
            failures.push(format!("{}: {}", e.location(), kind.display(false)));
        }
        checked += usize::from(counts);
    }
    runner.shutdown_async().await;
    if !failures.is_empty() {
        panic!("{}: {} of {checked} records failed\n\n{}\n", path.display(), failures.len(), failures.join("\n--------\n"));
    }
    eprintln!("{}: {checked} records passed", path.display());
}

macro_rules! slt_files {
    ($($test:ident => $file:literal),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                run_file($file).await;
            }
        )*
        const FILES: &[&str] = &[$($file),*];
    };
}

slt_files! {
    runner => "runner.slt",
    bundled_measures => "bundled_measures.slt",
    agg => "agg.slt",
    iterators => "iterators.slt",
    calculate => "calculate.slt",
    time => "time.slt",
    info_logic => "info_logic.slt",
    scalar => "scalar.slt",
    rank => "rank.slt",
    invalid => "invalid.slt",
    analyst => "analyst.slt",
    analyst_followup => "analyst_followup.slt",
    dax_queries => "dax_queries.slt",
}

/// A new .slt file must be listed above, or it would never run.
#[test]
fn every_slt_file_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(slt_dir())
        .expect("tests/slt")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".slt"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FILES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every tests/slt/*.slt file has its line in slt_files! (tests/slt.rs)");
}

#[test]
fn floats_print_rounded() {
    assert_eq!(float_text(1656.0), "1656");
    assert_eq!(float_text(0.1 + 0.2), "0.3");
    assert_eq!(float_text(2.0 / 3.0), "0.6666666667");
    assert_eq!(float_text(-0.8333333333333334), "-0.8333333333");
    assert_eq!(float_text(-1e-12), "0");
    assert_eq!(float_text(0.5), "0.5");
}
