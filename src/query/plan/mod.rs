//! The planner: a [`SemanticQuery`] and the bound measures become one SQL statement (CTEs) that DataFusion runs.
//!
//! How DAX's filter context maps to SQL:
//! - A *grid* is a set of rows, one per combination of group-by values (the candidate rows of a table visual);
//!   a measure is evaluated on a grid into a CTE with one value per row.
//! - Each aggregation (leaf) is a GROUP BY over its table joined up its active relationships (many-to-one
//!   joins only, so no fan-out), grouped by the grid's keys that reach it and filtered by the filters that reach
//!   it; keys and filters that do not reach it are ignored, so its value repeats across them. The result is
//!   LEFT JOINed to the grid rows on those keys, NULL-safe: a missing group is BLANK ([`joins`]).
//! - CALCULATE's context changes are applied to the grid's context before a leaf is planned ([`context`]): ALL
//!   drops keys and filters, ALLSELECTED drops keys only, a filter replaces the column's filters (KEEPFILTERS
//!   intersects), time intelligence moves the date keys and filters into a *date map* (grid's date keys → the
//!   dates the context selects) transformed step by step ([`time`]), and a filter that depends on the context
//!   (a measure inside FILTER, TOPN) becomes a value set per grid row.
//! - Iterators evaluate their inner expression on a child grid that adds the iterated columns as keys, then
//!   aggregate back onto the parent grid ([`iterate`]).
//! - Scalar expressions render to SQL with DAX's BLANK rules, shared and long parts computed once ([`render`]).
//!
//! Leaves with the same joins, filters and keys share one CTE, so a table is scanned once per context.

mod context;
mod iterate;
mod joins;
mod render;
pub mod tables;
mod time;

use std::collections::HashMap;
use std::fmt::Write;

use context::{Ctx, Filter, FilterKind, Key};
use joins::Skeleton;
use render::Layers;

use super::SemanticQuery;
use crate::lowering::BoundModel;
use crate::lowering::ir::Node;
use crate::model::TableId;
use crate::model::bind::quote;
use crate::suggest::hint as did_you_mean;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

type Result<T> = std::result::Result<T, PlanError>;

#[derive(Debug, Clone)]
struct Grid {
    /// The columns of the grid's rows.
    keys: Vec<String>,
    /// The CTE holding the rows.
    rows: String,
    ctx: Ctx,
    parent: Option<usize>,
    /// The row context: (table, column) of each iterated item, and its column in the rows.
    row_columns: Vec<(TableId, String, String)>,
}

/// Where an evaluated item's value is: a CTE column joined on some of the grid's keys, or a constant.
#[derive(Debug, Clone)]
enum Slot {
    Value { cte: String, column: String, keys: Vec<String> },
    Const(String),
    Blank,
}

pub struct Planner<'a> {
    bm: &'a BoundModel,
    ctes: Vec<(String, String)>,
    grids: Vec<Grid>,
    root_filters: Vec<Filter>,
    counter: usize,
    /// Prepended to CTE names, so that several compilations can share one WITH (DAX queries).
    prefix: String,
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

/// Compiles a semantic query to SQL.
pub fn compile(bm: &BoundModel, q: &SemanticQuery) -> Result<String> {
    Planner { bm, ctes: Vec::new(), grids: Vec::new(), root_filters: Vec::new(), counter: 0, prefix: String::new() }.query(q)
}

impl<'a> Planner<'a> {
    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{}{prefix}{}", self.prefix, self.counter)
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

