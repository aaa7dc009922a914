//! The command line: one module per subcommand. Exit codes: 0 success, 1 a failure in the data, the model or
//! the query (the message says which file/line), 2 a usage error.

mod check;
mod compile;
pub(crate) mod errors;
mod generate;
mod model;
mod output;
mod progress;
mod query;
mod refresh;
mod report;
mod serve;
mod shell;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use crate::errors::describe_error;
/// The model as JSON (`model --format json`, and `GET /api/model` of `serve --http`).
pub use model::json as model_json;

#[derive(Debug, Parser)]
#[command(name = "omnimarket", version, about = "OmniMarket 360: a semantic layer for an omnichannel retailer")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the 14 raw source files of a synthetic, seeded business.
    Generate(generate::GenerateArgs),
    /// Run SQL (raw tables, cleaned `staging.<model>` tables, the semantic table) or a DAX query (EVALUATE).
    Query(query::QueryArgs),
    /// The data-quality report: rows in/out per model, what each cleaning rule did, tests, reconciliations.
    Check(check::CheckArgs),
    /// Print the SQL that runs for a query: semantic blocks and DAX compiled, plain SQL unchanged.
    Compile(compile::CompileArgs),
    /// The semantic model: tables, relationships, attributes and measures by folder.
    Model(model::ModelArgs),
    /// Check the model against the data: every invalid measure with its position; exit code 1 if any.
    Validate(validate::ValidateArgs),
    /// Print the reference of the supported DAX functions (Markdown; the source of docs/dax.md).
    DaxReference,
    /// Serve the model over Arrow Flight SQL (BI tools, notebooks, `shell --connect`) until SIGINT/SIGTERM.
    Serve(serve::ServeArgs),
    /// An interactive SQL shell on the embedded engine, or on a server with --connect grpc://host:port.
    Shell(shell::ShellArgs),
    /// Manage the users file of `serve`.
    User(serve::UserArgs),
    /// Rebuild the cached model snapshots that are stale (only models downstream of a changed file).
    Refresh(refresh::RefreshArgs),
    /// Write the five dashboards as static, self-contained HTML pages.
    Report(report::ReportArgs),
}

/// Where the model and the data are: shared by every command that reads them.
#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
    /// Project directory holding `semantic/` (default: the current directory; the bundled model if absent).
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    /// Data directory holding the raw files (default: ./data, generated on first use when missing).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Neither read nor write the models' snapshots in `<project>/.omnimarket/cache/`: parse and clean from scratch.
    #[arg(long)]
    pub no_cache: bool,
    /// Read the cleaned models from the Parquet snapshot at DIR_OR_URL (a path, file:// or s3://bucket/prefix,
    /// written by `refresh --to`) instead of building them: no raw file is parsed. S3 credentials, region and
    /// endpoint come from the AWS_* environment variables.
    #[arg(long, value_name = "DIR_OR_URL", conflicts_with = "no_cache")]
    pub snapshots: Option<String>,
    /// Memory the running queries' operators may hold together (e.g. `4G`, `512M`): sorts, joins and
    /// aggregations spill to disk past it, and a query that cannot fails alone ("resources exhausted").
    /// [default: none for one-off commands; half of the machine's memory for `serve`]
    #[arg(long, value_name = "SIZE", value_parser = serve::parse_size)]
    pub memory_limit: Option<usize>,
}

impl ProjectArgs {
    /// The project these options name. Without --data, the default data directory is generated on first use,
    /// except on snapshots (which need no raw file).
    pub fn project(&self) -> Result<crate::project::Project, String> {
        let data = match (&self.data, &self.snapshots) {
            (Some(d), _) => d.clone(),
            (None, Some(_)) => crate::project::default_data_dir().to_path_buf(),
            (None, None) => generate::ensure_data(None, crate::project::default_data_dir())?,
        };
        Ok(crate::project::Project::new(&self.project, data)
            .with_cache(!self.no_cache)
            .with_snapshots(self.snapshots.clone())
            .with_memory_limit(self.memory_limit))
    }
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(2),
            };
        }
    };
    let result = match cli.command {
        Command::Generate(a) => generate::run(a),
        Command::Query(a) => query::run(a),
        Command::Check(a) => check::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Model(a) => model::run(a),
        Command::Validate(a) => validate::run(a),
        Command::DaxReference => {
            print!("{}", crate::lowering::functions::reference_markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(a) => serve::run(a),
        Command::Shell(a) => shell::run(a),
        Command::User(a) => serve::run_user(a),
        Command::Refresh(a) => refresh::run(a),
        Command::Report(a) => report::run(a),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

/// A multi-threaded runtime for commands that query.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("cannot start: {e}"))
}
