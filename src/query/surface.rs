//! The semantic SQL surface: finds the query blocks that read the model's virtual table (`omnimarket`,
//! `semantic.omnimarket`) in the user's SQL, reads each as a [`SemanticQuery`] — attributes, `MEASURE(x)` (or
//! `SUM(x)`/`AVG`/`MIN`/`MAX` of a measure, as BI tools write), WHERE on attributes, GROUP BY (names or
//! positions), HAVING/ORDER BY/LIMIT on the result — and replaces it in the syntax tree by the compiled SQL.
//! Everything around it (CTEs, joins, outer queries) is left as written, so BI-tool SQL that wraps a semantic
//! query keeps working. Parsing is sqlparser's; nothing here edits SQL text.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    self, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, ObjectName, OrderByKind, Query, SelectItem,
    SetExpr, Statement, TableFactor, UnaryOperator, Value as SqlValue, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::{Predicate, SemanticQuery, Value};
use crate::model::Model;
use crate::suggest::hint as did_you_mean;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SurfaceError(pub String);

type Result<T> = std::result::Result<T, SurfaceError>;

/// The schema that exposes the model's virtual table.
pub const SEMANTIC_SCHEMA: &str = "semantic";

/// Is this table name the model's virtual table?
pub fn is_model_table(name: &ObjectName, model: &str) -> bool {
    let parts: Vec<&str> = name.0.iter().filter_map(|p| p.as_ident()).map(|i| i.value.as_str()).collect();
    match parts.as_slice() {
        [t] => t.eq_ignore_ascii_case(model),
        [s, t] => s.eq_ignore_ascii_case(SEMANTIC_SCHEMA) && t.eq_ignore_ascii_case(model),
        [_, s, t] => s.eq_ignore_ascii_case(SEMANTIC_SCHEMA) && t.eq_ignore_ascii_case(model),
        _ => false,
    }
}

/// Parses the user's SQL. Returns `None` when no block reads the model table (plain SQL, run as written), or
/// the rewritten statement with every semantic block compiled by `compile`.
pub fn rewrite(sql: &str, model: &Model, compile: &mut dyn FnMut(&SemanticQuery) -> std::result::Result<String, String>) -> Result<Option<String>> {
    rewrite_with_filters(sql, model, &[], compile)
}

/// As [`rewrite`], with `filters` added to the WHERE of every semantic block: a report page's slicers, which
/// filter every visual of the page.
pub fn rewrite_with_filters(
    sql: &str,
    model: &Model,
    filters: &[Predicate],
    compile: &mut dyn FnMut(&SemanticQuery) -> std::result::Result<String, String>,
) -> Result<Option<String>> {
    let mut statements = match Parser::parse_sql(&GenericDialect {}, sql) {
        Ok(s) => s,
        // Let DataFusion report syntax errors in its own words (and handle its own statements).
        Err(_) => return Ok(None),
    };
    if statements.len() != 1 {
        return Ok(None);
    }
    let statement: &mut Statement = &mut statements[0];
    let mut v = Rewriter { model, compile, filters, found: false, error: None };
    let _ = statement.visit(&mut v);
    if let Some(e) = v.error {
        return Err(e);
    }
    Ok(if v.found { Some(statement.to_string()) } else { None })
}

struct Rewriter<'a, 'c> {
    model: &'a Model,
    filters: &'a [Predicate],
    compile: &'c mut dyn FnMut(&SemanticQuery) -> std::result::Result<String, String>,
    found: bool,
    error: Option<SurfaceError>,
}

