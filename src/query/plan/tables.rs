//! The planner's entry points for DAX queries' table functions (`crate::query::dax`):
//! - [`compile_grid`]: rows of model columns with values evaluated per row in the row's filter context
//!   (SUMMARIZECOLUMNS, VALUES, ROW, SUMMARIZE);
//! - [`compile_rows`]: expressions evaluated per row of any query table (FILTER, ADDCOLUMNS, SELECTCOLUMNS,
//!   TOPN, ORDER BY): their measures and aggregations by context transition over the row's model columns,
//!   the rest as SQL over the row.
//!
//! Each returns a [`Statement`]: CTEs and a final SELECT, CTE names prefixed per compilation, so that a query
//! built from several compilations is one flat WITH.

use std::fmt::Write;

use super::context::{Ctx, Key};
use super::{Grid, PlanError, Planner, Result};
use crate::lowering::BoundModel;
use crate::lowering::ir::{IterKind, Mod, Node};
use crate::model::TableId;
use crate::model::bind::quote;

/// A SQL query as its CTEs and its final SELECT.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Statement {
    pub ctes: Vec<(String, String)>,
    pub select: String,
}

impl Statement {
    pub fn sql(&self) -> String {
        if self.ctes.is_empty() {
            return self.select.clone();
        }
        let ctes: Vec<String> = self.ctes.iter().map(|(n, b)| format!("{n} AS (\n  {}\n)", b.replace('\n', "\n  "))).collect();
        format!("WITH {}\n{}", ctes.join(",\n"), self.select)
    }
}

/// Which rows a grid has.
#[derive(Debug, Clone, PartialEq)]
pub enum GridRows {
    /// The combinations of the keys' values that exist under the context, per table, crossed between tables
    /// (SUMMARIZECOLUMNS, VALUES); a table's BLANK member included.
    Existing,
    /// The combinations that exist in the rows of this table (SUMMARIZE(Fait_Ventes, ...)).
    Through(TableId),
}

#[derive(Debug, Clone)]
pub struct GridSpec {
    /// Model columns, output as `k0`, `k1`, ...
    pub keys: Vec<(TableId, String)>,
    pub rows: GridRows,
    /// The context the grid is evaluated in (CALCULATETABLE's and SUMMARIZECOLUMNS's filters): also the
    /// query's selection, which ALLSELECTED restores.
    pub mods: Vec<Mod>,
    /// Values, output as `v0`, `v1`, ...
    pub values: Vec<Node>,
    /// The values whose all being BLANK drops a row (SUMMARIZECOLUMNS's, except IGNORE's).
    pub nonblank: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct RowSpec {
    /// The table's SQL, columns `c0` .. `c<width-1>`.
    pub input: Statement,
    pub width: usize,
    /// The columns that come from the model (their lineage): the row's filter context. (table, column, index)
    pub keys: Vec<(TableId, String, usize)>,
    pub mods: Vec<Mod>,
    /// Expressions per row, output as `e0`, `e1`, ...; a per-row [`Node::External`] reads [`row_column`].
    pub exprs: Vec<Node>,
}

/// How an expression of [`RowSpec::exprs`] reads the table's column `i`.
pub fn row_column(i: usize) -> String {
    format!("__in.\"c{i}\"")
}

fn planner<'a>(bm: &'a BoundModel, prefix: &str) -> Planner<'a> {
    Planner { bm, ctes: Vec::new(), grids: Vec::new(), root_filters: Vec::new(), counter: 0, prefix: prefix.to_string() }
}

