//! What one aggregation reads: its table joined up the relationships to the tables its keys and filters are
//! on (many-to-one joins only, so no fan-out), filtered, grouped by the grid keys that reach it, and joined to
//! the date map and computed filters. Also the aggregate expressions themselves.

use std::fmt::Write;

use datafusion::arrow::datatypes::DataType;

use super::context::{Ctx, FilterKind, TimeCtx};
use super::{Planner, Result, alias};
use crate::lowering::ir::{Agg, Leaf, Node};
use crate::model::bind::{quote, source_sql};
use crate::model::graph::upstream_with;
use crate::model::{Grain, TableId};

/// The exact type floating-point amounts are summed in (see `agg_sql`).
const EXACT: &str = "DECIMAL(38, 10)";

/// FROM/WHERE/GROUP BY of an aggregation, shared by the leaves with the same context.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Skeleton {
    pub from: String,
    pub wheres: Vec<String>,
    /// (expression, output name)
    pub group: Vec<(String, String)>,
    /// The date column for FIRSTNONBLANK/LASTNONBLANK, when set, and whether the last date is wanted.
    pub edge_date: Option<(String, bool)>,
}

impl Skeleton {
    /// Adds a group-by column; a name already grouped by is instead required equal (a key that both the
    /// table and a computed filter carry).
    fn group_by(&mut self, expr: String, name: String) {
        match self.group.iter().find(|(_, n)| *n == name) {
            Some((e, _)) => self.wheres.push(format!("({e} IS NOT DISTINCT FROM {expr})")),
            None => self.group.push((expr, name)),
        }
    }

    pub fn keys(&self) -> Vec<String> {
        self.group.iter().map(|(_, n)| n.clone()).collect()
    }
}