impl VisitorMut for Rewriter<'_, '_> {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let SetExpr::Select(select) = query.body.as_ref() else { return ControlFlow::Continue(()) };
        let [from] = select.from.as_slice() else { return ControlFlow::Continue(()) };
        let TableFactor::Table { name, .. } = &from.relation else { return ControlFlow::Continue(()) };
        if !is_model_table(name, &self.model.name) {
            return ControlFlow::Continue(());
        }
        if !from.joins.is_empty() {
            self.error = Some(SurfaceError(format!(
                "the semantic table `{}` cannot be joined directly; put the semantic query in a subquery or CTE and join that",
                self.model.name
            )));
            return ControlFlow::Break(());
        }
        match semantic_block(self.model, query).and_then(|mut block| {
            for f in self.filters {
                let mut attrs = Vec::new();
                f.attributes(&mut attrs);
                if let Some(a) = attrs.iter().find(|a| self.model.attribute(a).is_none()) {
                    return Err(SurfaceError(format!(
                        "unknown attribute `{a}` in a filter{}",
                        did_you_mean(a, self.model.attributes.iter().map(|x| x.name.as_str()))
                    )));
                }
                block.query.filters.push(f.clone());
            }
            let compiled = (self.compile)(&block.query).map_err(SurfaceError)?;
            block.replacement(&compiled)
        }) {
            Ok(new) => {
                *query = new;
                self.found = true;
                ControlFlow::Continue(())
            }
            // Left to DataFusion, which plans it over the `semantic` catalog table.
            Err(e) if e.0 == SCHEMA_PROBE => ControlFlow::Continue(()),
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// One output column of a semantic block.
#[derive(Debug, Clone)]
enum Column {
    Attribute { name: String, output: String },
    Measure { index: usize, output: String },
}

#[derive(Debug)]
struct Block {
    query: SemanticQuery,
    columns: Vec<Column>,
    having: Option<Expr>,
    order_by: Vec<(Expr, Option<bool>, Option<bool>)>,
    limit: Option<ast::LimitClause>,
}

fn ident_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
        Expr::Nested(e) => ident_name(e),
        _ => None,
    }
}

