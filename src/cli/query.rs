//! `omnimarket query "SQL"`: run SQL over the raw tables and print the result.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use super::errors::with_table_suggestion;
use super::output::{OutputFormat, write_batches};
use super::{ProjectArgs, describe_error, runtime};
use crate::engine::Engine;
use crate::project::{Project, default_data_dir};

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// The SQL to run (tables: the raw sources, unqualified or as raw.<name>).
    pub sql: String,
}

pub fn run(args: QueryArgs) -> Result<ExitCode, String> {
    let data = super::generate::ensure_data(args.project.data.as_deref(), default_data_dir())?;
    let project = Project::new(&args.project.project, data).with_cache(!args.project.no_cache);
    let engine = Engine::open(&project).map_err(|e| e.to_string())?;
    let explain = |e: datafusion::error::DataFusionError| with_table_suggestion(describe_error(&e), &engine.raw_table_names());
    let batches = runtime()?.block_on(async {
        let (schema, mut batches) = engine.query(&args.sql, &[]).await.map_err(explain)?;
        // An empty result still shows its columns.
        if batches.is_empty() {
            batches.push(datafusion::arrow::record_batch::RecordBatch::new_empty(schema));
        }
        Ok::<_, String>(batches)
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write_batches(&mut out, args.format, &batches)?;
    out.flush().map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}
