//! CSV: delimiter given or sniffed from the header (`;` for this retailer's exports), UTF-8 BOM stripped,
//! header row required, an empty field is NULL.
//!
//! Decoding is arrow-csv's; types are inferred by [`super::types`] on a sample (the same rules as every other
//! format), and files without quotes are decoded in parallel chunks split on line boundaries.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::csv::reader::ReaderBuilder;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use serde::Deserialize;

use super::builders::ColumnBuilder;
use super::error::{Position, Result, SourceError, clip, line_of_offset};
use super::limits::{check_columns, check_name};
use super::types::{infer_type, parse_bool, parse_date, parse_decimal, parse_finite, parse_timestamp_micros};
use super::{BATCH_ROWS, DeclaredTypes, RawTable, SourceFormat, SourceInput, SourceReader, parse_options};

/// Rows sampled for type inference, as DataFusion's own CSV reader does by default. Declared types cover the rest.
const INFER_ROWS: usize = 10_000;
/// Below this size a single thread is faster than splitting.
const PARALLEL_MIN_BYTES: usize = 4 << 20;

pub struct CsvFormat;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsvOptions {
    /// Field separator; sniffed from the header line when absent.
    pub delimiter: Option<char>,
    pub quote: char,
    pub header: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { delimiter: None, quote: '"', header: true }
    }
}

impl SourceFormat for CsvFormat {
    fn name(&self) -> &'static str {
        "csv"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["csv", "tsv", "txt"]
    }
    fn reader(&self, options: serde_norway::Value) -> std::result::Result<Box<dyn SourceReader>, String> {
        let o: CsvOptions = parse_options(options)?;
        for (what, c) in [("delimiter", o.delimiter.unwrap_or(',')), ("quote", o.quote)] {
            if !c.is_ascii() {
                return Err(format!("`{what}` must be a single ASCII character, got `{c}`"));
            }
        }
        if !o.header {
            return Err("`header: false` is not supported: column names come from the header row".into());
        }
        Ok(Box::new(CsvReader { options: o }))
    }
}

#[derive(Debug)]
pub struct CsvReader {
    options: CsvOptions,
}

impl SourceReader for CsvReader {
    fn read(&self, input: &SourceInput<'_>) -> Result<RawTable> {
        let file = input.file;
        let all = input.bytes;
        let bom = if all.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        let text = &all[bom..];
        let header_end = memchr::memchr(b'\n', text).map(|p| p + 1).unwrap_or(text.len());
        let header_line = std::str::from_utf8(&text[..header_end])
            .map_err(|_| SourceError::parse(file, Position::line(1), "the header row is not valid UTF-8"))?
            .trim_end_matches(['\r', '\n']);
        if header_line.is_empty() {
            return Err(SourceError::file(file, "empty file: expected a header row"));
        }
        let delimiter = self.options.delimiter.map(|c| c as u8).unwrap_or_else(|| sniff_delimiter(header_line));
        let quote = self.options.quote as u8;
        let names = split_header(header_line, delimiter, quote);
        check_columns(file, names.len(), Position::line(1))?;
        for (i, n) in names.iter().enumerate() {
            check_name(file, n, Position::line_col(1, i as u64 + 1))?;
        }
        check_unique(file, &names)?;
        let body = &text[header_end..];
        let body_offset = bom + header_end;

        // Infer on a sample read as text, so CSV follows the same typing rules as XML and XLSX.
        let unquoted = memchr::memchr(quote, body).is_none();
        // Quotes come in pairs (a quote inside a quoted field is doubled), so an odd count means one is never
        // closed. arrow-csv would take the rest of the file as that one field, silently; the diagnosis names the
        // line where the quote opened.
        if !unquoted && memchr::memchr_iter(quote, body).count() % 2 == 1 {
            return Err(diagnose(file, all, body_offset, body, &names, None, input.declared, delimiter, quote));
        }
        let columns: Vec<Vec<Option<Cow<'_, str>>>> = if unquoted {
            sample_unquoted(body, names.len(), delimiter)
        } else {
            let text_schema = Arc::new(Schema::new(names.iter().map(|n| Field::new(n, DataType::Utf8, true)).collect::<Vec<_>>()));
            let sample = decode(body, text_schema, delimiter, quote, Some(INFER_ROWS))
                .map_err(|_| diagnose(file, all, body_offset, body, &names, None, input.declared, delimiter, quote))?;
            (0..names.len())
                .map(|i| {
                    sample
                        .iter()
                        .flat_map(|b| {
                            let col = b.column(i).as_any().downcast_ref::<StringArray>();
                            col.into_iter().flat_map(|c| c.iter().map(|v| v.map(|s| Cow::Owned(s.to_string()))))
                        })
                        .collect()
                })
                .collect()
        };
        let fields: Vec<Field> = names
            .iter()
            .zip(&columns)
            .map(|(n, values)| {
                let t = input.declared.get(n).cloned().unwrap_or_else(|| infer_type(values.iter().map(|v| v.as_deref())));
                Field::new(n, t, true)
            })
            .collect();
        let schema: SchemaRef = Arc::new(Schema::new(fields));

