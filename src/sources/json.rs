//! JSON: a top-level array of records, or records at a path inside an object (`records: sessions` for
//! `{"generated_at": ..., "sessions": [...]}`). Nested objects are flattened into `Parent_Child` columns
//! (`flatten: false` keeps them as Arrow structs). Keys missing from a record read as NULL, so older exports
//! without a nested object still load.
//!
//! A fast byte scanner finds the records; arrow-json's tape decoder decodes them. Syntax errors are re-parsed
//! with serde_json, only on the error path, to report the exact line and column.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StructArray, make_array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::arrow::json::reader::ReaderBuilder;
use datafusion::arrow::record_batch::RecordBatch;
use serde::Deserialize;
use serde_json::Value;

use super::error::{Position, Result, SourceError, clip, line_col_of_offset};
use super::limits::{MAX_COLUMNS, check_columns, check_name};
use super::types::infer_type;
use super::{BATCH_ROWS, DeclaredTypes, RawTable, SourceFormat, SourceInput, SourceReader, parse_options};

const INFER_RECORDS: usize = 10_000;
const PARALLEL_MIN_RECORDS: usize = 50_000;

pub struct JsonFormat;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JsonOptions {
    /// Path of keys to the records array, separated by `.` or `/`. Absent: the document is the array.
    pub records: Option<String>,
    /// Flatten nested objects into `Parent_Child` columns (the default) or keep them as structs.
    pub flatten: bool,
    pub separator: String,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions { records: None, flatten: true, separator: "_".into() }
    }
}

impl SourceFormat for JsonFormat {
    fn name(&self) -> &'static str {
        "json"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["json"]
    }
    fn reader(&self, options: serde_norway::Value) -> std::result::Result<Box<dyn SourceReader>, String> {
        let options: JsonOptions = parse_options(options)?;
        Ok(Box::new(JsonReader { options }))
    }
}

#[derive(Debug)]
pub struct JsonReader {
    options: JsonOptions,
}

impl SourceReader for JsonReader {
    fn read(&self, input: &SourceInput<'_>) -> Result<RawTable> {
        let file = input.file;
        let bytes = input.bytes;
        let syntax = |offset: usize, what: &str| syntax_error(file, bytes, offset, what);
        let start = if bytes.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        let mut pos = skip_ws(bytes, start);
        let path: Vec<&str> = match &self.options.records {
            Some(p) => p.split(['.', '/']).filter(|s| !s.is_empty()).collect(),
            None => vec![],
        };
        if pos >= bytes.len() {
            let expected = if path.is_empty() {
                "a JSON array of records (objects)".to_string()
            } else {
                format!("a JSON object holding the records array at `{}`", path.join("."))
            };
            return Err(SourceError::file(file, format!("empty file: expected {expected}")));
        }
        for (depth, key) in path.iter().enumerate() {
            if bytes.get(pos) != Some(&b'{') {
                return Err(SourceError::parse(file, pos_of(bytes, pos), format!("expected an object holding `{}`", path[..=depth].join("."))));
            }
            pos = find_key(bytes, pos, key)
                .map_err(|o| syntax(o, "object"))?
                .ok_or_else(|| SourceError::file(file, format!("no key `{}` holding the records", path[..=depth].join("."))))?;
        }
        if bytes.get(pos) != Some(&b'[') {
            let found = if bytes.get(pos) == Some(&b'{') {
                let keys = top_keys(bytes, pos).unwrap_or_default();
                format!("an object with keys {}; set `records:` to the key holding the array", keys.join(", "))
            } else {
                let token: String = String::from_utf8_lossy(&bytes[pos..skip_value(bytes, pos).unwrap_or(bytes.len())]).into_owned();
                format!("`{}`", clip(&token))
            };
            return Err(SourceError::parse(file, pos_of(bytes, pos), format!("expected an array of records, found {found}")));
        }
        let spans = record_spans(bytes, pos).map_err(|o| syntax(o, "array of records"))?;
        // Whatever follows the array must be closing brackets and whitespace: a truncated or
        // concatenated document is an error, not a partial table.
        let end = spans.end;
        validate_tail(bytes, end, path.len()).map_err(|o| syntax(o, "end of document"))?;

        let schema = infer_schema(file, bytes, &spans.records, input.declared, self.options.flatten, &self.options.separator)?;
        let nested_schema = schema.nested.clone();
        let chunks: Vec<&[(usize, usize)]> = if spans.records.len() >= PARALLEL_MIN_RECORDS {
            let half = spans.records.len() / 2;
            vec![&spans.records[..half], &spans.records[half..]]
        } else {
            vec![&spans.records[..]]
        };
        let decoded: Vec<std::result::Result<Vec<RecordBatch>, usize>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|chunk| {
                    let schema = nested_schema.clone();
                    s.spawn(move || decode(bytes, chunk, schema))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(Err(0))).collect()
        });
        let mut batches = Vec::new();
        for d in decoded {
            match d {
                Ok(mut b) => batches.append(&mut b),
                Err(record_start) => return Err(value_error(file, bytes, record_start, &nested_schema)),
            }
        }
        let out_schema = schema.flat.clone();
        let batches = if self.options.flatten {
            batches
                .into_iter()
                .map(|b| flatten_batch(&b, &out_schema, &self.options.separator))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| SourceError::file(file, format!("internal: {e}")))?
        } else {
            batches
        };
        if let Some((row, name)) = first_non_finite(&batches) {
            let at = spans.records.get(row).map(|r| r.0).unwrap_or(0);
            return Err(SourceError::parse(
                file,
                pos_of(bytes, at).with_field(name),
                "expected a finite number, found NaN or an infinity (or a number too large for a float)",
            ));
        }
        Ok(RawTable { schema: out_schema, batches })
    }
}

