//! `omnimarket query "SQL"`: run SQL (plain, semantic) or a DAX query over the project and print the result(s).

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use super::errors::with_table_suggestion;
use super::output::{OutputFormat, write_batches_for};
use super::{ProjectArgs, describe_error, runtime};
use crate::engine::Engine;

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Output format: `table` shows measures in their declared format (MAD amounts, percentages); `csv` and
    /// `json` keep raw numbers.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Run the text as a DAX query (`[DEFINE ...] EVALUATE ...`); text starting with DEFINE or EVALUATE is
    /// DAX anyway. Each EVALUATE prints its own result.
    #[arg(long)]
    pub dax: bool,
    /// The query: SQL (the raw sources, `omnimarket.staging.*`, the semantic table `omnimarket`) or DAX;
    /// `-` reads it from standard input.
    pub sql: String,
}

pub fn run(args: QueryArgs) -> Result<ExitCode, String> {
    let project = args.project.project()?;
    let engine = Engine::open(&project).map_err(|e| e.to_string())?;
    let explain = |e: datafusion::error::DataFusionError| with_table_suggestion(describe_error(&e), &engine.raw_table_names());
    let text = if args.sql == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| format!("reading the query from standard input: {e}"))?;
        s
    } else {
        args.sql.clone()
    };
    let results = runtime()?.block_on(async {
        let frames = if args.dax || crate::query::dax::is_dax(&text) {
            engine.dax(&text).await.map_err(explain)?
        } else {
            vec![engine.sql(&text).await.map_err(explain)?]
        };
        let mut results = Vec::new();
        for df in frames {
            let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
            let mut batches = engine.collect(df).await.map_err(explain)?;
            // An empty result still shows its columns.
            if batches.is_empty() {
                batches.push(datafusion::arrow::record_batch::RecordBatch::new_empty(schema));
            }
            results.push(batches);
        }
        Ok::<_, String>(results)
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (i, batches) in results.iter().enumerate() {
        if i > 0 {
            writeln!(out).map_err(|e| e.to_string())?;
        }
        write_batches_for(&mut out, args.format, batches, engine.model())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}
