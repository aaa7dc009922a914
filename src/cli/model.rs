//! `omnimarket model`: what the semantic model offers — tables and their sources, relationships, attributes
//! (what to group and filter by) and measures by folder, as text or JSON. Reads the model files only, so it
//! lists the measures whose DAX does not parse; `omnimarket validate` checks the rest against the data.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::model::load::load_project;
use crate::model::{Grain, Model};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Project directory holding `semantic/` (default: the current directory; the bundled model if absent).
    #[arg(long, default_value = ".")]
    pub project: std::path::PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ModelFormat::Text)]
    pub format: ModelFormat,
}

pub fn run(args: ModelArgs) -> Result<ExitCode, String> {
    let model = load_project(&args.project).map_err(|e| e.to_string())?;
    let out = match args.format {
        ModelFormat::Text => text(&model),
        ModelFormat::Json => serde_json::to_string_pretty(&json(&model)).map_err(|e| e.to_string())?,
    };
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn relationship_line(model: &Model, r: &crate::model::Relationship) -> String {
    let one = &model.tables[r.one].name;
    let many = &model.tables[r.many].name;
    let mut s = format!("{one}[{}] 1 ──< {many}[{}]", r.one_columns.join(", "), r.many_columns.join(", "));
    if r.grain == Grain::Month {
        s.push_str("  (month grain)");
    }
    if !r.active {
        s.push_str("  (inactive)");
    }
    s
}

pub fn text(model: &Model) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Model `{}` (date table {}[{}])", model.name, model.tables[model.date_table].name, model.date_column);
    let _ = writeln!(s, "\nTables");
    for t in &model.tables {
        let _ = writeln!(s, "  {:<20} {:<26} key {}", t.name, t.source, t.primary_key.join(", "));
    }
    let _ = writeln!(s, "\nRelationships (filters flow from the one side to the many side)");
    for r in &model.relationships {
        let _ = writeln!(s, "  {}", relationship_line(model, r));
    }
    let _ = writeln!(s, "\nAttributes");
    for (i, t) in model.tables.iter().enumerate() {
        let attrs: Vec<String> = model
            .attributes
            .iter()
            .filter(|a| a.table == i)
            .map(|a| if a.name == a.column { a.name.clone() } else { format!("{} (= {})", a.name, a.column) })
            .collect();
        if !attrs.is_empty() {
            let _ = writeln!(s, "  {:<20} {}", t.name, attrs.join(", "));
        }
    }
    let _ = writeln!(s, "\nMeasures");
    for (folder, measures) in model.folders() {
        let _ = writeln!(s, "  {folder}");
        for m in measures {
            let flag = if m.expr.is_err() { "INVALID  " } else { "" };
            let _ = writeln!(s, "    {:<28} {:<9} {flag}{}", m.name, m.format.name(), m.description);
        }
    }
    let invalid: Vec<_> = model.measures.iter().filter_map(|m| m.expr.as_ref().err()).collect();
    if !invalid.is_empty() {
        let _ = writeln!(s, "\nInvalid measures (the others work; a query using one of these fails)");
        for e in invalid {
            let _ = writeln!(s, "{e}\n");
        }
    }
    s.trim_end().to_string()
}

pub fn json(model: &Model) -> serde_json::Value {
    serde_json::json!({
        "model": model.name,
        "date_table": { "table": model.tables[model.date_table].name, "column": model.date_column },
        "tables": model.tables.iter().map(|t| serde_json::json!({
            "name": t.name, "source": t.source, "primary_key": t.primary_key,
        })).collect::<Vec<_>>(),
        "relationships": model.relationships.iter().map(|r| serde_json::json!({
            "one": { "table": model.tables[r.one].name, "columns": r.one_columns },
            "many": { "table": model.tables[r.many].name, "columns": r.many_columns },
            "active": r.active,
            "grain": if r.grain == Grain::Month { "month" } else { "row" },
        })).collect::<Vec<_>>(),
        "attributes": model.attributes.iter().map(|a| serde_json::json!({
            "name": a.name, "table": model.tables[a.table].name, "column": a.column,
        })).collect::<Vec<_>>(),
        "folders": model.folders().into_iter().map(|(f, ms)| serde_json::json!({
            "folder": f,
            "measures": ms.iter().map(|m| serde_json::json!({
                "name": m.name, "format": m.format.name(), "description": m.description, "dax": m.dax,
                "error": m.expr.as_ref().err().map(|e| e.to_string()),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
