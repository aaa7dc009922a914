//! Table expressions (`Fait_Ventes`, `VALUES(T[c])`, `ALL(...)`, `FILTER(...)`, `TOPN(...)`,
//! `CALCULATETABLE(...)`, the time-intelligence tables) bound to a [`TableArg`], and CALCULATE's filter
//! arguments turned into context changes ([`Mod`]s).

use super::binder::{Binder, Env, Result, Scope, set_kind};
use super::ir::{IterKind, Iteration, Mod, Node, SetKind, TimeFn, TopN};
use crate::dax::ast::Expr;
use crate::model::TableId;

/// A table expression, as the iterators, COUNTROWS and CALCULATE read it.
#[derive(Debug, Clone)]
pub(super) struct TableArg {
    pub table: TableId,
    /// The columns of VALUES/ALL(T[c], ...); `None` for the rows of the whole table.
    pub columns: Option<Vec<String>>,
    pub set: SetKind,
    /// CALCULATETABLE's changes, applied where the table is read.
    pub mods: Vec<Mod>,
    /// FILTER conditions that read only the row.
    pub row_conditions: Vec<Node>,
    /// FILTER conditions that need the context of each item (measures, aggregations).
    pub item_conditions: Vec<Node>,
    pub top: Option<TopN>,
    /// RELATEDTABLE / CALCULATETABLE: inside an iterator the row becomes a filter (context transition).
    pub transition: bool,
    /// Where the expression starts, for errors.
    pub at: usize,
}

impl TableArg {
    fn rows(table: TableId, set: SetKind, at: usize) -> Self {
        TableArg {
            table,
            columns: None,
            set,
            mods: Vec::new(),
            row_conditions: Vec::new(),
            item_conditions: Vec::new(),
            top: None,
            transition: false,
            at,
        }
    }

    pub fn column_values(table: TableId, column: String, at: usize) -> Self {
        TableArg { columns: Some(vec![column]), ..Self::rows(table, SetKind::Values, at) }
    }

    /// The context changes that make a leaf read this set: ALL(...) removes the filters on it.
    pub fn set_mods(&self) -> Vec<Mod> {
        let columns = self.columns.clone().unwrap_or_default();
        match self.set {
            SetKind::All | SetKind::AllNoBlank => vec![Mod::RemoveFilters { table: self.table, columns, keep: vec![] }],
            SetKind::AllSelected => match &self.columns {
                None => vec![Mod::AllSelected { table: self.table, column: None }],
                Some(cs) => cs.iter().map(|c| Mod::AllSelected { table: self.table, column: Some(c.clone()) }).collect(),
            },
            SetKind::Values => vec![],
        }
    }
}

/// Changes that remove filters apply before those that add some, whatever the order written (as DAX's
/// CALCULATE applies its modifiers before its filters).
fn is_remover(m: &Mod) -> bool {
    matches!(m, Mod::RemoveFilters { .. } | Mod::AllSelected { .. } | Mod::UseRelationship(_) | Mod::NoRelationship(_))
}

impl<'a> Binder<'a> {
    /// Columns of one table (`T[a], T[b]`) as ALL/VALUES arguments.
    fn columns_of(&self, args: &[Option<Expr>], at: usize, name: &str) -> Result<(TableId, Option<Vec<String>>)> {
        if let Some(Expr::Name { name: t, at }) = Self::opt_arg(args, 0) {
            if args.len() > 1 {
                return Err(self.err(*at, format!("{name}: a table argument comes alone")));
            }
            return Ok((self.table(t, *at)?, None));
        }
        let mut table = None;
        let mut columns = Vec::new();
        for a in args.iter().flatten() {
            let (t, c, _) = self.column(a)?;
            if table.is_some_and(|x| x != t) {
                return Err(self.err(a.at(), format!("{name}: all columns must belong to one table")));
            }
            table = Some(t);
            columns.push(c);
        }
        let table = table.ok_or_else(|| self.err(at, format!("{name} needs a table or columns")))?;
        Ok((table, Some(columns)))
    }