        // Without quotes a record is a line and a field is what lies between delimiters: the hand-written
        // decoder below is several times faster than a general CSV state machine, and lines split cleanly
        // into chunks for the threads. Quoted files take arrow-csv's road.
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let chunks = if unquoted && body.len() >= PARALLEL_MIN_BYTES { split_lines(body, threads) } else { vec![(0, body.len())] };
        let text = if unquoted {
            Some(
                std::str::from_utf8(body)
                    .map_err(|e| SourceError::parse(file, Position::line(line_of_offset(all, body_offset + e.valid_up_to())), "invalid UTF-8"))?,
            )
        } else {
            None
        };
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|&(a, b)| {
                    let schema = schema.clone();
                    s.spawn(move || match text {
                        Some(t) => decode_unquoted(&t[a..b], &schema, delimiter as char).map_err(|_| "malformed CSV record".to_string()),
                        None => decode(&body[a..b], schema, delimiter, quote, None)
                            .map_err(|e| e.to_string())
                            .and_then(|bs| reject_non_finite(&bs).map(|()| bs)),
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join()).collect()
        });
        let mut batches = Vec::new();
        for (r, &(a, b)) in results.into_iter().zip(&chunks) {
            match r {
                Ok(Ok(mut bs)) => batches.append(&mut bs),
                Ok(Err(arrow_err)) => {
                    return Err(diagnose(
                        file,
                        all,
                        body_offset + a,
                        &body[a..b],
                        &names,
                        Some((&schema, arrow_err)),
                        input.declared,
                        delimiter,
                        quote,
                    ));
                }
                Err(_) => return Err(SourceError::file(file, "the CSV decoder thread failed")),
            }
        }
        Ok(RawTable { schema, batches })
    }
}

/// The first [`INFER_ROWS`] records' fields, per column (a short line leaves its missing fields out: the
/// decoder reports it with its line).
fn sample_unquoted(body: &[u8], ncols: usize, delimiter: u8) -> Vec<Vec<Option<Cow<'_, str>>>> {
    let mut cols: Vec<Vec<Option<Cow<'_, str>>>> = vec![Vec::with_capacity(INFER_ROWS); ncols];
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty() && *l != b"\r").take(INFER_ROWS) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        for (col, field) in cols.iter_mut().zip(line.split(|&b| b == delimiter)) {
            col.push(Some(String::from_utf8_lossy(field)));
        }
    }
    cols
}

/// Decode lines of `delimiter`-separated fields without quoting. Any irregularity is reported as `Err(())`;
/// the caller's diagnosis then finds the exact line and field.
fn decode_unquoted(text: &str, schema: &SchemaRef, delimiter: char) -> std::result::Result<Vec<RecordBatch>, ()> {
    let mut cols: Vec<ColumnBuilder> = schema.fields().iter().map(|f| ColumnBuilder::new(f.data_type())).collect();
    let mut out = Vec::new();
    let mut rows = 0;
    let bytes = text.as_bytes();
    let mut p = 0;
    while p < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[p..]).map(|o| p + o).unwrap_or(bytes.len());
        let line = text[p..end].strip_suffix('\r').unwrap_or(&text[p..end]);
        p = end + 1;
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split(delimiter);
        for col in cols.iter_mut() {
            match fields.next() {
                Some("") => col.null(),
                Some(f) => {
                    if !col.push(f) {
                        return Err(());
                    }
                }
                None => return Err(()),
            }
        }
        if fields.next().is_some() {
            return Err(());
        }
        rows += 1;
        if rows == BATCH_ROWS {
            out.push(finish_batch(&mut cols, schema)?);
            rows = 0;
        }
    }
    if rows > 0 {
        out.push(finish_batch(&mut cols, schema)?);
    }
    Ok(out)
}

