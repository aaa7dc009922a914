//! Statement handles and parameters. A handle carries everything needed to run the statement (its SQL, and the
//! parameter rows bound through DoPut as Arrow IPC), so the server keeps no per-statement state: a handle
//! survives a restart, works on any replica, and closing it frees nothing. A handle is not secret or signed: it
//! holds only what the client could send as SQL itself, and every call is authorised on its own.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::dataframe::DataFrame;
use prost::Message;

/// First bytes of every handle this server issues: a foreign or damaged handle is recognised as such.
const MAGIC: &[u8] = b"om1:";

/// The most parameter rows one DoPut may bind (each row runs the statement once).
pub const MAX_PARAMETER_ROWS: usize = 10_000;

#[derive(Clone, PartialEq, Message)]
struct HandleProto {
    #[prost(string, tag = "1")]
    sql: String,
    /// An Arrow IPC stream of one batch: the parameter rows; empty when none are bound.
    #[prost(bytes = "vec", tag = "2")]
    params: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("not a statement handle of this server")]
    Foreign,
    #[error("damaged statement handle: {0}")]
    Damaged(String),
    #[error("too many parameter rows: {0} (at most {MAX_PARAMETER_ROWS})")]
    TooManyRows(usize),
    #[error("parameter {id}: cannot use a {from} value where a {to} is expected")]
    ParamType { id: String, from: DataType, to: DataType },
    #[error("cannot read the parameters: {0}")]
    Params(String),
}

/// A statement: SQL with `$1, $2, ...` placeholders, and the parameter rows bound to it.
#[derive(Debug, Clone)]
pub struct StatementHandle {
    pub sql: String,
    pub params: Option<RecordBatch>,
}

impl StatementHandle {
    pub fn new(sql: impl Into<String>) -> StatementHandle {
        StatementHandle { sql: sql.into(), params: None }
    }

    pub fn encode(&self) -> Result<Vec<u8>, HandleError> {
        let params = match &self.params {
            None => Vec::new(),
            Some(batch) => {
                let mut buf = Vec::new();
                let mut w = StreamWriter::try_new(&mut buf, &batch.schema()).map_err(|e| HandleError::Params(e.to_string()))?;
                w.write(batch).map_err(|e| HandleError::Params(e.to_string()))?;
                w.finish().map_err(|e| HandleError::Params(e.to_string()))?;
                drop(w);
                buf
            }
        };
        let mut out = MAGIC.to_vec();
        HandleProto { sql: self.sql.clone(), params }.encode(&mut out).map_err(|e| HandleError::Damaged(e.to_string()))?;
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<StatementHandle, HandleError> {
        let body = bytes.strip_prefix(MAGIC).ok_or(HandleError::Foreign)?;
        let proto = HandleProto::decode(body).map_err(|e| HandleError::Damaged(e.to_string()))?;
        let params = if proto.params.is_empty() {
            None
        } else {
            let reader = StreamReader::try_new(proto.params.as_slice(), None).map_err(|e| HandleError::Damaged(e.to_string()))?;
            let schema = reader.schema();
            let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| HandleError::Damaged(e.to_string()))?;
            Some(concat_batches(&schema, &batches).map_err(|e| HandleError::Damaged(e.to_string()))?)
        };
        Ok(StatementHandle { sql: proto.sql, params })
    }

    /// Binds the rows sent through DoPut (several batches are concatenated).
    pub fn with_params(mut self, schema: SchemaRef, batches: &[RecordBatch]) -> Result<StatementHandle, HandleError> {
        let batch = concat_batches(&schema, batches).map_err(|e| HandleError::Params(e.to_string()))?;
        if batch.num_rows() > MAX_PARAMETER_ROWS {
            return Err(HandleError::TooManyRows(batch.num_rows()));
        }
        self.params = Some(batch);
        Ok(self)
    }
}

/// Binds each parameter row to the planned statement: one DataFrame per row (none bound: the plan as is).
/// Columns bind by position (`$1` is the first column, whatever its name); a value is cast to the type the
/// planner inferred for its placeholder, so a client binding an int32 where the column is int64 just works.
pub fn bind(df: DataFrame, params: Option<&RecordBatch>) -> Result<Vec<DataFrame>, BindError> {
    let Some(batch) = params else { return Ok(vec![df]) };
    let expected: HashMap<String, Option<DataType>> = df.logical_plan().get_parameter_types().map_err(BindError::Engine)?;
    let mut frames = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let mut values = Vec::with_capacity(batch.num_columns());
        for (i, column) in batch.columns().iter().enumerate() {
            let id = format!("${}", i + 1);
            let value = ScalarValue::try_from_array(column, row).map_err(BindError::Engine)?;
            let value = match expected.get(&id) {
                Some(Some(t)) if t != &value.data_type() => {
                    value.cast_to(t).map_err(|_| BindError::Handle(HandleError::ParamType { id, from: value.data_type(), to: t.clone() }))?
                }
                _ => value,
            };
            values.push(value);
        }
        frames.push(df.clone().with_param_values(ParamValues::from(values)).map_err(BindError::Engine)?);
    }
    Ok(frames)
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(transparent)]
    Handle(#[from] HandleError),
    #[error("{0}")]
    Engine(datafusion::error::DataFusionError),
}

