//! Typed Arrow column builders fed with text: the shared decoding step of the readers that tokenize their own
//! input (MySQL dump values, CSV fields). Parsing is strict: a value that does not parse is reported, never
//! coerced to NULL.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::DataType;

use super::BATCH_ROWS;
use super::types::{parse_bool, parse_date, parse_decimal, parse_finite, parse_timestamp_micros};

/// A typed Arrow builder fed with text values.
pub enum ColumnBuilder {
    Int(Int64Builder),
    Float(Float64Builder),
    Dec(Decimal128Builder, u8, i8),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
    Bool(BooleanBuilder),
    Text(StringBuilder),
}

impl ColumnBuilder {
    pub fn new(t: &DataType) -> ColumnBuilder {
        match t {
            DataType::Int64 => ColumnBuilder::Int(Int64Builder::with_capacity(BATCH_ROWS)),
            DataType::Float64 => ColumnBuilder::Float(Float64Builder::with_capacity(BATCH_ROWS)),
            DataType::Decimal128(p, s) => ColumnBuilder::Dec(Decimal128Builder::with_capacity(BATCH_ROWS), *p, *s),
            DataType::Date32 => ColumnBuilder::Date(Date32Builder::with_capacity(BATCH_ROWS)),
            DataType::Timestamp(..) => ColumnBuilder::Ts(TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS)),
            DataType::Boolean => ColumnBuilder::Bool(BooleanBuilder::with_capacity(BATCH_ROWS)),
            _ => ColumnBuilder::Text(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16)),
        }
    }
    pub fn null(&mut self) {
        match self {
            ColumnBuilder::Int(b) => b.append_null(),
            ColumnBuilder::Float(b) => b.append_null(),
            ColumnBuilder::Dec(b, ..) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Ts(b) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Text(b) => b.append_null(),
        }
    }
    /// Append a token's text; false when it does not parse as the column's type.
    #[inline]
    pub fn push(&mut self, s: &str) -> bool {
        match self {
            ColumnBuilder::Int(b) => match parse_i64(s.as_bytes()) {
                Some(v) => b.append_value(v),
                None => return false,
            },
            ColumnBuilder::Float(b) => match parse_finite(s) {
                Some(v) => b.append_value(v),
                None => return false,
            },
            ColumnBuilder::Dec(b, _, scale) => match parse_decimal(s, *scale) {
                Some(v) => b.append_value(v),
                None => return false,
            },
            ColumnBuilder::Date(b) => match parse_date(s) {
                Some(v) => b.append_value(v),
                // MySQL's zero date means "no date".
                None if s == "0000-00-00" => b.append_null(),
                None => return false,
            },
            ColumnBuilder::Ts(b) => match parse_timestamp_micros(s) {
                Some(v) => b.append_value(v),
                None if s.starts_with("0000-00-00") => b.append_null(),
                None => return false,
            },
            ColumnBuilder::Bool(b) => match parse_bool(s) {
                Some(v) => b.append_value(v),
                None => return false,
            },
            ColumnBuilder::Text(b) => b.append_value(s),
        }
        true
    }
    pub fn finish(&mut self) -> std::result::Result<ArrayRef, String> {
        Ok(match self {
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Float(b) => Arc::new(b.finish()),
            ColumnBuilder::Dec(b, p, s) => Arc::new(b.finish().with_precision_and_scale(*p, *s).map_err(|e| e.to_string())?),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Ts(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
        })
    }
    pub fn expects(&self) -> &'static str {
        match self {
            ColumnBuilder::Int(_) => "an integer",
            ColumnBuilder::Float(_) => "a number",
            ColumnBuilder::Dec(..) => "a decimal within the column's scale",
            ColumnBuilder::Date(_) => "a date 'YYYY-MM-DD'",
            ColumnBuilder::Ts(_) => "a date-time 'YYYY-MM-DD HH:MM:SS'",
            ColumnBuilder::Bool(_) => "a boolean",
            ColumnBuilder::Text(_) => "text",
        }
    }
}

#[inline]
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, d) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if d.is_empty() || d.len() > 18 {
        return std::str::from_utf8(s).ok()?.parse().ok();
    }
    let mut v: i64 = 0;
    for &c in d {
        let x = c.wrapping_sub(b'0');
        if x > 9 {
            return None;
        }
        v = v * 10 + x as i64;
    }
    Some(if neg { -v } else { v })
}