fn finish_batch(cols: &mut [ColumnBuilder], schema: &SchemaRef) -> std::result::Result<RecordBatch, ()> {
    let arrays = cols.iter_mut().map(|c| c.finish()).collect::<std::result::Result<Vec<_>, _>>().map_err(|_| ())?;
    RecordBatch::try_new(schema.clone(), arrays).map_err(|_| ())
}

fn decode(
    body: &[u8],
    schema: SchemaRef,
    delimiter: u8,
    quote: u8,
    max_rows: Option<usize>,
) -> std::result::Result<Vec<RecordBatch>, datafusion::arrow::error::ArrowError> {
    let mut builder = ReaderBuilder::new(schema).with_header(false).with_delimiter(delimiter).with_quote(quote);
    builder = builder.with_batch_size(max_rows.unwrap_or(BATCH_ROWS).min(BATCH_ROWS));
    if let Some(n) = max_rows {
        builder = builder.with_bounds(0, n);
    }
    let mut decoder = builder.build_decoder();
    let mut out = Vec::new();
    let mut buf = body;
    // Same loop as arrow-csv's own reader: decode until a batch is full or the input is done, then flush.
    // Decoding an empty slice marks the end of input, which also emits a last line without a newline.
    loop {
        let consumed = decoder.decode(buf)?;
        buf = &buf[consumed..];
        if consumed == 0 || decoder.capacity() == 0 {
            match decoder.flush()? {
                Some(b) => out.push(b),
                None => break,
            }
        }
    }
    Ok(out)
}

/// Split at newlines into about `n` chunks of equal size.
fn split_lines(body: &[u8], n: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 1..n {
        let target = body.len() * i / n;
        if target <= start {
            continue;
        }
        match memchr::memchr(b'\n', &body[target..]) {
            Some(p) => {
                out.push((start, target + p + 1));
                start = target + p + 1;
            }
            None => break,
        }
    }
    out.push((start, body.len()));
    out
}

