//! Binding: a measure's DAX syntax tree becomes the IR ([`Node`]) — tables, columns and measures resolved,
//! arguments checked against the function registry, measure references inlined in the context they are used
//! in. Table expressions and CALCULATE's filters are in [`super::tables`], time intelligence in
//! [`super::time`]. Every error points at the DAX text in the model file.

use datafusion::arrow::datatypes::DataType;

use super::functions::{self, Lowering};
use super::ir::{Agg, Arith, CmpOp, Info, InfoKind, IterKind, Iteration, Leaf, Mod, Node, SetKind, Type};
use super::tables::TableArg;
use super::types::{is_numeric, type_of};
use crate::dax::ast::{BinaryOp, Expr, UnaryOp};
use crate::model::{Measure, Model, ModelError, TableId};
use crate::suggest::hint as did_you_mean;

pub(super) type Result<T> = std::result::Result<T, ModelError>;

/// Where an expression is lowered.
#[derive(Debug, Clone, Default)]
pub(super) struct Env {
    /// Context changes applied around the expression (CALCULATE's filters), outermost first.
    pub mods: Vec<Mod>,
    /// Iterators entered: a VAR defined at a lower depth is read from the enclosing context.
    pub depth: usize,
    /// The table whose current row is available (inside SUMX, FILTER, ...).
    pub row: Option<TableId>,
    /// Inside an iterator, whether the row has become a filter (CALCULATE or a measure reference): an
    /// aggregation before that sees the iterator's outer context, as in DAX.
    pub transitioned: bool,
}

#[derive(Default)]
pub(super) struct Scope {
    pub vars: Vec<(String, Node, usize)>,
    /// In a DAX query, the columns of the query table whose row is current (`'Dim_Canal'[Nom_Canal]`, `[CA]`),
    /// by the name they are written with: read as values, ahead of model columns and measures.
    pub externals: Vec<(String, Node)>,
    /// VARs holding a table (`VAR Top = TOPN(...)`): the expression and where it was defined, bound where it is
    /// used as a table (a CALCULATE filter, an iterator's table) in its definition's context.
    pub tables: Vec<(String, Expr, Env)>,
}

impl Scope {
    pub fn table(&self, name: &str) -> Option<(Expr, Env)> {
        self.tables.iter().rev().find(|(n, _, _)| n == name).map(|(_, e, env)| (e.clone(), env.clone()))
    }
}

/// Is the expression a table (for a VAR): a table function, a table constructor, or a model table's name?
fn is_table_expr(model: &Model, e: &Expr) -> bool {
    match e {
        Expr::Table { .. } => true,
        Expr::Name { name, .. } => model.table(name).is_some(),
        Expr::Call { name, .. } => matches!(
            name.as_str(),
            "FILTER"
                | "ALL"
                | "ALLNOBLANKROW"
                | "ALLSELECTED"
                | "ALLEXCEPT"
                | "VALUES"
                | "DISTINCT"
                | "TOPN"
                | "CALCULATETABLE"
                | "RELATEDTABLE"
                | "KEEPFILTERS"
                | "DATEADD"
                | "PARALLELPERIOD"
                | "SAMEPERIODLASTYEAR"
                | "PREVIOUSDAY"
                | "PREVIOUSMONTH"
                | "PREVIOUSQUARTER"
                | "PREVIOUSYEAR"
                | "NEXTDAY"
                | "NEXTMONTH"
                | "NEXTQUARTER"
                | "NEXTYEAR"
                | "DATESMTD"
                | "DATESQTD"
                | "DATESYTD"
                | "DATESBETWEEN"
                | "DATESINPERIOD"
                | "REMOVEFILTERS"
                | "TREATAS"
        ),
        _ => false,
    }
}

/// Lowers measures. `stack` holds the measures being lowered, to report cycles.
pub struct Binder<'a> {
    pub(super) model: &'a Model,
    stack: Vec<String>,
    pub(super) measure: Option<&'a Measure>,
}

impl<'a> Binder<'a> {
    pub fn new(model: &'a Model) -> Self {
        Binder { model, stack: Vec::new(), measure: None }
    }

    pub fn measure(&mut self, m: &'a Measure) -> Result<Node> {
        let expr = m.expr.as_ref().map_err(|e| e.clone())?;
        self.stack.push(m.name.clone());
        let outer = self.measure.replace(m);
        let mut scope = Scope::default();
        let node = self.lower(expr, &Env::default(), &mut scope);
        self.measure = outer;
        self.stack.pop();
        node
    }

    pub(super) fn err(&self, at: usize, message: impl Into<String>) -> ModelError {
        match self.measure {
            // A DAX query's own expressions (see `super::query`) have no measure name to give.
            Some(m) if m.name.is_empty() => ModelError::new(Some(m.location(at)), message.into()),
            Some(m) => ModelError::new(Some(m.location(at)), format!("measure `{}`: {}", m.name, message.into())),
            None => ModelError::new(None, message.into()),
        }
    }

