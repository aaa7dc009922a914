//! The planner: a [`SemanticQuery`] and the bound measures become one SQL statement (CTEs) that DataFusion runs.
//!
//! How DAX's filter context maps to SQL:
//! - A *grid* is a set of rows, one per combination of group-by values (the candidate rows of a table visual);
//!   a measure is evaluated on a grid into a CTE with one value per row.
//! - Each aggregation (leaf) is a GROUP BY over its fact table joined up its active relationships (many-to-one
//!   joins only, so no fan-out), grouped by the grid's keys that reach the fact and filtered by the filters
//!   that reach it; keys and filters that do not reach it are ignored, so its value repeats across them. The
//!   result is LEFT JOINed to the grid rows on those keys, NULL-safe: a missing group is BLANK.
//! - CALCULATE's context changes are applied to the grid's context before a leaf is planned: ALL drops keys
//!   and filters, ALLSELECTED drops keys only, a boolean filter replaces the column's filters, and time
//!   intelligence moves the date keys and filters into a *date map* (grid's date keys → the dates the
//!   context selects), transformed step by step (shift a year, previous month, year-to-date, period ending).
//! - Iterators (RANKX, TOPN, SUMX(FILTER)) evaluate their inner expression on a child grid that adds the
//!   iterated column as a key, then aggregate back onto the parent grid.
//!
//! Leaves with the same joins, filters and keys share one CTE, so a fact is scanned once per context.

use std::collections::HashMap;
use std::fmt::Write;

use datafusion::arrow::datatypes::DataType;

use super::{Predicate, SemanticQuery};
use crate::dax::ir::{Agg, Arith, CmpOp, IterKind, Iteration, Leaf, Literal, Mod, Node, PeriodUnit, SetKind, TimeFn, Type};
use crate::model::bind::{BoundModel, quote, source_sql};
use crate::model::{Grain, TableId};
use crate::suggest::hint as did_you_mean;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

type Result<T> = std::result::Result<T, PlanError>;

#[derive(Debug, Clone, PartialEq)]
enum FilterKind {
    /// A predicate of the query, over attribute names.
    Query(Predicate),
    /// A CALCULATE filter `column op literal`.
    Calc { column: String, op: CmpOp, value: Literal },
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    table: TableId,
    /// The table's columns the filter reads.
    columns: Vec<String>,
    kind: FilterKind,
}

#[derive(Debug, Clone, PartialEq)]
struct Key {
    name: String,
    table: TableId,
    column: String,
}

#[derive(Debug, Clone, Default)]
struct TimeCtx {
    keys: Vec<Key>,
    filters: Vec<Filter>,
    fns: Vec<TimeFn>,
}

#[derive(Debug, Clone, Default)]
struct Ctx {
    keys: Vec<Key>,
    filters: Vec<Filter>,
    time: Option<TimeCtx>,
    last_nonblank: bool,
}

#[derive(Debug, Clone)]
struct Grid {
    /// The columns of the grid's rows.
    keys: Vec<String>,
    /// The CTE holding the rows.
    rows: String,
    ctx: Ctx,
    parent: Option<usize>,
}

/// What a leaf reads: FROM/WHERE/GROUP BY, shared by the leaves with the same context.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Skeleton {
    from: String,
    wheres: Vec<String>,
    /// (expression, output name)
    group: Vec<(String, String)>,
    /// The date column for LASTNONBLANK, when set.
    last_date: Option<String>,
}

/// Where an evaluated item's value is: a CTE column joined on some of the grid's keys.
#[derive(Debug, Clone)]
enum Slot {
    Value { cte: String, column: String, keys: Vec<String> },
    Blank,
}

pub struct Planner<'a> {
    bm: &'a BoundModel,
    ctes: Vec<(String, String)>,
    grids: Vec<Grid>,
    root_filters: Vec<Filter>,
    counter: usize,
}

fn nullsafe(left: &str, right: &str, keys: &[String]) -> String {
    if keys.is_empty() {
        return "TRUE".into();
    }
    keys.iter().map(|k| format!("({left}.{q} IS NOT DISTINCT FROM {right}.{q})", q = quote(k))).collect::<Vec<_>>().join(" AND ")
}

fn alias(t: TableId) -> String {
    format!("t{t}")
}

