//! Iterators: an expression evaluated once per item of a table (context transition) on a *child grid* that
//! adds the item's columns as keys, then aggregated back onto the parent grid (SUMX, RANKX, TOPN, ...), or
//! kept as a value set per parent row (a computed CALCULATE filter). Also INTERSECT of two value sets.

use std::fmt::Write;

use super::context::{Ctx, Key};
use super::joins::{Skeleton, aggregate_sql};
use super::{Grid, PlanError, Planner, Result, Slot, alias, nullsafe};
use crate::lowering::ir::{Agg, IterKind, Iteration, Mod, Node, SetKind, Type};
use crate::lowering::types::type_of;
use crate::model::TableId;
use crate::model::bind::quote;

/// A child grid built for an iteration, and what its values CTE filters on.
struct Child {
    grid: usize,
    /// The item column names, in the iteration's column order.
    items: Vec<String>,
}

impl<'a> Planner<'a> {
    /// The child grid of `it` over grid `g`: the parent's rows times the items visible from each.
    fn child_grid(&mut self, g: usize, it: &Iteration) -> Result<Option<Child>> {
        let model = self.model();
        let grid = self.grids[g].clone();
        let base = self.apply(g, &grid.ctx, &it.mods)?;
        let mut ctx = base.clone();
        let on = |t: TableId, c: &str| t == it.table && it.columns.iter().any(|x| x == c);
        match it.set {
            SetKind::All | SetKind::AllNoBlank => {
                ctx.keys.retain(|k| !on(k.table, &k.column));
                ctx.filters.retain(|f| !(f.table == it.table && f.columns.iter().any(|c| on(f.table, c))));
            }
            SetKind::AllSelected => ctx.keys.retain(|k| !on(k.table, &k.column)),
            SetKind::Values => {}
        }
        // Row-level conditions filter the set itself; the others are evaluated per item below.
        let row_conditions: Vec<&Node> = it.conditions.iter().filter(|c| c.is_row_level()).collect();
        let mut reads: Vec<TableId> = Vec::new();
        for c in &row_conditions {
            for t in super::joins::reads(c, it.table) {
                if !reads.contains(&t) {
                    reads.push(t);
                }
            }
        }
        let set_ctx = match it.set {
            SetKind::All | SetKind::AllNoBlank => Ctx::default(),
            SetKind::AllSelected => Ctx::root(vec![], self.root_filters.clone()),
            SetKind::Values => base.clone(),
        };
        let Some(mut sk) = self.skeleton(it.table, &set_ctx, &reads)? else { return Ok(None) };
        for c in row_conditions {
            let w = self.render_row(c, &|n| match n {
                Node::Column { table, column } => Some(format!("{}.{}", alias(*table), quote(column))),
                _ => None,
            })?;
            sk.wheres.push(format!("COALESCE({w}, FALSE)"));
        }
        let level = grid.ctx.level + 1;
        ctx.level = level;
        let items: Vec<String> = it.columns.iter().map(|_| self.fresh("__it")).collect();
        for (c, name) in it.columns.iter().zip(&items) {
            ctx.keys.push(Key { name: name.clone(), table: it.table, column: c.clone(), level });
        }
        let set_keys = sk.keys();
        let mut select: Vec<String> = sk.group.iter().map(|(e, n)| format!("{e} AS {}", quote(n))).collect();
        for (c, name) in it.columns.iter().zip(&items) {
            select.push(format!("{}.{} AS {}", alias(it.table), quote(c), quote(name)));
        }
        let mut set_sql = format!("SELECT DISTINCT {} FROM {}", select.join(", "), sk.rows_sql());
        if !sk.wheres.is_empty() {
            let _ = write!(set_sql, " WHERE {}", sk.wheres.join(" AND "));
        }
        let _ = &model;
        let set = self.cte("set", set_sql);
        let picked = items.iter().map(|i| format!("s.{}", quote(i))).collect::<Vec<_>>().join(", ");
        let rows_sql = if set_keys.is_empty() {
            format!("SELECT p.*, {picked} FROM {} p CROSS JOIN {set} s", grid.rows)
        } else {
            format!("SELECT p.*, {picked} FROM {} p JOIN {set} s ON {}", grid.rows, nullsafe("p", "s", &set_keys))
        };
        let rows = self.cte("g", rows_sql);
        let mut keys = grid.keys.clone();
        keys.extend(items.iter().cloned());
        let mut row_columns = grid.row_columns.clone();
        for (c, name) in it.columns.iter().zip(&items) {
            row_columns.retain(|(t, col, _)| !(*t == it.table && col == c));
            row_columns.push((it.table, c.clone(), name.clone()));
        }
        self.grids.push(Grid { keys, rows, ctx, parent: Some(g), row_columns });
        Ok(Some(Child { grid: self.grids.len() - 1, items }))
    }

