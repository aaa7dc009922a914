//! `omnimarket validate`: the model checked against the data — every measure bound, each invalid one shown
//! with its file:line:col and a caret. Exit code 1 when anything is invalid, for CI.

use std::process::ExitCode;

use clap::Args;

use super::{ProjectArgs, runtime};
use crate::engine::Engine;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
}

pub fn run(args: ValidateArgs) -> Result<ExitCode, String> {
    let project = args.project.project()?;
    let engine = Engine::open(&project).map_err(|e| e.to_string())?;
    let bound = match runtime()?.block_on(engine.bound_model()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("the model does not bind to the data");
            return Ok(ExitCode::from(1));
        }
    };
    for (_, e) in &bound.invalid {
        eprintln!("{e}\n");
    }
    let total = bound.model.measures.len();
    println!("{total} measures: {} valid, {} invalid", total - bound.invalid.len(), bound.invalid.len());
    Ok(if bound.invalid.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
