//! A query result as plain rows of cells: what the JSON API returns and what the pages draw. Arrow stays the
//! wire format for clients that ask for it (`application/vnd.apache.arrow.stream`); this is for people.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl Cell {
    /// The cell as a number, for charts (`None` for text and NULL).
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The cell as the text a slicer option or a label shows; NULL is empty.
    pub fn text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Text(s) => s.clone(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        match self {
            Cell::Null => serde_json::Value::Null,
            Cell::Int(i) => (*i).into(),
            // JSON has no NaN or infinity: those read as null.
            Cell::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number),
            Cell::Bool(b) => (*b).into(),
            Cell::Text(s) => s.clone().into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// Arrow's name for the type (`Int64`, `Utf8`, `Float64`, ...).
    pub data_type: String,
    pub numeric: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ResultTable {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

impl ResultTable {
    pub fn from_batches(schema: &Schema, batches: &[RecordBatch]) -> ResultTable {
        let columns = schema
            .fields()
            .iter()
            .map(|f| Column { name: f.name().clone(), data_type: f.data_type().to_string(), numeric: f.data_type().is_numeric() })
            .collect();
        let mut rows = Vec::new();
        for batch in batches {
            let cols: Vec<Vec<Cell>> = batch.columns().iter().map(|a| cells(a.as_ref())).collect();
            for r in 0..batch.num_rows() {
                rows.push(cols.iter().map(|c| c.get(r).cloned().unwrap_or(Cell::Null)).collect());
            }
        }
        ResultTable { columns, rows }
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// `{"columns": [{"name", "type"}], "rows": [[...]]}`: rows as arrays, in column order (names may repeat).
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "columns": self.columns.iter().map(|c| serde_json::json!({"name": c.name, "type": c.data_type})).collect::<Vec<_>>(),
            "rows": self.rows.iter().map(|r| r.iter().map(Cell::json).collect::<Vec<_>>()).collect::<Vec<_>>(),
        })
    }
}

/// One Arrow column as cells: integers stay exact, other numbers (floats, decimals) become f64, anything else
/// its display text (dates as `2024-01-31`).
fn cells(array: &dyn Array) -> Vec<Cell> {
    let n = array.len();
    let dt = array.data_type();
    let nulls = |i: usize| array.is_null(i);
    if dt.is_integer() {
        if let Ok(a) = cast(array, &DataType::Int64) {
            let a = a.as_primitive::<Int64Type>();
            return (0..n).map(|i| if nulls(i) { Cell::Null } else { Cell::Int(a.value(i)) }).collect();
        }
    } else if dt.is_numeric() {
        if let Ok(a) = cast(array, &DataType::Float64) {
            let a = a.as_primitive::<Float64Type>();
            return (0..n).map(|i| if nulls(i) { Cell::Null } else { Cell::Float(a.value(i)) }).collect();
        }
    } else if *dt == DataType::Boolean {
        let a = array.as_boolean();
        return (0..n).map(|i| if nulls(i) { Cell::Null } else { Cell::Bool(a.value(i)) }).collect();
    }
    (0..n).map(|i| if nulls(i) { Cell::Null } else { Cell::Text(array_value_to_string(array, i).unwrap_or_default()) }).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, Int32Array, StringArray};
    use datafusion::arrow::datatypes::Field;

    use super::*;

    #[test]
    fn cells_keep_types_and_nulls() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Float64, true),
            Field::new("c", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from(vec![Some(1), None])),
                Arc::new(Float64Array::from(vec![Some(f64::NAN), Some(2.5)])),
                Arc::new(StringArray::from(vec![Some("x"), None])),
            ],
        )
        .expect("batch");
        let t = ResultTable::from_batches(&schema, &[batch]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[1], vec![Cell::Null, Cell::Float(2.5), Cell::Null]);
        assert_eq!(t.json()["rows"], serde_json::json!([[1, null, "x"], [null, 2.5, null]]));
        assert_eq!(t.json()["columns"][0], serde_json::json!({"name": "a", "type": "Int32"}));
    }
}
