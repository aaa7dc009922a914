//! Semantic queries: group-by attributes, filters and measures ([`SemanticQuery`]), compiled to SQL by
//! [`plan`] with DAX filter-context semantics, and the SQL surface ([`surface`]) that finds such queries in
//! the user's SQL (`SELECT Nom_Canal, MEASURE(CA_Total) FROM omnimarket ...`).

pub mod catalog;
pub mod dax;
pub mod plan;
pub mod surface;
pub mod udf;

/// Compiled SQL laid out on lines (sqlparser's pretty printer), for people to read; unparsable text as is.
pub fn pretty_sql(sql: &str) -> String {
    use datafusion::sql::sqlparser::{dialect::GenericDialect, parser::Parser};
    match Parser::parse_sql(&GenericDialect {}, sql) {
        Ok(statements) if statements.len() == 1 => format!("{:#}", statements[0]),
        _ => sql.to_string(),
    }
}

/// A literal in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(String),
    Text(String),
    Bool(bool),
    Null,
    /// A statement parameter (`$1`), bound by the caller after planning (prepared statements).
    Placeholder(String),
}

impl Value {
    pub fn sql(&self) -> String {
        match self {
            Value::Number(n) => n.clone(),
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Bool(b) => b.to_string(),
            Value::Null => "NULL".into(),
            Value::Placeholder(p) => p.clone(),
        }
    }
}

/// A predicate over attributes (the WHERE of a semantic query).
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    Compare { attribute: String, op: &'static str, value: Value },
    In { attribute: String, values: Vec<Value>, negated: bool },
    Between { attribute: String, low: Value, high: Value, negated: bool },
    IsNull { attribute: String, negated: bool },
    Like { attribute: String, pattern: Value, negated: bool },
    And(Box<Predicate>, Box<Predicate>),
    Or(Box<Predicate>, Box<Predicate>),
    Not(Box<Predicate>),
}

impl Predicate {
    pub fn attributes(&self, out: &mut Vec<String>) {
        match self {
            Predicate::Compare { attribute, .. }
            | Predicate::In { attribute, .. }
            | Predicate::Between { attribute, .. }
            | Predicate::IsNull { attribute, .. }
            | Predicate::Like { attribute, .. } => {
                if !out.contains(attribute) {
                    out.push(attribute.clone())
                }
            }
            Predicate::And(a, b) | Predicate::Or(a, b) => {
                a.attributes(out);
                b.attributes(out);
            }
            Predicate::Not(a) => a.attributes(out),
        }
    }

    /// Splits top-level ANDs: each conjunct becomes one filter of the context.
    pub fn conjuncts(self, out: &mut Vec<Predicate>) {
        match self {
            Predicate::And(a, b) => {
                a.conjuncts(out);
                b.conjuncts(out);
            }
            p => out.push(p),
        }
    }

    /// The predicate as SQL, each attribute rendered by `column`.
    pub fn sql(&self, column: &dyn Fn(&str) -> String) -> String {
        let neg = |n: bool| if n { "NOT " } else { "" };
        match self {
            Predicate::Compare { attribute, op, value } => format!("{} {op} {}", column(attribute), value.sql()),
            Predicate::In { attribute, values, negated } => {
                format!("{} {}IN ({})", column(attribute), neg(*negated), values.iter().map(Value::sql).collect::<Vec<_>>().join(", "))
            }
            Predicate::Between { attribute, low, high, negated } => {
                format!("{} {}BETWEEN {} AND {}", column(attribute), neg(*negated), low.sql(), high.sql())
            }
            Predicate::IsNull { attribute, negated } => format!("{} IS {}NULL", column(attribute), neg(*negated)),
            Predicate::Like { attribute, pattern, negated } => {
                format!("{} {}LIKE {}", column(attribute), neg(*negated), pattern.sql())
            }
            Predicate::And(a, b) => format!("({} AND {})", a.sql(column), b.sql(column)),
            Predicate::Or(a, b) => format!("({} OR {})", a.sql(column), b.sql(column)),
            Predicate::Not(a) => format!("(NOT {})", a.sql(column)),
        }
    }
}

/// What a table visual asks: rows = the group-by attributes, columns = the measures, in a filter context.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SemanticQuery {
    pub group_by: Vec<String>,
    pub filters: Vec<Predicate>,
    /// (measure, output name)
    pub measures: Vec<(String, String)>,
}
