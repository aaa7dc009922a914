//! `omnimarket compile "SQL"`: the SQL that actually runs for a query — each semantic block (over the
//! `omnimarket` model table) compiled with DAX filter-context semantics; plain SQL is printed unchanged.

use std::process::ExitCode;

use clap::Args;

use super::{ProjectArgs, describe_error, runtime};
use crate::engine::Engine;
use crate::query::pretty_sql;

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The query, e.g. "SELECT Nom_Canal, MEASURE(CA_Total) FROM omnimarket GROUP BY Nom_Canal", or a DAX
    /// query with one EVALUATE.
    pub sql: String,
}

pub fn run(args: CompileArgs) -> Result<ExitCode, String> {
    let engine = Engine::open(&args.project.project()?).map_err(|e| e.to_string())?;
    let compiled = runtime()?.block_on(engine.compile(&args.sql)).map_err(|e| describe_error(&e))?;
    match compiled {
        Some(sql) => println!("{}", pretty_sql(&sql)),
        None => {
            eprintln!("(plain SQL: it runs as written)");
            println!("{}", args.sql);
        }
    }
    Ok(ExitCode::SUCCESS)
}
