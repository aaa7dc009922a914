//! The bound form of a measure: names resolved against the model, types known, measure references inlined.
//! Each aggregation (a [`Leaf`]) carries the filter-context changes (`Mod`s) that CALCULATE and friends
//! applied around it, relative to the context it is evaluated in; the SQL planner turns those into SQL.

pub use super::ast::CmpOp;
use crate::model::TableId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Number,
    Text,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agg {
    Sum,
    Average,
    Min,
    Max,
    Count,
    CountRows,
    DistinctCount,
}

/// A literal in a CALCULATE filter; numbers are kept as written so the IR can be hashed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Literal {
    Number(String),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodUnit {
    Day,
    Month,
    Quarter,
    Year,
}

/// Time intelligence: a function from the set of dates in context to a new set of dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeFn {
    /// Every date shifted back one year (29 February to 28 February).
    SamePeriodLastYear,
    /// The whole calendar month before the first date.
    PreviousMonth,
    /// From 1 January of the last date's year to the last date.
    YearToDate,
    /// DATESINPERIOD(dates, LASTDATE(dates), -count, unit): the `count` units ending on the last date.
    PeriodEndingLast { count: u32, unit: PeriodUnit },
}

/// A change to the filter context, applied in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mod {
    /// ALL / REMOVEFILTERS of a table (its expanded table: the tables that filter it too) or of one column.
    RemoveFilters { table: TableId, column: Option<String> },
    /// ALLSELECTED: the query's filters stay, the current row's group-by values on it go.
    AllSelected { table: TableId, column: Option<String> },
    /// A boolean CALCULATE filter `Table[Column] op literal`; it replaces filters on that column.
    Filter { table: TableId, column: String, op: CmpOp, value: Literal },
    Time(TimeFn),
    /// LASTNONBLANK over the date table: the value at the last date in context that has rows.
    LastNonBlank,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Leaf {
    pub table: TableId,
    pub agg: Agg,
    pub column: Option<String>,
    pub mods: Vec<Mod>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetKind {
    /// ALL(Table[Column]): every value, filters on the column removed.
    All,
    /// ALLSELECTED(Table[Column]): the values the query's filters allow; the row's own value released.
    AllSelected,
    /// VALUES(Table[Column]): the values visible in the current context.
    Values,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IterKind {
    /// RANKX: the rank of `current` (outer context) among `value` per item.
    Rank { current: Box<Node>, value: Box<Node>, descending: bool, dense: bool },
    /// FIRSTNONBLANK(TOPN(1, set, value, order), ...): the item with the best value, ties to the first item.
    TopItem { value: Box<Node>, descending: bool },
    /// SUMX(FILTER(set, condition), value); `condition` is TRUE for a plain SUMX.
    SumWhere { condition: Box<Node>, value: Box<Node> },
    /// COUNTROWS(FILTER(set, condition)).
    CountWhere { condition: Box<Node> },
}

/// An iterator over the values of one column; the nodes inside are evaluated once per value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iteration {
    pub table: TableId,
    pub column: String,
    pub set: SetKind,
    /// Context changes in force where the iterator stands.
    pub mods: Vec<Mod>,
    pub kind: IterKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Node {
    Leaf(Leaf),
    Number(String),
    Text(String),
    Bool(bool),
    Blank,
    Neg(Box<Node>),
    Not(Box<Node>),
    Arith(Arith, Box<Node>, Box<Node>),
    Concat(Box<Node>, Box<Node>),
    Compare(CmpOp, Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Divide(Box<Node>, Box<Node>, Option<Box<Node>>),
    If(Box<Node>, Box<Node>, Box<Node>),
    /// SWITCH(TRUE(), c1, v1, ..., else) and SWITCH(e, k1, v1, ..., else), the latter as equalities.
    Case(Vec<(Node, Node)>, Box<Node>),
    Iterate(Box<Iteration>),
    /// COUNTROWS(INTERSECT(VALUES(T[c]) in context a, VALUES(T[c]) in context b)).
    IntersectCount { table: TableId, column: String, a: Vec<Mod>, b: Vec<Mod> },
    /// A value from the context enclosing the innermost iterator (a VAR defined outside it).
    Outer(Box<Node>),
}

impl Node {
    pub fn ty(&self, text_leaf: &dyn Fn(&Leaf) -> bool) -> Type {
        match self {
            Node::Leaf(l) if text_leaf(l) => Type::Text,
            Node::Text(_) | Node::Concat(..) => Type::Text,
            Node::Bool(_) | Node::Not(_) | Node::Compare(..) | Node::And(..) | Node::Or(..) => Type::Bool,
            Node::If(_, a, b) => {
                let t = a.ty(text_leaf);
                if matches!(**a, Node::Blank) { b.ty(text_leaf) } else { t }
            }
            Node::Case(arms, e) => arms.iter().map(|(_, v)| v).find(|v| !matches!(v, Node::Blank)).unwrap_or(e).ty(text_leaf),
            Node::Iterate(it) if matches!(it.kind, IterKind::TopItem { .. }) => Type::Text,
            Node::Outer(n) => n.ty(text_leaf),
            _ => Type::Number,
        }
    }
}