fn sniff_delimiter(header: &str) -> u8 {
    [b';', b',', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .filter(|d| header.as_bytes().contains(d))
        .unwrap_or(b',')
}

/// Split one line into fields, honouring quotes (doubled quotes escape a quote).
fn split_fields(line: &str, delimiter: u8, quote: u8) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = Vec::new();
    let mut in_quotes = false;
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_quotes {
            if c == quote {
                if b.get(i + 1) == Some(&quote) {
                    cur.push(quote);
                    i += 1;
                } else {
                    in_quotes = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == quote {
            in_quotes = true;
        } else if c == delimiter {
            fields.push(String::from_utf8_lossy(&cur).into_owned());
            cur.clear();
        } else {
            cur.push(c);
        }
        i += 1;
    }
    fields.push(String::from_utf8_lossy(&cur).into_owned());
    fields
}

fn split_header(line: &str, delimiter: u8, quote: u8) -> Vec<String> {
    split_fields(line, delimiter, quote).into_iter().map(|s| s.trim().to_string()).collect()
}

fn check_unique(file: &str, names: &[String]) -> Result<()> {
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() {
            return Err(SourceError::parse(file, Position::line_col(1, i as u64 + 1), "empty column name in the header"));
        }
        if names[..i].contains(n) {
            return Err(SourceError::parse(file, Position::line_col(1, i as u64 + 1).with_field(n), "duplicate column name in the header"));
        }
    }
    Ok(())
}

/// Explain a decode failure precisely: the first line with the wrong number of fields or a value that does not
/// parse as its column's type. Runs only on the error path, so it may be simple rather than fast.
#[allow(clippy::too_many_arguments)]
fn diagnose(
    file: &str,
    all: &[u8],
    chunk_offset: usize,
    chunk: &[u8],
    names: &[String],
    typed: Option<(&SchemaRef, String)>,
    declared: &DeclaredTypes,
    delimiter: u8,
    quote: u8,
) -> SourceError {
    let first_line = line_of_offset(all, chunk_offset);
    let text = String::from_utf8_lossy(chunk);
    let mut starts_at = first_line;
    let mut pending = String::new();
    for (line_no, raw) in (first_line..).zip(text.split_inclusive('\n')) {
        if pending.is_empty() {
            starts_at = line_no;
        }
        pending.push_str(raw);
        // A quoted field may span lines: wait until the quotes balance.
        if pending.bytes().filter(|&b| b == quote).count() % 2 == 1 {
            continue;
        }
        let record = std::mem::take(&mut pending);
        let record = record.trim_end_matches(['\r', '\n']);
        if record.is_empty() {
            continue;
        }
        let fields = split_fields(record, delimiter, quote);
        if fields.len() != names.len() {
            return SourceError::parse(
                file,
                Position::line(starts_at),
                format!("expected {} fields ({}), found {}", names.len(), names.join(";"), fields.len()),
            );
        }
        if let Some((schema, _)) = &typed {
            for (i, (v, f)) in fields.iter().zip(schema.fields()).enumerate() {
                if v.is_empty() {
                    continue;
                }
                let ok = match f.data_type() {
                    DataType::Int64 => v.as_str().parse::<i64>().is_ok(),
                    DataType::Float64 => parse_finite(v.as_str()).is_some(),
                    DataType::Date32 => parse_date(v.as_str()).is_some(),
                    DataType::Timestamp(..) => parse_timestamp_micros(v.as_str()).is_some(),
                    DataType::Decimal128(_, s) => parse_decimal(v.as_str(), *s).is_some(),
                    DataType::Boolean => parse_bool(v).is_some(),
                    _ => true,
                };
                if !ok {
                    return SourceError::parse(
                        file,
                        Position::line_col(starts_at, i as u64 + 1).with_field(f.name()),
                        format!(
                            "expected {} (the column's {} type), found `{}`; declare the column's type in sources.yaml if the sample misled inference",
                            type_words(f.data_type()),
                            clip(v),
                            if declared.contains_key(f.name()) { "declared" } else { "inferred" }
                        ),
                    );
                }
            }
        }
    }
    if !pending.is_empty() {
        // Report where the quote opened, not the end of file it swallowed.
        let line = starts_at + open_quote_line(&pending, quote);
        return SourceError::parse(file, Position::line(line), "unterminated quoted field: the quote opened on this line is never closed");
    }
    let detail = typed.map(|(_, m)| m).unwrap_or_else(|| "malformed CSV".into());
    SourceError::parse(file, Position::line(first_line), detail)
}

/// Lines (0-based, from the record's first) down to the quote left open in `record`.
fn open_quote_line(record: &str, quote: u8) -> u64 {
    let mut opened_at = 0;
    let mut in_quotes = false;
    for (i, &c) in record.as_bytes().iter().enumerate() {
        if c == quote {
            if !in_quotes {
                opened_at = i;
            }
            // A doubled quote inside quotes toggles twice: net unchanged, as the CSV rule says.
            in_quotes = !in_quotes;
        }
    }
    memchr::memchr_iter(b'\n', &record.as_bytes()[..opened_at]).count() as u64
}

/// arrow-csv parses `NaN`, `inf` and `1e400` (as infinity) into Float64 columns: refuse them, so that the
/// diagnosis names the line, as the hand-written decoder's [`parse_finite`] rule does.
fn reject_non_finite(batches: &[RecordBatch]) -> std::result::Result<(), String> {
    use datafusion::arrow::array::Float64Array;
    for b in batches {
        for c in b.columns() {
            if let Some(f) = c.as_any().downcast_ref::<Float64Array>()
                && f.iter().flatten().any(|v| !v.is_finite())
            {
                return Err("a number that is not finite".into());
            }
        }
    }
    Ok(())
}

fn type_words(t: &DataType) -> &'static str {
    match t {
        DataType::Int64 => "an integer",
        DataType::Float64 => "a number",
        DataType::Date32 => "a date YYYY-MM-DD",
        DataType::Timestamp(..) => "a timestamp YYYY-MM-DD HH:MM:SS",
        DataType::Decimal128(..) => "a decimal",
        DataType::Boolean => "a boolean",
        _ => "text",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<RawTable> {
        let r = CsvFormat.reader(serde_norway::Value::Null).map_err(|e| SourceError::file("t", e))?;
        r.read(&SourceInput { file: "t.csv", bytes: text.as_bytes(), declared: &DeclaredTypes::new() })
    }

    #[test]
    fn bom_semicolon_and_types() {
        let t = read("\u{feff}ID;Nom;Prix;Jour;Tel\n1;a;2.5;2023-01-01;+212600000000\n2;;3;;\n").unwrap();
        let s = t.schema;
        let types: Vec<_> = s.fields().iter().map(|f| f.data_type().clone()).collect();
        assert_eq!(s.field(0).name(), "ID");
        assert_eq!(types, vec![DataType::Int64, DataType::Utf8, DataType::Float64, DataType::Date32, DataType::Utf8]);
        assert_eq!(t.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
        assert_eq!(t.batches[0].column(1).null_count(), 1);
    }

    #[test]
    fn wrong_field_count_names_the_line() {
        let err = read("a;b;c\n1;2;3\n4;5\n").unwrap_err().to_string();
        assert_eq!(err, "t.csv: line 3: expected 3 fields (a;b;c), found 2");
    }

    #[test]
    fn no_trailing_newline() {
        let t = read("a;b\n1;2\n3;4").unwrap();
        assert_eq!(t.num_rows(), 2);
    }

    #[test]
    fn large_unquoted_file_decodes_in_parallel_chunks() {
        let mut text = String::from("id;amount;day;label\n");
        let n = 200_000;
        for i in 0..n {
            text.push_str(&format!("{i};{}.25;2024-01-{:02};lbl{}\n", i % 100, i % 28 + 1, i % 7));
        }
        assert!(text.len() > PARALLEL_MIN_BYTES);
        let t = read(&text).unwrap();
        assert_eq!(t.num_rows(), n);
        let ids: i64 = t
            .batches
            .iter()
            .map(|b| b.column(0).as_any().downcast_ref::<datafusion::arrow::array::Int64Array>().unwrap().iter().flatten().sum::<i64>())
            .sum();
        assert_eq!(ids, (0..n as i64).sum::<i64>());
        // A bad row deep in the second chunk is still found, with its true line number.
        let bad = text.replacen("150000;0.25", "150000;zz", 1);
        let err = read(&bad).unwrap_err().to_string();
        assert!(err.starts_with("t.csv: line 150002, column 2, field `amount`: expected a number"), "{err}");
    }

    #[test]
    fn split_keeps_every_byte() {
        let body = b"1;2\n3;4\n5;6\n7;8\n";
        let parts = split_lines(body, 3);
        assert_eq!(parts.first().map(|p| p.0), Some(0));
        assert_eq!(parts.last().map(|p| p.1), Some(body.len()));
        for w in parts.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
    }

    /// Outside test finding 4: the fault on line 3 was reported at the end of the file.
    #[test]
    fn unterminated_quote_names_the_line_it_opened() {
        let mut text = String::from("a;b\n1;x\n2;\"oops\n");
        for i in 0..2_000 {
            text.push_str(&format!("{i};y\n"));
        }
        let err = read(&text).unwrap_err().to_string();
        assert!(err.starts_with("t.csv: line 3: unterminated quoted field"), "{err}");
    }

    /// Outside test finding 3: `1e400`, `NaN`, `-inf` were accepted and failed later in a measure's cast.
    #[test]
    fn non_finite_numbers_are_rejected_with_their_line() {
        let declared: DeclaredTypes = [("v".to_string(), DataType::Float64)].into_iter().collect();
        let r = CsvFormat.reader(serde_norway::Value::Null).unwrap();
        for bad in ["1e400", "NaN", "-inf"] {
            for text in [format!("id;v\n1;2.5\n2;{bad}\n"), format!("id;v\n1;\"2.5\"\n2;{bad}\n")] {
                let err = r.read(&SourceInput { file: "t.csv", bytes: text.as_bytes(), declared: &declared }).unwrap_err().to_string();
                assert!(err.starts_with("t.csv: line 3, column 2, field `v`: expected a number"), "{bad}: {err}");
            }
        }
        // Undeclared, such values make the column text, never a float.
        let t = read("id;v\n1;2.5\n2;inf\n").unwrap();
        assert_eq!(t.schema.field(1).data_type(), &DataType::Utf8);
    }

    #[test]
    fn too_many_columns_or_a_huge_name_are_refused() {
        let header: Vec<String> = (0..5_000).map(|i| format!("c{i}")).collect();
        let err = read(&format!("{}\n", header.join(";"))).unwrap_err().to_string();
        assert!(err.starts_with("t.csv: line 1: more than 4096 columns"), "{err}");
        let err = read(&format!("a;{}\n1;2\n", "n".repeat(5_000))).unwrap_err().to_string();
        assert!(err.starts_with("t.csv: line 1, column 2: column name") && err.len() < 300, "{err}");
    }
}