impl<'a> Planner<'a> {
    /// FROM/WHERE/GROUP BY of an aggregation over `fact` in context `ctx`, also joining the tables in `reads`
    /// (RELATED columns of a row-level value); `None` when the value is BLANK (grouped finer than the fact's
    /// grain).
    pub(super) fn skeleton(&mut self, fact: TableId, ctx: &Ctx, reads: &[TableId]) -> Result<Option<Skeleton>> {
        let model = self.model();
        let date = model.date_table;
        let up = if ctx.use_rel.is_empty() && ctx.off_rel.is_empty() {
            self.bm.upstream[fact].clone()
        } else {
            upstream_with(model, fact, &ctx.use_rel, &ctx.off_rel)
        };
        let month = model.relationships.iter().find(|r| r.many == fact && r.active && r.grain == Grain::Month && r.one == date).cloned();
        let mut time = match &ctx.time {
            Some(t) if up.reaches(date) || month.is_some() => Some(t.clone()),
            _ => None,
        };
        let mut keys = Vec::new();
        let mut filters = Vec::new();
        for k in &ctx.keys {
            if month.is_some() && k.table == date {
                time.get_or_insert_with(TimeCtx::default).keys.push(k.clone());
            } else if up.reaches(k.table) {
                keys.push(k.clone());
            }
        }
        for f in &ctx.filters {
            if month.is_some() && f.table == date {
                time.get_or_insert_with(TimeCtx::default).filters.push(f.clone());
            } else if up.reaches(f.table) {
                filters.push(f.clone());
            }
        }
        if let (Some(rel), Some(t)) = (&month, &time)
            && t.keys.iter().any(|k| {
                rel.finer_attributes.contains(&k.name) || model.attribute_of(date, &k.column).is_some_and(|a| rel.finer_attributes.contains(&a.name))
            })
        {
            return Ok(None);
        }
        // Joins up the relationships, shortest path per table.
        let mut needed: Vec<TableId> = keys.iter().map(|k| k.table).chain(filters.iter().map(|f| f.table)).collect();
        for f in &filters {
            if let FilterKind::Pred(p) = &f.kind {
                needed.extend(self::reads(p, f.table).into_iter().filter(|t| up.reaches(*t)));
            }
        }
        for &t in reads {
            if !up.reaches(t) {
                return Err(super::PlanError(format!("`{}` is not on the one side of `{}`", model.tables[t].name, model.tables[fact].name)));
            }
            needed.push(t);
        }
        if (time.is_some() && month.is_none()) || ctx.nonblank.is_some() {
            if !up.reaches(date) {
                return Err(super::PlanError(format!("`{}` is not related to the date table", model.tables[fact].name)));
            }
            needed.push(date);
        }
        let mut from = format!("{} {}", self.table_rows(fact), alias(fact));
        let mut joined: Vec<usize> = Vec::new();
        for t in needed {
            for &r in up.paths[t].as_deref().unwrap_or(&[]) {
                if joined.contains(&r) {
                    continue;
                }
                joined.push(r);
                let rel = &model.relationships[r];
                let on = rel
                    .one_columns
                    .iter()
                    .zip(&rel.many_columns)
                    .map(|(o, m)| format!("{}.{} = {}.{}", alias(rel.one), quote(o), alias(rel.many), quote(m)))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let _ = write!(from, " LEFT JOIN {} {} ON {on}", source_sql(&model.tables[rel.one].source), alias(rel.one));
            }
        }
        let mut sk = Skeleton { from, wheres: Vec::new(), group: Vec::new(), edge_date: None };
        for k in &keys {
            sk.group_by(format!("{}.{}", alias(k.table), quote(&k.column)), k.name.clone());
        }
        if let Some(t) = &time {
            let map = self.date_map(t)?;
            match &month {
                Some(rel) => {
                    let dsrc = source_sql(&model.tables[date].source);
                    let cols = rel.one_columns.iter().enumerate().map(|(i, c)| format!("dd.{} AS \"__k{i}\"", quote(c))).collect::<Vec<_>>();
                    let mut sel: Vec<String> = t.keys.iter().map(|k| format!("m.{}", quote(&k.name))).collect();
                    sel.extend(cols);
                    let on = rel
                        .many_columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| format!("{}.{} = mm.\"__k{i}\"", alias(fact), quote(c)))
                        .collect::<Vec<_>>()
                        .join(" AND ");
                    let _ = write!(
                        sk.from,
                        " JOIN (SELECT DISTINCT {} FROM {map} m JOIN {dsrc} dd ON dd.{} = m.\"__d\") mm ON {on}",
                        sel.join(", "),
                        quote(&model.date_column)
                    );
                }
                None => {
                    let _ = write!(sk.from, " JOIN {map} mm ON {}.{} = mm.\"__d\"", alias(date), quote(&model.date_column));
                }
            }
            for k in &t.keys {
                sk.group_by(format!("mm.{}", quote(&k.name)), k.name.clone());
            }
        }
        let mut maps = 0;
        for f in &filters {
            match &f.kind {
                FilterKind::Map { cte, keys } => {
                    maps += 1;
                    let a = format!("mf{maps}");
                    let column = f.columns.first().cloned().unwrap_or_default();
                    let _ = write!(sk.from, " JOIN {cte} {a} ON {}.{} IS NOT DISTINCT FROM {a}.\"__v\"", alias(f.table), quote(&column));
                    for k in keys {
                        sk.group_by(format!("{a}.{}", quote(k)), k.clone());
                    }
                }
                _ => {
                    let w = self.filter_sql(f, &alias(f.table))?;
                    sk.wheres.push(w);
                }
            }
        }
        sk.edge_date = ctx.nonblank.map(|last| (format!("{}.{}", alias(date), quote(&model.date_column)), last));
        Ok(Some(sk))
    }

    /// The rows of a table as an aggregation reads them: its source, plus the BLANK member (every column
    /// BLANK) when some many-side key has no row in it, as the table DAX sees has one.
    fn table_rows(&self, table: TableId) -> String {
        let t = &self.model().tables[table];
        if !t.has_blank_row {
            return source_sql(&t.source);
        }
        let nulls = t.columns.iter().map(|(c, ty)| format!("CAST(NULL AS {}) AS {}", super::sql_type(ty), quote(c))).collect::<Vec<_>>().join(", ");
        let cols = t.columns.iter().map(|(c, _)| quote(c)).collect::<Vec<_>>().join(", ");
        format!("(SELECT {cols} FROM {} UNION ALL SELECT {nulls})", source_sql(&t.source))
    }

    /// The aggregate expression of a leaf over its skeleton's rows.
    pub(super) fn agg_sql(&self, leaf: &Leaf) -> Result<String> {
        let value = match &leaf.value {
            Some(v) => Some(self.render_row(v, &|n| match n {
                Node::Column { table, column } => Some(format!("{}.{}", alias(*table), quote(column))),
                _ => None,
            })?),
            None => None,
        };
        let v = value.clone().unwrap_or_default();
        let column_type = match leaf.value.as_deref() {
            Some(Node::Column { table, column }) => self.model().tables[*table].column_type(column).cloned(),
            _ => None,
        };
        let integer = column_type.as_ref().is_some_and(|t| t.is_integer());
        let floating = !integer && !matches!(column_type, Some(DataType::Decimal128(..)));
        let order = match &leaf.agg {
            Agg::Concat { order: Some(o), descending, .. } => {
                let o = self.render_row(o, &|n| match n {
                    Node::Column { table, column } => Some(format!("{}.{}", alias(*table), quote(column))),
                    _ => None,
                })?;
                Some(format!("{o} {}", if *descending { "DESC" } else { "ASC" }))
            }
            _ => None,
        };
        Ok(aggregate_sql(&leaf.agg, &v, floating, order.as_deref()))
    }
}