    pub(super) fn table_arg(&mut self, e: &Expr, env: &Env, scope: &mut Scope) -> Result<TableArg> {
        let at = e.at();
        if let Expr::Name { name, .. } = e
            && let Some((def, def_env)) = scope.table(name)
        {
            return self.table_arg(&def, &def_env, scope);
        }
        match e {
            Expr::Name { name, at } => Ok(TableArg::rows(self.table(name, *at)?, SetKind::Values, *at)),
            Expr::Call { name, args, at } => {
                let at = *at;
                let name = name.as_str();
                if let Some(set) = set_kind(name) {
                    let (table, columns) = self.columns_of(args, at, name)?;
                    let mut t = TableArg { columns, ..TableArg::rows(table, set, at) };
                    // DISTINCT and ALLNOBLANKROW leave out the BLANK member of orphan keys.
                    if matches!(name, "DISTINCT" | "ALLNOBLANKROW") && self.model.tables[table].has_blank_row {
                        let key =
                            t.columns.as_ref().and_then(|c| c.first().cloned()).or_else(|| self.model.tables[table].primary_key.first().cloned());
                        if let Some(k) = key {
                            t.row_conditions.push(Node::Not(Box::new(Node::Func("@isblank", vec![Node::Column { table, column: k }]))));
                        }
                    }
                    return Ok(t);
                }
                match name {
                    "RELATEDTABLE" => {
                        let (table, _) = self.columns_of(args, at, name)?;
                        Ok(TableArg { transition: true, ..TableArg::rows(table, SetKind::Values, at) })
                    }
                    "ALLEXCEPT" => {
                        let mods = self.filter_arg(e, env, scope, false)?;
                        let Some(Mod::RemoveFilters { table, .. }) = mods.first() else { return Err(self.err(at, "ALLEXCEPT: expected a table")) };
                        let table = *table;
                        Ok(TableArg { mods, ..TableArg::rows(table, SetKind::Values, at) })
                    }
                    "KEEPFILTERS" => self.table_arg(self.arg(name, args, 0, at)?, env, scope),
                    "FILTER" => {
                        let mut t = self.table_arg(self.arg(name, args, 0, at)?, env, scope)?;
                        let row_env = self.row_env(env, t.table);
                        let cond = self.lower(self.arg(name, args, 1, at)?, &row_env, scope)?;
                        if cond.is_row_level() && t.top.is_none() {
                            t.row_conditions.push(cond);
                        } else {
                            t.item_conditions.push(cond);
                        }
                        Ok(t)
                    }
                    "CALCULATETABLE" => {
                        let mut t = self.table_arg(self.arg(name, args, 0, at)?, env, scope)?;
                        t.mods.extend(self.filter_args(&args[1..], at, env, scope)?);
                        t.transition = true;
                        Ok(t)
                    }
                    "TOPN" => {
                        let n = self.lower(self.arg(name, args, 0, at)?, env, scope)?;
                        let mut t = self.table_arg(self.arg(name, args, 1, at)?, env, scope)?;
                        if t.top.is_some() {
                            return Err(self.err(at, "TOPN of a TOPN is not supported"));
                        }
                        let row_env = self.row_env(env, t.table);
                        let value = match Self::opt_arg(args, 2) {
                            Some(v) => self.lower(v, &row_env, scope)?,
                            None => return Err(self.err(at, "TOPN needs an expression to order by")),
                        };
                        let descending = match Self::keyword(Self::opt_arg(args, 3)).as_deref() {
                            None | Some("DESC") | Some("0") | Some("FALSE") => true,
                            Some("ASC") | Some("1") | Some("TRUE") => false,
                            Some(o) => return Err(self.err(at, format!("TOPN order must be ASC or DESC, found `{o}`"))),
                        };
                        t.top = Some(TopN { n: Box::new(n), value: Box::new(value), descending });
                        Ok(t)
                    }
                    _ => match self.time_filter(name, args, at, env, scope)? {
                        Some(mods) => {
                            let (d, c) = (self.model.date_table, self.model.date_column.clone());
                            Ok(TableArg { mods, ..TableArg::column_values(d, c, at) })
                        }
                        None => Err(self.err(
                            at,
                            format!("{name} does not return a table here; expected a table such as Fait_Ventes, VALUES(T[c]), FILTER(...)"),
                        )),
                    },
                }
            }
            _ => Err(self.err(at, "expected a table: a table name, VALUES(T[c]), ALL(...), FILTER(...), TOPN(...) or CALCULATETABLE(...)")),
        }
    }

    /// CALCULATE's filter arguments, as context changes in the order DAX applies them.
    pub(super) fn filter_args(&mut self, args: &[Option<Expr>], at: usize, env: &Env, scope: &mut Scope) -> Result<Vec<Mod>> {
        let mut mods = Vec::new();
        for f in args {
            let f = f.as_ref().ok_or_else(|| self.err(at, "CALCULATE: empty filter argument"))?;
            mods.extend(self.filter_arg(f, env, scope, false)?);
        }
        // Stable: removers first, each group in the order written.
        let (mut removers, filters): (Vec<Mod>, Vec<Mod>) = mods.into_iter().partition(is_remover);
        removers.extend(filters);
        Ok(removers)
    }

