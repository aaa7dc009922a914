//! The DAX syntax tree: what the parser produces and the binder reads. Offsets are byte offsets into the
//! measure's DAX text, so errors can point at the exact place in the model file.

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Text(String),
    /// `[Measure]`
    Measure {
        name: String,
        at: usize,
    },
    /// `Table[Column]` or `'Table'[Column]`
    Column {
        table: String,
        column: String,
        at: usize,
    },
    /// A bare name: a VAR, TRUE/FALSE written without parentheses, or a keyword argument such as DESC or MONTH.
    Name {
        name: String,
        at: usize,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
        at: usize,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        at: usize,
    },
    /// A function call; an omitted argument (`RANKX(t, e, , DESC)`) is `None`.
    Call {
        name: String,
        args: Vec<Option<Expr>>,
        at: usize,
    },
    /// `VAR a = ... VAR b = ... RETURN body`
    Let {
        vars: Vec<(String, Expr, usize)>,
        body: Box<Expr>,
    },
    /// A table constructor `{ "Web", "Mobile" }` (one column; rows of several values are refused by the binder).
    Table {
        rows: Vec<Vec<Expr>>,
        at: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Concat,
    Compare(CmpOp),
    And,
    Or,
    /// `value IN { ... }` or `value IN table`
    In,
}

/// A comparison; the IR keeps it as written (`ir::Node::Compare`, CALCULATE filters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    /// `==`: equal, BLANK equal only to BLANK (no conversion of BLANK to 0 or "").
    StrictEq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq | CmpOp::StrictEq => "=",
            CmpOp::NotEq => "<>",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }
}

impl Expr {
    /// Where the expression starts in the DAX text.
    pub fn at(&self) -> usize {
        match self {
            Expr::Number(_) | Expr::Text(_) => 0,
            Expr::Measure { at, .. }
            | Expr::Column { at, .. }
            | Expr::Name { at, .. }
            | Expr::Unary { at, .. }
            | Expr::Binary { at, .. }
            | Expr::Call { at, .. }
            | Expr::Table { at, .. } => *at,
            Expr::Let { vars, body } => vars.first().map(|v| v.2).unwrap_or_else(|| body.at()),
        }
    }
}

/// A DAX query: `DEFINE` definitions, then one or more `EVALUATE` statements. Offsets are byte offsets into the
/// query text.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub defines: Vec<Define>,
    pub evaluates: Vec<Evaluate>,
}

/// One `DEFINE` entry, visible to every `EVALUATE` of the query.
#[derive(Debug, Clone, PartialEq)]
pub enum Define {
    /// `MEASURE Table[Name] = expr`: a measure for this query only (the table is where it would live).
    Measure { table: String, name: String, expr: Expr, at: usize },
    /// `VAR name = expr`: a table or a constant, computed once for the query.
    Var { name: String, expr: Expr, at: usize },
}

/// `EVALUATE table [ORDER BY e [ASC|DESC], ... [START AT v, ...]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluate {
    pub table: Expr,
    /// (expression, descending)
    pub order_by: Vec<(Expr, bool)>,
    pub start_at: Vec<Expr>,
    pub at: usize,
}