    pub(super) fn model(&self) -> &'a crate::model::Model {
        &self.bm.model
    }

    fn attribute(&self, name: &str) -> Result<&'a crate::model::Attribute> {
        let model = self.model();
        model.attribute(name).ok_or_else(|| {
            let hint = did_you_mean(name, model.attributes.iter().map(|a| a.name.as_str()).chain(model.measures.iter().map(|m| m.name.as_str())));
            let what = if model.measure(name).is_some() {
                format!("`{name}` is a measure; use MEASURE({name})")
            } else {
                format!("unknown attribute `{name}`{hint}")
            };
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
                        model.tables[t].name.as_str(),
                        model.tables[attr.table].name.as_str()
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
            keys.push(Key { name: g.clone(), table: attr.table, column: attr.column.clone(), level: 0 });
        }
        let mut measures = Vec::new();
        for (m, out) in &q.measures {
            if let Some(e) = self.bm.invalid(m) {
                return Err(PlanError(format!("measure `{m}` is invalid: {e}")));
            }
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
        let root = Grid { keys: key_names.clone(), rows, ctx: Ctx::root(keys, self.root_filters.clone()), parent: None, row_columns: Vec::new() };
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

    /// A filter as a WHERE condition over `table_alias` (computed filters are joins instead, see `joins`).
    fn filter_sql(&self, f: &Filter, table_alias: &str) -> Result<String> {
        let model = self.model();
        Ok(match &f.kind {
            FilterKind::Query(p) => p.sql(&|attr| {
                let column = model.attribute(attr).map(|a| a.column.as_str()).unwrap_or(attr);
                format!("{table_alias}.{}", quote(column))
            }),
            FilterKind::Pred(pred) => {
                // FILTER(Fait_Ventes, RELATED(Dim_Canal[...]) ...) reads tables on the one side too: the
                // aggregation joins them (see `joins`) under their usual alias.
                let sql = self.render_row(pred, &|n| match n {
                    Node::Column { table, column } if *table == f.table => Some(format!("{table_alias}.{}", quote(column))),
                    Node::Column { table, column } => Some(format!("{}.{}", alias(*table), quote(column))),
                    _ => None,
                })?;
                format!("COALESCE({sql}, FALSE)")
            }
            FilterKind::Map { .. } => {
                return Err(PlanError("a filter computed from a measure cannot be combined with time intelligence on the same table here".into()));
            }
        })
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
            let ctx = Ctx::root(cols.clone(), self.root_filters.clone());
            let sk = self.skeleton(t, &ctx, &[])?.ok_or_else(|| PlanError(format!("`{}` cannot be grouped by here", table.name)))?;
            let select = sk.group.iter().map(|(e, n)| format!("{e} AS {}", quote(n))).collect::<Vec<_>>().join(", ");
            let mut block = format!("SELECT DISTINCT {select} FROM {}", sk.rows_sql());
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

    /// Evaluates `nodes` on grid `g`: a CTE with the grid's keys and one column `v<i>` per node.
    fn eval_grid(&mut self, g: usize, nodes: &[Node]) -> Result<String> {
        let mut items: Vec<Node> = Vec::new();
        for n in nodes {
            collect_items(n, &mut items);
        }
        let grid = self.grids[g].clone();
        let mut slots: HashMap<Node, Slot> = HashMap::new();
        // Leaves sharing a skeleton share a CTE.
        let mut shared: Vec<Aggregation> = Vec::new();
        for item in &items {
            if slots.contains_key(item) {
                continue;
            }
            let slot = match item {
                Node::Leaf(leaf) => {
                    let ctx = self.apply(g, &grid.ctx, &leaf.mods)?;
                    let mut reads: Vec<TableId> = Vec::new();
                    for n in leaf.value.iter().chain(leaf.filter.iter()) {
                        for t in joins::reads(n, leaf.table) {
                            if !reads.contains(&t) {
                                reads.push(t);
                            }
                        }
                    }
                    match self.skeleton(leaf.table, &ctx, &reads)? {
                        None => Slot::Blank,
                        Some(mut sk) => {
                            if let Some(f) = &leaf.filter {
                                let w = self.render_row(f, &|n| match n {
                                    Node::Column { table, column } => Some(format!("{}.{}", alias(*table), quote(column))),
                                    _ => None,
                                })?;
                                sk.wheres.push(format!("COALESCE({w}, FALSE)"));
                            }
                            match shared.iter_mut().find(|(s, _)| *s == sk) {
                                Some((_, leaves)) => leaves.push(item.clone()),
                                None => shared.push((sk, vec![item.clone()])),
                            }
                            // Placeholder, filled below.
                            Slot::Blank
                        }
                    }
                }
                Node::IntersectCount { table, column, a, b } => self.intersect(g, *table, column, a, b)?,
                Node::Iterate(it) => self.iterate(g, it)?,
                Node::Outer(inner) => {
                    let parent = grid.parent.ok_or_else(|| PlanError("a variable is used outside of its iterator".into()))?;
                    let cte = self.eval_grid(parent, std::slice::from_ref(inner))?;
                    let keys = self.grids[parent].keys.clone();
                    Slot::Value { cte, column: "v0".into(), keys }
                }
                Node::Info(info) => Slot::Const(if self.info(g, info)? { "TRUE".into() } else { "FALSE".into() }),
                Node::Column { table, column } => match grid.row_columns.iter().find(|(t, c, _)| t == table && c == column) {
                    Some((_, _, name)) => Slot::Const(format!("b.{}", quote(name))),
                    None => {
                        return Err(PlanError(format!(
                            "`{}[{column}]` is not in the row context here: iterate its table (SUMX({}, ...)) or aggregate it",
                            self.model().tables[*table].name,
                            self.model().tables[*table].name
                        )));
                    }
                },
                _ => continue,
            };
            slots.insert(item.clone(), slot);
        }
        for (sk, leaves) in merge_filtered(shared) {
            let keys = sk.keys();
            let body = self.skeleton_select(&sk, &leaves)?;
            let leaves: Vec<Node> = leaves.into_iter().map(|(leaf, _)| leaf).collect();
            let cte = match &sk.edge_date {
                None => self.cte("l", body),
                Some((_, last)) => {
                    // FIRSTNONBLANK/LASTNONBLANK: the values at the first/last date (per group) that has rows.
                    let s = self.cte("s", body);
                    let names: Vec<String> = keys.iter().map(|k| quote(k)).collect();
                    let mut edge_sel = names.clone();
                    edge_sel.push(format!("{}(\"__d\") AS \"__d\"", if *last { "MAX" } else { "MIN" }));
                    let group = if names.is_empty() { String::new() } else { format!(" GROUP BY {}", names.join(", ")) };
                    let l = self.cte("s", format!("SELECT {} FROM {s}{group}", edge_sel.join(", ")));
                    let mut sel: Vec<String> = names.iter().map(|n| format!("s.{n}")).collect();
                    sel.extend((0..leaves.len()).map(|i| format!("s.\"a{i}\"")));
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
        // compiles to the same SQL text. The base exposes each value as a column `__r<i>`.
        let mut joins: Vec<(String, Vec<String>, String)> = Vec::new();
        let mut refs: HashMap<Node, String> = HashMap::new();
        let mut base_cols: Vec<String> = Vec::new();
        for node in &items {
            let Some(slot) = slots.get(node) else { continue };
            if refs.contains_key(node) {
                continue;
            }
            match slot {
                Slot::Blank => {
                    refs.insert(node.clone(), "NULL".into());
                }
                Slot::Const(sql) => {
                    refs.insert(node.clone(), sql.clone());
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
                    let name = format!("__r{}", base_cols.len());
                    base_cols.push(format!("{a}.{} AS {}", quote(column), quote(&name)));
                    refs.insert(node.clone(), format!("b.{}", quote(&name)));
                }
            }
        }
        let mut base = format!("SELECT p.*{} FROM {} p", base_cols.iter().map(|c| format!(", {c}")).collect::<String>(), grid.rows);
        for (cte, keys, a) in &joins {
            let _ = write!(base, " LEFT JOIN {cte} {a} ON {}", nullsafe("p", a, keys));
        }
        let resolve = |n: &Node| refs.get(n).cloned();
        let mut layers = Layers::default();
        let mut outputs = Vec::new();
        for n in nodes {
            // A bare BLANK gets a type, so clients see an empty number rather than a column of type Null.
            let out = if *n == Node::Blank { "CAST(NULL AS DOUBLE)".to_string() } else { self.render_layered(n, &resolve, &mut layers)?.0 };
            outputs.push(out);
        }
        if layers.layers.is_empty() {
            // Nothing hoisted (the usual case): one SELECT over the joins, the values read in place.
            let direct: HashMap<String, String> = base_sql_refs(&base_cols);
            let mut select: Vec<String> = grid.keys.iter().map(|k| format!("p.{}", quote(k))).collect();
            for (i, s) in outputs.iter().enumerate() {
                select.push(format!("{} AS \"v{i}\"", inline_refs(s, &direct)));
            }
            let mut sql = format!("SELECT {} FROM {} p", select.join(", "), grid.rows);
            for (cte, keys, a) in &joins {
                let _ = write!(sql, " LEFT JOIN {cte} {a} ON {}", nullsafe("p", a, keys));
            }
            return Ok(self.cte("e", sql));
        }
        let mut layer = self.cte("b", base);
        // Hoisted parts, one CTE per layer, each over the one before; columns are read through the alias `b`.
        for cols in std::mem::take(&mut layers.layers) {
            let sel = cols.iter().map(|(name, sql)| format!(", {sql} AS {}", quote(name))).collect::<String>();
            layer = self.cte("b", format!("SELECT b.*{sel} FROM {layer} b"));
        }
        let mut select: Vec<String> = grid.keys.iter().map(|k| format!("b.{}", quote(k))).collect();
        for (i, s) in outputs.iter().enumerate() {
            // A hoisted column is referenced by its bare quoted name; read it through `b`.
            let s = if s.starts_with('"') { format!("b.{s}") } else { s.clone() };
            select.push(format!("{s} AS \"v{i}\""));
        }
        Ok(self.cte("e", format!("SELECT {} FROM {layer} b", select.join(", "))))
    }
}

/// `b."__r<i>"` → the join column it names (`j0."a1"`), from the base's select list.
fn base_sql_refs(base_cols: &[String]) -> HashMap<String, String> {
    base_cols.iter().filter_map(|c| c.split_once(" AS ").map(|(src, name)| (format!("b.{name}"), src.to_string()))).collect()
}

/// An output rendered over the base, rewritten to read the joins directly: `b."__r<i>"` → its join column,
/// `b."<grid column>"` → `p."<grid column>"`. Names are quoted, so a reference cannot be a prefix of another;
/// text literals (between single quotes, `''` inside) are left as they are.
fn inline_refs(s: &str, direct: &HashMap<String, String>) -> String {
    s.split('\'').enumerate().map(|(i, part)| if i % 2 == 0 { inline_part(part, direct) } else { part.to_string() }).collect::<Vec<_>>().join("'")
}

fn inline_part(s: &str, direct: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("b.\"") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let Some(end) = after.find('"') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let whole = &rest[i..i + 3 + end + 1];
        match direct.get(whole) {
            Some(src) => out.push_str(src),
            None => {
                out.push_str("p.");
                out.push_str(&whole[2..]);
            }
        }
        rest = &rest[i + 3 + end + 1..];
    }
    out.push_str(rest);
    out
}

fn leaf_of(n: &Node) -> Result<&crate::lowering::ir::Leaf> {
    match n {
        Node::Leaf(l) => Ok(l),
        _ => Err(PlanError("internal: an aggregation of a non-leaf".into())),
    }
}

/// The qualified column references `alias."column"` in SQL text, outside its string literals.
fn qualified_refs(sql: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, part) in sql.split('\'').enumerate() {
        if i % 2 == 1 {
            continue;
        }
        let bytes = part.as_bytes();
        let mut at = 0;
        while let Some(pos) = part[at..].find(".\"") {
            let dot = at + pos;
            let mut start = dot;
            while start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                start -= 1;
            }
            // The column, up to its closing quote (a doubled quote is one quote of the name).
            let mut end = dot + 2;
            let mut column = String::new();
            while let Some(q) = part[end..].find('"') {
                column.push_str(&part[end..end + q]);
                end += q + 1;
                if part[end..].starts_with('"') {
                    column.push('"');
                    end += 1;
                } else {
                    break;
                }
            }
            if start < dot {
                out.push((part[start..dot].to_string(), column));
            }
            at = end.min(part.len()).max(dot + 2);
        }
    }
    out
}

/// Leaves aggregated over the rows of one skeleton.
type Aggregation = (Skeleton, Vec<Node>);

/// A leaf and the condition its aggregate is filtered on, if any.
type FilteredLeaf = (Node, Option<String>);

/// Group-by columns of a skeleton: (expression, output name).
type GroupColumns<'s> = Vec<&'s (String, String)>;

/// Aggregations over the same rows that differ only in some conditions of their WHERE become one: the
/// conditions they share stay in the WHERE, the others become each aggregate's `FILTER (WHERE ...)`, so that
/// sessions, sessions with a purchase and sessions with an abandoned cart are counted in one scan. Each leaf
/// comes out with its own filter, if any.
fn merge_filtered(shared: Vec<Aggregation>) -> Vec<(Skeleton, Vec<FilteredLeaf>)> {
    let mut merged: Vec<(Skeleton, Vec<Aggregation>)> = Vec::new();
    for (sk, leaves) in shared {
        let same_rows = |m: &Skeleton| m.from == sk.from && m.group == sk.group && m.map == sk.map && m.edge_date.is_none();
        match merged.iter_mut().find(|(m, _)| sk.edge_date.is_none() && same_rows(m)) {
            Some((common, parts)) => {
                common.wheres.retain(|w| sk.wheres.contains(w));
                parts.push((sk, leaves));
            }
            None => merged.push((sk.clone(), vec![(sk, leaves)])),
        }
    }
    merged
        .into_iter()
        .map(|(common, parts)| {
            let mut leaves = Vec::new();
            for (sk, ls) in parts {
                let own: Vec<&String> = sk.wheres.iter().filter(|w| !common.wheres.contains(w)).collect();
                let filter = if own.is_empty() { None } else { Some(own.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" AND ")) };
                leaves.extend(ls.into_iter().map(|l| (l, filter.clone())));
            }
            (common, leaves)
        })
        .collect()
}

impl<'a> Planner<'a> {
    /// Eager aggregation: the fact's rows grouped first by the few fact columns the rest of the aggregation
    /// reads (the foreign keys of the dimensions it joins, the columns its other conditions read), with the
    /// conditions on the fact alone applied there; the dimensions (and the date map) are then joined to those
    /// partial results, and the partials added up per group. A revenue by product name and category groups the
    /// sales by `ID_Produit` (300 rows) before joining the products, instead of joining 5M sales. `None` when
    /// it does not apply: a value or filter reads another table, an aggregation does not decompose, the rows
    /// would be grouped by the fact's key or by more than two columns (not fewer rows than the fact).
    fn eager_select(&self, sk: &Skeleton, leaves: &[FilteredLeaf]) -> Result<Option<String>> {
        if sk.edge_date.is_some() || (sk.from.len() == sk.base.len() && sk.map.is_none()) {
            return Ok(None);
        }
        let fa = sk.fact_alias.as_str();
        let only_fact = |sql: &str| qualified_refs(sql).iter().all(|(a, _)| a == fa);
        let mut phases = Vec::new();
        for (n, filter) in leaves {
            let Some(p) = self.agg_two_phase(leaf_of(n)?, filter.as_deref())? else { return Ok(None) };
            if !p.0.iter().all(|part| only_fact(part)) {
                return Ok(None);
            }
            phases.push(p);
        }
        let (pushed, kept): (Vec<&String>, Vec<&String>) = sk.wheres.iter().partition(|w| only_fact(w));
        let joins = &sk.from[sk.base.len()..];
        let mut reads: Vec<&str> = vec![joins];
        reads.extend(kept.iter().map(|w| w.as_str()));
        reads.extend(sk.group.iter().map(|(e, _)| e.as_str()));
        if let Some(m) = &sk.map {
            reads.extend(m.on.iter().map(|(e, _)| e.as_str()));
        }
        let mut columns: Vec<String> = Vec::new();
        for text in reads {
            for (a, c) in qualified_refs(text) {
                if a == fa && !columns.contains(&c) {
                    columns.push(c);
                }
            }
        }
        let by_key = !sk.fact_key.is_empty() && sk.fact_key.iter().all(|k| columns.contains(k));
        if by_key || columns.len() > 2 {
            return Ok(None);
        }
        // Phase 1: the fact alone, per combination of the columns read later.
        let mut select: Vec<String> = columns.iter().map(|c| format!("{fa}.{q} AS {q}", q = quote(c))).collect();
        let mut finals = Vec::new();
        let mut p = 0;
        for (partials, fin) in &phases {
            let mut names = Vec::new();
            for part in partials {
                select.push(format!("{part} AS \"__p{p}\""));
                names.push(format!("{fa}.\"__p{p}\""));
                p += 1;
            }
            finals.push(fin(&names));
        }
        let mut inner = format!("SELECT {} FROM {}", select.join(", "), sk.base);
        if !pushed.is_empty() {
            let _ = write!(inner, " WHERE {}", pushed.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" AND "));
        }
        if !columns.is_empty() {
            let _ = write!(inner, " GROUP BY {}", columns.iter().map(|c| format!("{fa}.{}", quote(c))).collect::<Vec<_>>().join(", "));
        }
        // Phase 2: the same joins, conditions and groups over the partial results.
        let mut from = format!("({inner}) {fa}{joins}");
        if let Some(m) = &sk.map {
            let exprs: Vec<String> = m.on.iter().map(|(e, _)| e.clone()).collect();
            from.push_str(&m.clause(&exprs));
        }
        let mut select: Vec<String> = sk.group.iter().map(|(e, n)| format!("{e} AS {}", quote(n))).collect();
        for (i, f) in finals.iter().enumerate() {
            select.push(format!("{f} AS \"a{i}\""));
        }
        let mut sql = format!("SELECT {} FROM {from}", select.join(", "));
        if !kept.is_empty() {
            let _ = write!(sql, " WHERE {}", kept.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" AND "));
        }
        if !sk.group.is_empty() {
            let _ = write!(sql, " GROUP BY {}", sk.group.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>().join(", "));
        }
        Ok(Some(sql))
    }

    /// The SELECT of an aggregation: its leaves' aggregates (`a0`, `a1`, ...) per group of its keys. With
    /// time intelligence, the rows are first aggregated to date grain and then joined to the date map, which
    /// repeats each date (not each row) once per grid row it belongs to: a three-month moving average per
    /// month reads the sales once and joins ~1,000 dates, not 3 × the sales. Aggregations that do not
    /// decompose (distinct counts, ...) join the map to the rows.
    fn skeleton_select(&self, sk: &Skeleton, leaves: &[FilteredLeaf]) -> Result<String> {
        if let Some(sql) = self.eager_select(sk, leaves)? {
            return Ok(sql);
        }
        if let Some(map) = &sk.map
            && sk.edge_date.is_none()
            && !sk.wheres.iter().any(|w| w.contains("mm."))
        {
            let mut phases = Vec::new();
            for (n, filter) in leaves {
                match self.agg_two_phase(leaf_of(n)?, filter.as_deref())? {
                    Some(p) => phases.push(p),
                    None => break,
                }
            }
            let (time_keys, row_keys): (GroupColumns, GroupColumns) = sk.group.iter().partition(|(e, _)| e.starts_with("mm."));
            if phases.len() == leaves.len() && !row_keys.iter().any(|(e, _)| e.contains("mm.")) {
                // Phase 1: the rows per group and date.
                let mut select: Vec<String> = row_keys.iter().map(|(e, n)| format!("{e} AS {}", quote(n))).collect();
                let mut group: Vec<String> = row_keys.iter().map(|(e, _)| e.clone()).collect();
                for (i, (e, _)) in map.on.iter().enumerate() {
                    select.push(format!("{e} AS \"__mk{i}\""));
                    group.push(e.clone());
                }
                let mut finals = Vec::new();
                let mut p = 0;
                for (partials, fin) in &phases {
                    let mut names = Vec::new();
                    for part in partials {
                        select.push(format!("{part} AS \"p{p}\""));
                        names.push(format!("g.\"p{p}\""));
                        p += 1;
                    }
                    finals.push(fin(&names));
                }
                let mut inner = format!("SELECT {} FROM {}", select.join(", "), sk.from);
                if !sk.wheres.is_empty() {
                    let _ = write!(inner, " WHERE {}", sk.wheres.join(" AND "));
                }
                let _ = write!(inner, " GROUP BY {}", group.join(", "));
                // Phase 2: the dates joined to the grid rows they belong to.
                let mut select: Vec<String> = row_keys.iter().map(|(_, n)| format!("g.{q} AS {q}", q = quote(n))).collect();
                let mut group: Vec<String> = row_keys.iter().map(|(_, n)| format!("g.{}", quote(n))).collect();
                for (e, n) in &time_keys {
                    select.push(format!("{e} AS {}", quote(n)));
                    group.push(e.clone());
                }
                for (i, f) in finals.iter().enumerate() {
                    select.push(format!("{f} AS \"a{i}\""));
                }
                let exprs: Vec<String> = (0..map.on.len()).map(|i| format!("g.\"__mk{i}\"")).collect();
                let mut sql = format!("SELECT {} FROM ({inner}) g{}", select.join(", "), map.clause(&exprs));
                if !group.is_empty() {
                    let _ = write!(sql, " GROUP BY {}", group.join(", "));
                }
                return Ok(sql);
            }
        }
        let mut select: Vec<String> = sk.group.iter().map(|(e, n)| format!("{e} AS {}", quote(n))).collect();
        let mut group: Vec<String> = sk.group.iter().map(|(e, _)| e.clone()).collect();
        if let Some((d, _)) = &sk.edge_date {
            select.push(format!("{d} AS \"__d\""));
            group.push(d.clone());
        }
        for (i, (n, filter)) in leaves.iter().enumerate() {
            select.push(format!("{} AS \"a{i}\"", self.agg_sql(leaf_of(n)?, filter.as_deref())?));
        }
        let mut sql = format!("SELECT {} FROM {}", select.join(", "), sk.rows_sql());
        if !sk.wheres.is_empty() {
            let _ = write!(sql, " WHERE {}", sk.wheres.join(" AND "));
        }
        if !group.is_empty() {
            let _ = write!(sql, " GROUP BY {}", group.join(", "));
        }
        Ok(sql)
    }
}