    fn relationship(&self, a: &Expr, b: &Expr, name: &str) -> Result<usize> {
        let (ta, ca, _) = self.column(a)?;
        let (tb, cb, _) = self.column(b)?;
        let found = self.model.relationships.iter().position(|r| {
            let fits = |t1: TableId, c1: &String, t2: TableId, c2: &String| {
                r.one == t1 && r.one_columns == [c1.clone()] && r.many == t2 && r.many_columns == [c2.clone()]
            };
            fits(ta, &ca, tb, &cb) || fits(tb, &cb, ta, &ca)
        });
        found.ok_or_else(|| {
            self.err(
                a.at(),
                format!(
                    "{name}: the model has no relationship between `{}[{ca}]` and `{}[{cb}]` (declare it in model.yaml, with `active: false` for USERELATIONSHIP)",
                    self.model.tables[ta].name, self.model.tables[tb].name
                ),
            )
        })
    }

    pub(super) fn filter_arg(&mut self, e: &Expr, env: &Env, scope: &mut Scope, keep: bool) -> Result<Vec<Mod>> {
        let Expr::Call { name, args, at } = e else {
            if let Expr::Name { name, .. } = e
                && let Some((def, def_env)) = scope.table(name)
            {
                return self.filter_arg(&def, &def_env, scope, keep);
            }
            return match e {
                Expr::Name { name, at } => {
                    // A table in context as a filter changes nothing.
                    self.table(name, *at)?;
                    Ok(vec![])
                }
                _ => self.boolean_filter(e, env, scope, keep),
            };
        };
        let at = *at;
        let name = name.as_str();
        Ok(match name {
            "ALL" | "REMOVEFILTERS" | "ALLNOBLANKROW" => {
                let (table, columns) = self.columns_of(args, at, name)?;
                vec![Mod::RemoveFilters { table, columns: columns.unwrap_or_default(), keep: vec![] }]
            }
            "ALLSELECTED" => {
                let (table, columns) = self.columns_of(args, at, name)?;
                match columns {
                    None => vec![Mod::AllSelected { table, column: None }],
                    Some(cs) => cs.into_iter().map(|c| Mod::AllSelected { table, column: Some(c) }).collect(),
                }
            }
            "ALLEXCEPT" => {
                let Some(Expr::Name { name: t, at: tat }) = Self::opt_arg(args, 0) else {
                    return Err(self.err(at, "ALLEXCEPT: the first argument must be a table"));
                };
                let table = self.table(t, *tat)?;
                let mut kept = Vec::new();
                for a in args[1..].iter().flatten() {
                    let (ct, c, _) = self.column(a)?;
                    if ct != table && !self.reaches(ct, table) {
                        return Err(self.err(a.at(), format!("ALLEXCEPT: `{}` is not part of `{t}`'s expanded table", self.model.tables[ct].name)));
                    }
                    kept.push(c);
                }
                vec![Mod::RemoveFilters { table, columns: vec![], keep: kept }]
            }
            "KEEPFILTERS" => self.filter_arg(self.arg(name, args, 0, at)?, env, scope, true)?,
            "TREATAS" => {
                // The values of a table constructor applied to a column, as if they were its own (the filter
                // Power BI sends for a slicer selection).
                if args.len() != 2 {
                    return Err(self.err(at, "TREATAS: one target column is supported (TREATAS({ \"Web\", \"Mobile\" }, Dim_Canal[Nom_Canal]))"));
                }
                let target = self.arg(name, args, 1, at)?;
                let (table, column, _) = self.column(target)?;
                let values = self.arg(name, args, 0, at)?;
                if !matches!(values, Expr::Table { .. }) {
                    return Err(self.err(values.at(), "TREATAS: the values must be a table constructor `{ ... }`"));
                }
                let list = self.constructor_values(values, env, scope, at)?;
                let pred = Node::In(Box::new(Node::Column { table, column: column.clone() }), list);
                vec![Mod::Filter { table, columns: vec![column], pred: Box::new(pred), keep }]
            }
            "USERELATIONSHIP" => {
                let r = self.relationship(self.arg(name, args, 0, at)?, self.arg(name, args, 1, at)?, name)?;
                vec![Mod::UseRelationship(r)]
            }
            "CROSSFILTER" => {
                let r = self.relationship(self.arg(name, args, 0, at)?, self.arg(name, args, 1, at)?, name)?;
                match Self::keyword(Self::opt_arg(args, 2)).as_deref() {
                    Some("NONE") => vec![Mod::NoRelationship(r)],
                    Some("ONEWAY") | Some("ONEWAY_RIGHTFILTERSLEFT") | Some("ONEWAY_LEFTFILTERSRIGHT") => vec![],
                    Some("BOTH") => {
                        return Err(self.err(
                            at,
                            "CROSSFILTER(..., BOTH) is not supported: filters flow from the one side to the many side only (see docs/dax.md)",
                        ));
                    }
                    _ => return Err(self.err(at, "CROSSFILTER: the direction must be NONE, ONEWAY or BOTH")),
                }
            }
            "FIRSTNONBLANK" | "LASTNONBLANK" => {
                self.date_column(self.arg(name, args, 0, at)?)?;
                vec![Mod::NonBlankDate { last: name == "LASTNONBLANK" }]
            }
            "VALUES" | "DISTINCT" => {
                // The values in the outer context: as a filter they keep what is already there.
                self.table_arg(e, env, scope)?;
                vec![]
            }
            "FILTER" | "CALCULATETABLE" | "TOPN" | "RELATEDTABLE" => {
                let t = self.table_arg(e, env, scope)?;
                self.table_filter(t, env, keep)?
            }
            "NOT" | "AND" | "OR" | "ISBLANK" => self.boolean_filter(e, env, scope, keep)?,
            _ => match self.time_filter(name, args, at, env, scope)? {
                Some(mods) => mods,
                None => {
                    return Err(self.err(
                        at,
                        format!("{name} cannot be a CALCULATE filter: expected a condition on columns of one table, a table (FILTER, ALL, VALUES, TOPN, ...) or a time-intelligence function"),
                    ));
                }
            },
        })
    }