    /// The child's per-item values (`v0`.. for `nodes`), restricted to the items that meet the conditions and,
    /// with TOPN, to the top items per parent row. Returns the CTE.
    fn selected(&mut self, g: usize, it: &Iteration, child: &Child, nodes: &[Node]) -> Result<String> {
        let conditions: Vec<Node> = it.conditions.iter().filter(|c| !c.is_row_level()).cloned().collect();
        let mut all = nodes.to_vec();
        all.extend(conditions.iter().cloned());
        if let Some(top) = &it.top {
            all.push((*top.value).clone());
        }
        let values = self.eval_grid(child.grid, &all)?;
        let first_cond = nodes.len();
        let wheres: Vec<String> = (first_cond..first_cond + conditions.len()).map(|i| format!("COALESCE(c.\"v{i}\", FALSE)")).collect();
        let filtered = if wheres.is_empty() { values } else { self.cte("sel", format!("SELECT c.* FROM {values} c WHERE {}", wheres.join(" AND "))) };
        let Some(top) = &it.top else { return Ok(filtered) };
        let n = match &*top.n {
            Node::Number(n) => n.clone(),
            _ => return Err(PlanError("TOPN's count must be a number written in the measure".into())),
        };
        let tv = format!("c.\"v{}\"", all.len() - 1);
        let order = if top.descending { "DESC NULLS LAST" } else { "ASC NULLS FIRST" };
        let pk: Vec<String> = self.grids[g].keys.iter().map(|k| format!("c.{}", quote(k))).collect();
        let partition = if pk.is_empty() { String::new() } else { format!("PARTITION BY {} ", pk.join(", ")) };
        let ranked = self.cte("top", format!("SELECT c.*, RANK() OVER ({partition}ORDER BY {tv} {order}) AS \"__rank\" FROM {filtered} c"));
        Ok(self.cte("top", format!("SELECT * FROM {ranked} WHERE \"__rank\" <= {n}")))
    }