/// The items of an expression that need their own evaluation (not looking inside them).
fn collect_items(n: &Node, out: &mut Vec<Node>) {
    match n {
        Node::Leaf(_) | Node::IntersectCount { .. } | Node::Iterate(_) | Node::Outer(_) | Node::Info(_) | Node::Column { .. } => {
            if !out.contains(n) {
                out.push(n.clone())
            }
        }
        other => {
            for c in other.children() {
                collect_items(c, out);
            }
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
    use crate::lowering::test_model::bound;
    use crate::query::Predicate;
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
        assert!(sql.contains("decimal_to_double(SUM(CAST(t0.\"Montant\" AS DECIMAL(38, 10))))"), "{sql}");
    }

    fn bound_with(extra: &str) -> std::sync::Arc<BoundModel> {
        let bm = BoundModel::new(crate::lowering::test_model::model_with(extra).expect("loads"));
        assert!(bm.invalid.is_empty(), "{:?}", bm.invalid);
        bm
    }

    #[test]
    fn filtered_aggregations_over_one_table_share_one_scan() {
        let bm = bound_with(
            r#"
  - { name: N_Gros, folder: V, format: integer, dax: "CALCULATE([N], Fait_Ventes[Montant] > 100)" }
  - { name: CA_X, folder: V, format: currency, dax: "CALCULATE([CA], Fait_Ventes[Libelle] = \"x\")" }
"#,
        );
        let sql = compile(&bm, &query(&["Categorie"], vec![], &["N", "N_Gros", "CA_X"])).expect("compiles");
        assert_eq!(scans_of_sales(&sql), 1, "{sql}");
        // Grouped by product first (eager): the partial counts are filtered, the final sums are BLANK for 0.
        assert!(sql.contains("COUNT(*) FILTER (WHERE ") && sql.contains("NULLIF(SUM(t0.\"__p"), "a filtered count stays BLANK over no rows: {sql}");
        assert!(sql.contains("SUM(CAST(t0.\"Montant\" AS DECIMAL(38, 10))) FILTER (WHERE "), "{sql}");
        // Without a dimension to join, in one phase.
        let sql = compile(&bm, &query(&[], vec![], &["N", "N_Gros"])).expect("compiles");
        assert_eq!(scans_of_sales(&sql), 1, "{sql}");
        assert!(sql.contains("NULLIF(COUNT(*) FILTER (WHERE "), "{sql}");
    }

    #[test]
    fn time_intelligence_aggregates_to_date_grain_before_the_date_map() {
        let bm = bound_with(
            r#"
  - { name: CA_MA3, folder: T, format: currency, dax: "CALCULATE([CA], DATESINPERIOD(Dim_Temps[Date_Complete], LASTDATE(Dim_Temps[Date_Complete]), -3, MONTH)) / 3" }
  - { name: Produits_LY, folder: T, format: integer, dax: "CALCULATE(DISTINCTCOUNT(Fait_Ventes[ID_Produit]), SAMEPERIODLASTYEAR(Dim_Temps[Date_Complete]))" }
"#,
        );
        let sql = compile(&bm, &query(&["Annee", "Mois"], vec![], &["CA_MA3", "CA_LY"])).expect("compiles");
        // The sales grouped by their date key first, then the dates joined to the months whose window holds them.
        assert!(sql.contains("AS \"__p0\" FROM \"s\".\"ventes\" t0 GROUP BY t0.\"ID_Date\""), "{sql}");
        assert!(sql.contains("decimal_to_double(SUM(t0.\"__p0\"))"), "{sql}");
        assert!(!sql.contains("\"s\".\"ventes\" t0 LEFT JOIN"), "the sales rows never meet the date map: {sql}");
        // A distinct count does not decompose: its rows meet the date map.
        let sql = compile(&bm, &query(&["Annee"], vec![], &["Produits_LY"])).expect("compiles");
        assert!(!sql.contains("__p0") && sql.contains("COUNT(DISTINCT") && sql.contains("\"s\".\"ventes\" t0 LEFT JOIN"), "{sql}");
    }

    #[test]
    fn qualified_references_are_found_outside_literals() {
        let refs = qualified_refs("t0.\"ID_Date\" = mm.\"__d\" AND t12.\"a\"\"b\" = 'x t3.\"no\"' AND \"s\".\"t\" = 1");
        let want: Vec<(String, String)> =
            [("t0", "ID_Date"), ("mm", "__d"), ("t12", "a\"b")].iter().map(|(a, c)| (a.to_string(), c.to_string())).collect();
        assert_eq!(refs, want);
    }

    #[test]
    fn a_dimension_grouping_aggregates_the_fact_by_its_key_first() {
        let bm = bound();
        let sql = compile(&bm, &query(&["Nom_Produit", "Categorie"], vec![], &["CA", "N"])).expect("compiles");
        assert!(sql.contains("FROM \"s\".\"ventes\" t0 GROUP BY t0.\"ID_Produit\") t0 LEFT JOIN \"s\".\"produits\" t2"), "{sql}");
        // A filter on the fact's own column is applied before grouping; one on the dimension after the join.
        let f = Predicate::Compare { attribute: "Annee".into(), op: "=", value: Value::Number("2024".into()) };
        let sql = compile(&bm, &query(&["Categorie"], vec![f], &["CA"])).expect("compiles");
        assert!(sql.contains("GROUP BY t0.\"ID_Produit\", t0.\"ID_Date\")") || sql.contains("GROUP BY t0.\"ID_Date\", t0.\"ID_Produit\")"), "{sql}");
        assert!(sql.contains("WHERE t1.\"Annee\" = 2024"), "{sql}");
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
