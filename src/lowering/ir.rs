//! The bound form of a measure: names resolved against the model, types known, measure references inlined.
//! Each aggregation (a [`Leaf`]) carries the filter-context changes ([`Mod`]s) that CALCULATE and friends
//! applied around it, relative to the context it is evaluated in; the SQL planner turns those into SQL.
//!
//! Three kinds of expression meet here:
//! - *scalar* nodes, evaluated once per row of a grid (a visual's cell);
//! - *row-level* nodes ([`Node::Column`], literals, scalar functions), evaluated per row of a table: the value
//!   and condition of a leaf (`SUMX(Fait_Ventes, Fait_Ventes[Quantite] * RELATED(Dim_Produit[Prix]))`), the
//!   predicate of a CALCULATE filter (`Dim_Canal[Nom_Canal] IN {"Web", "Mobile"}`);
//! - *iterations* ([`Iteration`]), where a scalar expression is evaluated once per item of a table (context
//!   transition) and the results are aggregated.

pub use crate::dax::ast::CmpOp;
use crate::model::TableId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Number,
    Text,
    Bool,
    Date,
}

/// An aggregation over the rows of a table in context.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Agg {
    Sum,
    Average,
    Min,
    Max,
    /// Non-blank values (COUNT, COUNTA, COUNTX, COUNTAX).
    Count,
    /// Blank values (COUNTBLANK).
    CountBlank,
    CountRows,
    /// Distinct values, BLANK counted as one value (DISTINCTCOUNT).
    DistinctCount,
    DistinctCountNoBlank,
    Product,
    /// CONCATENATEX: values joined by `delimiter`, ordered by `order` (ascending unless `descending`).
    Concat {
        delimiter: String,
        order: Option<Box<Node>>,
        descending: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodUnit {
    Day,
    Month,
    Quarter,
    Year,
}

impl PeriodUnit {
    pub fn months(self) -> Option<i64> {
        match self {
            PeriodUnit::Day => None,
            PeriodUnit::Month => Some(1),
            PeriodUnit::Quarter => Some(3),
            PeriodUnit::Year => Some(12),
        }
    }
    pub fn sql(self) -> &'static str {
        match self {
            PeriodUnit::Day => "day",
            PeriodUnit::Month => "month",
            PeriodUnit::Quarter => "quarter",
            PeriodUnit::Year => "year",
        }
    }
}

/// Which end of the dates in context a period is anchored on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anchor {
    First,
    Last,
}

/// Time intelligence: a function from the set of dates in context to a new set of dates. Bounds written as
/// expressions ([`Node`]) read the dates in context through `MIN`/`MAX` leaves on the date column
/// (FIRSTDATE/LASTDATE) and are otherwise row-level (`DATE(2024, 1, 1)`, `LASTDATE(...) - 30`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TimeFn {
    /// DATEADD / SAMEPERIODLASTYEAR: every date moved by `count` units; a month's last day moves to the end of
    /// its target month, so whole months stay whole.
    Shift { count: i64, unit: PeriodUnit },
    /// Whole periods: from the start of the unit holding the `from` date, moved `count` units, to the end of the
    /// unit holding the `to` date, moved likewise (PARALLELPERIOD, PREVIOUS/NEXT DAY/MONTH/QUARTER/YEAR).
    Periods { count: i64, unit: PeriodUnit, from: Anchor, to: Anchor },
    /// DATESMTD/QTD/YTD: from the start of the unit holding the last date to the last date.
    ToDate { unit: PeriodUnit },
    /// DATESINPERIOD(dates, start, count, unit).
    InPeriod { start: Box<Node>, count: i64, unit: PeriodUnit },
    /// DATESBETWEEN(dates, start, end); a BLANK bound is open.
    Between { start: Option<Box<Node>>, end: Option<Box<Node>> },
    /// FIRSTDATE/LASTDATE (unit `None`), STARTOF/ENDOF MONTH/QUARTER/YEAR: one date.
    Edge { unit: Option<PeriodUnit>, end: bool },
    /// FILTER(ALL(dates), condition): the dates (of the whole calendar, or of the query's selection with
    /// ALLSELECTED) for which a row-level condition over the date column holds; MIN/MAX of the dates in context
    /// are available to it (running totals).
    Where { pred: Box<Node>, selected: bool },
}

