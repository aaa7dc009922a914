//! The table functions of DAX queries, each compiled to a [`QTable`]: SUMMARIZECOLUMNS, SUMMARIZE, ADDCOLUMNS,
//! SELECTCOLUMNS, FILTER, TOPN, CALCULATETABLE, VALUES/DISTINCT/ALL, ROW, CROSSJOIN, a table constructor, a
//! table VAR or a model table's name.

use crate::dax::ast::{Define, Evaluate, Expr};
use crate::lowering::BoundModel;
use crate::lowering::ir::{Mod, Node, Type};
use crate::lowering::query::{QueryBinder, QueryScope};
use crate::lowering::types::{column_type, type_of};
use crate::model::bind::quote;
use crate::model::{Measure, Model, ModelError, TableId};
use crate::query::plan::tables::{GridRows, GridSpec, RowSpec, Statement, compile_grid, compile_rows, row_column};

use super::Compiled;

type Result<T> = std::result::Result<T, ModelError>;

/// A column of a query table.
#[derive(Debug, Clone)]
struct QCol {
    /// As DAX names it: `Dim_Canal[Nom_Canal]` for a model column, `[CA]` for an added one.
    name: String,
    /// The model column it holds, which filters measures evaluated on its row (context transition).
    lineage: Option<(TableId, String)>,
    ty: Type,
}

/// A query table: SQL with columns `c0, c1, ...`, described by `cols`.
#[derive(Debug, Clone)]
struct QTable {
    stmt: Statement,
    cols: Vec<QCol>,
}

pub(super) struct Compiler<'a> {
    bm: &'a BoundModel,
    qb: QueryBinder<'a>,
    scope: QueryScope,
    /// Table VARs, computed where they are defined (the query's empty context), as DAX does.
    table_vars: Vec<(String, QTable)>,
    counter: usize,
}

/// Table functions (and names) that make a DEFINE VAR a table.
const TABLE_FUNCTIONS: &[&str] = &[
    "SUMMARIZECOLUMNS",
    "SUMMARIZE",
    "ADDCOLUMNS",
    "SELECTCOLUMNS",
    "FILTER",
    "TOPN",
    "CALCULATETABLE",
    "VALUES",
    "DISTINCT",
    "ALL",
    "ALLNOBLANKROW",
    "ROW",
    "CROSSJOIN",
    "GROUPBY",
    "TREATAS",
];

impl<'a> Compiler<'a> {
    pub fn new(bm: &'a BoundModel, model: &'a Model, text: &'a Measure) -> Self {
        Compiler { bm, qb: QueryBinder::new(model, text), scope: QueryScope::default(), table_vars: Vec::new(), counter: 0 }
    }