/// The parameter schema reported at prepare time: `$1`, `$2`, ... with the inferred types (text when the
/// planner could not tell, the most forgiving type for a driver to bind).
pub fn parameter_schema(df: &DataFrame) -> Result<Schema, datafusion::error::DataFusionError> {
    let types = df.logical_plan().get_parameter_types()?;
    let mut ids: Vec<(usize, String, Option<DataType>)> =
        types.into_iter().map(|(id, t)| (id.trim_start_matches('$').parse::<usize>().unwrap_or(usize::MAX), id, t)).collect();
    ids.sort();
    Ok(Schema::new(ids.into_iter().map(|(_, id, t)| Arc::new(Field::new(id, t.unwrap_or(DataType::Utf8), true))).collect::<Vec<_>>()))
}

/// Numbers JDBC/ODBC-style `?` placeholders as `$1, $2, ...` (the form DataFusion binds by position), leaving
/// `?` inside string literals, quoted identifiers and comments alone.
pub fn number_placeholders(sql: &str) -> String {
    let mut n = 0;
    rewrite_outside_literals(sql, &mut |rest| {
        if rest.starts_with('?') {
            n += 1;
            Some((1, format!("${n}")))
        } else {
            None
        }
    })
}

/// Copies `sql`, letting `replace` rewrite at each position outside string literals, quoted identifiers and
/// comments: it returns how many bytes it consumed and what to write instead.
fn rewrite_outside_literals(sql: &str, replace: &mut dyn FnMut(&str) -> Option<(usize, String)>) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut i = 0;
    let bytes = sql.as_bytes();
    while i < sql.len() {
        let rest = &sql[i..];
        let c = bytes[i];
        let skip_to = |end: Option<usize>| end.map(|e| i + e).unwrap_or(sql.len());
        let next = match c {
            // A doubled quote inside is an escaped quote: it reads as close-then-open, which copies the same.
            b'\'' | b'"' => skip_to(rest[1..].find(c as char).map(|e| e + 2)),
            b'-' if rest.starts_with("--") => skip_to(rest.find('\n').map(|e| e + 1)),
            b'/' if rest.starts_with("/*") => skip_to(rest[2..].find("*/").map(|e| e + 4)),
            _ => {
                if let Some((consumed, text)) = replace(rest) {
                    out.push_str(&text);
                    i += consumed;
                    continue;
                }
                i + rest.chars().next().map(char::len_utf8).unwrap_or(1)
            }
        };
        out.push_str(&sql[i..next]);
        i = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, StringArray};

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            number_placeholders("SELECT '?', \"a?\" FROM t WHERE x = ? AND y = ? -- ?\n/* ? */ AND z = ?"),
            "SELECT '?', \"a?\" FROM t WHERE x = $1 AND y = $2 -- ?\n/* ? */ AND z = $3"
        );
        assert_eq!(number_placeholders("SELECT 'it''s ?' , ?"), "SELECT 'it''s ?' , $1");
        assert_eq!(number_placeholders("SELECT 'café ?', ? -- é ?"), "SELECT 'café ?', $1 -- é ?");
    }

    #[test]
    fn handles_round_trip_with_params() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, true), Field::new("b", DataType::Utf8, true)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(vec![1, 2])), Arc::new(StringArray::from(vec!["x", "y"]))])
            .expect("batch");
        let h = StatementHandle::new("SELECT $1, $2").with_params(schema, std::slice::from_ref(&batch)).expect("bind");
        let back = StatementHandle::decode(&h.encode().expect("encode")).expect("decode");
        assert_eq!(back.sql, "SELECT $1, $2");
        assert_eq!(back.params.expect("params"), batch);
        assert!(matches!(StatementHandle::decode(b"garbage"), Err(HandleError::Foreign)));
        assert!(matches!(StatementHandle::decode(b"om1:\xff\xff"), Err(HandleError::Damaged(_))));
    }
}