/// A change to the filter context, applied in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mod {
    /// ALL / REMOVEFILTERS: filters removed from the listed columns of `table`, or from its whole expanded
    /// table (the table and the tables that filter it) when `columns` is empty, except the `keep` columns
    /// (ALLEXCEPT).
    RemoveFilters {
        table: TableId,
        columns: Vec<String>,
        keep: Vec<String>,
    },
    /// ALLSELECTED: the query's filters stay, the current row's group-by values on it go.
    AllSelected {
        table: TableId,
        column: Option<String>,
    },
    /// A filter over the rows of one table: `pred` is row-level over `table`'s `columns`. It replaces the
    /// filters on those columns, or intersects with them when `keep` (KEEPFILTERS, FILTER over a table in
    /// context).
    Filter {
        table: TableId,
        columns: Vec<String>,
        pred: Box<Node>,
        keep: bool,
    },
    Time(TimeFn),
    /// FIRSTNONBLANK/LASTNONBLANK over the date table as a filter: the date in context (first or last) that has
    /// rows for the aggregated table.
    NonBlankDate {
        last: bool,
    },
    /// USERELATIONSHIP: this relationship joins instead of the active one between the same tables.
    UseRelationship(usize),
    /// CROSSFILTER(..., NONE): the relationship does not propagate filters.
    NoRelationship(usize),
    /// Inside an iterator, before any context transition: the innermost iterated row is not a filter (an
    /// aggregation without CALCULATE sees the iterator's outer context).
    ExitRow,
    /// A filter whose values depend on the context where CALCULATE stands (a measure inside FILTER, TOPN):
    /// the items of the iteration for which it selects are the column's values.
    Computed(Box<Iteration>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Leaf {
    pub table: TableId,
    pub agg: Agg,
    /// The row-level value aggregated; `None` for COUNTROWS.
    pub value: Option<Box<Node>>,
    /// A row-level condition the rows must meet (FILTER inside an iterator).
    pub filter: Option<Box<Node>>,
    pub mods: Vec<Mod>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetKind {
    /// ALL(...): every value, filters on the columns removed (the table's BLANK member included).
    All,
    /// ALLNOBLANKROW(...): as ALL, without the BLANK member.
    AllNoBlank,
    /// ALLSELECTED(...): the values the query's filters allow; the row's own value released.
    AllSelected,
    /// VALUES(...) or a table name: the values visible in the current context.
    Values,
}

/// How an iteration turns its items' values into one value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IterKind {
    /// SUMX, AVERAGEX, ..., COUNTROWS over items: `value` per item, aggregated (`None` for COUNTROWS).
    Aggregate { agg: Agg, value: Option<Box<Node>> },
    /// RANKX: the rank of `current` (outer context) among `value` per item.
    Rank { current: Box<Node>, value: Box<Node>, descending: bool, dense: bool },
    /// The first item (by `value`, then by the item itself) — FIRSTNONBLANK(TOPN(1, ...)), and
    /// FIRSTNONBLANK/LASTNONBLANK(column, expression) with `value` the item and `nonblank` the expression.
    TopItem { value: Box<Node>, descending: bool, nonblank: Option<Box<Node>> },
    /// As a filter ([`Mod::Computed`]): the items selected.
    Items,
}

/// The top `n` items by `value` (TOPN): ties at the boundary are all kept, as DAX does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopN {
    pub n: Box<Node>,
    pub value: Box<Node>,
    pub descending: bool,
}

/// An iterator over the distinct values of some columns of one table (one column for VALUES(T[c]); the key
/// and the columns the body reads for a table); the nodes inside are evaluated once per item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iteration {
    pub table: TableId,
    pub columns: Vec<String>,
    pub set: SetKind,
    /// Context changes in force where the iterator stands.
    pub mods: Vec<Mod>,
    /// FILTER conditions on the items (evaluated per item; may read measures).
    pub conditions: Vec<Node>,
    pub top: Option<TopN>,
    pub kind: IterKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

