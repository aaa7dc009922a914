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
    /// The aggregated table's rows under its alias (`... t0`): the start of `from`, before the joins.
    pub base: String,
    /// The aggregated table's alias and primary key columns.
    pub fact_alias: String,
    pub fact_key: Vec<String>,
    pub from: String,
    pub wheres: Vec<String>,
    /// (expression, output name)
    pub group: Vec<(String, String)>,
    /// The date column for FIRSTNONBLANK/LASTNONBLANK, when set, and whether the last date is wanted.
    pub edge_date: Option<(String, bool)>,
    /// Time intelligence: the date map joined to the rows (kept apart from `from`, so that the rows can be
    /// aggregated to date grain before the join; see `super::skeleton_select`).
    pub map: Option<MapJoin>,
}

/// `JOIN <source> mm ON <fact expr> = mm.<column> AND ...`: the date map (grid keys → dates) an aggregation
/// with time intelligence joins, which repeats each row once per grid row whose dates include it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct MapJoin {
    pub source: String,
    /// (expression over the rows, quoted column of `mm`)
    pub on: Vec<(String, String)>,
}

impl MapJoin {
    /// The join clause over rows whose date expressions are `row_exprs` (one per `on`).
    pub fn clause(&self, row_exprs: &[String]) -> String {
        let on = self.on.iter().zip(row_exprs).map(|((_, m), e)| format!("{e} = mm.{m}")).collect::<Vec<_>>().join(" AND ");
        format!(" JOIN {} mm ON {on}", self.source)
    }
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

