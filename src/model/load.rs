//! Reading the model files (YAML) into a [`Model`]: names resolved, duplicates and unknown references reported
//! with `file:line:col`, every measure's DAX parsed. What needs the data (columns, types, keys) is checked later
//! by [`super::bind`].

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::{Attribute, Format, Grain, Measure, Model, ModelError, Relationship, SourceText, Table};
use crate::dax::parser::parse;
use crate::suggest::hint as did_you_mean;

pub const BUNDLED_MODEL: &str = include_str!("../../semantic/model.yaml");
pub const BUNDLED_MEASURES: &str = include_str!("../../semantic/measures.yaml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    model: String,
    date_table: String,
    tables: Vec<TableDef>,
    #[serde(default)]
    relationships: Vec<RelationshipDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableDef {
    name: String,
    source: String,
    primary_key: OneOrMany,
    #[serde(default)]
    attributes: Vec<AttributeDef>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AttributeDef {
    Column(String),
    Aliased(AliasedAttribute),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasedAttribute {
    name: String,
    column: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationshipDef {
    one: String,
    many: String,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    grain: Option<String>,
    #[serde(default)]
    finer_attributes: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeasuresFile {
    measures: Vec<MeasureDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeasureDef {
    name: String,
    folder: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    description: String,
    dax: String,
}

/// The model files of a project (`<project>/semantic/model.yaml` and `measures.yaml`), or the bundled ones.
pub fn model_files(project_dir: &Path) -> Result<(SourceText, SourceText), ModelError> {
    let read = |name: &str, bundled: &str| -> Result<SourceText, ModelError> {
        let path = project_dir.join("semantic").join(name);
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| ModelError::new(None, format!("{}: cannot read: {e}", path.display())))?;
            Ok(SourceText { file: path.display().to_string(), text })
        } else {
            Ok(SourceText { file: format!("<bundled>/semantic/{name}"), text: bundled.to_string() })
        }
    };
    Ok((read("model.yaml", BUNDLED_MODEL)?, read("measures.yaml", BUNDLED_MEASURES)?))
}

fn yaml_error(src: &SourceText, e: serde_norway::Error) -> ModelError {
    let location = e.location().map(|l| {
        let mut loc = src.location_of(l.index());
        loc.column = l.column();
        loc
    });
    let message = e.to_string();
    // serde appends " at line X column Y"; the location already says it.
    let message = message.split(" at line ").next().unwrap_or(&message).to_string();
    ModelError::new(location, message)
}

/// `Table[Column]` or `Table[A, B]`.
fn parse_column_ref(text: &str) -> Option<(String, Vec<String>)> {
    let open = text.find('[')?;
    let inner = text[open + 1..].strip_suffix(']')?;
    let table = text[..open].trim().trim_matches('\'').to_string();
    let columns: Vec<String> = inner.split(',').map(|c| c.trim().to_string()).collect();
    if table.is_empty() || columns.iter().any(|c| c.is_empty()) {
        return None;
    }
    Some((table, columns))
}

pub fn load(model_src: SourceText, measures_src: SourceText) -> Result<Model, ModelError> {
    let file: ModelFile = serde_norway::from_str(&model_src.text).map_err(|e| yaml_error(&model_src, e))?;
    let mfile: MeasuresFile = serde_norway::from_str(&measures_src.text).map_err(|e| yaml_error(&measures_src, e))?;
    let model_src = Arc::new(model_src);
    let measures_src = Arc::new(measures_src);
    let at = |needle: &str| Some(model_src.location_of(model_src.anchor(needle)));

    let mut tables = Vec::new();
    let mut attributes: Vec<Attribute> = Vec::new();
    for t in &file.tables {
        if tables.iter().any(|x: &Table| x.name == t.name) {
            return Err(ModelError::new(at(&t.name), format!("table `{}` is declared twice", t.name)));
        }
        let primary_key = match &t.primary_key {
            OneOrMany::One(k) => vec![k.clone()],
            OneOrMany::Many(k) => k.clone(),
        };
        let id = tables.len();
        tables.push(Table {
            name: t.name.clone(),
            source: t.source.clone(),
            primary_key,
            columns: Vec::new(),
            has_blank_row: false,
            anchor: at(&t.name),
        });
        for a in &t.attributes {
            let (name, column) = match a {
                AttributeDef::Column(c) => (c.clone(), c.clone()),
                AttributeDef::Aliased(a) => (a.name.clone(), a.column.clone()),
            };
            if let Some(other) = attributes.iter().find(|x| x.name == name) {
                let pos = model_src.find(&name, model_src.anchor(&t.name));
                return Err(ModelError::new(
                    Some(model_src.location_of(pos)),
                    format!(
                        "attribute `{name}` of `{}` has the same name as an attribute of `{}`; give one an alias (`{{ name: ..., column: {column} }}`)",
                        t.name, tables[other.table].name
                    ),
                ));
            }
            attributes.push(Attribute { name, table: id, column });
        }
    }
    let table_names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
    let find_table = |name: &str, needle: &str| -> Result<usize, ModelError> {
        tables.iter().position(|t| t.name == name).ok_or_else(|| {
            let pos = model_src.text.find(needle).map(|i| i + needle.find(name).unwrap_or(0)).unwrap_or(0);
            ModelError::new(
                Some(model_src.location_of(pos)),
                format!("unknown table `{name}`{}", did_you_mean(name, table_names.iter().map(String::as_str))),
            )
        })
    };

    let mut relationships = Vec::new();
    for r in &file.relationships {
        let pos = model_src.text.find(&r.one).unwrap_or(0);
        let loc = Some(model_src.location_of(pos));
        let (one_table, one_columns) =
            parse_column_ref(&r.one).ok_or_else(|| ModelError::new(loc.clone(), format!("`{}`: expected `Table[Column]`", r.one)))?;
        let (many_table, many_columns) =
            parse_column_ref(&r.many).ok_or_else(|| ModelError::new(loc.clone(), format!("`{}`: expected `Table[Column]`", r.many)))?;
        if one_columns.len() != many_columns.len() {
            return Err(ModelError::new(loc, format!("`{}` and `{}` have different numbers of key columns", r.one, r.many)));
        }
        let grain = match r.grain.as_deref() {
            None | Some("row") => Grain::Row,
            Some("month") => Grain::Month,
            Some(other) => return Err(ModelError::new(loc, format!("unknown grain `{other}`: expected `row` or `month`"))),
        };
        let one = find_table(&one_table, &r.one)?;
        let many = find_table(&many_table, &r.many)?;
        for f in &r.finer_attributes {
            if !attributes.iter().any(|a| a.name == *f && a.table == one) {
                let pos = model_src.find(f, pos);
                return Err(ModelError::new(
                    Some(model_src.location_of(pos)),
                    format!(
                        "`{f}` is not an attribute of `{one_table}`{}",
                        did_you_mean(f, attributes.iter().filter(|a| a.table == one).map(|a| a.name.as_str()))
                    ),
                ));
            }
        }
        relationships.push(Relationship {
            one,
            one_columns,
            many,
            many_columns,
            active: r.active,
            grain,
            finer_attributes: r.finer_attributes.clone(),
            anchor: loc,
        });
    }

    let (date_table_name, date_columns) = parse_column_ref(&file.date_table)
        .ok_or_else(|| ModelError::new(at("date_table"), format!("date_table `{}`: expected `Table[Column]`", file.date_table)))?;
    let date_table = find_table(&date_table_name, &file.date_table)?;
    let date_column = date_columns.into_iter().next().unwrap_or_default();

    let mut measures: Vec<Measure> = Vec::new();
    let mut names: HashSet<&str> = attributes.iter().map(|a| a.name.as_str()).collect();
    let mut search_from = 0;
    for m in &mfile.measures {
        let anchor = measures_src.find(&format!("name: {}", m.name), search_from);
        search_from = anchor;
        let loc = Some(measures_src.location_of(anchor + 6));
        if !names.insert(m.name.as_str()) {
            let what = if attributes.iter().any(|a| a.name == m.name) { "an attribute" } else { "another measure" };
            return Err(ModelError::new(loc, format!("measure `{}` has the same name as {what}", m.name)));
        }
        let format = match m.format.as_deref() {
            None | Some("decimal") => Format::Decimal,
            Some("currency") => Format::Currency,
            Some("percent") => Format::Percent,
            Some("integer") => Format::Integer,
            Some("text") => Format::Text,
            Some(other) => {
                return Err(ModelError::new(
                    loc,
                    format!("measure `{}`: unknown format `{other}` (currency, percent, integer, decimal, text)", m.name),
                ));
            }
        };
        let first_line = m.dax.lines().next().unwrap_or("").trim();
        let dax_start = measures_src.find(first_line, anchor);
        let dax = m.dax.trim_end().to_string();
        let expr = parse(&dax).map_err(|e| {
            ModelError::new(Some(measures_src.location_in_value(&dax, dax_start, e.at)), format!("measure `{}`: {}", m.name, e.message))
        });
        measures.push(Measure {
            name: m.name.clone(),
            folder: m.folder.clone(),
            format,
            description: m.description.clone(),
            dax,
            expr,
            source: measures_src.clone(),
            dax_start,
        });
    }

    let model = Model { name: file.model, tables, attributes, relationships, measures, date_table, date_column };
    super::graph::check_paths(&model)?;
    Ok(model)
}

/// A measure from DAX text alone, outside any model file (folder `Tests`, format decimal): for tests that add
/// measures to a loaded model. The text is its own source, named `<slt>`, so a parse error points into it.
pub fn measure_from_dax(name: &str, dax: &str) -> Result<Measure, ModelError> {
    let dax = dax.trim().to_string();
    let source = Arc::new(SourceText { file: "<slt>".into(), text: dax.clone() });
    let expr = parse(&dax).map_err(|e| ModelError::new(Some(source.location_of(e.at)), format!("measure `{name}`: {}", e.message)))?;
    Ok(Measure {
        name: name.to_string(),
        folder: "Tests".into(),
        format: Format::Decimal,
        description: String::new(),
        dax,
        expr: Ok(expr),
        source,
        dax_start: 0,
    })
}

/// The project's model, or the bundled one.
pub fn load_project(project_dir: &Path) -> Result<Model, ModelError> {
    let (m, s) = model_files(project_dir)?;
    load(m, s)
}