/// Row (counted over all batches) and column name of the first NaN or infinite float. arrow-json reads numeric
/// strings such as `"NaN"` or `"inf"` and overflowing literals such as `1e400` into Float64 columns; a measure
/// would only fail on them later, naming no file.
fn first_non_finite(batches: &[RecordBatch]) -> Option<(usize, String)> {
    fn scan(a: &ArrayRef, name: &str) -> Option<(usize, String)> {
        if let Some(f) = a.as_any().downcast_ref::<datafusion::arrow::array::Float64Array>() {
            return f.iter().position(|v| v.is_some_and(|v| !v.is_finite())).map(|r| (r, name.to_string()));
        }
        let s = a.as_any().downcast_ref::<StructArray>()?;
        s.columns().iter().zip(s.column_names()).find_map(|(c, n)| scan(c, &format!("{name}.{n}")))
    }
    let mut offset = 0;
    for b in batches {
        let hit = b.columns().iter().zip(b.schema().fields()).find_map(|(c, f)| scan(c, f.name()));
        if let Some((row, name)) = hit {
            return Some((offset + row, name));
        }
        offset += b.num_rows();
    }
    None
}

fn pos_of(bytes: &[u8], offset: usize) -> Position {
    let (l, c) = line_col_of_offset(bytes, offset);
    Position::line_col(l, c)
}

/// A syntax error, positioned by serde_json when it can (it knows JSON best), else at our own offset.
fn syntax_error(file: &str, bytes: &[u8], offset: usize, expected: &str) -> SourceError {
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        && e.line() > 0
    {
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        return SourceError::parse(file, Position::line_col(e.line() as u64, e.column() as u64), format!("invalid JSON: {msg}"));
    }
    SourceError::parse(file, pos_of(bytes, offset), format!("invalid JSON: expected {expected}"))
}