    fn model(&self) -> &'a Model {
        self.qb.model()
    }

    fn prefix(&mut self) -> String {
        self.counter += 1;
        format!("q{}_", self.counter)
    }

    fn err(&self, at: usize, message: impl Into<String>) -> ModelError {
        self.qb.error(at, message)
    }

    fn is_table(&self, e: &Expr) -> bool {
        match e {
            Expr::Table { .. } => true,
            Expr::Name { name, .. } => self.model().table(name).is_some() || self.table_vars.iter().any(|(n, _)| n == name),
            Expr::Call { name, .. } => TABLE_FUNCTIONS.contains(&name.as_str()),
            _ => false,
        }
    }

    /// DEFINE VARs, in order: a table is computed now; a constant is kept for the expressions after it.
    pub fn defines(&mut self, defines: &[Define]) -> Result<()> {
        for d in defines {
            let Define::Var { name, expr, at } = d else { continue };
            if self.is_table(expr) {
                let t = self.table(expr, &[])?;
                self.table_vars.push((name.clone(), t));
                // Also usable as a filter (SUMMARIZECOLUMNS(..., __Filtre, ...)), bound where it is used.
                self.scope.tables.push((name.clone(), expr.clone()));
                continue;
            }
            let node = self.qb.scalar(expr, &self.scope, &[])?;
            if !node.is_row_level() {
                return Err(self.err(
                    *at,
                    format!("VAR `{name}`: a query VAR may be a table or a constant; for a value computed from the data, DEFINE MEASURE it"),
                ));
            }
            self.scope.constants.push((name.clone(), node));
        }
        Ok(())
    }

    /// One EVALUATE: its table, ORDER BY (default: every column, ascending) and START AT.
    pub fn evaluate(&mut self, e: &Evaluate) -> Result<Compiled> {
        let t = self.table(&e.table, &[])?;
        let mut seen: Vec<&str> = Vec::new();
        for c in &t.cols {
            if seen.contains(&c.name.as_str()) {
                return Err(self.err(e.at, format!("the result has two columns named `{}`", c.name)));
            }
            seen.push(&c.name);
        }
        let width = t.cols.len();
        let mut exprs = Vec::new();
        for (o, _) in &e.order_by {
            exprs.push(self.row_expr(o, &t)?);
        }
        for s in &e.start_at {
            let node = self.qb.scalar(s, &self.scope, &[])?;
            if !node.is_row_level() {
                return Err(self.err(s.at(), "START AT takes constants"));
            }
            exprs.push(node);
        }
        let columns: Vec<String> = t.cols.iter().map(|c| c.name.clone()).collect();
        let select: Vec<String> = (0..width).map(|i| format!("\"c{i}\" AS {}", quote(&columns[i]))).collect();
        let stmt = if exprs.is_empty() {
            let order: Vec<String> = (0..width).map(|i| format!("\"c{i}\" ASC NULLS FIRST")).collect();
            let order = if order.is_empty() { String::new() } else { format!(" ORDER BY {}", order.join(", ")) };
            let name = format!("{}r", self.prefix());
            wrap(t.stmt, &name, format!("SELECT {} FROM {name}{order}", select.join(", ")))
        } else {
            let prefix = self.prefix();
            let rows = self.rows(&t, exprs, &prefix, e.at)?;
            let n = e.order_by.len();
            // BLANK sorts first, as in DAX.
            let order: Vec<String> = e
                .order_by
                .iter()
                .enumerate()
                .map(|(i, (_, desc))| if *desc { format!("\"e{i}\" DESC NULLS LAST") } else { format!("\"e{i}\" ASC NULLS FIRST") })
                .collect();
            let start = start_at(&e.order_by.iter().map(|(_, d)| *d).collect::<Vec<_>>(), n, e.start_at.len());
            let name = format!("{prefix}o");
            wrap(rows, &name, format!("SELECT {} FROM {name}{start} ORDER BY {}", select.join(", "), order.join(", ")))
        };
        Ok(Compiled { sql: stmt.sql(), columns })
    }

    /// A table expression in the context `mods` (CALCULATETABLE's filters around it).
    fn table(&mut self, e: &Expr, mods: &[Mod]) -> Result<QTable> {
        match e {
            Expr::Name { name, at } => {
                if let Some((_, t)) = self.table_vars.iter().rev().find(|(n, _)| n == name) {
                    return Ok(t.clone());
                }
                let table = self.qb.table(name, *at)?;
                let columns: Vec<String> = self.model().tables[table].columns.iter().map(|(c, _)| c.clone()).collect();
                self.values(table, columns, mods.to_vec(), *at, false)
            }
            Expr::Table { rows, at } => self.constructor(rows, mods, *at),
            Expr::Call { name, args, at } => {
                let at = *at;
                let args: Vec<Expr> =
                    args.iter().map(|a| a.clone().ok_or_else(|| self.err(at, format!("{name}: an argument is missing")))).collect::<Result<_>>()?;
                match name.as_str() {
                    "SUMMARIZECOLUMNS" => self.summarizecolumns(&args, mods, at),
                    "SUMMARIZE" => self.summarize(&args, mods, at),
                    "ROW" => {
                        let (names, values) = self.name_value_pairs(&args, at, "ROW")?;
                        self.grid(vec![], GridRows::Existing, mods.to_vec(), names, values, vec![], at)
                    }
                    "VALUES" | "DISTINCT" | "ALL" | "ALLNOBLANKROW" => {
                        let first = args.first().ok_or_else(|| self.err(at, format!("{name} needs a table or columns")))?;
                        let (table, columns) = match first {
                            Expr::Name { name: t, at } if args.len() == 1 => {
                                if self.table_vars.iter().any(|(n, _)| n == t) {
                                    return self.table(first, mods);
                                }
                                let table = self.qb.table(t, *at)?;
                                (table, self.model().tables[table].columns.iter().map(|(c, _)| c.clone()).collect())
                            }
                            _ => {
                                let mut table = None;
                                let mut columns = Vec::new();
                                for a in &args {
                                    let (t, c) = self.qb.column(a)?;
                                    if table.is_some_and(|x| x != t) {
                                        return Err(self.err(a.at(), format!("{name}: all columns must belong to one table")));
                                    }
                                    table = Some(t);
                                    columns.push(c);
                                }
                                (table.unwrap_or_default(), columns)
                            }
                        };
                        let mut mods = mods.to_vec();
                        if matches!(name.as_str(), "ALL" | "ALLNOBLANKROW") {
                            let cols = if matches!(first, Expr::Name { .. }) { vec![] } else { columns.clone() };
                            mods.push(Mod::RemoveFilters { table, columns: cols, keep: vec![] });
                        }
                        self.values(table, columns, mods, at, matches!(name.as_str(), "DISTINCT" | "ALLNOBLANKROW"))
                    }
                    "CALCULATETABLE" => {
                        let (inner, filters) = args.split_first().ok_or_else(|| self.err(at, "CALCULATETABLE needs a table"))?;
                        let mut mods = mods.to_vec();
                        mods.extend(self.qb.filters(filters, at, &self.scope)?);
                        self.table(inner, &mods)
                    }
                    "FILTER" => {
                        let [inner, cond] = args.as_slice() else { return Err(self.err(at, "FILTER takes a table and a condition")) };
                        let t = self.table(inner, mods)?;
                        let node = self.row_expr(cond, &t)?;
                        let prefix = self.prefix();
                        let rows = self.rows_in(&t, vec![node], &prefix, mods, at)?;
                        let name = format!("{prefix}f");
                        let cols: Vec<String> = (0..t.cols.len()).map(|i| format!("\"c{i}\"")).collect();
                        let stmt = wrap(rows, &name, format!("SELECT {} FROM {name} WHERE COALESCE(\"e0\", FALSE)", select_list(&cols)));
                        Ok(QTable { stmt, cols: t.cols })
                    }
                    "ADDCOLUMNS" => {
                        let (inner, pairs) = args.split_first().ok_or_else(|| self.err(at, "ADDCOLUMNS needs a table"))?;
                        let t = self.table(inner, mods)?;
                        let (names, exprs) = self.pairs(pairs, at, "ADDCOLUMNS")?;
                        let nodes = exprs.iter().map(|e| self.row_expr(e, &t)).collect::<Result<Vec<_>>>()?;
                        let mut cols = t.cols.clone();
                        for (n, node) in names.iter().zip(&nodes) {
                            cols.push(QCol { name: format!("[{n}]"), lineage: None, ty: type_of(self.model(), node) });
                        }
                        let prefix = self.prefix();
                        let width = t.cols.len();
                        let rows = self.rows_in(&t, nodes, &prefix, mods, at)?;
                        let name = format!("{prefix}a");
                        let mut sel: Vec<String> = (0..width).map(|i| format!("\"c{i}\"")).collect();
                        sel.extend((0..names.len()).map(|i| format!("\"e{i}\" AS \"c{}\"", width + i)));
                        let stmt = wrap(rows, &name, format!("SELECT {} FROM {name}", select_list(&sel)));
                        Ok(QTable { stmt, cols })
                    }
                    "SELECTCOLUMNS" => {
                        let (inner, pairs) = args.split_first().ok_or_else(|| self.err(at, "SELECTCOLUMNS needs a table"))?;
                        let t = self.table(inner, mods)?;
                        let (names, exprs) = self.pairs(pairs, at, "SELECTCOLUMNS")?;
                        let mut cols = Vec::new();
                        let mut nodes = Vec::new();
                        for (n, e) in names.iter().zip(&exprs) {
                            let node = self.row_expr(e, &t)?;
                            // A column taken as it is keeps its lineage (it still filters measures).
                            let lineage = self.external_index(e, &t).and_then(|i| t.cols[i].lineage.clone());
                            cols.push(QCol { name: format!("[{n}]"), lineage, ty: type_of(self.model(), &node) });
                            nodes.push(node);
                        }
                        let prefix = self.prefix();
                        let rows = self.rows_in(&t, nodes, &prefix, mods, at)?;
                        let name = format!("{prefix}s");
                        let sel: Vec<String> = (0..names.len()).map(|i| format!("\"e{i}\" AS \"c{i}\"")).collect();
                        let stmt = wrap(rows, &name, format!("SELECT {} FROM {name}", select_list(&sel)));
                        Ok(QTable { stmt, cols })
                    }
                    "TREATAS" => {
                        // The values, with the lineage of the target columns: they filter like those columns.
                        let (values, targets) = args.split_first().ok_or_else(|| self.err(at, "TREATAS needs a table and columns"))?;
                        let mut t = self.table(values, mods)?;
                        if targets.len() != t.cols.len() {
                            return Err(self.err(at, format!("TREATAS: the table has {} columns for {} target columns", t.cols.len(), targets.len())));
                        }
                        for (c, target) in t.cols.iter_mut().zip(targets) {
                            let (tb, col) = self.qb.column(target)?;
                            c.name = format!("{}[{col}]", self.model().tables[tb].name);
                            c.ty = column_type(self.model(), tb, &col);
                            c.lineage = Some((tb, col));
                        }
                        Ok(t)
                    }
                    "TOPN" => self.topn(&args, mods, at),
                    "GROUPBY" => self.groupby(&args, mods, at),
                    "CROSSJOIN" => {
                        if args.len() < 2 {
                            return Err(self.err(at, "CROSSJOIN takes two tables or more"));
                        }
                        let mut ctes = Vec::new();
                        let mut cols = Vec::new();
                        let mut froms = Vec::new();
                        let mut sel = Vec::new();
                        for (j, a) in args.iter().enumerate() {
                            let t = self.table(a, mods)?;
                            let name = format!("{}x", self.prefix());
                            ctes.extend(t.stmt.ctes);
                            ctes.push((name.clone(), t.stmt.select));
                            for i in 0..t.cols.len() {
                                sel.push(format!("t{j}.\"c{i}\" AS \"c{}\"", cols.len() + i));
                            }
                            cols.extend(t.cols);
                            froms.push(format!("{name} t{j}"));
                        }
                        Ok(QTable { stmt: Statement { ctes, select: format!("SELECT {} FROM {}", sel.join(", "), froms.join(" CROSS JOIN ")) }, cols })
                    }
                    other => Err(self.err(
                        at,
                        format!(
                            "{other} is not a table function of DAX queries here (supported: SUMMARIZECOLUMNS, SUMMARIZE, GROUPBY, ADDCOLUMNS, SELECTCOLUMNS, FILTER, TOPN, CALCULATETABLE, VALUES, DISTINCT, ALL, ALLNOBLANKROW, ROW, CROSSJOIN, {{ ... }}, a table name or a table VAR)"
                        ),
                    )),
                }
            }
            other => Err(self.err(other.at(), "EVALUATE needs a table: a table function (SUMMARIZECOLUMNS, ...), a table name or `{ ... }`")),
        }
    }

    /// SUMMARIZECOLUMNS(group-by columns..., filter tables..., "name", expression, ...): the combinations of the
    /// group-by values (in the filters' context) for which some expression is not BLANK (IGNORE(e) does not
    /// count), each expression evaluated in its row's context.
    fn summarizecolumns(&mut self, args: &[Expr], mods: &[Mod], at: usize) -> Result<QTable> {
        let mut keys = Vec::new();
        let mut i = 0;
        while let Some(Expr::Column { .. }) = args.get(i) {
            keys.push(self.qb.column(&args[i])?);
            i += 1;
        }
        let mut filters = Vec::new();
        while i < args.len() && !matches!(args[i], Expr::Text(_)) {
            if let Expr::Column { at, .. } = &args[i] {
                return Err(self.err(*at, "SUMMARIZECOLUMNS: group-by columns come first, before the filter tables"));
            }
            filters.push(args[i].clone());
            i += 1;
        }
        let mut names = Vec::new();
        let mut values = Vec::new();
        let mut nonblank = Vec::new();
        for pair in args[i..].chunks(2) {
            let [Expr::Text(name), e] = pair else {
                return Err(self.err(pair[0].at(), "SUMMARIZECOLUMNS: expected \"name\", expression pairs after the filters"));
            };
            let (e, ignored) = match e {
                Expr::Call { name, args, .. } if name == "IGNORE" && args.len() == 1 => match &args[0] {
                    Some(inner) => (inner, true),
                    None => return Err(self.err(e.at(), "IGNORE needs an expression")),
                },
                other => (other, false),
            };
            if !ignored {
                nonblank.push(values.len());
            }
            names.push(name.clone());
            values.push(self.qb.scalar(e, &self.scope, &[])?);
        }
        if keys.is_empty() && values.is_empty() {
            return Err(self.err(at, "SUMMARIZECOLUMNS needs group-by columns or expressions"));
        }
        let mut mods = mods.to_vec();
        mods.extend(self.qb.filters(&filters, at, &self.scope)?);
        self.grid(keys, GridRows::Existing, mods, names, values, nonblank, at)
    }

    /// SUMMARIZE(table, group-by columns..., "name", expression, ...): the combinations of the columns that
    /// exist in the table's rows in context.
    fn summarize(&mut self, args: &[Expr], mods: &[Mod], at: usize) -> Result<QTable> {
        let (source, rest) = args.split_first().ok_or_else(|| self.err(at, "SUMMARIZE needs a table"))?;
        let Expr::Name { name: tname, at: tat } = source else {
            return Err(self.err(source.at(), "SUMMARIZE: the table must be a model table's name here"));
        };
        let table = self.qb.table(tname, *tat)?;
        let mut keys = Vec::new();
        let mut i = 0;
        while let Some(Expr::Column { .. }) = rest.get(i) {
            keys.push(self.qb.column(&rest[i])?);
            i += 1;
        }
        let (names, exprs) = self.pairs(&rest[i..], at, "SUMMARIZE")?;
        let values = exprs.iter().map(|e| self.qb.scalar(e, &self.scope, &[])).collect::<Result<Vec<_>>>()?;
        self.grid(keys, GridRows::Through(table), mods.to_vec(), names, values, vec![], at)
    }

    /// TOPN(n, table, order, [ASC|DESC], ...): the first `n` rows by the order expressions, ties at the boundary
    /// kept, as DAX does (descending unless ASC or 1).
    fn topn(&mut self, args: &[Expr], mods: &[Mod], at: usize) -> Result<QTable> {
        if args.len() < 2 {
            return Err(self.err(at, "TOPN takes a count, a table and order expressions"));
        }
        let n = self.qb.integer(&args[0], "TOPN's count")?.max(0);
        let t = self.table(&args[1], mods)?;
        let mut nodes = Vec::new();
        let mut desc = Vec::new();
        let mut i = 2;
        while i < args.len() {
            nodes.push(self.row_expr(&args[i], &t)?);
            let order = match args.get(i + 1) {
                Some(Expr::Name { name, .. }) if name.eq_ignore_ascii_case("ASC") => Some(false),
                Some(Expr::Name { name, .. }) if name.eq_ignore_ascii_case("DESC") => Some(true),
                Some(Expr::Number(x)) => Some(*x == 0.0),
                Some(Expr::Call { name, args, .. }) if args.is_empty() && (name == "TRUE" || name == "FALSE") => Some(name == "FALSE"),
                _ => None,
            };
            match order {
                Some(d) => {
                    desc.push(d);
                    i += 2;
                }
                None => {
                    desc.push(true);
                    i += 1;
                }
            }
        }
        let prefix = self.prefix();
        let width = t.cols.len();
        let cols: Vec<String> = (0..width).map(|i| format!("\"c{i}\"")).collect();
        let name = format!("{prefix}t");
        let stmt = if nodes.is_empty() {
            wrap(t.stmt, &name, format!("SELECT {} FROM {name} LIMIT {n}", select_list(&cols)))
        } else {
            let rows = self.rows_in(&t, nodes, &prefix, mods, at)?;
            let order: Vec<String> = desc
                .iter()
                .enumerate()
                .map(|(i, d)| if *d { format!("\"e{i}\" DESC NULLS LAST") } else { format!("\"e{i}\" ASC NULLS FIRST") })
                .collect();
            let ranked = format!("{prefix}k");
            let mut s = wrap(
                rows,
                &ranked,
                format!("SELECT {}, RANK() OVER (ORDER BY {}) AS \"__rank\" FROM {ranked}", select_list(&cols), order.join(", ")),
            );
            s = wrap(s, &name, format!("SELECT {} FROM {name} WHERE \"__rank\" <= {n}", select_list(&cols)));
            s
        };
        Ok(QTable { stmt, cols: t.cols })
    }

    /// GROUPBY(table, columns..., "name", SUMX(CURRENTGROUP(), e), ...): the table's rows grouped by some of its
    /// columns (added ones too), with aggregations of row-level expressions over each group.
    fn groupby(&mut self, args: &[Expr], mods: &[Mod], at: usize) -> Result<QTable> {
        let (inner, rest) = args.split_first().ok_or_else(|| self.err(at, "GROUPBY needs a table"))?;
        let t = self.table(inner, mods)?;
        let mut group = Vec::new();
        let mut i = 0;
        while let Some(e) = rest.get(i) {
            if matches!(e, Expr::Text(_)) {
                break;
            }
            let idx = self
                .external_index(e, &t)
                .ok_or_else(|| self.err(e.at(), "GROUPBY: group by columns of the table (`Table[Column]` or `[Added]`)"))?;
            group.push(idx);
            i += 1;
        }
        let (names, exprs) = self.pairs(&rest[i..], at, "GROUPBY")?;
        let mut aggs: Vec<(&str, Option<usize>)> = Vec::new();
        let mut nodes = Vec::new();
        for e in exprs {
            let current_group = |a: &Option<Expr>| matches!(a, Some(Expr::Call { name, args, .. }) if name == "CURRENTGROUP" && args.is_empty());
            let Expr::Call { name, args: call, at: cat } = e else {
                return Err(self.err(e.at(), "GROUPBY: each value is an X aggregation over CURRENTGROUP() (SUMX(CURRENTGROUP(), [CA]))"));
            };
            let f = match name.as_str() {
                "COUNTROWS" if call.len() == 1 && current_group(&call[0]) => {
                    aggs.push(("COUNT(*)", None));
                    continue;
                }
                "SUMX" => "SUM",
                "AVERAGEX" => "AVG",
                "MINX" => "MIN",
                "MAXX" => "MAX",
                "COUNTX" | "COUNTAX" => "COUNT",
                _ => {
                    return Err(self.err(
                        *cat,
                        format!("GROUPBY: {name} is not an aggregation over CURRENTGROUP() (SUMX, AVERAGEX, MINX, MAXX, COUNTX, COUNTAX, COUNTROWS)"),
                    ));
                }
            };
            let (Some(first), Some(Some(value))) = (call.first(), call.get(1)) else {
                return Err(self.err(*cat, format!("{name} takes CURRENTGROUP() and an expression here")));
            };
            if !current_group(first) || call.len() != 2 {
                return Err(self.err(*cat, format!("GROUPBY: {name}'s table must be CURRENTGROUP()")));
            }
            let node = self.row_expr(value, &t)?;
            if !node.is_row_level() {
                return Err(self.err(value.at(), "GROUPBY: the expression over CURRENTGROUP() reads the group's columns only (no measures)"));
            }
            aggs.push((f, Some(nodes.len())));
            nodes.push(node);
        }
        let prefix = self.prefix();
        let rows = self.rows_in(&t, nodes, &prefix, mods, at)?;
        let name = format!("{prefix}g");
        let mut sel: Vec<String> = group.iter().enumerate().map(|(j, g)| format!("\"c{g}\" AS \"c{j}\"")).collect();
        let mut cols: Vec<QCol> = group.iter().map(|g| t.cols[*g].clone()).collect();
        for (j, ((f, e), n)) in aggs.iter().zip(&names).enumerate() {
            let value = match e {
                Some(k) => format!("{f}(\"e{k}\")"),
                None => f.to_string(),
            };
            sel.push(format!("{value} AS \"c{}\"", group.len() + j));
            cols.push(QCol { name: format!("[{n}]"), lineage: None, ty: Type::Number });
        }
        let by: Vec<String> = group.iter().map(|g| format!("\"c{g}\"")).collect();
        let by = if by.is_empty() { String::new() } else { format!(" GROUP BY {}", by.join(", ")) };
        let stmt = wrap(rows, &name, format!("SELECT {} FROM {name}{by}", select_list(&sel)));
        Ok(QTable { stmt, cols })
    }

    /// VALUES/DISTINCT/ALL of columns of one table (or all its columns): their combinations in context.
    fn values(&mut self, table: TableId, columns: Vec<String>, mods: Vec<Mod>, at: usize, no_blank: bool) -> Result<QTable> {
        let keys: Vec<(TableId, String)> = columns.into_iter().map(|c| (table, c)).collect();
        let n = keys.len();
        let mut t = self.grid(keys, GridRows::Existing, mods, vec![], vec![], vec![], at)?;
        if no_blank && n > 0 {
            let name = format!("{}b", self.prefix());
            let cols: Vec<String> = (0..n).map(|i| format!("\"c{i}\"")).collect();
            let any: Vec<String> = (0..n).map(|i| format!("\"c{i}\" IS NOT NULL")).collect();
            t.stmt = wrap(t.stmt, &name, format!("SELECT {} FROM {name} WHERE {}", select_list(&cols), any.join(" OR ")));
        }
        Ok(t)
    }

    /// A grid of model columns with values (the planner's), as a query table.
    #[allow(clippy::too_many_arguments)]
    fn grid(
        &mut self,
        keys: Vec<(TableId, String)>,
        rows: GridRows,
        mods: Vec<Mod>,
        names: Vec<String>,
        values: Vec<Node>,
        nonblank: Vec<usize>,
        at: usize,
    ) -> Result<QTable> {
        let model = self.model();
        let mut cols: Vec<QCol> = keys
            .iter()
            .map(|(t, c)| QCol { name: format!("{}[{c}]", model.tables[*t].name), lineage: Some((*t, c.clone())), ty: column_type(model, *t, c) })
            .collect();
        for (n, v) in names.iter().zip(&values) {
            cols.push(QCol { name: format!("[{n}]"), lineage: None, ty: type_of(model, v) });
        }
        let nk = keys.len();
        let spec = GridSpec { keys, rows, mods, values, nonblank };
        let prefix = self.prefix();
        let stmt = compile_grid(self.bm, &spec, &prefix).map_err(|e| self.err(at, e.0))?;
        let name = format!("{prefix}v");
        let mut sel: Vec<String> = (0..nk).map(|i| format!("\"k{i}\" AS \"c{i}\"")).collect();
        sel.extend((0..names.len()).map(|i| format!("\"v{i}\" AS \"c{}\"", nk + i)));
        if sel.is_empty() {
            sel.push("1 AS \"c0\"".into());
        }
        Ok(QTable { stmt: wrap(stmt, &name, format!("SELECT {} FROM {name}", sel.join(", "))), cols })
    }

    /// A table constructor: `{ 1, 2 }` (one column, `[Value]`) or `{ (1, "a"), (2, "b") }` (`[Value1]`, ...).
    fn constructor(&mut self, rows: &[Vec<Expr>], mods: &[Mod], at: usize) -> Result<QTable> {
        let width = rows.first().map(|r| r.len()).unwrap_or(0);
        if width == 0 {
            return Err(self.err(at, "an empty table constructor `{}` has no columns"));
        }
        let mut nodes = Vec::new();
        for r in rows {
            if r.len() != width {
                return Err(self.err(r.first().map(|e| e.at()).unwrap_or(at), format!("every row of the table constructor needs {width} values")));
            }
            for v in r {
                // Measures in a constructor are evaluated in the context around it.
                nodes.push(self.qb.scalar(v, &self.scope, &[])?);
            }
        }
        let cols: Vec<QCol> = (0..width)
            .map(|j| QCol {
                name: if width == 1 { "[Value]".into() } else { format!("[Value{}]", j + 1) },
                lineage: None,
                ty: type_of(self.model(), &nodes[j]),
            })
            .collect();
        let one = QTable { stmt: Statement { ctes: vec![], select: "SELECT 1 AS \"c0\"".into() }, cols: vec![] };
        let prefix = self.prefix();
        let values = self.rows_in(&one, nodes, &prefix, mods, at)?;
        let name = format!("{prefix}c");
        let selects: Vec<String> = (0..rows.len())
            .map(|r| {
                let sel: Vec<String> = (0..width).map(|j| format!("\"e{}\" AS \"c{j}\"", r * width + j)).collect();
                format!("SELECT {} FROM {name}", sel.join(", "))
            })
            .collect();
        Ok(QTable { stmt: wrap(values, &name, selects.join(" UNION ALL ")), cols })
    }

    /// `"name", expression` pairs.
    fn pairs<'e>(&self, args: &'e [Expr], at: usize, what: &str) -> Result<(Vec<String>, Vec<&'e Expr>)> {
        let mut names = Vec::new();
        let mut exprs = Vec::new();
        for pair in args.chunks(2) {
            match pair {
                [Expr::Text(n), e] => {
                    names.push(n.clone());
                    exprs.push(e);
                }
                _ => return Err(self.err(pair.first().map(|e| e.at()).unwrap_or(at), format!("{what}: expected \"name\", expression pairs"))),
            }
        }
        Ok((names, exprs))
    }

    fn name_value_pairs(&mut self, args: &[Expr], at: usize, what: &str) -> Result<(Vec<String>, Vec<Node>)> {
        let (names, exprs) = self.pairs(args, at, what)?;
        let values = exprs.iter().map(|e| self.qb.scalar(e, &self.scope, &[])).collect::<Result<Vec<_>>>()?;
        Ok((names, values))
    }

    /// The table column an expression is, when it is a bare column reference.
    fn external_index(&self, e: &Expr, t: &QTable) -> Option<usize> {
        let written = match e {
            Expr::Column { table, column, .. } => format!("{table}[{column}]"),
            Expr::Measure { name, .. } => format!("[{name}]"),
            _ => return None,
        };
        t.cols.iter().position(|c| c.name == written)
    }

    /// An expression evaluated per row of `t`: its columns are values, measures see the row's context.
    fn row_expr(&mut self, e: &Expr, t: &QTable) -> Result<Node> {
        let externals: Vec<(String, Node)> =
            t.cols.iter().enumerate().map(|(i, c)| (c.name.clone(), Node::External { sql: row_column(i), ty: c.ty, per_row: true })).collect();
        self.qb.scalar(e, &self.scope, &externals)
    }

    fn rows(&mut self, t: &QTable, exprs: Vec<Node>, prefix: &str, at: usize) -> Result<Statement> {
        self.rows_in(t, exprs, prefix, &[], at)
    }

    /// `t`'s columns and `exprs` per row (`e0`, ...), measures in the context `mods` plus the row's.
    fn rows_in(&mut self, t: &QTable, exprs: Vec<Node>, prefix: &str, mods: &[Mod], at: usize) -> Result<Statement> {
        let keys: Vec<(TableId, String, usize)> =
            t.cols.iter().enumerate().filter_map(|(i, c)| c.lineage.clone().map(|(tb, col)| (tb, col, i))).collect();
        let spec = RowSpec { input: t.stmt.clone(), width: t.cols.len(), keys, mods: mods.to_vec(), exprs };
        compile_rows(self.bm, &spec, prefix).map_err(|e| self.err(at, e.0))
    }
}