/// `MEASURE(x)`, `SUM(x)`/`AVG`/`MIN`/`MAX`/`AGG` of a measure `x`: the measure's name.
fn measure_call(model: &Model, e: &Expr) -> Result<Option<String>> {
    let Expr::Function(f) = e else { return Ok(None) };
    let fname = f.name.to_string().to_ascii_uppercase();
    if !["MEASURE", "SUM", "AVG", "MIN", "MAX", "AGG", "ANY_VALUE"].contains(&fname.as_str()) {
        return Ok(None);
    }
    let FunctionArguments::List(list) = &f.args else { return Ok(None) };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = list.args.as_slice() else { return Ok(None) };
    let name = match arg {
        Expr::Value(v) => match &v.value {
            SqlValue::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        other => ident_name(other),
    };
    let Some(name) = name else { return Ok(None) };
    if model.measure(&name).is_some() {
        return Ok(Some(name));
    }
    if fname == "MEASURE" {
        return Err(SurfaceError(format!("unknown measure `{name}`{}", did_you_mean(&name, model.measures.iter().map(|m| m.name.as_str())))));
    }
    Err(SurfaceError(format!(
        "`{fname}({name})`: `{name}` is not a measure{}; the semantic table aggregates through its measures",
        did_you_mean(&name, model.measures.iter().map(|m| m.name.as_str()))
    )))
}

fn literal(e: &Expr) -> Result<Value> {
    match e {
        Expr::Value(v) => Ok(match &v.value {
            SqlValue::Number(n, _) => Value::Number(n.clone()),
            SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => Value::Text(s.clone()),
            SqlValue::Boolean(b) => Value::Bool(*b),
            SqlValue::Null => Value::Null,
            SqlValue::Placeholder(p) => Value::Placeholder(p.clone()),
            other => return Err(SurfaceError(format!("unsupported literal `{other}`"))),
        }),
        Expr::UnaryOp { op: UnaryOperator::Minus, expr } => match literal(expr)? {
            Value::Number(n) => Ok(Value::Number(format!("-{n}"))),
            _ => Err(SurfaceError(format!("`{e}` is not a number"))),
        },
        Expr::TypedString(t) => Ok(Value::Text(match &t.value.value {
            SqlValue::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        })),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => literal(expr),
        other => Err(SurfaceError(format!("expected a literal value, found `{other}`"))),
    }
}

fn flip(op: &'static str) -> &'static str {
    match op {
        "<" => ">",
        ">" => "<",
        "<=" => ">=",
        ">=" => "<=",
        o => o,
    }
}

fn predicate(model: &Model, e: &Expr) -> Result<Predicate> {
    let attr = |e: &Expr| -> Result<String> {
        let name = ident_name(e).ok_or_else(|| SurfaceError(format!("a filter compares an attribute with values; found `{e}`")))?;
        if model.attribute(&name).is_none() {
            if model.measure(&name).is_some() {
                return Err(SurfaceError(format!("`{name}` is a measure; filter on it with HAVING")));
            }
            return Err(SurfaceError(format!("unknown attribute `{name}`{}", did_you_mean(&name, model.attributes.iter().map(|a| a.name.as_str())))));
        }
        Ok(name)
    };
    match e {
        Expr::Nested(inner) => predicate(model, inner),
        Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
            Ok(Predicate::And(Box::new(predicate(model, left)?), Box::new(predicate(model, right)?)))
        }
        Expr::BinaryOp { left, op: BinaryOperator::Or, right } => {
            Ok(Predicate::Or(Box::new(predicate(model, left)?), Box::new(predicate(model, right)?)))
        }
        Expr::BinaryOp { left, op, right } => {
            let op: &'static str = match op {
                BinaryOperator::Eq => "=",
                BinaryOperator::NotEq => "<>",
                BinaryOperator::Lt => "<",
                BinaryOperator::LtEq => "<=",
                BinaryOperator::Gt => ">",
                BinaryOperator::GtEq => ">=",
                other => return Err(SurfaceError(format!("unsupported operator `{other}` in a filter"))),
            };
            if ident_name(left).is_some() {
                Ok(Predicate::Compare { attribute: attr(left)?, op, value: literal(right)? })
            } else {
                Ok(Predicate::Compare { attribute: attr(right)?, op: flip(op), value: literal(left)? })
            }
        }
        Expr::InList { expr, list, negated } => {
            Ok(Predicate::In { attribute: attr(expr)?, values: list.iter().map(literal).collect::<Result<_>>()?, negated: *negated })
        }
        Expr::Between { expr, negated, low, high } => {
            Ok(Predicate::Between { attribute: attr(expr)?, low: literal(low)?, high: literal(high)?, negated: *negated })
        }
        Expr::IsNull(e) => Ok(Predicate::IsNull { attribute: attr(e)?, negated: false }),
        Expr::IsNotNull(e) => Ok(Predicate::IsNull { attribute: attr(e)?, negated: true }),
        Expr::Like { negated, expr, pattern, .. } => match literal(pattern)? {
            p @ (Value::Text(_) | Value::Placeholder(_)) => Ok(Predicate::Like { attribute: attr(expr)?, pattern: p, negated: *negated }),
            _ => Err(SurfaceError("LIKE needs a text pattern".into())),
        },
        Expr::UnaryOp { op: UnaryOperator::Not, expr } => Ok(Predicate::Not(Box::new(predicate(model, expr)?))),
        other => Err(SurfaceError(format!("unsupported filter `{other}`: use =, <>, <, >, IN, BETWEEN, LIKE, IS NULL, AND, OR, NOT on attributes"))),
    }
}

