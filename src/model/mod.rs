//! The semantic model: tables over the cleaned SQL models, 1:N relationships, the date table, the attributes
//! users group and filter by, and the measures (DAX). Loading ([`load`]) checks what the files alone can tell;
//! binding ([`bind`]) checks it against the data (columns, types, unique keys) once a session exists.
//! The bundled model lives in `semantic/model.yaml` and `semantic/measures.yaml`.

pub mod bind;
pub mod checks;
pub mod error;
pub mod graph;
pub mod load;

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;

pub use error::{Location, ModelError, SourceText};

pub type TableId = usize;

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    /// The SQL table the model table reads, e.g. `staging.stg_ventes`.
    pub source: String,
    pub primary_key: Vec<String>,
    /// Known after binding: the source's columns and their types.
    pub columns: Vec<(String, DataType)>,
    /// Known after binding: some many-side row has a key this table lacks, so a BLANK member exists (as Power
    /// BI adds a blank row to the one side of a relationship with missing keys).
    pub has_blank_row: bool,
    pub anchor: Option<Location>,
}

impl Table {
    pub fn column_type(&self, column: &str) -> Option<&DataType> {
        self.columns.iter().find(|(n, _)| n == column).map(|(_, t)| t)
    }
}

/// A column users can group and filter by, under a name unique in the model.
#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub table: TableId,
    pub column: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// An ordinary 1:N relationship: the one side's key is unique.
    Row,
    /// The many side is at month grain: a filter on the one side selects the (Annee, Mois) keys it touches.
    Month,
}

#[derive(Debug, Clone)]
pub struct Relationship {
    pub one: TableId,
    pub one_columns: Vec<String>,
    pub many: TableId,
    pub many_columns: Vec<String>,
    pub active: bool,
    pub grain: Grain,
    /// Attributes of the one side finer than the grain: grouped by one of them, the many side's measures are BLANK.
    pub finer_attributes: Vec<String>,
    pub anchor: Option<Location>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Currency,
    Percent,
    Integer,
    Decimal,
    Text,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Currency => "currency",
            Format::Percent => "percent",
            Format::Integer => "integer",
            Format::Decimal => "decimal",
            Format::Text => "text",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Measure {
    pub name: String,
    pub folder: String,
    pub format: Format,
    pub description: String,
    pub dax: String,
    /// The parsed DAX, or why it does not parse: one bad measure does not stop the others.
    pub expr: Result<crate::dax::ast::Expr, ModelError>,
    /// Where the DAX text starts in its file, to place errors inside it.
    pub source: Arc<SourceText>,
    pub dax_start: usize,
}

impl Measure {
    /// The DAX on one line (as written, whitespace runs collapsed), for listings and catalog metadata.
    pub fn dax_one_line(&self) -> String {
        self.dax.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    pub fn location(&self, offset: usize) -> Location {
        self.source.location_in_value(&self.dax, self.dax_start, offset)
    }
}

#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub tables: Vec<Table>,
    pub attributes: Vec<Attribute>,
    pub relationships: Vec<Relationship>,
    pub measures: Vec<Measure>,
    pub date_table: TableId,
    pub date_column: String,
}

impl Model {
    pub fn table(&self, name: &str) -> Option<TableId> {
        self.tables.iter().position(|t| t.name == name)
    }
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
    pub fn measure(&self, name: &str) -> Option<&Measure> {
        self.measures.iter().find(|m| m.name == name)
    }
    /// The attribute exposing `table[column]`, if any.
    pub fn attribute_of(&self, table: TableId, column: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.table == table && a.column == column)
    }
    /// Measure folders in model order, each with its measures.
    pub fn folders(&self) -> Vec<(String, Vec<&Measure>)> {
        let mut out: Vec<(String, Vec<&Measure>)> = Vec::new();
        for m in &self.measures {
            match out.iter_mut().find(|(f, _)| *f == m.folder) {
                Some((_, v)) => v.push(m),
                None => out.push((m.folder.clone(), vec![m])),
            }
        }
        out
    }
}