    pub(super) fn table(&self, name: &str, at: usize) -> Result<TableId> {
        self.model
            .table(name)
            .ok_or_else(|| self.err(at, format!("unknown table `{name}`{}", did_you_mean(name, self.model.tables.iter().map(|t| t.name.as_str())))))
    }

    pub(super) fn column(&self, e: &Expr) -> Result<(TableId, String, DataType)> {
        let Expr::Column { table, column, at } = e else {
            return Err(self.err(e.at(), "expected a column such as `Fait_Ventes[Montant_TTC]`"));
        };
        let t = self.table(table, *at)?;
        let ty = self.model.tables[t].column_type(column).cloned().ok_or_else(|| {
            let cols = &self.model.tables[t].columns;
            self.err(*at, format!("unknown column `{table}[{column}]`{}", did_you_mean(column, cols.iter().map(|(n, _)| n.as_str()))))
        })?;
        Ok((t, column.clone(), ty))
    }

    pub(super) fn date_column(&self, e: &Expr) -> Result<()> {
        let (t, c, _) = self.column(e)?;
        if t != self.model.date_table || c != self.model.date_column {
            return Err(self.err(
                e.at(),
                format!("time intelligence needs the date column `{}[{}]`", self.model.tables[self.model.date_table].name, self.model.date_column),
            ));
        }
        Ok(())
    }