/// A record that decodes badly: re-read it alone to say which field has which unexpected value.
fn value_error(file: &str, bytes: &[u8], record_start: usize, schema: &SchemaRef) -> SourceError {
    let end = skip_value(bytes, record_start).unwrap_or(bytes.len());
    let value: Option<Value> = serde_json::from_slice(&bytes[record_start..end]).ok();
    if let Some(Value::Object(map)) = value {
        for f in schema.fields() {
            let Some(v) = map.get(f.name()) else { continue };
            let ok = match (f.data_type(), v) {
                (_, Value::Null) => true,
                (DataType::Int64, Value::Number(n)) => n.is_i64(),
                (DataType::Float64, Value::Number(_)) => true,
                (DataType::Boolean, Value::Bool(_)) => true,
                (DataType::Utf8, _) => true,
                (DataType::Struct(_), Value::Object(_)) => true,
                (DataType::List(_), Value::Array(_)) => true,
                (DataType::Date32 | DataType::Timestamp(..), Value::String(_)) => true,
                _ => false,
            };
            if !ok {
                return SourceError::parse(
                    file,
                    pos_of(bytes, record_start).with_field(f.name()),
                    format!("expected {} (type inferred from the first records), found {}", f.data_type(), clip(&v.to_string())),
                );
            }
        }
    }
    SourceError::parse(file, pos_of(bytes, record_start), "record does not match the inferred schema")
}

fn decode(bytes: &[u8], spans: &[(usize, usize)], schema: SchemaRef) -> std::result::Result<Vec<RecordBatch>, usize> {
    let first = spans.first().map(|s| s.0).unwrap_or(0);
    let mut decoder = ReaderBuilder::new(schema).with_batch_size(BATCH_ROWS).with_coerce_primitive(true).build_decoder().map_err(|_| first)?;
    let mut out = Vec::new();
    for &(a, b) in spans {
        let mut rec = &bytes[a..b];
        while !rec.is_empty() {
            let n = decoder.decode(rec).map_err(|_| a)?;
            rec = &rec[n..];
            if decoder.len() >= BATCH_ROWS
                && let Some(batch) = decoder.flush().map_err(|_| a)?
            {
                out.push(batch);
            }
        }
    }
    if let Some(batch) = decoder.flush().map_err(|_| spans.last().map(|s| s.0).unwrap_or(0))? {
        out.push(batch);
    }
    Ok(out)
}

struct Spans {
    records: Vec<(usize, usize)>,
    end: usize,
}

/// The byte span of every element of the array starting at `pos` (which holds `[`).
fn record_spans(b: &[u8], pos: usize) -> std::result::Result<Spans, usize> {
    let mut records = Vec::new();
    let mut p = skip_ws(b, pos + 1);
    if b.get(p) == Some(&b']') {
        return Ok(Spans { records, end: p + 1 });
    }
    loop {
        if b.get(p) != Some(&b'{') {
            return Err(p);
        }
        let end = skip_value(b, p)?;
        records.push((p, end));
        p = skip_ws(b, end);
        match b.get(p) {
            Some(b',') => p = skip_ws(b, p + 1),
            Some(b']') => return Ok(Spans { records, end: p + 1 }),
            _ => return Err(p),
        }
    }
}

fn validate_tail(b: &[u8], mut p: usize, closing: usize) -> std::result::Result<(), usize> {
    // After the records array inside objects, the rest of those objects may hold other keys.
    for _ in 0..closing {
        p = skip_ws(b, p);
        loop {
            match b.get(p) {
                Some(b'}') => {
                    p += 1;
                    break;
                }
                Some(b',') => {
                    p = skip_ws(b, p + 1);
                    if b.get(p) != Some(&b'"') {
                        return Err(p);
                    }
                    p = skip_string(b, p)?;
                    p = skip_ws(b, p);
                    if b.get(p) != Some(&b':') {
                        return Err(p);
                    }
                    p = skip_value(b, skip_ws(b, p + 1))?;
                    p = skip_ws(b, p);
                }
                _ => return Err(p),
            }
        }
    }
    p = skip_ws(b, p);
    if p == b.len() { Ok(()) } else { Err(p) }
}

#[inline]
fn skip_ws(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && matches!(b[p], b' ' | b'\n' | b'\r' | b'\t') {
        p += 1;
    }
    p
}

/// End offset (exclusive) of the string starting at `p` (a `"`).
#[inline]
fn skip_string(b: &[u8], p: usize) -> std::result::Result<usize, usize> {
    let mut i = p + 1;
    loop {
        // A backslash as the last byte moves `i` past the end: `get` makes that "unterminated", not a panic.
        match b.get(i..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) {
            Some(off) => {
                i += off;
                if b[i] == b'\\' {
                    i += 2;
                } else {
                    return Ok(i + 1);
                }
            }
            None => return Err(b.len()),
        }
    }
}