/// What ISFILTERED and friends ask of the context; answered when the query is planned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InfoKind {
    /// ISFILTERED (`cross` false) / ISCROSSFILTERED (`cross` true) of a column, or of a table (`column` None).
    Filtered { cross: bool },
    /// ISINSCOPE: the column is grouped by in the current row.
    InScope,
    /// HASONEFILTER: filtered directly to one value.
    OneFilter,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Info {
    pub kind: InfoKind,
    pub table: TableId,
    pub column: Option<String>,
    pub mods: Vec<Mod>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Node {
    Leaf(Leaf),
    /// A column of the current row (row context): inside a leaf's value or condition, a filter's predicate,
    /// or an iteration's body (the item's column).
    Column {
        table: TableId,
        column: String,
    },
    Number(String),
    Text(String),
    Bool(bool),
    /// A date literal, `YYYY-MM-DD`.
    Date(String),
    Blank,
    Neg(Box<Node>),
    Not(Box<Node>),
    Arith(Arith, Box<Node>, Box<Node>),
    Concat(Box<Node>, Box<Node>),
    Compare(CmpOp, Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    /// `value IN { list }`
    In(Box<Node>, Vec<Node>),
    Divide(Box<Node>, Box<Node>, Option<Box<Node>>),
    If(Box<Node>, Box<Node>, Box<Node>),
    /// SWITCH(TRUE(), c1, v1, ..., else) and SWITCH(e, k1, v1, ..., else), the latter as equalities.
    Case(Vec<(Node, Node)>, Box<Node>),
    /// A scalar function of the registry rendered from its SQL template (`crate::lowering::functions`).
    Func(&'static str, Vec<Node>),
    Iterate(Box<Iteration>),
    /// COUNTROWS(INTERSECT(VALUES(T[c]) in context a, VALUES(T[c]) in context b)).
    IntersectCount {
        table: TableId,
        column: String,
        a: Vec<Mod>,
        b: Vec<Mod>,
    },
    /// A value from the context enclosing the innermost iterator (a VAR defined outside it).
    Outer(Box<Node>),
    Info(Info),
    /// A value from outside the model, as SQL: a column of the table a DAX query's FILTER/ADDCOLUMNS/TOPN
    /// goes over (`per_row`), or a query's constant VAR. Rendered as written.
    External {
        sql: String,
        ty: Type,
        per_row: bool,
    },
}

impl Node {
    /// Calls `f` on each direct child (not inside leaves, iterations or outer references: those are planned
    /// on their own).
    pub fn children(&self) -> Vec<&Node> {
        match self {
            Node::Neg(a) | Node::Not(a) => vec![a],
            Node::Arith(_, a, b) | Node::Concat(a, b) | Node::Compare(_, a, b) | Node::And(a, b) | Node::Or(a, b) => vec![a, b],
            Node::In(a, list) => std::iter::once(&**a).chain(list.iter()).collect(),
            Node::Divide(a, b, c) => {
                let mut v: Vec<&Node> = vec![a, b];
                if let Some(c) = c {
                    v.push(c);
                }
                v
            }
            Node::If(a, b, c) => vec![a, b, c],
            Node::Case(arms, e) => arms.iter().flat_map(|(c, v)| [c, v]).chain(std::iter::once(&**e)).collect(),
            Node::Func(_, args) => args.iter().collect(),
            _ => vec![],
        }
    }

    /// Does the expression read only the current row (no aggregation, iteration or context)?
    pub fn is_row_level(&self) -> bool {
        match self {
            Node::Leaf(_) | Node::Iterate(_) | Node::IntersectCount { .. } | Node::Outer(_) | Node::Info(_) => false,
            other => other.children().iter().all(|c| c.is_row_level()),
        }
    }

    /// The columns the expression reads from the current row.
    pub fn row_columns(&self, out: &mut Vec<(TableId, String)>) {
        if let Node::Column { table, column } = self {
            if !out.iter().any(|(t, c)| t == table && c == column) {
                out.push((*table, column.clone()));
            }
            return;
        }
        for c in self.children() {
            c.row_columns(out);
        }
    }
}