fn semantic_block(model: &Model, query: &Query) -> Result<Block> {
    let SetExpr::Select(select) = query.body.as_ref() else { unreachable!("checked by the caller") };
    let mut q = SemanticQuery::default();
    let mut columns = Vec::new();
    let mut measure_names: Vec<String> = Vec::new();
    let mut add_measure = |name: &str, q: &mut SemanticQuery| -> usize {
        if let Some(i) = measure_names.iter().position(|m| m == name) {
            return i;
        }
        measure_names.push(name.to_string());
        q.measures.push((name.to_string(), format!("__m{}", measure_names.len() - 1)));
        measure_names.len() - 1
    };
    for item in &select.projection {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
            SelectItem::ExprWithAliases { expr, aliases } => (expr, aliases.first().map(|a| a.value.clone())),
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) if is_schema_probe(query) => {
                return Err(SurfaceError(SCHEMA_PROBE.into()));
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                return Err(SurfaceError(format!(
                    "SELECT * is not supported on the semantic table `{}`: name the attributes and MEASURE(...)s you want (see `omnimarket model`)",
                    model.name
                )));
            }
        };
        if let Some(m) = measure_call(model, expr)? {
            let index = add_measure(&m, &mut q);
            let output = alias.unwrap_or_else(|| {
                if matches!(expr, Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("MEASURE")) { m.clone() } else { expr.to_string() }
            });
            columns.push(Column::Measure { index, output });
        } else if let Some(name) = ident_name(expr) {
            if model.attribute(&name).is_some() {
                columns.push(Column::Attribute { output: alias.unwrap_or_else(|| name.clone()), name });
            } else if model.measure(&name).is_some() {
                let index = add_measure(&name, &mut q);
                columns.push(Column::Measure { index, output: alias.unwrap_or(name) });
            } else {
                let known = model.attributes.iter().map(|a| a.name.as_str()).chain(model.measures.iter().map(|m| m.name.as_str()));
                return Err(SurfaceError(format!("unknown attribute or measure `{name}`{}", did_you_mean(&name, known))));
            }
        } else {
            return Err(SurfaceError(format!(
                "`{expr}`: a semantic query selects attributes and measures (MEASURE(x)); compute on them in an outer query"
            )));
        }
    }
    if let Some(w) = &select.selection {
        q.filters.push(predicate(model, w)?);
    }
    match &select.group_by {
        GroupByExpr::Expressions(exprs, _) if !exprs.is_empty() => {
            for e in exprs {
                let name = match e {
                    Expr::Value(v) => match &v.value {
                        SqlValue::Number(n, _) => {
                            let pos: usize = n.parse().map_err(|_| SurfaceError(format!("GROUP BY {n}: not a position")))?;
                            match columns.get(pos.wrapping_sub(1)) {
                                Some(Column::Attribute { name, .. }) => name.clone(),
                                Some(Column::Measure { .. }) => return Err(SurfaceError(format!("GROUP BY {pos}: that column is a measure"))),
                                None => return Err(SurfaceError(format!("GROUP BY {pos}: there are only {} columns", columns.len()))),
                            }
                        }
                        _ => return Err(SurfaceError(format!("GROUP BY `{e}`: expected an attribute"))),
                    },
                    other => {
                        let name = ident_name(other).ok_or_else(|| SurfaceError(format!("GROUP BY `{other}`: expected an attribute")))?;
                        // An output alias of an attribute column is accepted too.
                        match columns.iter().find(|c| matches!(c, Column::Attribute { output, .. } if *output == name)) {
                            Some(Column::Attribute { name, .. }) => name.clone(),
                            _ if model.attribute(&name).is_some() => name,
                            _ if model.measure(&name).is_some() => {
                                return Err(SurfaceError(format!("GROUP BY `{name}`: that is a measure, not an attribute")));
                            }
                            _ => {
                                return Err(SurfaceError(format!(
                                    "GROUP BY: unknown attribute `{name}`{}",
                                    did_you_mean(&name, model.attributes.iter().map(|a| a.name.as_str()))
                                )));
                            }
                        }
                    }
                };
                if !q.group_by.contains(&name) {
                    q.group_by.push(name);
                }
            }
            for c in &columns {
                if let Column::Attribute { name, .. } = c
                    && !q.group_by.contains(name)
                {
                    return Err(SurfaceError(format!("attribute `{name}` is selected but not in GROUP BY")));
                }
            }
        }
        _ => {
            for c in &columns {
                if let Column::Attribute { name, .. } = c
                    && !q.group_by.contains(name)
                {
                    q.group_by.push(name.clone());
                }
            }
        }
    }
    // HAVING and ORDER BY read output columns; a measure they name that is not selected is computed too.
    let mut resolve = |e: &Expr, q: &mut SemanticQuery| -> Result<Expr> { outer_expr(model, e, &columns, q, &mut add_measure) };
    let having = select.having.as_ref().map(|h| resolve(h, &mut q)).transpose()?;
    let mut order_by = Vec::new();
    if let Some(ob) = &query.order_by {
        match &ob.kind {
            OrderByKind::Expressions(list) => {
                for o in list {
                    let e = match &o.expr {
                        Expr::Value(v) if matches!(v.value, SqlValue::Number(..)) => {
                            let SqlValue::Number(n, _) = &v.value else { unreachable!() };
                            let pos: usize = n.parse().map_err(|_| SurfaceError(format!("ORDER BY {n}: not a position")))?;
                            let c = columns
                                .get(pos.wrapping_sub(1))
                                .ok_or_else(|| SurfaceError(format!("ORDER BY {pos}: there are only {} columns", columns.len())))?;
                            Expr::Identifier(Ident::with_quote('"', internal_name(c)))
                        }
                        other => resolve(other, &mut q)?,
                    };
                    order_by.push((e, o.options.asc, o.options.nulls_first));
                }
            }
            OrderByKind::All(_) => {}
        }
    }
    if query.with.is_some() {
        return Err(SurfaceError("a WITH clause inside the semantic query block is not supported; put it around the block".into()));
    }
    Ok(Block { query: q, columns, having, order_by, limit: query.limit_clause.clone() })
}