/// An aggregation of the values `v` with DAX's BLANK rules, for a leaf's rows and an iteration's items alike.
/// `exact` sums as decimals (floating-point amounts); `order` is CONCATENATEX's `expression ASC|DESC`.
pub(super) fn aggregate_sql(agg: &Agg, v: &str, exact: bool, order: Option<&str>) -> String {
    match agg {
        // Floating-point addition depends on the order, and a parallel aggregation's order changes from run
        // to run: the same total would differ in its last digits (65117653.049999855, then ...05000042).
        // Summed as exact decimals (10 places, far below a cent) the total is the same every run and
        // exact to the cent; it goes back to the nearest DOUBLE (not Arrow's cast, which rounds twice) so the
        // measure's type does not change.
        Agg::Sum if exact => format!("decimal_to_double(SUM(CAST({v} AS {EXACT})))"),
        Agg::Sum => format!("SUM({v})"),
        Agg::Average if exact => format!("decimal_to_double(SUM(CAST({v} AS {EXACT}))) / NULLIF(COUNT({v}), 0)"),
        Agg::Average => format!("AVG(CAST({v} AS DOUBLE))"),
        Agg::Min => format!("MIN({v})"),
        Agg::Max => format!("MAX({v})"),
        // DAX counts over no rows are BLANK, not 0.
        Agg::Count => format!("NULLIF(COUNT({v}), 0)"),
        // BLANK over no rows, 0 when rows have no blank.
        Agg::CountBlank => format!("(CASE WHEN COUNT(*) = 0 THEN NULL ELSE COUNT(*) - COUNT({v}) END)"),
        Agg::CountRows => "NULLIF(COUNT(*), 0)".into(),
        Agg::DistinctCount => format!("NULLIF(COUNT(DISTINCT {v}) + CASE WHEN COUNT({v}) < COUNT(*) THEN 1 ELSE 0 END, 0)"),
        Agg::DistinctCountNoBlank => format!("NULLIF(COUNT(DISTINCT {v}), 0)"),
        Agg::Product => product_sql(v),
        Agg::Concat { delimiter, .. } => {
            let order = order.map(|o| format!(" ORDER BY {o}")).unwrap_or_default();
            format!("string_agg(CAST({v} AS VARCHAR), '{}'{order})", delimiter.replace('\'', "''"))
        }
    }
}

/// PRODUCT of the non-blank values: 0 when one is 0, else the sign from the count of negatives and the
/// magnitude through logarithms; BLANK when there are none.
pub(super) fn product_sql(v: &str) -> String {
    format!(
        "(CASE WHEN COUNT({v}) = 0 THEN NULL WHEN SUM(CASE WHEN {v} = 0 THEN 1 ELSE 0 END) > 0 THEN CAST(0 AS DOUBLE) \
         ELSE (CASE WHEN SUM(CASE WHEN {v} < 0 THEN 1 ELSE 0 END) % 2 = 1 THEN -1.0 ELSE 1.0 END) * exp(SUM(ln(abs(CAST({v} AS DOUBLE))))) END)"
    )
}

/// The tables a row-level node reads (besides `table` itself).
pub(super) fn reads(n: &Node, table: TableId) -> Vec<TableId> {
    let mut cols = Vec::new();
    n.row_columns(&mut cols);
    let mut out: Vec<TableId> = Vec::new();
    for (t, _) in cols {
        if t != table && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}