fn literal_sql(v: &Literal) -> String {
    match v {
        Literal::Number(n) => n.clone(),
        Literal::Text(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

/// The exact type floating-point amounts are summed in (see `agg_sql`).
const EXACT: &str = "DECIMAL(38, 10)";

/// Compiles a semantic query to SQL.
pub fn compile(bm: &BoundModel, q: &SemanticQuery) -> Result<String> {
    Planner { bm, ctes: Vec::new(), grids: Vec::new(), root_filters: Vec::new(), counter: 0 }.query(q)
}

impl<'a> Planner<'a> {
    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    fn cte(&mut self, prefix: &str, sql: String) -> String {
        // The same aggregation asked twice (a measure used in two places) is one CTE.
        if let Some((name, _)) = self.ctes.iter().find(|(_, body)| *body == sql) {
            return name.clone();
        }
        let name = self.fresh(prefix);
        self.ctes.push((name.clone(), sql));
        name
    }

    fn model(&self) -> &'a crate::model::Model {
        &self.bm.model
    }

    fn attribute(&self, name: &str) -> Result<&'a crate::model::Attribute> {
        let model = self.model();
        model.attribute(name).ok_or_else(|| {
            let hint = did_you_mean(name, model.attributes.iter().map(|a| a.name.as_str()).chain(model.measures.iter().map(|m| m.name.as_str())));
            let what = if model.measure(name).is_some() { format!("`{name}` is a measure; use MEASURE({name})") } else { format!("unknown attribute `{name}`{hint}") };
            PlanError(what)
        })
    }

    fn query(mut self, q: &SemanticQuery) -> Result<String> {
        let model = self.model();
        // Filters: each conjunct must read one table.
        let mut conjuncts = Vec::new();
        for p in q.filters.iter().cloned() {
            p.conjuncts(&mut conjuncts);
        }
        for p in conjuncts {
            let mut attrs = Vec::new();
            p.attributes(&mut attrs);
            let mut table: Option<TableId> = None;
            let mut columns = Vec::new();
            for a in &attrs {
                let attr = self.attribute(a)?;
                if let Some(t) = table
                    && t != attr.table
                {
                    return Err(PlanError(format!(
                        "a filter combines attributes of `{}` and `{}` with OR/NOT; a filter context holds one table per condition (split it with AND)",
                        model.tables[t].name.as_str(), model.tables[attr.table].name.as_str()
                    )));
                }
                table = Some(attr.table);
                columns.push(attr.column.clone());
            }
            if let Some(table) = table {
                self.root_filters.push(Filter { table, columns, kind: FilterKind::Query(p) });
            }
        }
        // Group-by keys, grouped per table for the candidate rows.
        let mut keys = Vec::new();
        for g in &q.group_by {
            let attr = self.attribute(g)?;
            if keys.iter().any(|k: &Key| k.name == *g) {
                continue;
            }
            keys.push(Key { name: g.clone(), table: attr.table, column: attr.column.clone() });
        }
        let mut measures = Vec::new();
        for (m, out) in &q.measures {
            let node = self.bm.measures.get(m).ok_or_else(|| {
                let hint = did_you_mean(m, model.measures.iter().map(|x| x.name.as_str()));
                if model.attribute(m).is_some() {
                    PlanError(format!("`{m}` is an attribute, not a measure; group by it instead"))
                } else {
                    PlanError(format!("unknown measure `{m}`{hint}"))
                }
            })?;
            if keys.iter().any(|k| k.name == *out) {
                return Err(PlanError(format!("the output name `{out}` is also a group-by attribute; give the measure another alias")));
            }
            measures.push((node.clone(), out.clone()));
        }
        let rows = self.root_rows(&keys)?;
        let key_names: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
        let root = Grid {
            keys: key_names.clone(),
            rows,
            ctx: Ctx { keys, filters: self.root_filters.clone(), time: None, last_nonblank: false },
            parent: None,
        };
        self.grids.push(root);
        let nodes: Vec<Node> = measures.iter().map(|(n, _)| n.clone()).collect();
        let result = self.eval_grid(0, &nodes)?;

        let mut sql = String::from("WITH ");
        for (i, (name, body)) in self.ctes.iter().enumerate() {
            if i > 0 {
                sql.push_str(",\n");
            }
            let _ = write!(sql, "{name} AS (\n  {}\n)", body.replace('\n', "\n  "));
        }
        let mut select: Vec<String> = key_names.iter().map(|k| format!("r.{}", quote(k))).collect();
        for (i, (_, out)) in measures.iter().enumerate() {
            select.push(format!("r.\"v{i}\" AS {}", quote(out)));
        }
        if select.is_empty() {
            select.push("r.*".into());
        }
        let _ = write!(sql, "\nSELECT {} FROM {result} r", select.join(", "));
        if !measures.is_empty() {
            let all_blank = (0..measures.len()).map(|i| format!("r.\"v{i}\" IS NULL")).collect::<Vec<_>>().join(" AND ");
            let _ = write!(sql, "\nWHERE NOT ({all_blank})");
        }
        if !key_names.is_empty() {
            let order = key_names.iter().map(|k| format!("r.{} ASC NULLS LAST", quote(k))).collect::<Vec<_>>().join(", ");
            let _ = write!(sql, "\nORDER BY {order}");
        }
        Ok(sql)
    }

    fn filter_sql(&self, f: &Filter, table_alias: &str) -> String {
        let model = self.model();
        match &f.kind {
            FilterKind::Query(p) => p.sql(&|attr| {
                let column = model.attribute(attr).map(|a| a.column.as_str()).unwrap_or(attr);
                format!("{table_alias}.{}", quote(column))
            }),
            FilterKind::Calc { column, op, value } => format!("{table_alias}.{} {} {}", quote(column), op.sql(), literal_sql(value)),
        }
    }

    /// The candidate rows: per table, the combinations of its group-by columns that exist (with the query's
    /// filters on that table, and the BLANK member where the table has one), crossed between tables.
    fn root_rows(&mut self, keys: &[Key]) -> Result<String> {
        let model = self.model();
        if keys.is_empty() {
            return Ok(self.cte("g", "SELECT 1 AS \"__all\"".into()));
        }
        let mut tables: Vec<TableId> = Vec::new();
        for k in keys {
            if !tables.contains(&k.table) {
                tables.push(k.table);
            }
        }
        let mut blocks = Vec::new();
        for t in tables {
            let table = &model.tables[t];
            let cols: Vec<Key> = keys.iter().filter(|k| k.table == t).cloned().collect();
            // The table's values under the query's filters, including filters on the tables that filter it
            // (a region filter limits the cities), as VALUES() would see them.
            let ctx = Ctx { keys: cols.clone(), filters: self.root_filters.clone(), time: None, last_nonblank: false };
            let sk = self.skeleton(t, &ctx)?.ok_or_else(|| PlanError(format!("`{}` cannot be grouped by here", table.name)))?;
            let select = sk.group.iter().map(|(e, n)| format!("{e} AS {}", quote(n))).collect::<Vec<_>>().join(", ");
            let mut block = format!("SELECT DISTINCT {select} FROM {}", sk.from);
            if !sk.wheres.is_empty() {
                let _ = write!(block, " WHERE {}", sk.wheres.join(" AND "));
            }
            if table.has_blank_row && sk.wheres.is_empty() {
                let nulls = cols
                    .iter()
                    .map(|k| {
                        let ty = table.column_type(&k.column).map(sql_type).unwrap_or("VARCHAR");
                        format!("CAST(NULL AS {ty}) AS {}", quote(&k.name))
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                block = format!("{block} UNION SELECT {nulls}");
            }
            blocks.push(block);
        }
        let sql = if blocks.len() == 1 {
            blocks.remove(0)
        } else {
            let names: Vec<String> = keys.iter().map(|k| quote(&k.name)).collect();
            let from = blocks.iter().enumerate().map(|(i, b)| format!("({b}) b{i}")).collect::<Vec<_>>().join(" CROSS JOIN ");
            format!("SELECT {} FROM {from}", names.join(", "))
        };
        Ok(self.cte("g", sql))
    }

    /// Tables whose filters ALL(table) removes: the table and the tables that filter it (its expanded table).
    fn expanded(&self, table: TableId) -> Vec<TableId> {
        let up = &self.bm.upstream[table];
        (0..self.model().tables.len()).filter(|t| up.reaches(*t)).collect()
    }

    fn apply(&self, base: &Ctx, mods: &[Mod]) -> Ctx {
        let date = self.model().date_table;
        let mut ctx = base.clone();
        let on = |t: TableId, c: &Option<String>, kt: TableId, kc: &str, exp: &[TableId]| match c {
            None => exp.contains(&kt),
            Some(c) => kt == t && kc == c,
        };
        for m in mods {
            match m {
                Mod::RemoveFilters { table, column } => {
                    let exp = if column.is_none() { self.expanded(*table) } else { vec![*table] };
                    ctx.keys.retain(|k| !on(*table, column, k.table, &k.column, &exp));
                    ctx.filters.retain(|f| !f.columns.iter().any(|c| on(*table, column, f.table, c, &exp)));
                    if let Some(time) = ctx.time.as_mut() {
                        time.keys.retain(|k| !on(*table, column, k.table, &k.column, &exp));
                        time.filters.retain(|f| !f.columns.iter().any(|c| on(*table, column, f.table, c, &exp)));
                    }
                }
                Mod::AllSelected { table, column } => {
                    let exp = if column.is_none() { self.expanded(*table) } else { vec![*table] };
                    ctx.keys.retain(|k| !on(*table, column, k.table, &k.column, &exp));
                    if let Some(time) = ctx.time.as_mut() {
                        time.keys.retain(|k| !on(*table, column, k.table, &k.column, &exp));
                    }
                }
                Mod::Filter { table, column, op, value } => {
                    ctx.keys.retain(|k| !(k.table == *table && k.column == *column));
                    ctx.filters.retain(|f| !(f.table == *table && f.columns.contains(column)));
                    let filter = Filter {
                        table: *table,
                        columns: vec![column.clone()],
                        kind: FilterKind::Calc { column: column.clone(), op: *op, value: value.clone() },
                    };
                    match ctx.time.as_mut() {
                        Some(time) if *table == date => time.filters.push(filter),
                        _ => ctx.filters.push(filter),
                    }
                }
                Mod::Time(f) => match ctx.time.as_mut() {
                    Some(time) => time.fns.push(*f),
                    None => {
                        let (dk, rest): (Vec<Key>, Vec<Key>) = ctx.keys.drain(..).partition(|k| k.table == date);
                        ctx.keys = rest;
                        let (df, rest): (Vec<Filter>, Vec<Filter>) = ctx.filters.drain(..).partition(|f| f.table == date);
                        ctx.filters = rest;
                        ctx.time = Some(TimeCtx { keys: dk, filters: df, fns: vec![*f] });
                    }
                },
                Mod::LastNonBlank => ctx.last_nonblank = true,
            }
        }
        ctx
    }

    /// The date map: for each combination of the context's date keys, the dates its (transformed) context selects.
    fn date_map(&mut self, time: &TimeCtx) -> String {
        let model = self.model();
        let date = &model.tables[model.date_table];
        let dsrc = source_sql(&date.source);
        let dcol = quote(&model.date_column);
        let names: Vec<String> = time.keys.iter().map(|k| quote(&k.name)).collect();
        let mut select: Vec<String> = time.keys.iter().map(|k| format!("d.{} AS {}", quote(&k.column), quote(&k.name))).collect();
        select.push(format!("d.{dcol} AS \"__d\""));
        let mut sql = format!("SELECT DISTINCT {} FROM {dsrc} d", select.join(", "));
        let wheres: Vec<String> = time.filters.iter().map(|f| self.filter_sql(f, "d")).collect();
        if !wheres.is_empty() {
            let _ = write!(sql, " WHERE {}", wheres.join(" AND "));
        }
        let mut map = self.cte("dm", sql);
        let keys_m: Vec<String> = names.iter().map(|n| format!("m.{n}")).collect();
        let keys_a: Vec<String> = names.iter().map(|n| format!("a.{n}")).collect();
        let group = if names.is_empty() { String::new() } else { format!(" GROUP BY {}", names.join(", ")) };
        let with_keys = |v: &[String], extra: &str| {
            let mut all = v.to_vec();
            all.push(extra.to_string());
            all.join(", ")
        };
        for f in &time.fns {
            let sql = match f {
                TimeFn::SamePeriodLastYear => format!(
                    "SELECT DISTINCT {} FROM {map} m JOIN {dsrc} d ON d.{dcol} = CAST(m.\"__d\" - INTERVAL '1' YEAR AS DATE)",
                    with_keys(&keys_m, &format!("d.{dcol} AS \"__d\""))
                ),
                TimeFn::PreviousMonth => format!(
                    "SELECT {} FROM (SELECT {} FROM {map}{group}) a JOIN {dsrc} d ON d.{dcol} >= CAST(date_trunc('month', a.\"__x\") AS DATE) - INTERVAL '1' MONTH AND d.{dcol} < CAST(date_trunc('month', a.\"__x\") AS DATE)",
                    with_keys(&keys_a, &format!("d.{dcol} AS \"__d\"")),
                    with_keys(&names, "MIN(\"__d\") AS \"__x\"")
                ),
                TimeFn::YearToDate => format!(
                    "SELECT {} FROM (SELECT {} FROM {map}{group}) a JOIN {dsrc} d ON d.{dcol} >= CAST(date_trunc('year', a.\"__x\") AS DATE) AND d.{dcol} <= a.\"__x\"",
                    with_keys(&keys_a, &format!("d.{dcol} AS \"__d\"")),
                    with_keys(&names, "MAX(\"__d\") AS \"__x\"")
                ),
                TimeFn::PeriodEndingLast { count, unit } => {
                    let start = match unit {
                        PeriodUnit::Day => format!("a.\"__x\" - INTERVAL '{}' DAY", count - 1),
                        _ => {
                            let months = count * if *unit == PeriodUnit::Month { 1 } else if *unit == PeriodUnit::Quarter { 3 } else { 12 };
                            // A month end shifts to a month end, so a period ending on the last day of a month is
                            // whole calendar months.
                            format!(
                                "CASE WHEN a.\"__x\" = CAST(date_trunc('month', a.\"__x\") AS DATE) + INTERVAL '1' MONTH - INTERVAL '1' DAY \
                                 THEN CAST(date_trunc('month', a.\"__x\") AS DATE) - INTERVAL '{}' MONTH \
                                 ELSE CAST(a.\"__x\" - INTERVAL '{months}' MONTH AS DATE) + INTERVAL '1' DAY END",
                                months - 1
                            )
                        }
                    };
                    format!(
                        "SELECT {} FROM (SELECT {} FROM {map}{group}) a JOIN {dsrc} d ON d.{dcol} >= {start} AND d.{dcol} <= a.\"__x\"",
                        with_keys(&keys_a, &format!("d.{dcol} AS \"__d\"")),
                        with_keys(&names, "MAX(\"__d\") AS \"__x\"")
                    )
                }
            };
            map = self.cte("dm", sql);
        }
        map
    }

    /// FROM/WHERE/GROUP BY of an aggregation over `fact` in context `ctx`; `None` when the value is BLANK
    /// (grouped finer than the fact's grain).
    fn skeleton(&mut self, fact: TableId, ctx: &Ctx) -> Result<Option<Skeleton>> {
        let model = self.model();
        let date = model.date_table;
        let up = self.bm.upstream[fact].clone();
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
            && t.keys.iter().any(|k| rel.finer_attributes.contains(&k.name) || model.attribute_of(date, &k.column).is_some_and(|a| rel.finer_attributes.contains(&a.name)))
        {
            return Ok(None);
        }
        // Joins up the relationships, shortest path per table.
        let mut needed: Vec<TableId> = keys.iter().map(|k| k.table).chain(filters.iter().map(|f| f.table)).collect();
        if (time.is_some() && month.is_none()) || ctx.last_nonblank {
            if !up.reaches(date) {
                return Err(PlanError(format!("`{}` is not related to the date table", model.tables[fact].name)));
            }
            needed.push(date);
        }
        let mut from = format!("{} {}", source_sql(&model.tables[fact].source), alias(fact));
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
        let mut group: Vec<(String, String)> = keys.iter().map(|k| (format!("{}.{}", alias(k.table), quote(&k.column)), k.name.clone())).collect();
        if let Some(t) = &time {
            let map = self.date_map(t);
            let map_keys: Vec<(String, String)> = t.keys.iter().map(|k| (format!("mm.{}", quote(&k.name)), k.name.clone())).collect();
            match &month {
                Some(rel) => {
                    let dsrc = source_sql(&model.tables[date].source);
                    let cols = rel.one_columns.iter().enumerate().map(|(i, c)| format!("dd.{} AS \"__k{i}\"", quote(c))).collect::<Vec<_>>();
                    let mut sel: Vec<String> = t.keys.iter().map(|k| format!("m.{}", quote(&k.name))).collect();
                    sel.extend(cols);
                    let on = rel.many_columns.iter().enumerate().map(|(i, c)| format!("{}.{} = mm.\"__k{i}\"", alias(fact), quote(c))).collect::<Vec<_>>().join(" AND ");
                    let _ = write!(
                        from,
                        " JOIN (SELECT DISTINCT {} FROM {map} m JOIN {dsrc} dd ON dd.{} = m.\"__d\") mm ON {on}",
                        sel.join(", "),
                        quote(&model.date_column)
                    );
                }
                None => {
                    let _ = write!(from, " JOIN {map} mm ON {}.{} = mm.\"__d\"", alias(date), quote(&model.date_column));
                }
            }
            group.extend(map_keys);
        }
        let wheres = filters.iter().map(|f| self.filter_sql(f, &alias(f.table))).collect();
        let last_date = ctx.last_nonblank.then(|| format!("{}.{}", alias(date), quote(&model.date_column)));
        Ok(Some(Skeleton { from, wheres, group, last_date }))
    }

    fn agg_sql(&self, leaf: &Leaf) -> String {
        let col = leaf.column.as_ref().map(|c| format!("{}.{}", alias(leaf.table), quote(c))).unwrap_or_default();
        let floating = leaf
            .column
            .as_ref()
            .and_then(|c| self.model().tables[leaf.table].column_type(c))
            .is_some_and(|t| matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64));
        match leaf.agg {
            // Floating-point addition depends on the order, and a parallel aggregation's order changes from run
            // to run: the same total would differ in its last digits (65117653.049999855, then ...05000042).
            // Summed as exact decimals (10 places, far below a cent) the total is the same every run and
            // exact to the cent; it goes back to DOUBLE so the measure's type does not change.
            Agg::Sum if floating => format!("CAST(SUM(CAST({col} AS {EXACT})) AS DOUBLE)"),
            Agg::Sum => format!("SUM({col})"),
            Agg::Average if floating => format!("CAST(SUM(CAST({col} AS {EXACT})) AS DOUBLE) / NULLIF(COUNT({col}), 0)"),
            Agg::Average => format!("AVG(CAST({col} AS DOUBLE))"),
            Agg::Min => format!("MIN({col})"),
            Agg::Max => format!("MAX({col})"),
            // DAX counts over no rows are BLANK, not 0.
            Agg::Count => format!("NULLIF(COUNT({col}), 0)"),
            Agg::CountRows => "NULLIF(COUNT(*), 0)".into(),
            Agg::DistinctCount => format!("NULLIF(COUNT(DISTINCT {col}), 0)"),
        }
    }

    fn skeleton_select(sk: &Skeleton, aggs: &[String]) -> String {
        let mut select: Vec<String> = sk.group.iter().map(|(e, n)| format!("{e} AS {}", quote(n))).collect();
        let mut group: Vec<String> = sk.group.iter().map(|(e, _)| e.clone()).collect();
        if let Some(d) = &sk.last_date {
            select.push(format!("{d} AS \"__d\""));
            group.push(d.clone());
        }
        for (i, a) in aggs.iter().enumerate() {
            select.push(format!("{a} AS \"a{i}\""));
        }
        let mut sql = format!("SELECT {} FROM {}", select.join(", "), sk.from);
        if !sk.wheres.is_empty() {
            let _ = write!(sql, " WHERE {}", sk.wheres.join(" AND "));
        }
        if !group.is_empty() {
            let _ = write!(sql, " GROUP BY {}", group.join(", "));
        }
        sql
    }

    /// Evaluates `nodes` on grid `g`: a CTE with the grid's keys and one column `v<i>` per node.
    fn eval_grid(&mut self, g: usize, nodes: &[Node]) -> Result<String> {
        let mut items: Vec<Node> = Vec::new();
        for n in nodes {
            collect_items(n, &mut items);
        }
        let grid = self.grids[g].clone();
        let mut slots: HashMap<Node, Slot> = HashMap::new();
        // Leaves sharing a skeleton share a CTE.
        let mut shared: Vec<(Skeleton, Vec<String>, Vec<Node>)> = Vec::new();
        for item in &items {
            if slots.contains_key(item) {
                continue;
            }
            match item {
                Node::Leaf(leaf) => {
                    let ctx = self.apply(&grid.ctx, &leaf.mods);
                    match self.skeleton(leaf.table, &ctx)? {
                        None => {
                            slots.insert(item.clone(), Slot::Blank);
                        }
                        Some(sk) => {
                            let agg = self.agg_sql(leaf);
                            match shared.iter_mut().find(|(s, _, _)| *s == sk) {
                                Some((_, aggs, leaves)) => {
                                    aggs.push(agg);
                                    leaves.push(item.clone());
                                }
                                None => shared.push((sk, vec![agg], vec![item.clone()])),
                            }
                            // Placeholder, filled below.
                            slots.insert(item.clone(), Slot::Blank);
                        }
                    }
                }
                Node::IntersectCount { table, column, a, b } => {
                    let slot = self.intersect(&grid, *table, column, a, b)?;
                    slots.insert(item.clone(), slot);
                }
                Node::Iterate(it) => {
                    let slot = self.iterate(g, it)?;
                    slots.insert(item.clone(), slot);
                }
                Node::Outer(inner) => {
                    let parent = grid.parent.ok_or_else(|| PlanError("a variable is used outside of its iterator".into()))?;
                    let cte = self.eval_grid(parent, std::slice::from_ref(inner))?;
                    let keys = self.grids[parent].keys.clone();
                    slots.insert(item.clone(), Slot::Value { cte, column: "v0".into(), keys });
                }
                _ => {}
            }
        }
        for (sk, aggs, leaves) in shared {
            let keys: Vec<String> = sk.group.iter().map(|(_, n)| n.clone()).collect();
            let body = Self::skeleton_select(&sk, &aggs);
            let cte = match &sk.last_date {
                None => self.cte("l", body),
                Some(_) => {
                    // LASTNONBLANK: the values at the last date (per group) that has rows.
                    let s = self.cte("s", body);
                    let names: Vec<String> = keys.iter().map(|k| quote(k)).collect();
                    let mut last_sel = names.clone();
                    last_sel.push("MAX(\"__d\") AS \"__d\"".into());
                    let group = if names.is_empty() { String::new() } else { format!(" GROUP BY {}", names.join(", ")) };
                    let l = self.cte("s", format!("SELECT {} FROM {s}{group}", last_sel.join(", ")));
                    let mut sel: Vec<String> = names.iter().map(|n| format!("s.{n}")).collect();
                    sel.extend((0..aggs.len()).map(|i| format!("s.\"a{i}\"")));
                    self.cte(
                        "l",
                        format!("SELECT {} FROM {s} s JOIN {l} x ON {} AND s.\"__d\" = x.\"__d\"", sel.join(", "), nullsafe("s", "x", &keys)),
                    )
                }
            };
            for (i, leaf) in leaves.into_iter().enumerate() {
                slots.insert(leaf, Slot::Value { cte: cte.clone(), column: format!("a{i}"), keys: keys.clone() });
            }
        }
        // One LEFT JOIN per distinct (cte, keys), in the order the items appear, so the same query always
        // compiles to the same SQL text.
        let mut joins: Vec<(String, Vec<String>, String)> = Vec::new();
        let mut refs: HashMap<Node, String> = HashMap::new();
        for node in &items {
            let Some(slot) = slots.get(node) else { continue };
            if refs.contains_key(node) {
                continue;
            }
            match slot {
                Slot::Blank => {
                    refs.insert(node.clone(), "NULL".into());
                }
                Slot::Value { cte, column, keys } => {
                    let a = match joins.iter().find(|(c, k, _)| c == cte && k == keys) {
                        Some((_, _, a)) => a.clone(),
                        None => {
                            let a = format!("j{}", joins.len());
                            joins.push((cte.clone(), keys.clone(), a.clone()));
                            a
                        }
                    };
                    refs.insert(node.clone(), format!("{a}.{}", quote(column)));
                }
            }
        }
        let mut select: Vec<String> = grid.keys.iter().map(|k| format!("p.{}", quote(k))).collect();
        for (i, n) in nodes.iter().enumerate() {
            select.push(format!("{} AS \"v{i}\"", self.render(n, &refs)));
        }
        let mut sql = format!("SELECT {} FROM {} p", select.join(", "), grid.rows);
        for (cte, keys, a) in &joins {
            let _ = write!(sql, " LEFT JOIN {cte} {a} ON {}", nullsafe("p", a, keys));
        }
        Ok(self.cte("e", sql))
    }

    fn intersect(&mut self, grid: &Grid, table: TableId, column: &str, a: &[Mod], b: &[Mod]) -> Result<Slot> {
        let mut sides = Vec::new();
        for mods in [a, b] {
            let ctx = self.apply(&grid.ctx, mods);
            let Some(sk) = self.skeleton(table, &ctx)? else { return Ok(Slot::Blank) };
            let mut select: Vec<String> = sk.group.iter().map(|(e, n)| format!("{e} AS {}", quote(n))).collect();
            select.push(format!("{}.{} AS \"__v\"", alias(table), quote(column)));
            let mut sql = format!("SELECT DISTINCT {} FROM {}", select.join(", "), sk.from);
            if !sk.wheres.is_empty() {
                let _ = write!(sql, " WHERE {}", sk.wheres.join(" AND "));
            }
            let keys: Vec<String> = sk.group.iter().map(|(_, n)| n.clone()).collect();
            sides.push((self.cte("x", sql), keys));
        }
        let (bc, bk) = sides.pop().unwrap_or_default();
        let (ac, mut ak) = sides.pop().unwrap_or_default();
        let mut sorted_b = bk.clone();
        sorted_b.sort();
        ak.sort();
        if ak != sorted_b {
            return Err(PlanError("INTERSECT: the two sides are not grouped alike in this query".into()));
        }
        let names: Vec<String> = bk.iter().map(|k| format!("a.{}", quote(k))).collect();
        let mut sel = names.clone();
        sel.push("COUNT(*) AS \"c\"".into());
        let group = if names.is_empty() { String::new() } else { format!(" GROUP BY {}", names.join(", ")) };
        let cte = self.cte("x", format!("SELECT {} FROM {ac} a JOIN {bc} b ON {} AND a.\"__v\" = b.\"__v\"{group}", sel.join(", "), nullsafe("a", "b", &bk)));
        Ok(Slot::Value { cte, column: "c".into(), keys: bk })
    }

    fn iterate(&mut self, g: usize, it: &Iteration) -> Result<Slot> {
        let model = self.model();
        let grid = self.grids[g].clone();
        let base = self.apply(&grid.ctx, &it.mods);
        let mut ctx = base.clone();
        let same = |t: TableId, c: &str| t == it.table && c == it.column;
        match it.set {
            SetKind::All => {
                ctx.keys.retain(|k| !same(k.table, &k.column));
                ctx.filters.retain(|f| !(f.table == it.table && f.columns.contains(&it.column)));
            }
            SetKind::AllSelected => ctx.keys.retain(|k| !same(k.table, &k.column)),
            SetKind::Values => {}
        }
        let item = self.fresh("__it");
        ctx.keys.push(Key { name: item.clone(), table: it.table, column: it.column.clone() });
        let src = source_sql(&model.tables[it.table].source);
        let col = quote(&it.column);
        let (set_sql, set_keys) = match it.set {
            SetKind::All => (format!("SELECT DISTINCT x.{col} AS {} FROM {src} x", quote(&item)), vec![]),
            SetKind::AllSelected => {
                let wheres: Vec<String> = self.root_filters.iter().filter(|f| f.table == it.table).map(|f| self.filter_sql(f, "x")).collect();
                let w = if wheres.is_empty() { String::new() } else { format!(" WHERE {}", wheres.join(" AND ")) };
                (format!("SELECT DISTINCT x.{col} AS {} FROM {src} x{w}", quote(&item)), vec![])
            }
            SetKind::Values => {
                let keys: Vec<&Key> = base.keys.iter().filter(|k| k.table == it.table).collect();
                let mut sel: Vec<String> = keys.iter().map(|k| format!("x.{} AS {}", quote(&k.column), quote(&k.name))).collect();
                sel.push(format!("x.{col} AS {}", quote(&item)));
                let wheres: Vec<String> = base.filters.iter().filter(|f| f.table == it.table).map(|f| self.filter_sql(f, "x")).collect();
                let w = if wheres.is_empty() { String::new() } else { format!(" WHERE {}", wheres.join(" AND ")) };
                (format!("SELECT DISTINCT {} FROM {src} x{w}", sel.join(", ")), keys.iter().map(|k| k.name.clone()).collect())
            }
        };
        let set = self.cte("set", set_sql);
        let rows_sql = if set_keys.is_empty() {
            format!("SELECT p.*, s.{q} FROM {} p CROSS JOIN {set} s", grid.rows, q = quote(&item))
        } else {
            format!("SELECT p.*, s.{q} FROM {} p JOIN {set} s ON {}", grid.rows, nullsafe("p", "s", &set_keys), q = quote(&item))
        };
        let rows = self.cte("g", rows_sql);
        let mut keys = grid.keys.clone();
        keys.push(item.clone());
        self.grids.push(Grid { keys, rows, ctx, parent: Some(g) });
        let child = self.grids.len() - 1;
        let pk: Vec<String> = grid.keys.iter().map(|k| quote(k)).collect();
        let group = if pk.is_empty() { String::new() } else { format!(" GROUP BY {}", pk.iter().map(|k| format!("c.{k}")).collect::<Vec<_>>().join(", ")) };
        let keys_sel = |prefix: &str| pk.iter().map(|k| format!("{prefix}.{k}")).collect::<Vec<String>>();
        let sql = match &it.kind {
            IterKind::Rank { current, value, descending, dense } => {
                let values = self.eval_grid(child, std::slice::from_ref(value))?;
                let cur = self.eval_grid(g, std::slice::from_ref(current))?;
                let cmp = if *descending { ">" } else { "<" };
                let count = if *dense {
                    format!("COUNT(DISTINCT CASE WHEN COALESCE(v.\"v0\", 0) {cmp} COALESCE(c.\"v0\", 0) THEN COALESCE(v.\"v0\", 0) END)")
                } else {
                    format!("COUNT(CASE WHEN COALESCE(v.\"v0\", 0) {cmp} COALESCE(c.\"v0\", 0) THEN 1 END)")
                };
                let mut sel = keys_sel("c");
                sel.push(format!("1 + {count} AS \"r\""));
                format!("SELECT {} FROM {cur} c LEFT JOIN {values} v ON {}{group}", sel.join(", "), nullsafe("c", "v", &grid.keys))
            }
            IterKind::TopItem { value, descending } => {
                let values = self.eval_grid(child, std::slice::from_ref(value))?;
                let order = if *descending { "DESC" } else { "ASC" };
                let mut sel = keys_sel("c");
                sel.push(format!("first_value(c.{q} ORDER BY COALESCE(c.\"v0\", 0) {order}, c.{q} ASC) AS \"r\"", q = quote(&item)));
                format!("SELECT {} FROM {values} c{group}", sel.join(", "))
            }
            IterKind::SumWhere { condition, value } => {
                let values = self.eval_grid(child, &[(**condition).clone(), (**value).clone()])?;
                let mut sel = keys_sel("c");
                sel.push("SUM(CASE WHEN COALESCE(c.\"v0\", FALSE) THEN c.\"v1\" END) AS \"r\"".into());
                format!("SELECT {} FROM {values} c{group}", sel.join(", "))
            }
            IterKind::CountWhere { condition } => {
                let values = self.eval_grid(child, std::slice::from_ref(condition))?;
                let mut sel = keys_sel("c");
                sel.push("NULLIF(COUNT(CASE WHEN COALESCE(c.\"v0\", FALSE) THEN 1 END), 0) AS \"r\"".into());
                format!("SELECT {} FROM {values} c{group}", sel.join(", "))
            }
        };
        let cte = self.cte("it", sql);
        Ok(Slot::Value { cte, column: "r".into(), keys: grid.keys })
    }

    fn leaf_is_text(&self, l: &Leaf) -> bool {
        matches!(l.agg, Agg::Min | Agg::Max)
            && l.column.as_ref().and_then(|c| self.model().tables[l.table].column_type(c)).is_some_and(|t| !crate::dax::lower::is_numeric(t))
    }

    fn ty(&self, n: &Node) -> Type {
        n.ty(&|l| self.leaf_is_text(l))
    }

    /// A node as a SQL expression over the joined item columns, with DAX's BLANK rules.
    fn render(&self, n: &Node, refs: &HashMap<Node, String>) -> String {
        let r = |x: &Node| self.render(x, refs);
        match n {
            Node::Leaf(_) | Node::IntersectCount { .. } | Node::Iterate(_) | Node::Outer(_) => refs.get(n).cloned().unwrap_or_else(|| "NULL".into()),
            Node::Number(v) => format!("CAST({v} AS DOUBLE)"),
            Node::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Node::Bool(b) => if *b { "TRUE".into() } else { "FALSE".into() },
            Node::Blank => "NULL".into(),
            Node::Neg(a) => format!("(- {})", r(a)),
            Node::Not(a) => format!("(NOT COALESCE({}, FALSE))", r(a)),
            Node::Arith(op, a, b) => {
                let (a, b) = (r(a), r(b));
                match op {
                    // BLANK + x = x, BLANK - BLANK = BLANK.
                    Arith::Add | Arith::Sub => {
                        let sym = if *op == Arith::Add { "+" } else { "-" };
                        format!("(CASE WHEN {a} IS NULL AND {b} IS NULL THEN NULL ELSE COALESCE(CAST({a} AS DOUBLE), 0) {sym} COALESCE(CAST({b} AS DOUBLE), 0) END)")
                    }
                    Arith::Mul => format!("(CAST({a} AS DOUBLE) * CAST({b} AS DOUBLE))"),
                    Arith::Div => format!("(CAST({a} AS DOUBLE) / CAST({b} AS DOUBLE))"),
                }
            }
            Node::Concat(a, b) => format!("(COALESCE(CAST({} AS VARCHAR), '') || COALESCE(CAST({} AS VARCHAR), ''))", r(a), r(b)),
            Node::Compare(op, a, b) => {
                let blank = if self.ty(a) == Type::Text || self.ty(b) == Type::Text { "''" } else { "0" };
                let cast = |x: String| if blank == "0" { format!("CAST({x} AS DOUBLE)") } else { x };
                format!("(COALESCE({}, {blank}) {} COALESCE({}, {blank}))", cast(r(a)), op.sql(), cast(r(b)))
            }
            Node::And(a, b) => format!("(COALESCE({}, FALSE) AND COALESCE({}, FALSE))", r(a), r(b)),
            Node::Or(a, b) => format!("(COALESCE({}, FALSE) OR COALESCE({}, FALSE))", r(a), r(b)),
            Node::Divide(a, b, alt) => {
                let (a, b) = (r(a), r(b));
                let alt = alt.as_ref().map(|x| r(x)).unwrap_or_else(|| "NULL".into());
                format!("(CASE WHEN {b} IS NULL OR {b} = 0 THEN {alt} ELSE CAST({a} AS DOUBLE) / CAST({b} AS DOUBLE) END)")
            }
            Node::If(c, a, b) => format!("(CASE WHEN COALESCE({}, FALSE) THEN {} ELSE {} END)", r(c), r(a), r(b)),
            Node::Case(arms, otherwise) => {
                let mut s = String::from("(CASE");
                for (c, v) in arms {
                    let _ = write!(s, " WHEN COALESCE({}, FALSE) THEN {}", r(c), r(v));
                }
                let _ = write!(s, " ELSE {} END)", r(otherwise));
                s
            }
        }
    }
}

/// The items of an expression that need their own CTE (not looking inside iterators and outer references).
fn collect_items(n: &Node, out: &mut Vec<Node>) {
    match n {
        Node::Leaf(_) | Node::IntersectCount { .. } | Node::Iterate(_) | Node::Outer(_) => {
            if !out.contains(n) {
                out.push(n.clone())
            }
        }
        Node::Number(_) | Node::Text(_) | Node::Bool(_) | Node::Blank => {}
        Node::Neg(a) | Node::Not(a) => collect_items(a, out),
        Node::Arith(_, a, b) | Node::Concat(a, b) | Node::Compare(_, a, b) | Node::And(a, b) | Node::Or(a, b) => {
            collect_items(a, out);
            collect_items(b, out);
        }
        Node::Divide(a, b, c) => {
            collect_items(a, out);
            collect_items(b, out);
            if let Some(c) = c {
                collect_items(c, out);
            }
        }
        Node::If(a, b, c) => {
            collect_items(a, out);
            collect_items(b, out);
            collect_items(c, out);
        }
        Node::Case(arms, e) => {
            for (c, v) in arms {
                collect_items(c, out);
                collect_items(v, out);
            }
            collect_items(e, out);
        }
    }
}

fn sql_type(t: &datafusion::arrow::datatypes::DataType) -> &'static str {
    use datafusion::arrow::datatypes::DataType as D;
    match t {
        D::Int8 | D::Int16 | D::Int32 => "INT",
        D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => "BIGINT",
        D::Float32 | D::Float64 | D::Decimal128(..) => "DOUBLE",
        D::Date32 | D::Date64 => "DATE",
        D::Boolean => "BOOLEAN",
        D::Timestamp(..) => "TIMESTAMP",
        _ => "VARCHAR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_model::bound;
    use crate::query::Value;

    fn query(group_by: &[&str], filters: Vec<Predicate>, measures: &[&str]) -> SemanticQuery {
        SemanticQuery {
            group_by: group_by.iter().map(|g| g.to_string()).collect(),
            filters,
            measures: measures.iter().map(|m| (m.to_string(), m.to_string())).collect(),
        }
    }

    fn scans_of_sales(sql: &str) -> usize {
        sql.matches("\"s\".\"ventes\"").count()
    }

    #[test]
    fn measures_in_one_context_share_one_aggregation() {
        let bm = bound();
        let one = compile(&bm, &query(&["Categorie"], vec![], &["CA"])).expect("compiles");
        let three = compile(&bm, &query(&["Categorie"], vec![], &["CA", "N", "Panier"])).expect("compiles");
        assert_eq!(scans_of_sales(&one), 1, "{one}");
        assert_eq!(scans_of_sales(&three), 1, "CA, N and Panier (CA / N) are one scan: {three}");
        // Another context (last year) is another aggregation.
        let ly = compile(&bm, &query(&["Annee"], vec![], &["CA", "CA_LY"])).expect("compiles");
        assert_eq!(scans_of_sales(&ly), 2, "{ly}");
    }

    #[test]
    fn filters_and_keys_reach_the_sql() {
        let bm = bound();
        let f = Predicate::Compare { attribute: "Annee".into(), op: "=", value: Value::Number("2024".into()) };
        let sql = compile(&bm, &query(&["Categorie"], vec![f], &["CA"])).expect("compiles");
        assert!(sql.contains("\"Annee\" = 2024"), "{sql}");
        assert!(sql.contains("GROUP BY"), "{sql}");
        let p = Predicate::Compare { attribute: "Annee".into(), op: "=", value: Value::Placeholder("$1".into()) };
        let sql = compile(&bm, &query(&[], vec![p], &["CA"])).expect("compiles");
        assert!(sql.contains("\"Annee\" = $1"), "a placeholder stays one: {sql}");
    }

    #[test]
    fn floating_amounts_are_summed_exactly() {
        let bm = bound();
        let sql = compile(&bm, &query(&[], vec![], &["CA", "N"])).expect("compiles");
        assert!(sql.contains("CAST(SUM(CAST(t0.\"Montant\" AS DECIMAL(38, 10))) AS DOUBLE)"), "{sql}");
    }

    #[test]
    fn compiling_is_deterministic() {
        let bm = bound();
        // Four joins onto the grid: their order once came from a HashMap, so the text changed between runs.
        let q = query(&["Annee", "Categorie"], vec![], &["Part", "Part_LY", "Panier"]);
        let first = compile(&bm, &q).expect("compiles");
        for _ in 0..20 {
            assert_eq!(compile(&bm, &q).expect("compiles"), first);
        }
    }

    #[test]
    fn unknown_names_are_errors_with_a_hint() {
        let bm = bound();
        let e = compile(&bm, &query(&["Categori"], vec![], &["CA"])).expect_err("unknown attribute");
        assert!(e.0.contains("did you mean `Categorie`"), "{}", e.0);
        let e = compile(&bm, &query(&["CA"], vec![], &["CA"])).expect_err("a measure as attribute");
        assert!(e.0.contains("is a measure"), "{}", e.0);
    }
}