/// `SELECT * ... LIMIT 0`: a tool asking for the columns; answered by the `semantic` catalog table.
const SCHEMA_PROBE: &str = "\u{0}schema probe";

fn is_schema_probe(query: &Query) -> bool {
    matches!(&query.limit_clause, Some(ast::LimitClause::LimitOffset { limit: Some(Expr::Value(v)), .. }) if matches!(&v.value, SqlValue::Number(n, _) if n == "0"))
}

fn internal_name(c: &Column) -> String {
    match c {
        Column::Attribute { name, .. } => name.clone(),
        Column::Measure { index, .. } => format!("__m{index}"),
    }
}

/// An expression of HAVING/ORDER BY with the block's attributes, measures and aliases turned into columns of
/// the compiled result.
fn outer_expr(
    model: &Model,
    e: &Expr,
    columns: &[Column],
    q: &mut SemanticQuery,
    add_measure: &mut dyn FnMut(&str, &mut SemanticQuery) -> usize,
) -> Result<Expr> {
    let col = |name: String| Expr::Identifier(Ident::with_quote('"', name));
    if let Some(m) = measure_call(model, e)? {
        return Ok(col(format!("__m{}", add_measure(&m, q))));
    }
    if let Some(name) = ident_name(e) {
        if let Some(c) = columns.iter().find(|c| matches!(c, Column::Attribute { output, .. } | Column::Measure { output, .. } if *output == name)) {
            return Ok(col(internal_name(c)));
        }
        if model.measure(&name).is_some() {
            return Ok(col(format!("__m{}", add_measure(&name, q))));
        }
        if model.attribute(&name).is_some() {
            if !q.group_by.contains(&name) {
                return Err(SurfaceError(format!("`{name}` is not grouped by, so it cannot be used after aggregation")));
            }
            return Ok(col(name));
        }
        return Err(SurfaceError(format!("unknown column `{name}` in HAVING/ORDER BY")));
    }
    let mut out = e.clone();
    match &mut out {
        Expr::BinaryOp { left, right, .. } => {
            **left = outer_expr(model, left, columns, q, add_measure)?;
            **right = outer_expr(model, right, columns, q, add_measure)?;
        }
        Expr::UnaryOp { expr, .. } | Expr::Nested(expr) | Expr::IsNull(expr) | Expr::IsNotNull(expr) => {
            **expr = outer_expr(model, expr, columns, q, add_measure)?;
        }
        Expr::Between { expr, low, high, .. } => {
            **expr = outer_expr(model, expr, columns, q, add_measure)?;
            **low = outer_expr(model, low, columns, q, add_measure)?;
            **high = outer_expr(model, high, columns, q, add_measure)?;
        }
        Expr::InList { expr, .. } => **expr = outer_expr(model, expr, columns, q, add_measure)?,
        Expr::Value(_) | Expr::TypedString(_) => {}
        other => return Err(SurfaceError(format!("unsupported expression `{other}` in HAVING/ORDER BY of a semantic query"))),
    }
    Ok(out)
}