    /// A table as a filter: its rows (or its columns' values) become the context.
    fn table_filter(&mut self, t: TableArg, env: &Env, keep: bool) -> Result<Vec<Mod>> {
        let mut out = t.mods.clone();
        let model = self.model;
        // FILTER(ALL(dates), condition on the date and MIN/MAX of the dates in context): time intelligence (the
        // date table is marked as such, so this replaces all its filters).
        let conditions: Vec<&Node> = t.row_conditions.iter().chain(t.item_conditions.iter()).collect();
        if t.table == model.date_table
            && t.top.is_none()
            && !conditions.is_empty()
            && t.set != SetKind::Values
            && t.columns.as_ref().is_none_or(|c| c == std::slice::from_ref(&model.date_column))
            && conditions.iter().all(|c| only_date_bounds(c, model.date_table, &model.date_column))
        {
            let mut read = Vec::new();
            for c in &conditions {
                c.row_columns(&mut read);
            }
            if read.iter().all(|(_, c)| *c == model.date_column) {
                let pred = conditions.into_iter().cloned().reduce(|a, b| Node::And(Box::new(a), Box::new(b))).unwrap_or(Node::Bool(true));
                out.push(Mod::Time(TimeFn::Where { pred: Box::new(pred), selected: t.set == SetKind::AllSelected }));
                return Ok(out);
            }
        }
        if !t.item_conditions.is_empty() || t.top.is_some() {
            let mut t = t;
            t.mods.clear();
            if t.columns.is_none() && t.set == SetKind::All {
                out.push(Mod::RemoveFilters { table: t.table, columns: vec![], keep: vec![] });
            }
            let mut iter_env = env.clone();
            iter_env.mods.extend(out.iter().cloned());
            let it: Iteration = self.iteration(t, &iter_env, None, IterKind::Items)?;
            out.push(Mod::Computed(Box::new(it)));
            return Ok(out);
        }
        if !t.row_conditions.is_empty() {
            let pred = t.row_conditions.iter().cloned().reduce(|a, b| Node::And(Box::new(a), Box::new(b))).unwrap_or(Node::Bool(true));
            let mut read = Vec::new();
            pred.row_columns(&mut read);
            let only_date = t.table == model.date_table && read.iter().all(|(_, c)| *c == model.date_column);
            if only_date && t.set != SetKind::Values && t.columns.as_ref().is_none_or(|c| c == std::slice::from_ref(&model.date_column)) {
                out.push(Mod::Time(TimeFn::Where { pred: Box::new(pred), selected: t.set == SetKind::AllSelected }));
                return Ok(out);
            }
            let columns: Vec<String> = match &t.columns {
                Some(cs) => cs.clone(),
                None => read.iter().filter(|(tt, _)| *tt == t.table).map(|(_, c)| c.clone()).collect(),
            };
            match (t.columns.is_some(), t.set) {
                (true, SetKind::All | SetKind::AllNoBlank) => out.push(Mod::Filter { table: t.table, columns, pred: Box::new(pred), keep }),
                (false, SetKind::All | SetKind::AllNoBlank) => {
                    out.push(Mod::RemoveFilters { table: t.table, columns: vec![], keep: vec![] });
                    out.push(Mod::Filter { table: t.table, columns, pred: Box::new(pred), keep: true });
                }
                (_, SetKind::AllSelected) => {
                    out.extend(t.set_mods());
                    out.push(Mod::Filter { table: t.table, columns, pred: Box::new(pred), keep: true });
                }
                (_, SetKind::Values) => out.push(Mod::Filter { table: t.table, columns, pred: Box::new(pred), keep: true }),
            }
            return Ok(out);
        }
        out.extend(t.set_mods());
        Ok(out)
    }