/// A grid of model columns with values per row. `prefix` makes its CTE names unique in the caller's query.
pub fn compile_grid(bm: &BoundModel, spec: &GridSpec, prefix: &str) -> Result<Statement> {
    let mut p = planner(bm, prefix);
    let keys: Vec<Key> =
        spec.keys.iter().enumerate().map(|(i, (t, c))| Key { name: format!("__k{i}"), table: *t, column: c.clone(), level: 0 }).collect();
    let g = p.grid_in(keys, &spec.rows, &spec.mods)?;
    let values = p.eval_grid(g, &spec.values)?;
    let mut select: Vec<String> = (0..spec.keys.len()).map(|i| format!("r.\"__k{i}\" AS \"k{i}\"")).collect();
    select.extend((0..spec.values.len()).map(|i| format!("r.\"v{i}\" AS \"v{i}\"")));
    if select.is_empty() {
        select.push("1 AS \"__one\"".into());
    }
    let mut sql = format!("SELECT {} FROM {values} r", select.join(", "));
    if !spec.nonblank.is_empty() {
        let all_blank: Vec<String> = spec.nonblank.iter().map(|i| format!("r.\"v{i}\" IS NULL")).collect();
        let _ = write!(sql, " WHERE NOT ({})", all_blank.join(" AND "));
    }
    Ok(Statement { ctes: p.ctes, select: sql })
}

