//! Binding: a measure's DAX syntax tree becomes the IR ([`Node`]) — tables, columns and measures resolved,
//! argument types checked, measure references inlined in the context they are used in, CALCULATE's filters
//! turned into context changes. Every error points at the DAX text in the model file.

use std::collections::HashMap;

use datafusion::arrow::datatypes::DataType;

use super::ast::{BinaryOp, Expr, UnaryOp};
use super::ir::{Agg, Arith, CmpOp, IterKind, Iteration, Leaf, Literal, Mod, Node, PeriodUnit, SetKind, TimeFn};
use crate::model::{Measure, Model, ModelError, TableId};
use crate::suggest::hint as did_you_mean;

pub fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Boolean)
}

struct Scope {
    vars: Vec<(String, Node, usize)>,
}

/// Lowers one measure. `stack` holds the measures being lowered, to report cycles.
pub struct Binder<'a> {
    model: &'a Model,
    stack: Vec<String>,
}

type Result<T> = std::result::Result<T, ModelError>;

impl<'a> Binder<'a> {
    pub fn new(model: &'a Model) -> Self {
        Binder { model, stack: Vec::new() }
    }

    pub fn measure(&mut self, m: &Measure) -> Result<Node> {
        self.stack.push(m.name.clone());
        let mut scope = Scope { vars: Vec::new() };
        let node = self.lower(m, &m.expr, &[], &mut scope, 0);
        self.stack.pop();
        node
    }

    fn err(&self, m: &Measure, at: usize, message: impl Into<String>) -> ModelError {
        ModelError::new(Some(m.location(at)), format!("measure `{}`: {}", m.name, message.into()))
    }

    fn table(&self, m: &Measure, name: &str, at: usize) -> Result<TableId> {
        self.model.table(name).ok_or_else(|| {
            self.err(m, at, format!("unknown table `{name}`{}", did_you_mean(name, self.model.tables.iter().map(|t| t.name.as_str()))))
        })
    }

    fn column(&self, m: &Measure, e: &Expr) -> Result<(TableId, String, DataType)> {
        let Expr::Column { table, column, at } = e else {
            return Err(self.err(m, e.at(), "expected a column such as `Fait_Ventes[Montant_TTC]`"));
        };
        let t = self.table(m, table, *at)?;
        let ty = self.model.tables[t].column_type(column).cloned().ok_or_else(|| {
            let cols = &self.model.tables[t].columns;
            self.err(m, *at, format!("unknown column `{table}[{column}]`{}", did_you_mean(column, cols.iter().map(|(n, _)| n.as_str()))))
        })?;
        Ok((t, column.clone(), ty))
    }

    /// `Table` or `Table[Column]` as the argument of ALL/ALLSELECTED/REMOVEFILTERS/VALUES.
    fn table_or_column(&self, m: &Measure, e: &Expr) -> Result<(TableId, Option<String>)> {
        match e {
            Expr::Name { name, at } => Ok((self.table(m, name, *at)?, None)),
            Expr::Column { .. } => {
                let (t, c, _) = self.column(m, e)?;
                Ok((t, Some(c)))
            }
            _ => Err(self.err(m, e.at(), "expected a table or a column")),
        }
    }

    fn date_column(&self, m: &Measure, e: &Expr) -> Result<()> {
        let (t, c, _) = self.column(m, e)?;
        if t != self.model.date_table || c != self.model.date_column {
            return Err(self.err(
                m,
                e.at(),
                format!("time intelligence needs the date column `{}[{}]`", self.model.tables[self.model.date_table].name, self.model.date_column),
            ));
        }
        Ok(())
    }