    /// A boolean filter such as `Dim_Canal[Nom_Canal] IN { "Web", "Mobile" }` or `T[d] <= MAX(T[d])`: DAX reads it
    /// as FILTER(ALL(T[columns]), condition), the condition's other parts evaluated where CALCULATE stands.
    fn boolean_filter(&mut self, e: &Expr, env: &Env, scope: &mut Scope, keep: bool) -> Result<Vec<Mod>> {
        let mut refs = Vec::new();
        column_refs(e, &mut refs);
        let Some(first) = refs.first() else {
            return Err(self.err(e.at(), "a CALCULATE filter condition must read a column, e.g. `Dim_Canal[Nom_Canal] = \"Web\"`"));
        };
        let (table, _, _) = self.column(first)?;
        let row_env = self.row_env(env, table);
        let pred = self.lower(e, &row_env, scope)?;
        let mut read = Vec::new();
        pred.row_columns(&mut read);
        if read.iter().any(|(t, _)| *t != table) {
            return Err(self.err(e.at(), "a CALCULATE filter condition reads columns of one table (combine tables with several filter arguments)"));
        }
        let columns: Vec<String> = read.iter().map(|(_, c)| c.clone()).collect();
        let model = self.model;
        let on_date = table == model.date_table && columns == [model.date_column.clone()];
        if on_date && (pred.is_row_level() || only_date_bounds(&pred, model.date_table, &model.date_column)) {
            // A filter on the date column of the date table replaces the filters of the whole date table.
            return Ok(vec![Mod::Time(TimeFn::Where { pred: Box::new(pred), selected: false })]);
        }
        if pred.is_row_level() {
            return Ok(vec![Mod::Filter { table, columns, pred: Box::new(pred), keep }]);
        }
        if columns.len() != 1 {
            return Err(self.err(e.at(), "a filter condition that reads a measure must read exactly one column"));
        }
        let set = if keep { SetKind::Values } else { SetKind::All };
        let t = TableArg { columns: Some(columns), item_conditions: vec![pred], ..TableArg::rows(table, set, e.at()) };
        let it = self.iteration(t, env, None, IterKind::Items)?;
        Ok(vec![Mod::Computed(Box::new(it))])
    }
}

/// The `Table[Column]` references of a filter expression (not looking into measures).
fn column_refs<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Column { .. } => out.push(e),
        Expr::Unary { expr, .. } => column_refs(expr, out),
        Expr::Binary { left, right, .. } => {
            column_refs(left, out);
            column_refs(right, out);
        }
        Expr::Call { name, args, .. }
            // Aggregations inside a boolean filter read the outer context, not the filtered column.
            if (!matches!(name.as_str(), "MIN" | "MAX" | "SUM" | "AVERAGE" | "COUNT" | "DISTINCTCOUNT" | "FIRSTDATE" | "LASTDATE" | "CALCULATE") || args.len() > 1) => {
                for a in args.iter().flatten() {
                    column_refs(a, out);
                }
            }
        Expr::Let { vars, body } => {
            for v in vars {
                column_refs(&v.1, out);
            }
            column_refs(body, out);
        }
        _ => {}
    }
}

/// Does the condition read, besides the row's date, only MIN/MAX of the dates in context?
fn only_date_bounds(n: &Node, date_table: TableId, date_column: &str) -> bool {
    match n {
        Node::Leaf(l) => {
            l.table == date_table
                && matches!(l.agg, super::ir::Agg::Min | super::ir::Agg::Max)
                && l.filter.is_none()
                && l.mods.iter().all(|m| matches!(m, Mod::ExitRow))
                && matches!(l.value.as_deref(), Some(Node::Column { column, .. }) if column == date_column)
        }
        Node::Iterate(_) | Node::IntersectCount { .. } | Node::Outer(_) | Node::Info(_) => false,
        other => other.children().iter().all(|c| only_date_bounds(c, date_table, date_column)),
    }
}