/// End offset (exclusive) of the value starting at `p`. Containers are matched by depth only; their inner
/// syntax is checked later by the decoder.
fn skip_value(b: &[u8], p: usize) -> std::result::Result<usize, usize> {
    match b.get(p) {
        Some(b'"') => skip_string(b, p),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut i = p;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = skip_string(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            Err(b.len())
        }
        Some(_) => {
            let mut i = p;
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                i += 1;
            }
            if i == p { Err(p) } else { Ok(i) }
        }
        None => Err(p),
    }
}

/// In the object at `p`, the offset of the value of `key` (None if absent).
fn find_key(b: &[u8], p: usize, key: &str) -> std::result::Result<Option<usize>, usize> {
    let mut i = skip_ws(b, p + 1);
    if b.get(i) == Some(&b'}') {
        return Ok(None);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return Err(i);
        }
        let kend = skip_string(b, i)?;
        let k: Option<String> = serde_json::from_slice(&b[i..kend]).ok();
        i = skip_ws(b, kend);
        if b.get(i) != Some(&b':') {
            return Err(i);
        }
        i = skip_ws(b, i + 1);
        if k.as_deref() == Some(key) {
            return Ok(Some(i));
        }
        i = skip_ws(b, skip_value(b, i)?);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Ok(None),
            _ => return Err(i),
        }
    }
}

fn top_keys(b: &[u8], p: usize) -> Option<Vec<String>> {
    match serde_json::from_slice::<Value>(&b[p..skip_value(b, p).ok()?]).ok()? {
        Value::Object(m) => Some(m.keys().map(|k| format!("`{k}`")).collect()),
        _ => None,
    }
}

/// The schema to decode with (nested) and the one users see (flattened, unless `flatten: false`).
struct JsonSchema {
    nested: SchemaRef,
    flat: SchemaRef,
}

/// What a sample says about one field.
#[derive(Default)]
struct FieldInfo {
    ints: bool,
    floats: bool,
    bools: bool,
    strings: Vec<String>,
    lists: bool,
    object: Option<Vec<(String, FieldInfo)>>,
    other: bool,
}

/// Note what `map` says about each field. `budget` counts the fields still allowed (over all nesting levels):
/// once spent, observing stops, so that a file of ever-new keys costs neither quadratic time nor memory.
fn observe(fields: &mut Vec<(String, FieldInfo)>, map: &serde_json::Map<String, Value>, budget: &mut usize) {
    for (k, v) in map {
        let idx = match fields.iter().position(|(n, _)| n == k) {
            Some(i) => i,
            None => {
                if *budget == 0 {
                    return;
                }
                *budget -= 1;
                fields.push((k.clone(), FieldInfo::default()));
                fields.len() - 1
            }
        };
        let info = &mut fields[idx].1;
        match v {
            Value::Null => {}
            Value::Bool(_) => info.bools = true,
            Value::Number(n) if n.is_i64() || n.is_u64() => info.ints = true,
            Value::Number(_) => info.floats = true,
            Value::String(s) => {
                if info.strings.len() < INFER_RECORDS {
                    info.strings.push(s.clone())
                }
            }
            Value::Array(_) => info.lists = true,
            Value::Object(m) => observe(info.object.get_or_insert_with(Vec::new), m, budget),
        }
    }
}

fn to_type(info: &FieldInfo) -> DataType {
    let kinds = [info.ints || info.floats, info.bools, !info.strings.is_empty(), info.lists, info.object.is_some()].iter().filter(|k| **k).count();
    if kinds > 1 || info.other {
        return DataType::Utf8;
    }
    if let Some(children) = &info.object {
        return DataType::Struct(children.iter().map(|(n, c)| Field::new(n, to_type(c), true)).collect::<Fields>());
    }
    if info.lists {
        // Lists are kept as JSON text: rare in these sources, and text never fails to decode.
        return DataType::Utf8;
    }
    if info.floats {
        return DataType::Float64;
    }
    if info.ints {
        return DataType::Int64;
    }
    if info.bools {
        return DataType::Boolean;
    }
    infer_type(info.strings.iter().map(|s| Some(s.as_str())))
}