    pub(super) fn iterate(&mut self, g: usize, it: &Iteration) -> Result<Slot> {
        let grid = self.grids[g].clone();
        let Some(child) = self.child_grid(g, it)? else { return Ok(Slot::Blank) };
        let pk: Vec<String> = grid.keys.iter().map(|k| quote(k)).collect();
        let group =
            if pk.is_empty() { String::new() } else { format!(" GROUP BY {}", pk.iter().map(|k| format!("c.{k}")).collect::<Vec<_>>().join(", ")) };
        let keys_sel = |prefix: &str| pk.iter().map(|k| format!("{prefix}.{k}")).collect::<Vec<String>>();
        let model = self.model();
        let sql = match &it.kind {
            IterKind::Aggregate { agg, value } => {
                let mut nodes = Vec::new();
                if let Some(v) = value {
                    nodes.push((**v).clone());
                }
                if let Agg::Concat { order: Some(o), .. } = agg {
                    nodes.push((**o).clone());
                }
                let sel = self.selected(g, it, &child, &nodes)?;
                let v = "c.\"v0\"";
                // Item values are summed as DOUBLE (they are measures already evaluated, not stored amounts).
                let value = if matches!(agg, Agg::Sum) { format!("CAST({v} AS DOUBLE)") } else { v.to_string() };
                let order = match agg {
                    Agg::Concat { order: Some(_), descending, .. } => Some(format!("c.\"v1\" {}", if *descending { "DESC" } else { "ASC" })),
                    _ => None,
                };
                let agg_sql = aggregate_sql(agg, &value, false, order.as_deref(), None);
                let mut sel_cols = keys_sel("c");
                sel_cols.push(format!("{agg_sql} AS \"r\""));
                format!("SELECT {} FROM {sel} c{group}", sel_cols.join(", "))
            }
            IterKind::Rank { current, value, descending, dense } => {
                let values = self.selected(g, it, &child, std::slice::from_ref(value))?;
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
            IterKind::TopItem { value, descending, nonblank } => {
                let mut nodes = vec![(**value).clone()];
                if let Some(nb) = nonblank {
                    nodes.push((**nb).clone());
                }
                let values = self.selected(g, it, &child, &nodes)?;
                let order = if *descending { "DESC NULLS LAST" } else { "ASC NULLS LAST" };
                let item = quote(&child.items[0]);
                let v = if type_of(model, value) == Type::Number { "COALESCE(c.\"v0\", 0)".to_string() } else { "c.\"v0\"".to_string() };
                let where_nb = if nonblank.is_some() { " WHERE c.\"v1\" IS NOT NULL" } else { "" };
                let mut sel = keys_sel("c");
                sel.push(format!("first_value(c.{item} ORDER BY {v} {order}, c.{item} ASC) AS \"r\""));
                format!("SELECT {} FROM {values} c{where_nb}{group}", sel.join(", "))
            }
            IterKind::Items => return Err(PlanError("internal: a set of items is a filter, not a value".into())),
        };
        let cte = self.cte("it", sql);
        Ok(Slot::Value { cte, column: "r".into(), keys: grid.keys })
    }

    /// A computed filter's values per row of grid `g`: a CTE with `g`'s keys and the item as `__v`.
    pub(super) fn computed_items(&mut self, g: usize, it: &Iteration) -> Result<(String, Vec<String>)> {
        let grid = self.grids[g].clone();
        let keys = grid.keys.clone();
        let Some(child) = self.child_grid(g, it)? else {
            let mut sel: Vec<String> = keys.iter().map(|k| format!("CAST(NULL AS VARCHAR) AS {}", quote(k))).collect();
            sel.push("NULL AS \"__v\"".into());
            return Ok((self.cte("items", format!("SELECT {} WHERE FALSE", sel.join(", "))), keys));
        };
        let sel = self.selected(g, it, &child, &[])?;
        let mut cols: Vec<String> = keys.iter().map(|k| format!("c.{}", quote(k))).collect();
        cols.push(format!("c.{} AS \"__v\"", quote(&child.items[0])));
        Ok((self.cte("items", format!("SELECT DISTINCT {} FROM {sel} c", cols.join(", "))), keys))
    }

    pub(super) fn intersect(&mut self, g: usize, table: TableId, column: &str, a: &[Mod], b: &[Mod]) -> Result<Slot> {
        let grid = self.grids[g].clone();
        let mut sides = Vec::new();
        for mods in [a, b] {
            let ctx = self.apply(g, &grid.ctx, mods)?;
            let Some(sk): Option<Skeleton> = self.skeleton(table, &ctx, &[])? else { return Ok(Slot::Blank) };
            let mut select: Vec<String> = sk.group.iter().map(|(e, n)| format!("{e} AS {}", quote(n))).collect();
            select.push(format!("{}.{} AS \"__v\"", alias(table), quote(column)));
            let mut sql = format!("SELECT DISTINCT {} FROM {}", select.join(", "), sk.rows_sql());
            if !sk.wheres.is_empty() {
                let _ = write!(sql, " WHERE {}", sk.wheres.join(" AND "));
            }
            let keys = sk.keys();
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
        let cte = self
            .cte("x", format!("SELECT {} FROM {ac} a JOIN {bc} b ON {} AND a.\"__v\" = b.\"__v\"{group}", sel.join(", "), nullsafe("a", "b", &bk)));
        Ok(Slot::Value { cte, column: "c".into(), keys: bk })
    }
}