/// Expressions per row of a query table. `prefix` makes its CTE names unique in the caller's query.
pub fn compile_rows(bm: &BoundModel, spec: &RowSpec, prefix: &str) -> Result<Statement> {
    let mut p = planner(bm, prefix);
    let input = format!("{prefix}in");
    p.ctes = spec.input.ctes.clone();
    p.ctes.push((input.clone(), spec.input.select.clone()));
    // The parts that need a filter context (measures, aggregations) are evaluated once per distinct
    // combination of the row's model columns, then joined back to the rows.
    let mut items: Vec<Node> = Vec::new();
    for e in &spec.exprs {
        super::collect_items(e, &mut items);
    }
    for item in &items {
        if reads_row(item) {
            return Err(PlanError(
                "a column of the query's table is used inside an aggregation or CALCULATE; compute the aggregation in its own column first".into(),
            ));
        }
        if matches!(item, Node::Column { .. }) {
            return Err(PlanError("a model column is read here without a row of its table; use VALUES or SELECTEDVALUE".into()));
        }
    }
    let mut join = String::new();
    let mut refs: Vec<(Node, String)> = Vec::new();
    if !items.is_empty() {
        let keys: Vec<Key> =
            spec.keys.iter().enumerate().map(|(i, (t, c, _))| Key { name: format!("__k{i}"), table: *t, column: c.clone(), level: 0 }).collect();
        let rows = if keys.is_empty() {
            "SELECT 1 AS \"__all\"".to_string()
        } else {
            let cols: Vec<String> = spec.keys.iter().enumerate().map(|(i, (_, _, c))| format!("\"c{c}\" AS \"__k{i}\"")).collect();
            format!("SELECT DISTINCT {} FROM {input}", cols.join(", "))
        };
        let g = p.grid_over(keys.clone(), rows, &spec.mods)?;
        let h = p.eval_grid(g, &items)?;
        let names: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
        let on = if names.is_empty() {
            "TRUE".to_string()
        } else {
            spec.keys
                .iter()
                .enumerate()
                .map(|(i, (_, _, c))| format!("(__in.\"c{c}\" IS NOT DISTINCT FROM h.\"__k{i}\")"))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let _ = write!(join, " LEFT JOIN {h} h ON {on}");
        refs = items.iter().enumerate().map(|(i, n)| (n.clone(), format!("h.\"v{i}\""))).collect();
    }
    let resolve = |n: &Node| refs.iter().find(|(x, _)| x == n).map(|(_, s)| s.clone());
    let mut select: Vec<String> = (0..spec.width).map(|i| format!("{} AS \"c{i}\"", row_column(i))).collect();
    for (i, e) in spec.exprs.iter().enumerate() {
        let sql = if *e == Node::Blank { "CAST(NULL AS DOUBLE)".to_string() } else { p.render_row(e, &resolve)? };
        select.push(format!("{sql} AS \"e{i}\""));
    }
    let sql = format!("SELECT {} FROM {input} __in{join}", select.join(", "));
    Ok(Statement { ctes: p.ctes, select: sql })
}

/// Does the expression read a column of the query table inside something evaluated on its own grid?
fn reads_row(n: &Node) -> bool {
    let mods_read = |mods: &[Mod]| mods.iter().any(|m| matches!(m, Mod::Filter { pred, .. } if reads_row(pred)));
    match n {
        Node::External { per_row, .. } => *per_row,
        Node::Leaf(l) => l.value.as_deref().is_some_and(reads_row) || l.filter.as_deref().is_some_and(reads_row) || mods_read(&l.mods),
        Node::Iterate(it) => {
            let kind = match &it.kind {
                IterKind::Aggregate { value, .. } => value.as_deref().is_some_and(reads_row),
                IterKind::Rank { current, value, .. } => reads_row(current) || reads_row(value),
                IterKind::TopItem { value, nonblank, .. } => reads_row(value) || nonblank.as_deref().is_some_and(reads_row),
                IterKind::Items => false,
            };
            kind || it.conditions.iter().any(reads_row) || mods_read(&it.mods) || it.top.as_ref().is_some_and(|t| reads_row(&t.value))
        }
        Node::Outer(inner) => reads_row(inner),
        other => other.children().into_iter().any(reads_row),
    }
}

impl<'a> Planner<'a> {
    /// The query-level context: `mods` applied to an empty context on a one-row grid.
    fn root_context(&mut self, mods: &[Mod]) -> Result<Ctx> {
        let rows = self.cte("g", "SELECT 1 AS \"__all\"".into());
        self.grids.push(Grid { keys: vec![], rows, ctx: Ctx::default(), parent: None, row_columns: Vec::new() });
        let g = self.grids.len() - 1;
        let ctx = self.apply(g, &Ctx::default(), mods)?;
        if ctx.time.is_some() || ctx.nonblank.is_some() {
            return Err(PlanError(
                "time intelligence as a query filter is not supported yet; use it inside CALCULATE in a measure (DEFINE MEASURE)".into(),
            ));
        }
        self.root_filters = ctx.filters.clone();
        Ok(ctx)
    }

    /// The grid of `keys` with the given rows, in the context `mods` make.
    fn grid_in(&mut self, keys: Vec<Key>, rows: &GridRows, mods: &[Mod]) -> Result<usize> {
        let ctx = self.root_context(mods)?;
        let rows = match rows {
            GridRows::Existing => self.root_rows(&keys)?,
            GridRows::Through(t) => {
                let scope = Ctx { keys: keys.clone(), ..ctx.clone() };
                let sk =
                    self.skeleton(*t, &scope, &[])?.ok_or_else(|| PlanError(format!("`{}` cannot be grouped here", self.model().tables[*t].name)))?;
                if sk.group.len() != keys.len() {
                    return Err(PlanError(format!(
                        "SUMMARIZE: a column is not related to `{}` (group by columns of it or of the tables it points to)",
                        self.model().tables[*t].name
                    )));
                }
                let select = sk.group.iter().map(|(e, n)| format!("{e} AS {}", quote(n))).collect::<Vec<_>>().join(", ");
                let mut block = if select.is_empty() {
                    format!("SELECT DISTINCT 1 AS \"__all\" FROM {}", sk.rows_sql())
                } else {
                    format!("SELECT DISTINCT {select} FROM {}", sk.rows_sql())
                };
                if !sk.wheres.is_empty() {
                    let _ = write!(block, " WHERE {}", sk.wheres.join(" AND "));
                }
                self.cte("g", block)
            }
        };
        Ok(self.push_grid(keys, rows, ctx))
    }

    /// The grid of `keys` over rows given as SQL, in the context `mods` make.
    fn grid_over(&mut self, keys: Vec<Key>, rows: String, mods: &[Mod]) -> Result<usize> {
        let ctx = self.root_context(mods)?;
        let rows = self.cte("g", rows);
        Ok(self.push_grid(keys, rows, ctx))
    }

    fn push_grid(&mut self, keys: Vec<Key>, rows: String, ctx: Ctx) -> usize {
        let names = keys.iter().map(|k| k.name.clone()).collect();
        self.grids.push(Grid { keys: names, rows, ctx: Ctx { keys, ..ctx }, parent: None, row_columns: Vec::new() });
        self.grids.len() - 1
    }
}
