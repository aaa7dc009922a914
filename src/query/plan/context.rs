//! The filter context of a grid row, and how CALCULATE's changes ([`Mod`]s) transform it.
//!
//! A context holds *keys* (the grid's group-by columns and iterated items: one value per row), *filters*
//! (query predicates, CALCULATE's row-level predicates, and computed value sets keyed by the grid), and
//! optionally a *time* part: the date keys and filters moved into a date map that time intelligence
//! transforms.

use super::{Planner, Result};
use crate::dax::ast::CmpOp;
use crate::lowering::ir::{Info, InfoKind, Mod, Node, TimeFn};
use crate::model::TableId;
use crate::query::Predicate;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum FilterKind {
    /// A predicate of the query, over attribute names.
    Query(Predicate),
    /// A row-level predicate over the table's columns (CALCULATE's boolean filters, FILTER over a table).
    Pred(Node),
    /// A computed set of values of the filter's (single) column per combination of the grid's `keys`: the
    /// CTE has those keys and the value as `__v`.
    Map { cte: String, keys: Vec<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Filter {
    pub table: TableId,
    /// The table's columns the filter reads.
    pub columns: Vec<String>,
    pub kind: FilterKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Key {
    pub name: String,
    pub table: TableId,
    pub column: String,
    /// 0 for the query's group-by keys; the iteration depth for an iterated item.
    pub level: usize,
}

#[derive(Debug, Clone, Default)]
pub(super) struct TimeCtx {
    pub keys: Vec<Key>,
    pub filters: Vec<Filter>,
    pub fns: Vec<TimeFn>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Ctx {
    pub keys: Vec<Key>,
    pub filters: Vec<Filter>,
    pub time: Option<TimeCtx>,
    /// FIRSTNONBLANK/LASTNONBLANK over dates as a filter: `Some(true)` for the last date with rows.
    pub nonblank: Option<bool>,
    /// USERELATIONSHIP / CROSSFILTER NONE in force.
    pub use_rel: Vec<usize>,
    pub off_rel: Vec<usize>,
    /// The iteration depth of the grid the context belongs to.
    pub level: usize,
}

impl Ctx {
    pub fn root(keys: Vec<Key>, filters: Vec<Filter>) -> Ctx {
        Ctx { keys, filters, ..Ctx::default() }
    }
}

/// Is `(kt, kc)` covered by a removal of `columns` of `table` (all of its expanded table `exp` when `columns`
/// is empty), except the `keep` columns?
fn covered(table: TableId, columns: &[String], keep: &[String], exp: &[TableId], kt: TableId, kc: &str) -> bool {
    if keep.iter().any(|k| k == kc) {
        return false;
    }
    if columns.is_empty() { exp.contains(&kt) } else { kt == table && columns.iter().any(|c| c == kc) }
}

impl<'a> Planner<'a> {
    /// Tables whose filters ALL(table) removes: the table and the tables that filter it (its expanded table).
    pub(super) fn expanded(&self, table: TableId) -> Vec<TableId> {
        let up = &self.bm.upstream[table];
        (0..self.model().tables.len()).filter(|t| up.reaches(*t)).collect()
    }

    /// The context `base` changed by `mods` in order. `g` is the grid the context is evaluated on: filters
    /// computed per row (a measure inside FILTER, TOPN) are keyed by its keys.
    pub(super) fn apply(&mut self, g: usize, base: &Ctx, mods: &[Mod]) -> Result<Ctx> {
        let date = self.model().date_table;
        let date_column = self.model().date_column.clone();
        let mut ctx = base.clone();
        for m in mods {
            match m {
                Mod::RemoveFilters { table, columns, keep } => {
                    let exp = if columns.is_empty() { self.expanded(*table) } else { vec![*table] };
                    let hit = |t: TableId, c: &str| covered(*table, columns, keep, &exp, t, c);
                    ctx.keys.retain(|k| !hit(k.table, &k.column));
                    ctx.filters.retain(|f| !f.columns.iter().any(|c| hit(f.table, c)));
                    let whole_dates = exp.contains(&date) && (columns.is_empty() && keep.is_empty() || columns.contains(&date_column));
                    if whole_dates {
                        ctx.time = None;
                        ctx.nonblank = None;
                    } else if let Some(time) = ctx.time.as_mut() {
                        time.keys.retain(|k| !hit(k.table, &k.column));
                        time.filters.retain(|f| !f.columns.iter().any(|c| hit(f.table, c)));
                    }
                }
                Mod::AllSelected { table, column } => {
                    let columns: Vec<String> = column.iter().cloned().collect();
                    let exp = if columns.is_empty() { self.expanded(*table) } else { vec![*table] };
                    let hit = |t: TableId, c: &str| covered(*table, &columns, &[], &exp, t, c);
                    ctx.keys.retain(|k| !hit(k.table, &k.column));
                    if let Some(time) = ctx.time.as_mut() {
                        time.keys.retain(|k| !hit(k.table, &k.column));
                    }
                }
                Mod::Filter { table, columns, pred, keep } => {
                    if !keep {
                        ctx.keys.retain(|k| !(k.table == *table && columns.contains(&k.column)));
                        ctx.filters.retain(|f| !(f.table == *table && f.columns.iter().any(|c| columns.contains(c))));
                        if let Some(time) = ctx.time.as_mut() {
                            time.keys.retain(|k| !(k.table == *table && columns.contains(&k.column)));
                            time.filters.retain(|f| !(f.table == *table && f.columns.iter().any(|c| columns.contains(c))));
                        }
                    }
                    let filter = Filter { table: *table, columns: columns.clone(), kind: FilterKind::Pred((**pred).clone()) };
                    match ctx.time.as_mut() {
                        Some(time) if *table == date => time.filters.push(filter),
                        _ => ctx.filters.push(filter),
                    }
                }
                Mod::Time(f) => match ctx.time.as_mut() {
                    Some(time) => time.fns.push(f.clone()),
                    None => {
                        let (dk, rest): (Vec<Key>, Vec<Key>) = ctx.keys.drain(..).partition(|k| k.table == date);
                        ctx.keys = rest;
                        let (df, rest): (Vec<Filter>, Vec<Filter>) = ctx.filters.drain(..).partition(|f| f.table == date);
                        ctx.filters = rest;
                        ctx.time = Some(TimeCtx { keys: dk, filters: df, fns: vec![f.clone()] });
                    }
                },
                Mod::NonBlankDate { last } => ctx.nonblank = Some(*last),
                Mod::UseRelationship(r) => ctx.use_rel.push(*r),
                Mod::NoRelationship(r) => ctx.off_rel.push(*r),
                Mod::ExitRow => {
                    let level = ctx.level;
                    if level > 0 {
                        ctx.keys.retain(|k| k.level != level);
                        if let Some(time) = ctx.time.as_mut() {
                            time.keys.retain(|k| k.level != level);
                        }
                    }
                }
                Mod::Computed(it) => {
                    let column = it.columns.first().cloned().unwrap_or_default();
                    let (cte, keys) = self.computed_items(g, it)?;
                    let table = it.table;
                    if table == date && column == date_column {
                        // The date table is marked as such: a filter on its date column replaces all its filters.
                        ctx.keys.retain(|k| k.table != date);
                        ctx.filters.retain(|f| f.table != date);
                        ctx.time = None;
                    }
                    ctx.keys.retain(|k| !(k.table == table && k.column == column));
                    ctx.filters.retain(|f| !(f.table == table && f.columns.contains(&column)));
                    ctx.filters.push(Filter { table, columns: vec![column], kind: FilterKind::Map { cte, keys } });
                }
            }
        }
        Ok(ctx)
    }

    /// ISFILTERED and friends, answered from the context: they do not depend on the data.
    pub(super) fn info(&mut self, g: usize, info: &Info) -> Result<bool> {
        let grid_ctx = self.grids[g].ctx.clone();
        let ctx = self.apply(g, &grid_ctx, &info.mods)?;
        let model = self.model();
        let date = model.date_table;
        let on = |t: TableId, c: &str| t == info.table && info.column.as_ref().is_none_or(|x| x == c);
        let time_keys: Vec<Key> = ctx.time.iter().flat_map(|t| t.keys.clone()).collect();
        let time_filters: Vec<Filter> = ctx.time.iter().flat_map(|t| t.filters.clone()).collect();
        let time_moves = ctx.time.as_ref().is_some_and(|t| !t.fns.is_empty());
        Ok(match info.kind {
            InfoKind::Filtered { cross } => {
                let tables: Vec<TableId> = if cross { self.expanded(info.table) } else { vec![info.table] };
                let hit = |t: TableId, c: &str| if cross { tables.contains(&t) } else { on(t, c) };
                ctx.keys.iter().chain(time_keys.iter()).any(|k| hit(k.table, &k.column))
                    || ctx.filters.iter().chain(time_filters.iter()).any(|f| f.columns.iter().any(|c| hit(f.table, c)))
                    || (time_moves && (hit(date, &model.date_column) || (!cross && info.table == date && info.column.is_none())))
            }
            InfoKind::InScope => ctx.keys.iter().chain(time_keys.iter()).any(|k| k.level == 0 && on(k.table, &k.column)),
            InfoKind::OneFilter => {
                ctx.keys.iter().chain(time_keys.iter()).any(|k| on(k.table, &k.column))
                    || ctx.filters.iter().chain(time_filters.iter()).any(|f| f.columns.iter().any(|c| on(f.table, c)) && single_value(&f.kind))
            }
        })
    }
}

/// Does the filter select one value (an equality, or IN with one value)?
fn single_value(kind: &FilterKind) -> bool {
    match kind {
        FilterKind::Query(Predicate::Compare { op, .. }) => *op == "=",
        FilterKind::Query(Predicate::In { values, negated: false, .. }) => values.len() == 1,
        FilterKind::Pred(Node::Compare(CmpOp::Eq, ..)) => true,
        FilterKind::Pred(Node::In(_, list)) => list.len() == 1,
        _ => false,
    }
}