    fn arg<'e>(&self, m: &Measure, name: &str, args: &'e [Option<Expr>], i: usize, at: usize) -> Result<&'e Expr> {
        args.get(i).and_then(|a| a.as_ref()).ok_or_else(|| self.err(m, at, format!("{name} needs an argument {}", i + 1)))
    }

    fn arity(&self, m: &Measure, name: &str, args: &[Option<Expr>], min: usize, max: usize, at: usize) -> Result<()> {
        if args.len() < min || args.len() > max {
            let expected = if min == max { format!("{min}") } else { format!("{min} to {max}") };
            return Err(self.err(m, at, format!("{name} takes {expected} arguments, found {}", args.len())));
        }
        Ok(())
    }

    fn keyword(e: Option<&Option<Expr>>) -> Option<String> {
        match e {
            Some(Some(Expr::Name { name, .. })) => Some(name.to_ascii_uppercase()),
            _ => None,
        }
    }

    fn lower(&mut self, m: &Measure, e: &Expr, mods: &[Mod], scope: &mut Scope, depth: usize) -> Result<Node> {
        Ok(match e {
            Expr::Number(n) => Node::Number(format_number(*n)),
            Expr::Text(s) => Node::Text(s.clone()),
            Expr::Measure { name, at } => {
                let target = self.model.measure(name).ok_or_else(|| {
                    self.err(m, *at, format!("unknown measure `[{name}]`{}", did_you_mean(name, self.model.measures.iter().map(|x| x.name.as_str()))))
                })?;
                if let Some(i) = self.stack.iter().position(|s| s == name) {
                    let mut cycle = self.stack[i..].to_vec();
                    cycle.push(name.clone());
                    return Err(self.err(m, *at, format!("measures refer to each other in a cycle: {}", cycle.join(" → "))));
                }
                self.stack.push(name.clone());
                let mut inner = Scope { vars: Vec::new() };
                let node = self.lower(target, &target.expr, mods, &mut inner, 0);
                self.stack.pop();
                // Inside an iterator this is a context transition: the measure is evaluated on the iterated
                // row's grid, which is the grid the caller lowers it on, so nothing wraps it.
                node?
            }
            Expr::Name { name, at } => {
                if let Some((_, node, d)) = scope.vars.iter().rev().find(|(n, _, _)| n == name) {
                    let mut node = node.clone();
                    for _ in *d..depth {
                        node = Node::Outer(Box::new(node));
                    }
                    return Ok(node);
                }
                match name.to_ascii_uppercase().as_str() {
                    "TRUE" => Node::Bool(true),
                    "FALSE" => Node::Bool(false),
                    _ => {
                        let known: Vec<&str> = scope.vars.iter().map(|(n, _, _)| n.as_str()).collect();
                        return Err(self.err(m, *at, format!("unknown name `{name}`{}", did_you_mean(name, known.into_iter()))));
                    }
                }
            }
            Expr::Column { at, .. } => {
                return Err(self.err(m, *at, "a column cannot be used as a value here; aggregate it (SUM, MIN, MAX, ...)"));
            }
            Expr::Unary { op, expr, .. } => {
                let inner = self.lower(m, expr, mods, scope, depth)?;
                match op {
                    UnaryOp::Neg => Node::Neg(Box::new(inner)),
                    UnaryOp::Not => Node::Not(Box::new(inner)),
                }
            }
            Expr::Binary { op, left, right, .. } => {
                let l = Box::new(self.lower(m, left, mods, scope, depth)?);
                let r = Box::new(self.lower(m, right, mods, scope, depth)?);
                match op {
                    BinaryOp::Add => Node::Arith(Arith::Add, l, r),
                    BinaryOp::Sub => Node::Arith(Arith::Sub, l, r),
                    BinaryOp::Mul => Node::Arith(Arith::Mul, l, r),
                    BinaryOp::Div => Node::Arith(Arith::Div, l, r),
                    BinaryOp::Concat => Node::Concat(l, r),
                    BinaryOp::And => Node::And(l, r),
                    BinaryOp::Or => Node::Or(l, r),
                    BinaryOp::Compare(cmp) => Node::Compare(*cmp, l, r),
                }
            }
            Expr::Let { vars, body } => {
                let before = scope.vars.len();
                for (name, value, _) in vars {
                    let node = self.lower(m, value, mods, scope, depth)?;
                    scope.vars.push((name.clone(), node, depth));
                }
                let node = self.lower(m, body, mods, scope, depth);
                scope.vars.truncate(before);
                node?
            }
            Expr::Call { name, args, at } => self.call(m, name, args, *at, mods, scope, depth)?,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn call(&mut self, m: &Measure, name: &str, args: &[Option<Expr>], at: usize, mods: &[Mod], scope: &mut Scope, depth: usize) -> Result<Node> {
        let leaf = |table, agg, column| Node::Leaf(Leaf { table, agg, column, mods: mods.to_vec() });
        Ok(match name {
            "SUM" | "AVERAGE" | "MIN" | "MAX" | "COUNT" | "DISTINCTCOUNT" => {
                self.arity(m, name, args, 1, 1, at)?;
                let arg = self.arg(m, name, args, 0, at)?;
                let (t, c, ty) = self.column(m, arg)?;
                let agg = match name {
                    "SUM" => Agg::Sum,
                    "AVERAGE" => Agg::Average,
                    "MIN" => Agg::Min,
                    "MAX" => Agg::Max,
                    "COUNT" => Agg::Count,
                    _ => Agg::DistinctCount,
                };
                if matches!(agg, Agg::Sum | Agg::Average) && !is_numeric(&ty) {
                    return Err(self.err(m, arg.at(), format!("{name} needs a numeric column; `{}[{c}]` is {ty}", self.model.tables[t].name)));
                }
                leaf(t, agg, Some(c))
            }
            "COUNTROWS" => {
                self.arity(m, name, args, 1, 1, at)?;
                match self.arg(m, name, args, 0, at)? {
                    Expr::Name { name: table, at } => leaf(self.table(m, table, *at)?, Agg::CountRows, None),
                    Expr::Call { name: inner, args: iargs, at: iat } if inner == "INTERSECT" => self.intersect(m, iargs, *iat, mods)?,
                    Expr::Call { name: inner, args: iargs, at: iat } if inner == "FILTER" => {
                        let (table, column, set, cond) = self.filter_set(m, iargs, *iat, scope, depth)?;
                        Node::Iterate(Box::new(Iteration { table, column, set, mods: mods.to_vec(), kind: IterKind::CountWhere { condition: Box::new(cond) } }))
                    }
                    other => return Err(self.err(m, other.at(), "COUNTROWS takes a table, INTERSECT(...) or FILTER(...)")),
                }
            }
            "DIVIDE" => {
                self.arity(m, name, args, 2, 3, at)?;
                let a = self.lower(m, self.arg(m, name, args, 0, at)?, mods, scope, depth)?;
                let b = self.lower(m, self.arg(m, name, args, 1, at)?, mods, scope, depth)?;
                let alt = match args.get(2) {
                    Some(Some(e)) => Some(Box::new(self.lower(m, e, mods, scope, depth)?)),
                    _ => None,
                };
                Node::Divide(Box::new(a), Box::new(b), alt)
            }
            "IF" => {
                self.arity(m, name, args, 2, 3, at)?;
                let c = self.lower(m, self.arg(m, name, args, 0, at)?, mods, scope, depth)?;
                let a = self.lower(m, self.arg(m, name, args, 1, at)?, mods, scope, depth)?;
                let b = match args.get(2) {
                    Some(Some(e)) => self.lower(m, e, mods, scope, depth)?,
                    _ => Node::Blank,
                };
                Node::If(Box::new(c), Box::new(a), Box::new(b))
            }
            "SWITCH" => {
                if args.len() < 3 {
                    return Err(self.err(m, at, "SWITCH needs an expression and at least one value/result pair"));
                }
                let subject = self.lower(m, self.arg(m, name, args, 0, at)?, mods, scope, depth)?;
                let rest = &args[1..];
                let mut arms = Vec::new();
                let mut i = 0;
                while i + 1 < rest.len() {
                    let k = self.lower(m, self.arg(m, name, rest, i, at)?, mods, scope, depth)?;
                    let v = self.lower(m, self.arg(m, name, rest, i + 1, at)?, mods, scope, depth)?;
                    let cond = if subject == Node::Bool(true) { k } else { Node::Compare(CmpOp::Eq, Box::new(subject.clone()), Box::new(k)) };
                    arms.push((cond, v));
                    i += 2;
                }
                let otherwise = if i < rest.len() { self.lower(m, self.arg(m, name, rest, i, at)?, mods, scope, depth)? } else { Node::Blank };
                Node::Case(arms, Box::new(otherwise))
            }
            "TRUE" | "FALSE" => {
                self.arity(m, name, args, 0, 0, at)?;
                Node::Bool(name == "TRUE")
            }
            "BLANK" => {
                self.arity(m, name, args, 0, 0, at)?;
                Node::Blank
            }
            "NOT" => {
                self.arity(m, name, args, 1, 1, at)?;
                Node::Not(Box::new(self.lower(m, self.arg(m, name, args, 0, at)?, mods, scope, depth)?))
            }
            "CALCULATE" => {
                if args.is_empty() {
                    return Err(self.err(m, at, "CALCULATE needs an expression"));
                }
                let mut inner = mods.to_vec();
                for f in args[1..].iter() {
                    let f = f.as_ref().ok_or_else(|| self.err(m, at, "CALCULATE: empty filter argument"))?;
                    inner.extend(self.filter_arg(m, f)?);
                }
                self.lower(m, self.arg(m, name, args, 0, at)?, &inner, scope, depth)?
            }
            "TOTALYTD" => {
                self.arity(m, name, args, 2, 2, at)?;
                self.date_column(m, self.arg(m, name, args, 1, at)?)?;
                let mut inner = mods.to_vec();
                inner.push(Mod::Time(TimeFn::YearToDate));
                self.lower(m, self.arg(m, name, args, 0, at)?, &inner, scope, depth)?
            }
            "RANKX" => {
                self.arity(m, name, args, 2, 5, at)?;
                let (table, column, set) = self.column_set(m, self.arg(m, name, args, 0, at)?)?;
                let value_expr = self.arg(m, name, args, 1, at)?;
                if matches!(args.get(2), Some(Some(_))) {
                    return Err(self.err(m, at, "RANKX with an explicit value (third argument) is not supported; leave it empty"));
                }
                let descending = match Self::keyword(args.get(3)).as_deref() {
                    None | Some("DESC") | Some("0") => true,
                    Some("ASC") | Some("1") => false,
                    Some(o) => return Err(self.err(m, at, format!("RANKX order must be ASC or DESC, found `{o}`"))),
                };
                let dense = match Self::keyword(args.get(4)).as_deref() {
                    None | Some("SKIP") => false,
                    Some("DENSE") => true,
                    Some(o) => return Err(self.err(m, at, format!("RANKX ties must be SKIP or DENSE, found `{o}`"))),
                };
                let current = self.lower(m, value_expr, mods, scope, depth)?;
                let value = self.lower(m, value_expr, &[], scope, depth + 1)?;
                Node::Iterate(Box::new(Iteration {
                    table,
                    column,
                    set,
                    mods: mods.to_vec(),
                    kind: IterKind::Rank { current: Box::new(current), value: Box::new(value), descending, dense },
                }))
            }
            "FIRSTNONBLANK" | "LASTNONBLANK" if matches!(args.first(), Some(Some(Expr::Call { name, .. })) if name == "TOPN") => {
                let Some(Some(Expr::Call { args: targs, at: tat, .. })) = args.first() else { unreachable!() };
                self.arity(m, "TOPN", targs, 3, 4, *tat)?;
                if !matches!(self.arg(m, "TOPN", targs, 0, *tat)?, Expr::Number(n) if *n == 1.0) {
                    return Err(self.err(m, *tat, "only TOPN(1, ...) is supported inside FIRSTNONBLANK"));
                }
                let (table, column, set) = self.column_set(m, self.arg(m, "TOPN", targs, 1, *tat)?)?;
                let descending = !matches!(Self::keyword(targs.get(3)).as_deref(), Some("ASC") | Some("1"));
                let value = self.lower(m, self.arg(m, "TOPN", targs, 2, *tat)?, &[], scope, depth + 1)?;
                Node::Iterate(Box::new(Iteration { table, column, set, mods: mods.to_vec(), kind: IterKind::TopItem { value: Box::new(value), descending } }))
            }
            "SUMX" => {
                self.arity(m, name, args, 2, 2, at)?;
                let source = self.arg(m, name, args, 0, at)?;
                let (table, column, set, condition) = match source {
                    Expr::Call { name: f, args: fargs, at: fat } if f == "FILTER" => self.filter_set(m, fargs, *fat, scope, depth)?,
                    other => {
                        let (t, c, s) = self.column_set(m, other)?;
                        (t, c, s, Node::Bool(true))
                    }
                };
                let value = self.lower(m, self.arg(m, name, args, 1, at)?, &[], scope, depth + 1)?;
                Node::Iterate(Box::new(Iteration {
                    table,
                    column,
                    set,
                    mods: mods.to_vec(),
                    kind: IterKind::SumWhere { condition: Box::new(condition), value: Box::new(value) },
                }))
            }
            "SAMEPERIODLASTYEAR" | "PREVIOUSMONTH" | "DATESYTD" | "DATESINPERIOD" | "ALL" | "ALLSELECTED" | "REMOVEFILTERS"
            | "LASTNONBLANK" | "VALUES" | "INTERSECT" | "CALCULATETABLE" | "FILTER" | "TOPN" | "LASTDATE" | "FIRSTDATE" => {
                return Err(self.err(m, at, format!("{name} returns a table; use it as a filter of CALCULATE or inside an iterator")));
            }
            other => {
                const KNOWN: &[&str] = &[
                    "SUM", "AVERAGE", "MIN", "MAX", "COUNT", "COUNTROWS", "DISTINCTCOUNT", "DIVIDE", "IF", "SWITCH", "TRUE", "FALSE",
                    "BLANK", "NOT", "CALCULATE", "CALCULATETABLE", "ALL", "ALLSELECTED", "REMOVEFILTERS", "VALUES", "SAMEPERIODLASTYEAR",
                    "PREVIOUSMONTH", "DATESYTD", "TOTALYTD", "DATESINPERIOD", "LASTDATE", "FIRSTDATE", "RANKX", "TOPN", "FIRSTNONBLANK",
                    "LASTNONBLANK", "INTERSECT", "SUMX", "FILTER",
                ];
                return Err(self.err(m, at, format!("unknown or unsupported function `{other}`{}", did_you_mean(other, KNOWN.iter().copied()))));
            }
        })
    }

    /// A table argument of an iterator: ALL(T[c]), ALLSELECTED(T[c]) or VALUES(T[c]).
    fn column_set(&self, m: &Measure, e: &Expr) -> Result<(TableId, String, SetKind)> {
        let Expr::Call { name, args, at } = e else {
            return Err(self.err(m, e.at(), "expected ALL(Table[Column]), ALLSELECTED(Table[Column]) or VALUES(Table[Column])"));
        };
        let set = match name.as_str() {
            "ALL" => SetKind::All,
            "ALLSELECTED" => SetKind::AllSelected,
            "VALUES" => SetKind::Values,
            _ => return Err(self.err(m, *at, format!("{name}: expected ALL, ALLSELECTED or VALUES of one column"))),
        };
        self.arity(m, name, args, 1, 1, *at)?;
        let (t, c, _) = self.column(m, self.arg(m, name, args, 0, *at)?)?;
        Ok((t, c, set))
    }

    #[allow(clippy::type_complexity)]
    fn filter_set(&mut self, m: &Measure, args: &[Option<Expr>], at: usize, scope: &mut Scope, depth: usize) -> Result<(TableId, String, SetKind, Node)> {
        self.arity(m, "FILTER", args, 2, 2, at)?;
        let (t, c, set) = self.column_set(m, self.arg(m, "FILTER", args, 0, at)?)?;
        let cond = self.lower(m, self.arg(m, "FILTER", args, 1, at)?, &[], scope, depth + 1)?;
        Ok((t, c, set, cond))
    }

    fn intersect(&mut self, m: &Measure, args: &[Option<Expr>], at: usize, mods: &[Mod]) -> Result<Node> {
        self.arity(m, "INTERSECT", args, 2, 2, at)?;
        let mut sides = Vec::new();
        for i in 0..2 {
            let e = self.arg(m, "INTERSECT", args, i, at)?;
            let (inner, extra) = match e {
                Expr::Call { name, args: cargs, at: cat } if name == "CALCULATETABLE" => {
                    let first = self.arg(m, name, cargs, 0, *cat)?;
                    let mut extra = Vec::new();
                    for f in cargs[1..].iter().flatten() {
                        extra.extend(self.filter_arg(m, f)?);
                    }
                    (first, extra)
                }
                other => (other, Vec::new()),
            };
            let Expr::Call { name, args: vargs, at: vat } = inner else {
                return Err(self.err(m, inner.at(), "INTERSECT takes VALUES(Table[Column]) on both sides"));
            };
            if name != "VALUES" {
                return Err(self.err(m, *vat, "INTERSECT takes VALUES(Table[Column]) on both sides"));
            }
            let (t, c, _) = self.column(m, self.arg(m, name, vargs, 0, *vat)?)?;
            let mut all = mods.to_vec();
            all.extend(extra);
            sides.push((t, c, all));
        }
        let (b_t, b_c, b) = sides.pop().unwrap_or_default();
        let (a_t, a_c, a) = sides.pop().unwrap_or_default();
        if (a_t, &a_c) != (b_t, &b_c) {
            return Err(self.err(m, at, "INTERSECT: both sides must be VALUES of the same column"));
        }
        Ok(Node::IntersectCount { table: a_t, column: a_c, a, b })
    }

    /// A filter argument of CALCULATE/CALCULATETABLE, as context changes.
    fn filter_arg(&self, m: &Measure, e: &Expr) -> Result<Vec<Mod>> {
        match e {
            Expr::Call { name, args, at } => {
                let at = *at;
                Ok(match name.as_str() {
                    "ALL" | "REMOVEFILTERS" | "ALLSELECTED" => {
                        let mut out = Vec::new();
                        for a in args.iter().flatten() {
                            let (table, column) = self.table_or_column(m, a)?;
                            out.push(if name == "ALLSELECTED" { Mod::AllSelected { table, column } } else { Mod::RemoveFilters { table, column } });
                        }
                        out
                    }
                    "SAMEPERIODLASTYEAR" | "PREVIOUSMONTH" | "DATESYTD" => {
                        self.arity(m, name, args, 1, 1, at)?;
                        self.date_column(m, self.arg(m, name, args, 0, at)?)?;
                        vec![Mod::Time(match name.as_str() {
                            "SAMEPERIODLASTYEAR" => TimeFn::SamePeriodLastYear,
                            "PREVIOUSMONTH" => TimeFn::PreviousMonth,
                            _ => TimeFn::YearToDate,
                        })]
                    }
                    "DATESINPERIOD" => {
                        self.arity(m, name, args, 4, 4, at)?;
                        self.date_column(m, self.arg(m, name, args, 0, at)?)?;
                        match self.arg(m, name, args, 1, at)? {
                            Expr::Call { name: l, args: largs, at: lat } if l == "LASTDATE" => self.date_column(m, self.arg(m, l, largs, 0, *lat)?)?,
                            other => return Err(self.err(m, other.at(), "DATESINPERIOD: only LASTDATE(dates) is supported as the start date")),
                        }
                        let count = match self.arg(m, name, args, 2, at)? {
                            Expr::Unary { op: UnaryOp::Neg, expr, .. } => match **expr {
                                Expr::Number(n) if n.fract() == 0.0 && n >= 1.0 => n as u32,
                                _ => 0,
                            },
                            _ => 0,
                        };
                        if count == 0 {
                            return Err(self.err(m, at, "DATESINPERIOD: the number of intervals must be a negative whole number (a period ending on the last date)"));
                        }
                        let unit = match Self::keyword(args.get(3)).as_deref() {
                            Some("DAY") => PeriodUnit::Day,
                            Some("MONTH") => PeriodUnit::Month,
                            Some("QUARTER") => PeriodUnit::Quarter,
                            Some("YEAR") => PeriodUnit::Year,
                            _ => return Err(self.err(m, at, "DATESINPERIOD: the interval must be DAY, MONTH, QUARTER or YEAR")),
                        };
                        vec![Mod::Time(TimeFn::PeriodEndingLast { count, unit })]
                    }
                    "LASTNONBLANK" => {
                        self.arity(m, name, args, 2, 2, at)?;
                        self.date_column(m, self.arg(m, name, args, 0, at)?)?;
                        vec![Mod::LastNonBlank]
                    }
                    other => return Err(self.err(m, at, format!("{other} cannot be a CALCULATE filter here"))),
                })
            }
            Expr::Binary { op: BinaryOp::Compare(op), left, right, at } => {
                let (table, column, ty) = self.column(m, left)?;
                let value = match &**right {
                    Expr::Number(n) => Literal::Number(format_number(*n)),
                    Expr::Unary { op: UnaryOp::Neg, expr, .. } if matches!(**expr, Expr::Number(_)) => {
                        let Expr::Number(n) = **expr else { unreachable!() };
                        Literal::Number(format_number(-n))
                    }
                    Expr::Text(s) => Literal::Text(s.clone()),
                    other => return Err(self.err(m, other.at(), "a CALCULATE filter compares a column with a literal")),
                };
                if matches!(value, Literal::Text(_)) == is_numeric(&ty) {
                    return Err(self.err(m, *at, format!("`{}[{column}]` is {ty}; the literal is of another type", self.model.tables[table].name)));
                }
                Ok(vec![Mod::Filter { table, column, op: *op, value }])
            }
            other => Err(self.err(m, other.at(), "unsupported CALCULATE filter: expected ALL/ALLSELECTED/REMOVEFILTERS, a time function or `Table[Column] = value`")),
        }
    }
}

pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") }
}

/// Every measure bound, or the first error.
pub fn bind_measures(model: &Model) -> Result<HashMap<String, Node>> {
    let mut out = HashMap::new();
    for m in &model.measures {
        let node = Binder::new(model).measure(m)?;
        out.insert(m.name.clone(), node);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dax::ir::Literal;
    use crate::model::test_model::{bound, model_with};

    fn leaf(table: TableId, agg: Agg, column: Option<&str>, mods: Vec<Mod>) -> Node {
        Node::Leaf(Leaf { table, agg, column: column.map(String::from), mods })
    }

    const VENTES: TableId = 0;
    const PRODUIT: TableId = 2;

    #[test]
    fn measure_references_are_inlined() {
        let bm = bound();
        let ca = leaf(VENTES, Agg::Sum, Some("Montant"), vec![]);
        let n = leaf(VENTES, Agg::CountRows, None, vec![]);
        assert_eq!(bm.measures["CA"], ca);
        assert_eq!(bm.measures["Panier"], Node::Divide(Box::new(ca), Box::new(n), Some(Box::new(Node::Number("0".into())))));
    }

    #[test]
    fn calculate_puts_its_context_changes_on_the_leaves() {
        let bm = bound();
        assert_eq!(bm.measures["CA_LY"], leaf(VENTES, Agg::Sum, Some("Montant"), vec![Mod::Time(TimeFn::SamePeriodLastYear)]));
        let jouets = Mod::Filter { table: PRODUIT, column: "Categorie".into(), op: CmpOp::Eq, value: Literal::Text("Jouets".into()) };
        assert_eq!(bm.measures["CA_Jouets"], leaf(VENTES, Agg::Sum, Some("Montant"), vec![jouets]));
        let all = Mod::RemoveFilters { table: PRODUIT, column: None };
        let part = |outer: Vec<Mod>| {
            let mut inner = outer.clone();
            inner.push(all.clone());
            Node::Divide(Box::new(leaf(VENTES, Agg::Sum, Some("Montant"), outer)), Box::new(leaf(VENTES, Agg::Sum, Some("Montant"), inner)), None)
        };
        assert_eq!(bm.measures["Part"], part(vec![]));
        // An outer CALCULATE's change comes first: the inner one applies inside it.
        assert_eq!(bm.measures["Part_LY"], part(vec![Mod::Time(TimeFn::SamePeriodLastYear)]));
    }

    fn bind_error(dax: &str) -> String {
        let model = model_with(&format!("  - {{ name: Bad, folder: X, dax: \"{dax}\" }}\n")).expect("loads");
        match bind_measures(&model) {
            Ok(_) => panic!("`{dax}` should not bind"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn binding_errors_name_the_problem() {
        assert!(bind_error("SUM(Fait_Ventes[Libelle])").contains("Libelle"), "{}", bind_error("SUM(Fait_Ventes[Libelle])"));
        assert!(bind_error("SUM(Fait_Ventes[Montnt])").contains("did you mean `Montant`"), "{}", bind_error("SUM(Fait_Ventes[Montnt])"));
        assert!(bind_error("[Pannier] * 2").contains("did you mean `Panier`"), "{}", bind_error("[Pannier] * 2"));
        assert!(bind_error("CALCULATE([CA], Dim_Produit[Categorie] = 3)").contains("Categorie"));
        assert!(bind_error("[Bad] + 1").contains("cycle"), "{}", bind_error("[Bad] + 1"));
    }
}