/// `stmt` as a CTE named `name`, read by `select`.
fn wrap(stmt: Statement, name: &str, select: String) -> Statement {
    let mut ctes = stmt.ctes;
    ctes.push((name.to_string(), stmt.select));
    Statement { ctes, select }
}

fn select_list(cols: &[String]) -> String {
    if cols.is_empty() { "1 AS \"__one\"".into() } else { cols.join(", ") }
}

/// START AT: the rows at or after the start values in the ORDER BY's order (`e<i>` the order values, `e<n+i>`
/// the start values).
fn start_at(desc: &[bool], n: usize, starts: usize) -> String {
    if starts == 0 {
        return String::new();
    }
    let mut alternatives = Vec::new();
    for (i, descending) in desc.iter().enumerate().take(starts) {
        let mut conj: Vec<String> = (0..i).map(|j| format!("\"e{j}\" = \"e{}\"", n + j)).collect();
        let strict = i + 1 < starts;
        let op = match (*descending, strict) {
            (false, true) => ">",
            (false, false) => ">=",
            (true, true) => "<",
            (true, false) => "<=",
        };
        conj.push(format!("\"e{i}\" {op} \"e{}\"", n + i));
        alternatives.push(format!("({})", conj.join(" AND ")));
    }
    format!(" WHERE {}", alternatives.join(" OR "))
}