    /// The FROM clause, the date map joined.
    pub fn rows_sql(&self) -> String {
        match &self.map {
            None => self.from.clone(),
            Some(m) => {
                let exprs: Vec<String> = m.on.iter().map(|(e, _)| e.clone()).collect();
                format!("{}{}", self.from, m.clause(&exprs))
            }
        }
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
        let base = format!("{} {}", self.table_rows(fact), alias(fact));
        let mut from = base.clone();
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
        let mut sk = Skeleton {
            base,
            fact_alias: alias(fact),
            fact_key: model.tables[fact].primary_key.clone(),
            from,
            wheres: Vec::new(),
            group: Vec::new(),
            edge_date: None,
            map: None,
        };
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
                    let on =
                        rel.many_columns.iter().enumerate().map(|(i, c)| (format!("{}.{}", alias(fact), quote(c)), format!("\"__k{i}\""))).collect();
                    let source =
                        format!("(SELECT DISTINCT {} FROM {map} m JOIN {dsrc} dd ON dd.{} = m.\"__d\")", sel.join(", "), quote(&model.date_column));
                    sk.map = Some(MapJoin { source, on });
                }
                None => {
                    let on = vec![(format!("{}.{}", alias(date), quote(&model.date_column)), "\"__d\"".to_string())];
                    sk.map = Some(MapJoin { source: map, on });
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

    /// The aggregate expression of a leaf over its skeleton's rows (those meeting `filter`, when given).
    pub(super) fn agg_sql(&self, leaf: &Leaf, filter: Option<&str>) -> Result<String> {
        let (v, exact, order) = self.leaf_parts(leaf)?;
        Ok(aggregate_sql(&leaf.agg, &v, exact, order.as_deref(), filter))
    }

    /// The leaf's aggregation in two phases (see [`two_phase`]), when it decomposes.
    pub(super) fn agg_two_phase(&self, leaf: &Leaf, filter: Option<&str>) -> Result<Option<TwoPhase>> {
        let (v, exact, _) = self.leaf_parts(leaf)?;
        Ok(two_phase(&leaf.agg, &v, exact, filter))
    }

    /// A leaf's value over the rows, whether it is summed exactly, and CONCATENATEX's order.
    fn leaf_parts(&self, leaf: &Leaf) -> Result<(String, bool, Option<String>)> {
        let value = match &leaf.value {
            Some(v) => Some(self.render_row(v, &|n| match n {
                Node::Column { table, column } => Some(format!("{}.{}", alias(*table), quote(column))),
                _ => None,
            })?),
            None => None,
        };
        let v = value.unwrap_or_default();
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
        Ok((v, floating, order))
    }
}

/// An aggregation of the values `v` with DAX's BLANK rules, for a leaf's rows and an iteration's items alike.
/// `exact` sums as decimals (floating-point amounts); `order` is CONCATENATEX's `expression ASC|DESC`;
/// `filter` restricts every aggregate call to the rows that meet it (several filtered aggregations share one
/// scan, see `super::merge_filtered`). Over no rows (or no rows meeting the filter) the result is BLANK.
pub(super) fn aggregate_sql(agg: &Agg, v: &str, exact: bool, order: Option<&str>, filter: Option<&str>) -> String {
    let call = |f: String| match filter {
        Some(c) => format!("{f} FILTER (WHERE {c})"),
        None => f,
    };
    match agg {
        // Floating-point addition depends on the order, and a parallel aggregation's order changes from run
        // to run: the same total would differ in its last digits (65117653.049999855, then ...05000042).
        // Summed as exact decimals (10 places, far below a cent) the total is the same every run and
        // exact to the cent; it goes back to the nearest DOUBLE (not Arrow's cast, which rounds twice) so the
        // measure's type does not change.
        Agg::Sum if exact => format!("decimal_to_double({})", call(format!("SUM(CAST({v} AS {EXACT}))"))),
        Agg::Sum => call(format!("SUM({v})")),
        Agg::Average if exact => {
            format!("decimal_to_double({}) / NULLIF({}, 0)", call(format!("SUM(CAST({v} AS {EXACT}))")), call(format!("COUNT({v})")))
        }
        Agg::Average => call(format!("AVG(CAST({v} AS DOUBLE))")),
        Agg::Min => call(format!("MIN({v})")),
        Agg::Max => call(format!("MAX({v})")),
        // DAX counts over no rows are BLANK, not 0.
        Agg::Count => format!("NULLIF({}, 0)", call(format!("COUNT({v})"))),
        // BLANK over no rows, 0 when rows have no blank.
        Agg::CountBlank => {
            let all = call("COUNT(*)".into());
            format!("(CASE WHEN {all} = 0 THEN NULL ELSE {all} - {} END)", call(format!("COUNT({v})")))
        }
        Agg::CountRows => format!("NULLIF({}, 0)", call("COUNT(*)".into())),
        Agg::DistinctCount => format!(
            "NULLIF({} + CASE WHEN {} < {} THEN 1 ELSE 0 END, 0)",
            call(format!("COUNT(DISTINCT {v})")),
            call(format!("COUNT({v})")),
            call("COUNT(*)".into())
        ),
        Agg::DistinctCountNoBlank => format!("NULLIF({}, 0)", call(format!("COUNT(DISTINCT {v})"))),
        Agg::Product => product_sql(v, &call),
        Agg::Concat { delimiter, .. } => {
            let order = order.map(|o| format!(" ORDER BY {o}")).unwrap_or_default();
            call(format!("string_agg(CAST({v} AS VARCHAR), '{}'{order})", delimiter.replace('\'', "''")))
        }
    }
}

/// The partial aggregates, and the final one over their columns.
pub(super) type TwoPhase = (Vec<String>, Box<dyn Fn(&[String]) -> String>);

/// An aggregation in two phases, for rows that are first aggregated to a finer grain (date grain, before the
/// date map multiplies them): the partial aggregates over the rows, and the final one over the partials
/// (named `p0`, `p1`, ... in `partial_names`). `None` when the aggregation does not decompose (distinct
/// counts, products, concatenations): it then runs over the rows in one phase.
pub(super) fn two_phase(agg: &Agg, v: &str, exact: bool, filter: Option<&str>) -> Option<TwoPhase> {
    let call = |f: String| match filter {
        Some(c) => format!("{f} FILTER (WHERE {c})"),
        None => f,
    };
    let exact_sum = call(format!("SUM(CAST({v} AS {EXACT}))"));
    Some(match agg {
        Agg::Sum if exact => (vec![exact_sum], Box::new(|p: &[String]| format!("decimal_to_double(SUM({}))", p[0]))),
        Agg::Sum => (vec![call(format!("SUM({v})"))], Box::new(|p: &[String]| format!("SUM({})", p[0]))),
        Agg::Average if exact => (
            vec![exact_sum, call(format!("COUNT({v})"))],
            Box::new(|p: &[String]| format!("decimal_to_double(SUM({})) / NULLIF(SUM({}), 0)", p[0], p[1])),
        ),
        Agg::Average => (
            vec![call(format!("SUM(CAST({v} AS DOUBLE))")), call(format!("COUNT({v})"))],
            Box::new(|p: &[String]| format!("SUM({}) / NULLIF(SUM({}), 0)", p[0], p[1])),
        ),
        Agg::Min => (vec![call(format!("MIN({v})"))], Box::new(|p: &[String]| format!("MIN({})", p[0]))),
        Agg::Max => (vec![call(format!("MAX({v})"))], Box::new(|p: &[String]| format!("MAX({})", p[0]))),
        Agg::Count => (vec![call(format!("COUNT({v})"))], Box::new(|p: &[String]| format!("NULLIF(SUM({}), 0)", p[0]))),
        Agg::CountRows => (vec![call("COUNT(*)".into())], Box::new(|p: &[String]| format!("NULLIF(SUM({}), 0)", p[0]))),
        Agg::CountBlank => (
            vec![call("COUNT(*)".into()), call(format!("COUNT({v})"))],
            Box::new(|p: &[String]| format!("(CASE WHEN COALESCE(SUM({a}), 0) = 0 THEN NULL ELSE SUM({a}) - SUM({b}) END)", a = p[0], b = p[1])),
        ),
        Agg::DistinctCount | Agg::DistinctCountNoBlank | Agg::Product | Agg::Concat { .. } => return None,
    })
}

/// PRODUCT of the non-blank values: 0 when one is 0, else the sign from the count of negatives and the
/// magnitude through logarithms; BLANK when there are none.
pub(super) fn product_sql(v: &str, call: &dyn Fn(String) -> String) -> String {
    format!(
        "(CASE WHEN {} = 0 THEN NULL WHEN {} > 0 THEN CAST(0 AS DOUBLE) \
         ELSE (CASE WHEN {} % 2 = 1 THEN -1.0 ELSE 1.0 END) * exp({}) END)",
        call(format!("COUNT({v})")),
        call(format!("SUM(CASE WHEN {v} = 0 THEN 1 ELSE 0 END)")),
        call(format!("SUM(CASE WHEN {v} < 0 THEN 1 ELSE 0 END)")),
        call(format!("SUM(ln(abs(CAST({v} AS DOUBLE))))"))
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