fn infer_schema(file: &str, bytes: &[u8], spans: &[(usize, usize)], declared: &DeclaredTypes, flatten: bool, sep: &str) -> Result<JsonSchema> {
    let mut fields: Vec<(String, FieldInfo)> = Vec::new();
    // One more than the limit, so that crossing it is seen.
    let mut budget = MAX_COLUMNS + 1;
    let mut last = 0;
    for &(a, b) in spans.iter().take(INFER_RECORDS) {
        if budget == 0 {
            break;
        }
        last = a;
        match serde_json::from_slice::<Value>(&bytes[a..b]) {
            Ok(Value::Object(m)) => observe(&mut fields, &m, &mut budget),
            Ok(_) => return Err(SourceError::parse(file, pos_of(bytes, a), "expected a record (a JSON object)")),
            Err(e) => {
                let (l, c) = line_col_of_offset(bytes, a);
                let (line, col) = if e.line() <= 1 { (l, c + e.column() as u64 - 1) } else { (l + e.line() as u64 - 1, e.column() as u64) };
                let msg = e.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                return Err(SourceError::parse(file, Position::line_col(line, col), format!("invalid JSON: {msg}")));
            }
        }
    }
    if budget == 0 {
        // `last` is the record that brought the field over the limit.
        return Err(SourceError::parse(
            file,
            pos_of(bytes, last),
            format!("more than {MAX_COLUMNS} distinct fields (the readers' limit for one table); is the file corrupt?"),
        ));
    }
    let mut nested: Vec<Field> = fields.iter().map(|(n, i)| Field::new(n, to_type(i), true)).collect();
    apply_declared(&mut nested, declared, "", sep);
    let nested = Arc::new(Schema::new(nested));
    let flat = if flatten {
        let mut out = Vec::new();
        flatten_fields(nested.fields(), "", sep, &mut out);
        Arc::new(Schema::new(out))
    } else {
        nested.clone()
    };
    let first = spans.first().map(|s| s.0).unwrap_or(0);
    check_columns(file, flat.fields().len(), pos_of(bytes, first))?;
    for f in flat.fields() {
        check_name(file, f.name(), pos_of(bytes, first))?;
    }
    Ok(JsonSchema { nested, flat })
}

/// Declared types match flattened names too (`Contexte_ID_Canal: int64` types the nested field).
fn apply_declared(fields: &mut [Field], declared: &DeclaredTypes, prefix: &str, sep: &str) {
    for f in fields.iter_mut() {
        let name = format!("{prefix}{}", f.name());
        if let Some(t) = declared.get(&name) {
            *f = Field::new(f.name(), t.clone(), true);
        } else if let DataType::Struct(children) = f.data_type() {
            let mut kids: Vec<Field> = children.iter().map(|c| c.as_ref().clone()).collect();
            apply_declared(&mut kids, declared, &format!("{name}{sep}"), sep);
            *f = Field::new(f.name(), DataType::Struct(kids.into()), true);
        }
    }
}

fn flatten_fields(fields: &Fields, prefix: &str, sep: &str, out: &mut Vec<Field>) {
    for f in fields {
        let name = format!("{prefix}{}", f.name());
        match f.data_type() {
            DataType::Struct(children) => flatten_fields(children, &format!("{name}{sep}"), sep, out),
            t => out.push(Field::new(name, t.clone(), true)),
        }
    }
}

fn flatten_batch(batch: &RecordBatch, schema: &SchemaRef, _sep: &str) -> std::result::Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let mut cols = Vec::with_capacity(schema.fields().len());
    for c in batch.columns() {
        flatten_array(c, None, &mut cols)?;
    }
    RecordBatch::try_new(schema.clone(), cols)
}

