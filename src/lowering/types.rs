//! The DAX type of a bound expression, from the model's column types: what the binder checks arguments
//! against and what the planner renders comparisons and date arithmetic by.

use datafusion::arrow::datatypes::DataType;

use super::functions::{Lowering, Returns, lookup};
use super::ir::{Agg, Arith, IterKind, Node, Type};
use crate::model::{Model, TableId};

pub fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Boolean)
}

pub fn column_type(model: &Model, table: TableId, column: &str) -> Type {
    match model.tables[table].column_type(column) {
        Some(DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)) => Type::Date,
        Some(DataType::Boolean) => Type::Bool,
        Some(t) if t.is_numeric() => Type::Number,
        _ => Type::Text,
    }
}

pub fn type_of(model: &Model, n: &Node) -> Type {
    let t = |x: &Node| type_of(model, x);
    match n {
        Node::Leaf(l) => match &l.agg {
            Agg::Min | Agg::Max => l.value.as_deref().map(t).unwrap_or(Type::Number),
            Agg::Concat { .. } => Type::Text,
            _ => Type::Number,
        },
        Node::Column { table, column } => column_type(model, *table, column),
        Node::Number(_) => Type::Number,
        Node::Text(_) | Node::Concat(..) => Type::Text,
        Node::Date(_) => Type::Date,
        Node::Bool(_) | Node::Not(_) | Node::Compare(..) | Node::And(..) | Node::Or(..) | Node::In(..) | Node::Info(_) => Type::Bool,
        Node::Blank => Type::Number,
        Node::Neg(a) => t(a),
        Node::Arith(op, a, b) => match (op, t(a), t(b)) {
            (Arith::Sub, Type::Date, Type::Date) => Type::Number,
            (Arith::Add | Arith::Sub, Type::Date, _) | (Arith::Add, _, Type::Date) => Type::Date,
            _ => Type::Number,
        },
        Node::Divide(..) => Type::Number,
        Node::If(_, a, b) => {
            if matches!(**a, Node::Blank) {
                t(b)
            } else {
                t(a)
            }
        }
        Node::Case(arms, e) => arms.iter().map(|(_, v)| v).find(|v| !matches!(v, Node::Blank)).map(t).unwrap_or_else(|| t(e)),
        Node::Func(name, args) => match lookup(name).map(|f| f.lowering) {
            Some(Lowering::Sql(_, Returns::Number)) => Type::Number,
            Some(Lowering::Sql(_, Returns::Text)) => Type::Text,
            Some(Lowering::Sql(_, Returns::Bool)) => Type::Bool,
            Some(Lowering::Sql(_, Returns::Date)) => Type::Date,
            _ => match super::functions::internal(name).map(|(_, r)| r) {
                Some(Returns::Number) => Type::Number,
                Some(Returns::Text) => Type::Text,
                Some(Returns::Bool) => Type::Bool,
                Some(Returns::Date) => Type::Date,
                _ => args.iter().map(t).find(|ty| *ty != Type::Number).unwrap_or(Type::Number),
            },
        },
        Node::Iterate(it) => match &it.kind {
            IterKind::Aggregate { agg: Agg::Min | Agg::Max, value: Some(v) } => t(v),
            IterKind::Aggregate { agg: Agg::Concat { .. }, .. } => Type::Text,
            IterKind::TopItem { value, nonblank: Some(_), .. } => t(value),
            IterKind::TopItem { .. } => it.columns.first().map(|c| column_type(model, it.table, c)).unwrap_or(Type::Text),
            _ => Type::Number,
        },
        Node::IntersectCount { .. } => Type::Number,
        Node::Outer(inner) => t(inner),
        Node::External { ty, .. } => *ty,
    }
}
