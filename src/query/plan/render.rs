//! Scalar nodes as SQL expressions, with DAX's BLANK rules.
//!
//! The compiled SQL must grow linearly with the measure: a node that appears in several places (a measure
//! used twice, DIVIDE's denominator) or whose text is long is computed once as a column of a layer (a CTE over
//! the previous one) and referenced by name, so neither sharing nor nesting multiplies the text. Row-level
//! expressions (inside an aggregation) cannot be layered; their text is bounded instead.

use std::collections::HashMap;

use super::{PlanError, Planner, Result};
use crate::lowering::functions::template;
use crate::lowering::ir::{Arith, Node, Type};
use crate::lowering::types::type_of;
use crate::model::bind::quote;

/// Longer rendered expressions become a layer column.
const HOIST_AT: usize = 200;
/// The most SQL text one row-level expression may render to.
const MAX_ROW_SQL: usize = 1 << 20;

/// Layers of hoisted columns: `layers[i]` is computed over layer `i - 1` (layer 0 over the base).
#[derive(Default)]
pub(super) struct Layers {
    pub layers: Vec<Vec<(String, String)>>,
    memo: HashMap<Node, (String, usize)>,
    counter: usize,
}

impl<'a> Planner<'a> {
    fn ty(&self, n: &Node) -> Type {
        type_of(self.model(), n)
    }

    /// A row-level node as SQL; `resolve` gives the SQL of columns (and of anything else not scalar).
    pub(super) fn render_row(&self, n: &Node, resolve: &dyn Fn(&Node) -> Option<String>) -> Result<String> {
        let mut out = |x: &Node| self.render_row(x, resolve);
        let s = self.render_node(n, resolve, &mut out)?;
        if s.len() > MAX_ROW_SQL {
            return Err(PlanError(format!("the expression's SQL would exceed {} MiB; simplify the measure", MAX_ROW_SQL >> 20)));
        }
        Ok(s)
    }

    /// A scalar node evaluated on a grid as SQL over the layers: shared or long parts hoisted into `layers`.
    /// Returns the SQL and the layer it can be computed in (0: over the base).
    pub(super) fn render_layered(&self, n: &Node, resolve: &dyn Fn(&Node) -> Option<String>, layers: &mut Layers) -> Result<(String, usize)> {
        if let Some(hit) = layers.memo.get(n) {
            return Ok(hit.clone());
        }
        let mut level = 0;
        let text = {
            let mut child = |x: &Node| -> Result<String> {
                let (s, l) = self.render_layered(x, resolve, layers)?;
                level = level.max(l);
                Ok(s)
            };
            self.render_node(n, resolve, &mut child)?
        };
        let out = if text.len() > HOIST_AT && !n.children().is_empty() {
            layers.counter += 1;
            let name = format!("__x{}", layers.counter);
            while layers.layers.len() <= level {
                layers.layers.push(Vec::new());
            }
            layers.layers[level].push((name.clone(), text));
            (quote(&name), level + 1)
        } else {
            (text, level)
        };
        layers.memo.insert(n.clone(), out.clone());
        Ok(out)
    }