impl Block {
    /// `SELECT <columns> FROM (<compiled>) [WHERE having] ORDER BY ... LIMIT ...` as a query tree.
    fn replacement(&self, compiled: &str) -> Result<Query> {
        let select = self
            .columns
            .iter()
            .map(|c| {
                let (inner, output) = match c {
                    Column::Attribute { name, output } => (name.clone(), output.clone()),
                    Column::Measure { index, output } => (format!("__m{index}"), output.clone()),
                };
                format!("\"__sem\".{} AS {}", quote(&inner), quote(&output))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!("SELECT {select} FROM ({compiled}) AS \"__sem\"");
        if let Some(h) = &self.having {
            sql.push_str(&format!(" WHERE {h}"));
        }
        let order: Vec<String> = if self.order_by.is_empty() {
            // Without ORDER BY, rows come in group-by order, as a table visual shows them.
            self.columns
                .iter()
                .filter_map(|c| match c {
                    Column::Attribute { name, .. } => Some(format!("\"__sem\".{} ASC NULLS LAST", quote(name))),
                    _ => None,
                })
                .collect()
        } else {
            self.order_by
                .iter()
                .map(|(e, asc, nulls_first)| {
                    let mut s = e.to_string();
                    match asc {
                        Some(true) => s.push_str(" ASC"),
                        Some(false) => s.push_str(" DESC"),
                        None => {}
                    }
                    match nulls_first {
                        Some(true) => s.push_str(" NULLS FIRST"),
                        Some(false) => s.push_str(" NULLS LAST"),
                        None => {}
                    }
                    s
                })
                .collect()
        };
        if !order.is_empty() {
            sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
        }
        if let Some(l) = &self.limit {
            sql.push_str(&format!(" {l}"));
        }
        let mut statements =
            Parser::parse_sql(&GenericDialect {}, &sql).map_err(|e| SurfaceError(format!("internal: compiled SQL does not parse: {e}")))?;
        match statements.pop() {
            Some(Statement::Query(q)) => Ok(*q),
            _ => Err(SurfaceError("internal: compiled SQL is not a query".into())),
        }
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::load::load_project;

    fn blocks(sql: &str) -> std::result::Result<Vec<SemanticQuery>, SurfaceError> {
        let model = load_project(std::path::Path::new("/nonexistent")).expect("bundled model loads");
        let mut seen = Vec::new();
        let mut compile = |q: &SemanticQuery| {
            seen.push(q.clone());
            Ok("SELECT 1".to_string())
        };
        rewrite(sql, &model, &mut compile)?;
        Ok(seen)
    }

    #[test]
    fn reads_attributes_measures_filters_and_groups() {
        let q = blocks("SELECT Annee, MEASURE(CA_Total) FROM omnimarket GROUP BY Annee").unwrap();
        assert_eq!(q.len(), 1, "one semantic block");
        assert_eq!(q[0].group_by, vec!["Annee".to_string()]);
        assert_eq!(q[0].measures, vec![("CA_Total".to_string(), "__m0".to_string())]);
    }
}