/// A struct's children, with the struct's own NULLs pushed down (a missing `Contexte` nulls its fields).
fn flatten_array(
    array: &ArrayRef,
    parent_nulls: Option<&NullBuffer>,
    out: &mut Vec<ArrayRef>,
) -> std::result::Result<(), datafusion::arrow::error::ArrowError> {
    let nulls = NullBuffer::union(parent_nulls, array.nulls());
    match array.as_any().downcast_ref::<StructArray>() {
        Some(s) => {
            for child in s.columns() {
                flatten_array(child, nulls.as_ref(), out)?;
            }
        }
        None => {
            if nulls.as_ref() == array.nulls() {
                out.push(array.clone());
            } else {
                let data = array.to_data().into_builder().nulls(nulls).build()?;
                out.push(make_array(data));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;

    fn read(opts: &str, text: &str) -> Result<RawTable> {
        let o: serde_norway::Value = serde_norway::from_str(opts).unwrap_or(serde_norway::Value::Null);
        let r = JsonFormat.reader(o).map_err(|e| SourceError::file("t", e))?;
        r.read(&SourceInput { file: "t.json", bytes: text.as_bytes(), declared: &DeclaredTypes::new() })
    }

    #[test]
    fn nested_records_are_flattened_with_struct_nulls() {
        let text = r#"{"generated_at": "x", "sessions": [
            {"ID": 1, "C": null, "Ctx": {"Canal": 1, "App": "Mobile"}},
            {"ID": 2, "C": 7},
            {"ID": 3, "C": 8, "Ctx": {"Canal": 2, "App": "Desktop"}}
        ], "n": 3}"#;
        let t = read("records: sessions", text).unwrap();
        let names: Vec<_> = t.schema.fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["ID", "C", "Ctx_Canal", "Ctx_App"]);
        let canal = t.batches[0].column(2).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(canal.iter().collect::<Vec<_>>(), vec![Some(1), None, Some(2)]);
    }

    #[test]
    fn top_level_object_without_path_is_explained() {
        let err = read("", r#"{"sessions": []}"#).unwrap_err().to_string();
        assert!(err.contains("set `records:`") && err.contains("`sessions`"), "{err}");
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let err = read("", "[\n {\"a\": 1},\n {\"a\": 2,,}\n]").unwrap_err().to_string();
        assert!(err.starts_with("t.json: line 3, column "), "{err}");
    }

    #[test]
    fn truncated_document_is_an_error() {
        assert!(read("", "[{\"a\": 1}, {\"a\": 2}").is_err());
        assert!(read("", "[{\"a\": 1}] x").is_err());
    }

    /// Outside test finding 4: an empty file said "found something else".
    #[test]
    fn empty_file_says_so() {
        for text in ["", "  \n", "\u{feff}"] {
            let err = read("", text).unwrap_err().to_string();
            assert_eq!(err, "t.json: empty file: expected a JSON array of records (objects)");
        }
        let err = read("records: sessions", "").unwrap_err().to_string();
        assert!(err.contains("empty file: expected a JSON object holding the records array at `sessions`"), "{err}");
        let err = read("", "42").unwrap_err().to_string();
        assert!(err.contains("expected an array of records, found `42`"), "{err}");
    }

    #[test]
    fn non_finite_floats_name_the_record() {
        let declared: DeclaredTypes = [("v".to_string(), DataType::Float64)].into_iter().collect();
        let r = JsonFormat.reader(serde_norway::Value::Null).unwrap();
        let text = "[{\"v\": 1.5},\n {\"v\": \"NaN\"}]";
        let err = r.read(&SourceInput { file: "t.json", bytes: text.as_bytes(), declared: &declared });
        let err = err.unwrap_err().to_string();
        assert!(err.starts_with("t.json: line 2, column 2, field `v`: expected a finite number"), "{err}");
    }

    #[test]
    fn too_many_fields_are_refused() {
        let keys: Vec<String> = (0..5_000).map(|i| format!("\"k{i}\": 1")).collect();
        let err = read("", &format!("[{{{}}}]", keys.join(","))).unwrap_err().to_string();
        assert!(err.starts_with("t.json: line 1, column 2: more than 4096 distinct fields"), "{err}");
    }
}