    /// One node, its children rendered by `child`.
    fn render_node(&self, n: &Node, resolve: &dyn Fn(&Node) -> Option<String>, child: &mut dyn FnMut(&Node) -> Result<String>) -> Result<String> {
        let double = |s: String| format!("CAST({s} AS DOUBLE)");
        Ok(match n {
            Node::Leaf(_) | Node::IntersectCount { .. } | Node::Iterate(_) | Node::Outer(_) | Node::Info(_) | Node::Column { .. } => {
                resolve(n).ok_or_else(|| PlanError(format!("internal: nothing evaluates {n:?} here")))?
            }
            Node::Number(v) => format!("CAST({v} AS DOUBLE)"),
            Node::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Node::Date(d) => format!("DATE '{d}'"),
            Node::Bool(b) => {
                if *b {
                    "TRUE".into()
                } else {
                    "FALSE".into()
                }
            }
            Node::Blank => "NULL".into(),
            Node::External { sql, .. } => sql.clone(),
            Node::Neg(a) => format!("(- {})", double(child(a)?)),
            Node::Not(a) => format!("(NOT COALESCE({}, FALSE))", child(a)?),
            Node::Arith(op, a, b) => {
                let (ta, tb) = (self.ty(a), self.ty(b));
                let (sa, sb) = (child(a)?, child(b)?);
                let days = |s: &str, t: Type| if t == Type::Date { format!("CAST(CAST({s} AS DATE) AS INT)") } else { format!("CAST({s} AS INT)") };
                match op {
                    // Date arithmetic counts days: a date minus a date is a number, a date plus a number a date.
                    Arith::Sub if ta == Type::Date && tb == Type::Date => format!("CAST({} - {} AS DOUBLE)", days(&sa, ta), days(&sb, tb)),
                    Arith::Add | Arith::Sub if ta == Type::Date || tb == Type::Date => {
                        let sym = if *op == Arith::Add { "+" } else { "-" };
                        format!("CAST({} {sym} {} AS DATE)", days(&sa, ta), days(&sb, tb))
                    }
                    // BLANK + x = x, BLANK - BLANK = BLANK: a function, so each operand appears once.
                    Arith::Add => format!("dax_add({}, {})", double(sa), double(sb)),
                    Arith::Sub => format!("dax_sub({}, {})", double(sa), double(sb)),
                    Arith::Mul => format!("({} * {})", double(sa), double(sb)),
                    Arith::Div => format!("({} / {})", double(sa), double(sb)),
                    Arith::Pow => format!("power({}, {})", double(sa), double(sb)),
                }
            }
            Node::Concat(a, b) => format!("(COALESCE(CAST({} AS VARCHAR), '') || COALESCE(CAST({} AS VARCHAR), ''))", child(a)?, child(b)?),
            Node::Compare(crate::dax::ast::CmpOp::StrictEq, a, b) => {
                let cast = |n: &Node, s: String| if self.ty(n) == Type::Number { double(s) } else { s };
                let (sa, sb) = (child(a)?, child(b)?);
                format!("({} IS NOT DISTINCT FROM {})", cast(a, sa), cast(b, sb))
            }
            // A column equal to a literal that is not 0 or "": BLANK cannot match it, so the plain comparison is
            // the same and lets DataFusion prune and push the predicate down.
            Node::Compare(crate::dax::ast::CmpOp::Eq, a, b) if plain_equality(a, b).is_some_and(|(c, l)| self.ty(c) == self.ty(l)) => {
                let (col, lit) = plain_equality(a, b).unwrap_or((a, b));
                let lit = match lit {
                    Node::Number(n) => n.clone(),
                    Node::Text(t) => format!("'{}'", t.replace('\'', "''")),
                    _ => child(lit)?,
                };
                format!("({} = {lit})", child(col)?)
            }
            Node::Compare(op, a, b) => {
                let (l, r) = self.comparable(a, b, child)?;
                format!("({l} {} {r})", op.sql())
            }
            Node::In(v, list) => {
                let mut items = Vec::new();
                let mut left = String::new();
                for (i, x) in list.iter().enumerate() {
                    let (l, r) = self.comparable(v, x, child)?;
                    if i == 0 {
                        left = l;
                    }
                    items.push(r);
                }
                if items.is_empty() { "FALSE".into() } else { format!("({left} IN ({}))", items.join(", ")) }
            }
            Node::And(a, b) => format!("(COALESCE({}, FALSE) AND COALESCE({}, FALSE))", child(a)?, child(b)?),
            Node::Or(a, b) => format!("(COALESCE({}, FALSE) OR COALESCE({}, FALSE))", child(a)?, child(b)?),
            Node::Divide(a, b, alt) => {
                let (a, b) = (child(a)?, child(b)?);
                let alt = match alt {
                    Some(x) => child(x)?,
                    None => "NULL".into(),
                };
                format!("(CASE WHEN {b} IS NULL OR {b} = 0 THEN {alt} ELSE CAST({a} AS DOUBLE) / CAST({b} AS DOUBLE) END)")
            }
            Node::If(c, a, b) => format!("(CASE WHEN COALESCE({}, FALSE) THEN {} ELSE {} END)", child(c)?, child(a)?, child(b)?),
            Node::Case(arms, otherwise) => {
                let mut s = String::from("(CASE");
                for (c, v) in arms {
                    s.push_str(&format!(" WHEN COALESCE({}, FALSE) THEN {}", child(c)?, child(v)?));
                }
                s.push_str(&format!(" ELSE {} END)", child(otherwise)?));
                s
            }
            Node::Func(name, args) => {
                let t = template(name, args.len()).ok_or_else(|| PlanError(format!("internal: no SQL for {name}")))?;
                let rendered = args.iter().map(child).collect::<Result<Vec<String>>>()?;
                let mut s = t.replace("{*}", &rendered.join(", "));
                for (i, r) in rendered.iter().enumerate().rev() {
                    s = s.replace(&format!("{{{i}}}"), r);
                }
                s
            }
        })
    }
}

/// (column, literal) when one side of `=` is a row's column and the other a literal BLANK cannot equal.
fn plain_equality<'n>(a: &'n Node, b: &'n Node) -> Option<(&'n Node, &'n Node)> {
    let literal = |n: &Node| match n {
        Node::Number(v) => v.parse::<f64>().is_ok_and(|x| x != 0.0 && x.is_finite()),
        Node::Text(t) => !t.is_empty(),
        _ => false,
    };
    match (a, b) {
        (Node::Column { .. }, l) if literal(l) => Some((a, b)),
        (l, Node::Column { .. }) if literal(l) => Some((b, a)),
        _ => None,
    }
}

impl<'a> Planner<'a> {
    /// Both sides of a comparison, BLANK read as the other side's zero value (0, "", FALSE), as DAX does.
    fn comparable(&self, a: &Node, b: &Node, child: &mut dyn FnMut(&Node) -> Result<String>) -> Result<(String, String)> {
        let (ta, tb) = (self.ty(a), self.ty(b));
        let (sa, sb) = (child(a)?, child(b)?);
        let blank = |t: Type| match t {
            Type::Text => Some("''"),
            Type::Bool => Some("FALSE"),
            Type::Number => Some("0"),
            Type::Date => None,
        };
        let side = |s: String, own: Type, other: Type| {
            let t = if matches!(*a, Node::Blank) || matches!(*b, Node::Blank) { if own == Type::Number { other } else { own } } else { own };
            match (t, blank(t)) {
                (Type::Number, Some(z)) => format!("COALESCE(CAST({s} AS DOUBLE), {z})"),
                (_, Some(z)) => format!("COALESCE({s}, {z})"),
                (_, None) => s,
            }
        };
        // Numbers and text do not compare in SQL; DAX compares them as text.
        if (ta == Type::Text) != (tb == Type::Text) && !matches!(a, Node::Blank) && !matches!(b, Node::Blank) {
            return Ok((format!("COALESCE(CAST({sa} AS VARCHAR), '')"), format!("COALESCE(CAST({sb} AS VARCHAR), '')")));
        }
        Ok((side(sa, ta, tb), side(sb, tb, ta)))
    }
}