    pub(super) fn arg<'e>(&self, name: &str, args: &'e [Option<Expr>], i: usize, at: usize) -> Result<&'e Expr> {
        args.get(i).and_then(|a| a.as_ref()).ok_or_else(|| self.err(at, format!("{name} needs an argument {}", i + 1)))
    }

    pub(super) fn opt_arg(args: &[Option<Expr>], i: usize) -> Option<&Expr> {
        args.get(i).and_then(|a| a.as_ref())
    }

    pub(super) fn keyword(e: Option<&Expr>) -> Option<String> {
        match e {
            Some(Expr::Name { name, .. }) => Some(name.to_ascii_uppercase()),
            Some(Expr::Number(n)) => Some(format_number(*n)),
            Some(Expr::Call { name, args, .. }) if args.is_empty() && (name == "TRUE" || name == "FALSE") => Some(name.clone()),
            _ => None,
        }
    }

    /// A whole number written in the measure (`-3`, `12`).
    pub(super) fn integer(&self, e: &Expr, what: &str) -> Result<i64> {
        let value = match e {
            Expr::Number(n) => Some(*n),
            Expr::Unary { op: UnaryOp::Neg, expr, .. } => match **expr {
                Expr::Number(n) => Some(-n),
                _ => None,
            },
            _ => None,
        };
        match value {
            Some(v) if v.fract() == 0.0 && v.abs() < 1e6 => Ok(v as i64),
            _ => Err(self.err(e.at(), format!("{what} must be a whole number written in the measure"))),
        }
    }

    /// A leaf with the context changes in force; inside an iterator before any context transition, it also
    /// leaves the iterated row out of its context.
    pub(super) fn leaf(&self, env: &Env, table: TableId, agg: Agg, value: Option<Node>, filter: Option<Node>) -> Node {
        let mut mods = Vec::new();
        if env.depth > 0 && !env.transitioned {
            mods.push(Mod::ExitRow);
        }
        mods.extend(env.mods.iter().cloned());
        Node::Leaf(Leaf { table, agg, value: value.map(Box::new), filter: filter.map(Box::new), mods })
    }

    pub(super) fn lower(&mut self, e: &Expr, env: &Env, scope: &mut Scope) -> Result<Node> {
        if !scope.externals.is_empty() {
            let written = match e {
                Expr::Measure { name, .. } => Some(format!("[{name}]")),
                Expr::Column { table, column, .. } if env.row.is_none() => Some(format!("{table}[{column}]")),
                _ => None,
            };
            if let Some(node) = written.and_then(|w| scope.externals.iter().find(|(n, _)| *n == w).map(|(_, node)| node.clone())) {
                return Ok(node);
            }
        }
        Ok(match e {
            Expr::Number(n) => Node::Number(format_number(*n)),
            Expr::Text(s) => Node::Text(s.clone()),
            Expr::Measure { name, at } => {
                let target = self.model.measure(name).ok_or_else(|| {
                    self.err(*at, format!("unknown measure `[{name}]`{}", did_you_mean(name, self.model.measures.iter().map(|x| x.name.as_str()))))
                })?;
                if let Some(i) = self.stack.iter().position(|s| s == name) {
                    let mut cycle = self.stack[i..].to_vec();
                    cycle.push(name.clone());
                    return Err(self.err(*at, format!("measures refer to each other in a cycle: {}", cycle.join(" → "))));
                }
                let target_expr = match &target.expr {
                    Ok(x) => x,
                    Err(_) => return Err(self.err(*at, format!("measure `[{name}]` is invalid (see its own error)"))),
                };
                self.stack.push(name.clone());
                let outer = self.measure.replace(target);
                let mut inner = Scope::default();
                // A measure reference is an implicit CALCULATE: inside an iterator the row becomes a filter
                // (context transition), and the measure's own text has no row context.
                let inner_env = Env { mods: env.mods.clone(), depth: env.depth, row: None, transitioned: true };
                let node = self.lower(target_expr, &inner_env, &mut inner);
                self.measure = outer;
                self.stack.pop();
                // An error inside the referenced measure is reported here as well, so each measure that uses
                // it says which reference is broken.
                node.map_err(|e| {
                    if e.message.starts_with(&format!("measure `{name}`")) {
                        self.err(*at, format!("uses `[{name}]`, which is invalid: {}", e.message))
                    } else {
                        e
                    }
                })?
            }
            Expr::Name { name, at } => {
                if let Some((_, node, d)) = scope.vars.iter().rev().find(|(n, _, _)| n == name) {
                    let mut node = node.clone();
                    for _ in *d..env.depth {
                        node = Node::Outer(Box::new(node));
                    }
                    return Ok(node);
                }
                if scope.table(name).is_some() {
                    return Err(self.err(
                        *at,
                        format!("`{name}` holds a table; use it as a CALCULATE filter, in an iterator (SUMX({name}, ...)) or in COUNTROWS({name})"),
                    ));
                }
                match name.to_ascii_uppercase().as_str() {
                    "TRUE" => Node::Bool(true),
                    "FALSE" => Node::Bool(false),
                    _ => {
                        if self.model.table(name).is_some() {
                            return Err(
                                self.err(*at, format!("`{name}` is a table; a measure needs a value here (COUNTROWS({name}), SUMX({name}, ...))"))
                            );
                        }
                        let known: Vec<&str> = scope.vars.iter().map(|(n, _, _)| n.as_str()).collect();
                        return Err(self.err(*at, format!("unknown name `{name}`{}", did_you_mean(name, known.into_iter()))));
                    }
                }
            }
            // `'Fait_Ventes'[CA_Total]`: a measure written with its table, as Power BI writes its queries.
            Expr::Column { table, column, at }
                if self.model.table(table).is_some_and(|t| self.model.tables[t].column_type(column).is_none())
                    && self.model.measure(column).is_some() =>
            {
                return self.lower(&Expr::Measure { name: column.clone(), at: *at }, env, scope);
            }
            Expr::Column { at, .. } => {
                let (t, c, _) = self.column(e)?;
                match env.row {
                    Some(r) if r == t => Node::Column { table: t, column: c },
                    Some(r) if self.reaches(t, r) => {
                        return Err(self.err(
                            *at,
                            format!(
                                "`{}` is on the one side of the row's table: read it with RELATED({}[{c}])",
                                self.model.tables[t].name, self.model.tables[t].name
                            ),
                        ));
                    }
                    _ => {
                        return Err(self.err(*at, "a column cannot be used as a value here; aggregate it (SUM, MIN, MAX, SELECTEDVALUE, ...) or use it inside an iterator (SUMX, FILTER, ...)"));
                    }
                }
            }
            Expr::Table { at, .. } => return Err(self.err(*at, "a table constructor `{ ... }` is a table; use it after IN or as a filter")),
            Expr::Unary { op, expr, .. } => {
                let inner = self.lower(expr, env, scope)?;
                match op {
                    UnaryOp::Neg => Node::Neg(Box::new(inner)),
                    UnaryOp::Not => Node::Not(Box::new(inner)),
                }
            }
            Expr::Binary { op: BinaryOp::In, left, right, at } => {
                let value = self.lower(left, env, scope)?;
                let list = self.constructor_values(right, env, scope, *at)?;
                Node::In(Box::new(value), list)
            }
            Expr::Binary { op, left, right, .. } => {
                let l = Box::new(self.lower(left, env, scope)?);
                let r = Box::new(self.lower(right, env, scope)?);
                match op {
                    BinaryOp::Add => Node::Arith(Arith::Add, l, r),
                    BinaryOp::Sub => Node::Arith(Arith::Sub, l, r),
                    BinaryOp::Mul => Node::Arith(Arith::Mul, l, r),
                    BinaryOp::Div => Node::Arith(Arith::Div, l, r),
                    BinaryOp::Pow => Node::Arith(Arith::Pow, l, r),
                    BinaryOp::Concat => Node::Concat(l, r),
                    BinaryOp::And => Node::And(l, r),
                    BinaryOp::Or => Node::Or(l, r),
                    BinaryOp::Compare(cmp) => Node::Compare(*cmp, l, r),
                    BinaryOp::In => unreachable!("handled above"),
                }
            }
            Expr::Let { vars, body } => {
                let (before, tables_before) = (scope.vars.len(), scope.tables.len());
                for (name, value, _) in vars {
                    if is_table_expr(self.model, value) {
                        scope.tables.push((name.clone(), value.clone(), env.clone()));
                        continue;
                    }
                    let node = self.lower(value, env, scope)?;
                    scope.vars.push((name.clone(), node, env.depth));
                }
                let node = self.lower(body, env, scope);
                scope.vars.truncate(before);
                scope.tables.truncate(tables_before);
                node?
            }
            Expr::Call { name, args, at } => self.call(name, args, *at, env, scope)?,
        })
    }

    /// The values of `{ ... }` (or of a one-column table written otherwise) after IN.
    pub(super) fn constructor_values(&mut self, e: &Expr, env: &Env, scope: &mut Scope, at: usize) -> Result<Vec<Node>> {
        match e {
            Expr::Table { rows, .. } => {
                let mut out = Vec::new();
                for row in rows {
                    if row.len() != 1 {
                        return Err(self.err(at, "IN compares one value: the table constructor must have one column"));
                    }
                    out.push(self.lower(&row[0], env, scope)?);
                }
                Ok(out)
            }
            other => Err(self.err(other.at(), "IN needs a list of values `{ \"a\", \"b\" }`")),
        }
    }

    /// Does a filter on `one` reach `many` through the active relationships?
    pub(super) fn reaches(&self, one: TableId, many: TableId) -> bool {
        crate::model::graph::upstream(self.model, many).reaches(one)
    }

    fn scalar_args(&mut self, args: &[Option<Expr>], at: usize, name: &str, env: &Env, scope: &mut Scope) -> Result<Vec<Node>> {
        let mut out = Vec::new();
        for i in 0..args.len() {
            out.push(self.lower(self.arg(name, args, i, at)?, env, scope)?);
        }
        Ok(out)
    }

    fn call(&mut self, name: &str, args: &[Option<Expr>], at: usize, env: &Env, scope: &mut Scope) -> Result<Node> {
        let Some(f) = functions::lookup(name) else {
            if let Some((_, why)) = functions::UNSUPPORTED.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return Err(self.err(at, format!("{name} is not supported: {why}")));
            }
            let names = functions::FUNCTIONS.iter().map(|f| f.name);
            return Err(self.err(at, format!("unknown or unsupported function `{name}`{}", did_you_mean(name, names))));
        };
        if args.len() < f.min_args || args.len() > f.max_args {
            let expected = match (f.min_args, f.max_args) {
                (a, b) if a == b => format!("{a}"),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) => format!("{a} to {b}"),
            };
            return Err(self.err(at, format!("{name} takes {expected} arguments, found {}", args.len())));
        }
        if let Lowering::Sql(..) = f.lowering {
            let lowered = self.scalar_args(args, at, name, env, scope)?;
            return Ok(Node::Func(f.name, lowered));
        }
        let name = f.name;
        Ok(match name {
            "SUM" | "AVERAGE" | "MIN" | "MAX" | "COUNT" | "COUNTA" | "COUNTBLANK" | "DISTINCTCOUNT" | "DISTINCTCOUNTNOBLANK" => {
                if args.len() == 2 {
                    // MIN(a, b) / MAX(a, b): the smaller / larger of two values.
                    let v = self.scalar_args(args, at, name, env, scope)?;
                    return Ok(Node::Func(if name == "MIN" { "@least" } else { "@greatest" }, v));
                }
                let arg = self.arg(name, args, 0, at)?;
                let (t, c, ty) = self.column(arg)?;
                let agg = match name {
                    "SUM" => Agg::Sum,
                    "AVERAGE" => Agg::Average,
                    "MIN" => Agg::Min,
                    "MAX" => Agg::Max,
                    "COUNT" | "COUNTA" => Agg::Count,
                    "COUNTBLANK" => Agg::CountBlank,
                    "DISTINCTCOUNT" => Agg::DistinctCount,
                    _ => Agg::DistinctCountNoBlank,
                };
                if matches!(agg, Agg::Sum | Agg::Average) && !is_numeric(&ty) {
                    return Err(self.err(arg.at(), format!("{name} needs a numeric column; `{}[{c}]` is {ty}", self.model.tables[t].name)));
                }
                self.leaf(env, t, agg, Some(Node::Column { table: t, column: c }), None)
            }
            "COUNTROWS" => {
                let Some(arg) = Self::opt_arg(args, 0) else {
                    return Err(self.err(at, "COUNTROWS needs a table"));
                };
                if let Expr::Call { name: inner, args: iargs, at: iat } = arg
                    && inner == "INTERSECT"
                {
                    return self.intersect(iargs, *iat, env);
                }
                let t = self.table_arg(arg, env, scope)?;
                self.aggregate_table(t, Agg::CountRows, None, env)?
            }
            "SUMX" | "AVERAGEX" | "MINX" | "MAXX" | "COUNTX" | "COUNTAX" | "PRODUCTX" | "CONCATENATEX" => {
                let t = self.table_arg(self.arg(name, args, 0, at)?, env, scope)?;
                let row_env = self.row_env(env, t.table);
                let value = self.lower(self.arg(name, args, 1, at)?, &row_env, scope)?;
                let agg = match name {
                    "SUMX" => Agg::Sum,
                    "AVERAGEX" => Agg::Average,
                    "MINX" => Agg::Min,
                    "MAXX" => Agg::Max,
                    "COUNTX" | "COUNTAX" => Agg::Count,
                    "PRODUCTX" => Agg::Product,
                    _ => {
                        let delimiter = match Self::opt_arg(args, 2) {
                            None => String::new(),
                            Some(Expr::Text(s)) => s.clone(),
                            Some(other) => return Err(self.err(other.at(), "CONCATENATEX: the delimiter must be a text written in the measure")),
                        };
                        let order = match Self::opt_arg(args, 3) {
                            Some(o) => Some(Box::new(self.lower(o, &row_env, scope)?)),
                            None => None,
                        };
                        let descending = matches!(Self::keyword(Self::opt_arg(args, 4)).as_deref(), Some("DESC") | Some("0") | Some("FALSE"));
                        Agg::Concat { delimiter, order, descending }
                    }
                };
                if matches!(agg, Agg::Sum | Agg::Average | Agg::Product) && !matches!(type_of(self.model, &value), Type::Number | Type::Bool) {
                    return Err(self.err(at, format!("{name} needs a numeric expression")));
                }
                self.aggregate_table(t, agg, Some(value), env)?
            }
            "RELATED" => {
                let arg = self.arg(name, args, 0, at)?;
                let (t, c, _) = self.column(arg)?;
                match env.row {
                    Some(r) if r == t || self.reaches(t, r) => Node::Column { table: t, column: c },
                    Some(r) => {
                        return Err(self.err(
                            at,
                            format!(
                                "RELATED: `{}` is not on the one side of `{}` (filters do not flow from it to the row's table)",
                                self.model.tables[t].name, self.model.tables[r].name
                            ),
                        ));
                    }
                    None => return Err(self.err(at, "RELATED needs a row context (use it inside SUMX, FILTER, ...)")),
                }
            }
            "RANKX" => self.rankx(args, at, env, scope)?,
            "FIRSTNONBLANK" | "LASTNONBLANK" => self.first_nonblank(name == "LASTNONBLANK", args, at, env, scope)?,
            "DIVIDE" => {
                let v = self.scalar_args(args, at, name, env, scope)?;
                let mut it = v.into_iter();
                let a = it.next().unwrap_or(Node::Blank);
                let b = it.next().unwrap_or(Node::Blank);
                Node::Divide(Box::new(a), Box::new(b), it.next().map(Box::new))
            }
            "IF" | "IF.EAGER" => {
                let c = self.lower(self.arg(name, args, 0, at)?, env, scope)?;
                let a = self.lower(self.arg(name, args, 1, at)?, env, scope)?;
                let b = match Self::opt_arg(args, 2) {
                    Some(e) => self.lower(e, env, scope)?,
                    None => Node::Blank,
                };
                Node::If(Box::new(c), Box::new(a), Box::new(b))
            }
            "SWITCH" => {
                let subject = self.lower(self.arg(name, args, 0, at)?, env, scope)?;
                let rest = &args[1..];
                let mut arms = Vec::new();
                let mut i = 0;
                while i + 1 < rest.len() {
                    let k = self.lower(self.arg(name, rest, i, at)?, env, scope)?;
                    let v = self.lower(self.arg(name, rest, i + 1, at)?, env, scope)?;
                    let cond = if subject == Node::Bool(true) { k } else { Node::Compare(CmpOp::Eq, Box::new(subject.clone()), Box::new(k)) };
                    arms.push((cond, v));
                    i += 2;
                }
                let otherwise = if i < rest.len() { self.lower(self.arg(name, rest, i, at)?, env, scope)? } else { Node::Blank };
                Node::Case(arms, Box::new(otherwise))
            }
            "AND" | "OR" => {
                let v = self.scalar_args(args, at, name, env, scope)?;
                let mut it = v.into_iter();
                let a = Box::new(it.next().unwrap_or(Node::Blank));
                let b = Box::new(it.next().unwrap_or(Node::Blank));
                if name == "AND" { Node::And(a, b) } else { Node::Or(a, b) }
            }
            "NOT" => Node::Not(Box::new(self.lower(self.arg(name, args, 0, at)?, env, scope)?)),
            "TRUE" | "FALSE" => Node::Bool(name == "TRUE"),
            "BLANK" => Node::Blank,
            "COALESCE" => Node::Func("@coalesce", self.scalar_args(args, at, name, env, scope)?),
            "ISBLANK" => Node::Func("@isblank", self.scalar_args(args, at, name, env, scope)?),
            "ISEMPTY" => {
                let t = self.table_arg(self.arg(name, args, 0, at)?, env, scope)?;
                let count = self.aggregate_table(t, Agg::CountRows, None, env)?;
                Node::Func("@isblank", vec![count])
            }
            "ISFILTERED" | "ISCROSSFILTERED" | "ISINSCOPE" | "HASONEFILTER" => {
                let arg = self.arg(name, args, 0, at)?;
                let (table, column) = match arg {
                    Expr::Name { name: t, at } if name != "ISINSCOPE" && name != "HASONEFILTER" => (self.table(t, *at)?, None),
                    other => {
                        let (t, c, _) = self.column(other)?;
                        (t, Some(c))
                    }
                };
                let kind = match name {
                    "ISFILTERED" => InfoKind::Filtered { cross: false },
                    "ISCROSSFILTERED" => InfoKind::Filtered { cross: true },
                    "ISINSCOPE" => InfoKind::InScope,
                    _ => InfoKind::OneFilter,
                };
                Node::Info(Info { kind, table, column, mods: env.mods.clone() })
            }
            "HASONEVALUE" | "SELECTEDVALUE" => {
                let arg = self.arg(name, args, 0, at)?;
                let (t, c, _) = self.column(arg)?;
                let col = || Some(Node::Column { table: t, column: c.clone() });
                let count = self.leaf(env, t, Agg::DistinctCount, col(), None);
                let one = Node::Compare(CmpOp::Eq, Box::new(count), Box::new(Node::Number("1".into())));
                if name == "HASONEVALUE" {
                    one
                } else {
                    let value = self.leaf(env, t, Agg::Min, col(), None);
                    let alternate = match Self::opt_arg(args, 1) {
                        Some(e) => self.lower(e, env, scope)?,
                        None => Node::Blank,
                    };
                    Node::If(Box::new(one), Box::new(value), Box::new(alternate))
                }
            }
            "CALCULATE" => {
                let mut inner = env.clone();
                inner.mods.extend(self.filter_args(&args[1..], at, env, scope)?);
                inner.transitioned = true;
                inner.row = None;
                self.lower(self.arg(name, args, 0, at)?, &inner, scope)?
            }
            "TOTALMTD"
            | "TOTALQTD"
            | "TOTALYTD"
            | "OPENINGBALANCEMONTH"
            | "OPENINGBALANCEQUARTER"
            | "OPENINGBALANCEYEAR"
            | "CLOSINGBALANCEMONTH"
            | "CLOSINGBALANCEQUARTER"
            | "CLOSINGBALANCEYEAR" => {
                self.date_column(self.arg(name, args, 1, at)?)?;
                let mut inner = env.clone();
                inner.mods.extend(super::time::period_total(name));
                inner.mods.extend(self.filter_args(&args[2..], at, env, scope)?);
                inner.transitioned = true;
                inner.row = None;
                self.lower(self.arg(name, args, 0, at)?, &inner, scope)?
            }
            "FIRSTDATE" | "LASTDATE" | "STARTOFMONTH" | "ENDOFMONTH" | "STARTOFQUARTER" | "ENDOFQUARTER" | "STARTOFYEAR" | "ENDOFYEAR" => {
                // As a value: the date itself (a one-row table converts to its value).
                let arg = self.arg(name, args, 0, at)?;
                self.date_column(arg)?;
                let (d, c) = (self.model.date_table, self.model.date_column.clone());
                let first = matches!(name, "FIRSTDATE" | "STARTOFMONTH" | "STARTOFQUARTER" | "STARTOFYEAR");
                let edge = self.leaf(env, d, if first { Agg::Min } else { Agg::Max }, Some(Node::Column { table: d, column: c }), None);
                match name {
                    "FIRSTDATE" | "LASTDATE" => edge,
                    other => {
                        let f = match other {
                            "STARTOFMONTH" => "@startof_month",
                            "ENDOFMONTH" => "@endof_month",
                            "STARTOFQUARTER" => "@startof_quarter",
                            "ENDOFQUARTER" => "@endof_quarter",
                            "STARTOFYEAR" => "@startof_year",
                            _ => "@endof_year",
                        };
                        Node::Func(f, vec![edge])
                    }
                }
            }
            "DATEDIFF" => {
                let a = self.lower(self.arg(name, args, 0, at)?, env, scope)?;
                let b = self.lower(self.arg(name, args, 1, at)?, env, scope)?;
                let f = match Self::keyword(Self::opt_arg(args, 2)).as_deref() {
                    Some("DAY") => "@datediff_day",
                    Some("MONTH") => "@datediff_month",
                    Some("QUARTER") => "@datediff_quarter",
                    Some("YEAR") => "@datediff_year",
                    _ => return Err(self.err(at, "DATEDIFF: the interval must be DAY, MONTH, QUARTER or YEAR")),
                };
                Node::Func(f, vec![a, b])
            }
            other => {
                return Err(self.err(
                    at,
                    format!("{other} returns a table: use it as a filter of CALCULATE, inside an iterator (SUMX, COUNTROWS, ...) or after IN"),
                ));
            }
        })
    }

    /// The environment of an iterator's body: the row of `table`, one level deeper, no transition yet.
    pub(super) fn row_env(&self, env: &Env, table: TableId) -> Env {
        Env { mods: Vec::new(), depth: env.depth + 1, row: Some(table), transitioned: false }
    }

    /// An aggregation over a table expression: one leaf when the value and conditions read only the row (a
    /// GROUP BY over the table), else an iteration that evaluates them per item.
    pub(super) fn aggregate_table(&mut self, t: TableArg, agg: Agg, value: Option<Node>, env: &Env) -> Result<Node> {
        let row_level = value.as_ref().is_none_or(|v| v.is_row_level())
            && t.item_conditions.is_empty()
            && t.top.is_none()
            && match &agg {
                Agg::Concat { order, .. } => order.as_ref().is_none_or(|o| o.is_row_level()),
                _ => true,
            };
        // VALUES(T[c]) iterates distinct values: a row-level value over it is still one per value, except
        // COUNTROWS, which is a distinct count.
        if row_level && (t.columns.is_none() || (matches!(agg, Agg::CountRows) && t.columns.as_ref().is_some_and(|c| c.len() == 1))) {
            let mut env2 = env.clone();
            env2.transitioned |= t.transition;
            env2.mods.extend(t.set_mods());
            env2.mods.extend(t.mods.iter().cloned());
            let filter = t.row_conditions.into_iter().reduce(|a, b| Node::And(Box::new(a), Box::new(b)));
            return Ok(match (&t.columns, agg) {
                (Some(cols), Agg::CountRows) => {
                    self.leaf(&env2, t.table, Agg::DistinctCount, Some(Node::Column { table: t.table, column: cols[0].clone() }), filter)
                }
                (_, agg) => self.leaf(&env2, t.table, agg, value, filter),
            });
        }
        let it = self.iteration(t, env, value.as_ref(), IterKind::Aggregate { agg, value: value.clone().map(Box::new) })?;
        Ok(Node::Iterate(Box::new(it)))
    }

    /// An iteration over the items of a table expression: its columns, or for a whole table its key and the
    /// columns the body reads.
    pub(super) fn iteration(&self, t: TableArg, env: &Env, body: Option<&Node>, kind: IterKind) -> Result<Iteration> {
        let mut columns = match &t.columns {
            Some(c) => c.clone(),
            None => {
                let key = &self.model.tables[t.table].primary_key;
                if key.is_empty() {
                    return Err(self.err(
                        t.at,
                        format!(
                            "iterating `{}` with a measure or aggregation inside needs the table's key: declare `primary_key` for it in the model",
                            self.model.tables[t.table].name
                        ),
                    ));
                }
                key.clone()
            }
        };
        let mut read = Vec::new();
        for n in body.into_iter().chain(t.row_conditions.iter()).chain(t.item_conditions.iter()) {
            collect_row_columns(n, &mut read);
        }
        if let Some(top) = &t.top {
            collect_row_columns(&top.value, &mut read);
        }
        if let IterKind::Aggregate { agg: Agg::Concat { order: Some(o), .. }, .. } = &kind {
            collect_row_columns(o, &mut read);
        }
        for (table, column) in read {
            if table != t.table {
                return Err(self.err(
                    t.at,
                    format!(
                        "RELATED({}[{column}]) inside an iterator that also evaluates measures is not supported; use a measure or iterate the fact",
                        self.model.tables[table].name
                    ),
                ));
            }
            if t.columns.is_some() && !columns.contains(&column) {
                return Err(self.err(t.at, format!("the iterated table has no column `{column}` (it holds {})", columns.join(", "))));
            }
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
        let mut mods = env.mods.clone();
        if env.depth > 0 && !env.transitioned {
            mods.insert(0, Mod::ExitRow);
        }
        mods.extend(t.mods.iter().cloned());
        let mut conditions = t.row_conditions;
        conditions.extend(t.item_conditions);
        Ok(Iteration { table: t.table, columns, set: t.set, mods, conditions, top: t.top, kind })
    }

    fn rankx(&mut self, args: &[Option<Expr>], at: usize, env: &Env, scope: &mut Scope) -> Result<Node> {
        let t = self.table_arg(self.arg("RANKX", args, 0, at)?, env, scope)?;
        let row_env = self.row_env(env, t.table);
        let value_expr = self.arg("RANKX", args, 1, at)?;
        let value = self.lower(value_expr, &row_env, scope)?;
        let current = match Self::opt_arg(args, 2) {
            Some(v) => self.lower(v, env, scope)?,
            None => self.lower(value_expr, &Env { row: None, transitioned: true, ..env.clone() }, scope)?,
        };
        let descending = match Self::keyword(Self::opt_arg(args, 3)).as_deref() {
            None | Some("DESC") | Some("0") | Some("FALSE") => true,
            Some("ASC") | Some("1") | Some("TRUE") => false,
            Some(o) => return Err(self.err(at, format!("RANKX order must be ASC or DESC, found `{o}`"))),
        };
        let dense = match Self::keyword(Self::opt_arg(args, 4)).as_deref() {
            None | Some("SKIP") => false,
            Some("DENSE") => true,
            Some(o) => return Err(self.err(at, format!("RANKX ties must be SKIP or DENSE, found `{o}`"))),
        };
        let kind = IterKind::Rank { current: Box::new(current), value: Box::new(value.clone()), descending, dense };
        Ok(Node::Iterate(Box::new(self.iteration(t, env, Some(&value), kind)?)))
    }

    fn first_nonblank(&mut self, last: bool, args: &[Option<Expr>], at: usize, env: &Env, scope: &mut Scope) -> Result<Node> {
        let name = if last { "LASTNONBLANK" } else { "FIRSTNONBLANK" };
        let first = self.arg(name, args, 0, at)?;
        // FIRSTNONBLANK(TOPN(1, set, value, order), 1): the best item (the bundled Top_Produit_Nom).
        if let Expr::Call { name: top, args: targs, at: tat } = first
            && top == "TOPN"
        {
            let t = self.table_arg(first, env, scope)?;
            let Some(topn) = t.top.clone() else { return Err(self.err(*tat, "TOPN: expected a table")) };
            if !matches!(Self::opt_arg(targs, 0), Some(Expr::Number(n)) if *n == 1.0) {
                return Err(self.err(*tat, format!("only TOPN(1, ...) is supported inside {name}")));
            }
            let mut t = t;
            t.top = None;
            let kind = IterKind::TopItem { value: topn.value.clone(), descending: topn.descending, nonblank: None };
            let body = *topn.value;
            return Ok(Node::Iterate(Box::new(self.iteration(t, env, Some(&body), kind)?)));
        }
        let (t, c, _) = self.column(first)?;
        let set = TableArg::column_values(t, c.clone(), first.at());
        let row_env = self.row_env(env, t);
        let expr = self.lower(self.arg(name, args, 1, at)?, &row_env, scope)?;
        let item = Node::Column { table: t, column: c };
        let kind = IterKind::TopItem { value: Box::new(item.clone()), descending: last, nonblank: Some(Box::new(expr.clone())) };
        Ok(Node::Iterate(Box::new(self.iteration(set, env, Some(&expr), kind)?)))
    }

    fn intersect(&mut self, args: &[Option<Expr>], at: usize, env: &Env) -> Result<Node> {
        if args.len() != 2 {
            return Err(self.err(at, "INTERSECT takes 2 arguments"));
        }
        let mut sides = Vec::new();
        for i in 0..2 {
            let e = self.arg("INTERSECT", args, i, at)?;
            let (inner, extra) = match e {
                Expr::Call { name, args: cargs, at: cat } if name == "CALCULATETABLE" => {
                    let first = self.arg(name, cargs, 0, *cat)?;
                    let mut scope = Scope::default();
                    (first, self.filter_args(&cargs[1..], *cat, env, &mut scope)?)
                }
                other => (other, Vec::new()),
            };
            let Expr::Call { name, args: vargs, at: vat } = inner else {
                return Err(self.err(inner.at(), "INTERSECT takes VALUES(Table[Column]) on both sides"));
            };
            if name != "VALUES" {
                return Err(self.err(*vat, "INTERSECT takes VALUES(Table[Column]) on both sides"));
            }
            let (t, c, _) = self.column(self.arg(name, vargs, 0, *vat)?)?;
            let mut all = env.mods.clone();
            all.extend(extra);
            sides.push((t, c, all));
        }
        let (b_t, b_c, b) = sides.pop().unwrap_or_default();
        let (a_t, a_c, a) = sides.pop().unwrap_or_default();
        if (a_t, &a_c) != (b_t, &b_c) {
            return Err(self.err(at, "INTERSECT: both sides must be VALUES of the same column"));
        }
        Ok(Node::IntersectCount { table: a_t, column: a_c, a, b })
    }
}

/// The row columns an expression reads, looking through nested scalar nodes only.
pub(super) fn collect_row_columns(n: &Node, out: &mut Vec<(TableId, String)>) {
    n.row_columns(out);
}

pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") }
}

/// `SetKind` of ALL-like functions by name.
pub(super) fn set_kind(name: &str) -> Option<SetKind> {
    Some(match name {
        "ALL" => SetKind::All,
        "ALLNOBLANKROW" => SetKind::AllNoBlank,
        "ALLSELECTED" => SetKind::AllSelected,
        "VALUES" | "DISTINCT" => SetKind::Values,
        _ => return None,
    })
}
