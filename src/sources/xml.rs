//! XML: one record per element at `record_path` (default: the children of the root element); each child
//! element of a record is a field, deeper elements are flattened into `Parent_Child` fields, attributes are
//! fields too. A field may share its record's name (`<Motif><Motif>...</Motif></Motif>`): fields are found by
//! depth, never by name. Values are text, typed by [`super::types`] inference unless declared.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{StringArray, StringBuilder};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use quick_xml::events::Event;
use serde::Deserialize;

use super::error::{Position, Result, SourceError, line_col_of_offset};
use super::limits::{MAX_XML_DEPTH, check_cells, check_columns, check_name};
use super::types::{build_array, infer_type};
use super::{BATCH_ROWS, RawTable, SourceFormat, SourceInput, SourceReader, parse_options};

pub struct XmlFormat;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct XmlOptions {
    /// Element path of the records from the root, e.g. `Referentiel_Geo/villes/ville`.
    pub record_path: Option<String>,
}

impl SourceFormat for XmlFormat {
    fn name(&self) -> &'static str {
        "xml"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["xml"]
    }
    fn reader(&self, options: serde_norway::Value) -> std::result::Result<Box<dyn SourceReader>, String> {
        let options: XmlOptions = parse_options(options)?;
        let path = options.record_path.as_deref().map(|p| p.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>());
        if path.as_ref().is_some_and(|p| p.is_empty()) {
            return Err("`record_path` is empty".into());
        }
        Ok(Box::new(XmlReader { path }))
    }
}

#[derive(Debug)]
pub struct XmlReader {
    path: Option<Vec<String>>,
}

/// Text columns being filled, in order of first appearance.
struct Columns {
    names: Vec<String>,
    index: HashMap<String, usize>,
    builders: Vec<StringBuilder>,
    /// The current record's value per column; reused across records so reading allocates nothing per value.
    current: Vec<String>,
    /// Whether the column appeared in the current record (absent columns read as NULL).
    present: Vec<bool>,
    rows: usize,
}

impl Columns {
    fn new() -> Self {
        Columns { names: vec![], index: HashMap::new(), builders: vec![], current: vec![], present: vec![], rows: 0 }
    }
    /// The column of `name`, created on first sight within the limits on column count and name length.
    fn slot(&mut self, name: &str, file: &str, at: impl Fn() -> Position) -> Result<usize> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        check_columns(file, self.names.len() + 1, at())?;
        check_name(file, name, at())?;
        let mut b = StringBuilder::new();
        // A column first seen in a later record was absent from the earlier ones.
        for _ in 0..self.rows {
            b.append_null();
        }
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), self.builders.len());
        self.builders.push(b);
        self.current.push(String::new());
        self.present.push(false);
        Ok(self.builders.len() - 1)
    }
    /// Mark a column present in the current record and return its (cleared on first use) buffer.
    fn open(&mut self, slot: usize) -> &mut String {
        if !self.present[slot] {
            self.present[slot] = true;
            self.current[slot].clear();
        }
        &mut self.current[slot]
    }
    fn end_record(&mut self) {
        for ((b, v), p) in self.builders.iter_mut().zip(&self.current).zip(self.present.iter_mut()) {
            if *p {
                b.append_value(v);
                *p = false;
            } else {
                b.append_null();
            }
        }
        self.rows += 1;
    }
}

impl SourceReader for XmlReader {
    fn read(&self, input: &SourceInput<'_>) -> Result<RawTable> {
        let file = input.file;
        let bytes = input.bytes;
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let (l, c) = line_col_of_offset(bytes, e.valid_up_to());
            SourceError::parse(file, Position::line_col(l, c), "invalid UTF-8 (expected an UTF-8 XML document)")
        })?;
        let at = |offset: u64| {
            let (l, c) = line_col_of_offset(bytes, offset as usize);
            Position::line_col(l, c)
        };
        let mut reader = quick_xml::Reader::from_str(text);
        let mut stack = NameStack::default();
        let mut record_path: Option<Vec<String>> = self.path.clone();
        let mut in_record = false;
        let mut field_slot: Option<usize> = None;
        let mut cols = Columns::new();

        loop {
            let pos = reader.buffer_position();
            let event = reader.read_event().map_err(|e| SourceError::parse(file, at(reader.error_position()), format!("malformed XML: {e}")))?;
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let is_empty = matches!(event, Event::Empty(_));
                    if stack.len() >= MAX_XML_DEPTH {
                        return Err(SourceError::parse(
                            file,
                            at(pos),
                            format!("elements nested more than {MAX_XML_DEPTH} levels deep (the reader's limit); is the file corrupt?"),
                        ));
                    }
                    stack.push(e.name().as_ref());
                    let depth = stack.len();
                    if record_path.is_none() && depth == 2 {
                        record_path = Some(vec![stack.get(0).to_string(), stack.get(1).to_string()]);
                    }
                    let rp = record_path.as_deref().unwrap_or(&[]);
                    if !in_record && depth == rp.len() && stack.matches(rp) {
                        in_record = true;
                        for a in e.attributes().flatten() {
                            let key = a.key.as_ref().to_string();
                            let v = a
                                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .map_err(|err| SourceError::parse(file, at(pos), format!("malformed attribute: {err}")))?;
                            let slot = cols.slot(&key, file, || at(pos))?;
                            cols.open(slot).push_str(&v);
                        }
                    } else if !in_record && self.path.is_none() && depth == 2 {
                        return Err(SourceError::parse(
                            file,
                            at(pos),
                            format!(
                                "the root holds `<{}>` and `<{}>` elements; set `record_path:` to say which are the records",
                                rp.get(1).map(String::as_str).unwrap_or("?"),
                                stack.get(1)
                            ),
                        ));
                    } else if in_record && depth > rp.len() {
                        // A field: its key is the path below the record, joined by `_`.
                        let slot = if depth == rp.len() + 1 {
                            // The common case, a direct child: look the name up without building a key.
                            match cols.index.get(stack.get(depth - 1)) {
                                Some(&i) => i,
                                None => cols.slot(&stack.joined_from(rp.len()), file, || at(pos))?,
                            }
                        } else {
                            let name = stack.joined_from(rp.len());
                            cols.slot(&name, file, || at(pos))?
                        };
                        field_slot = Some(slot);
                        cols.open(slot);
                    }
                    if is_empty {
                        close(&mut stack, &mut in_record, &mut field_slot, &mut cols, record_path.as_deref());
                    }
                }
                Event::End(_) => {
                    close(&mut stack, &mut in_record, &mut field_slot, &mut cols, record_path.as_deref());
                    // Checked per record end: absent fields become NULLs, so tiny records can stand for many cells.
                    check_cells(file, cols.rows, cols.names.len(), bytes.len() as u64, at(pos))?;
                }
                Event::Text(t) => {
                    if let Some(slot) = field_slot {
                        cols.current[slot].push_str(&t);
                    }
                }
                Event::CData(t) => {
                    if let Some(slot) = field_slot {
                        cols.current[slot].push_str(&t);
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some(slot) = field_slot {
                        let resolved: Option<String> = if r.is_char_ref() {
                            r.resolve_char_ref().ok().flatten().map(String::from)
                        } else {
                            quick_xml::escape::resolve_xml_entity(&r).map(String::from)
                        };
                        let Some(s) = resolved else {
                            return Err(SourceError::parse(file, at(pos), format!("unknown entity `&{};`", &*r)));
                        };
                        cols.current[slot].push_str(&s);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if let Some(open) = stack.last() {
            let open = open.to_string();
            return Err(SourceError::parse(
                file,
                at(bytes.len() as u64),
                format!("unexpected end of file: element `<{open}>` is not closed (truncated file?)"),
            ));
        }
        if record_path.is_none() {
            return Err(SourceError::file(file, "no records: the root element is empty"));
        }
        if cols.rows == 0 && cols.names.is_empty() {
            return Err(SourceError::file(file, format!("no element at record path `{}`", record_path.unwrap_or_default().join("/"))));
        }

        let mut fields = Vec::with_capacity(cols.names.len());
        let mut arrays = Vec::with_capacity(cols.names.len());
        for (name, mut b) in cols.names.iter().zip(cols.builders) {
            let strings: StringArray = b.finish();
            let t = input.declared.get(name).cloned().unwrap_or_else(|| infer_type(strings.iter()));
            let array = build_array(&t, strings.iter()).map_err(|(row, msg)| {
                SourceError::parse(file, Position::default().with_context(format!("record {}", row + 1)).with_field(name), msg)
            })?;
            fields.push(Field::new(name, t, true));
            arrays.push(array);
        }
        let schema = Arc::new(Schema::new(fields));
        let all = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| SourceError::file(file, format!("internal: {e}")))?;
        let batches = (0..all.num_rows()).step_by(BATCH_ROWS).map(|o| all.slice(o, BATCH_ROWS.min(all.num_rows() - o))).collect();
        Ok(RawTable { schema, batches })
    }
}

fn close(stack: &mut NameStack, in_record: &mut bool, field_slot: &mut Option<usize>, cols: &mut Columns, record_path: Option<&[String]>) {
    let depth = stack.len();
    stack.pop();
    let rp_len = record_path.map(|p| p.len()).unwrap_or(usize::MAX);
    if *in_record && depth == rp_len {
        *in_record = false;
        cols.end_record();
    }
    if *in_record && depth > rp_len {
        // Back to the enclosing field, if any (a flattened child closing).
        *field_slot = if depth - 1 > rp_len { cols.index.get(&stack.joined_from(rp_len)).copied() } else { None };
    }
}

/// Open element names, kept in one buffer so that reading an element allocates nothing.
#[derive(Default)]
struct NameStack {
    buf: String,
    ends: Vec<usize>,
}

impl NameStack {
    fn push(&mut self, name: &str) {
        self.buf.push_str(name);
        self.ends.push(self.buf.len());
    }
    fn pop(&mut self) {
        self.ends.pop();
        self.buf.truncate(self.ends.last().copied().unwrap_or(0));
    }
    fn len(&self) -> usize {
        self.ends.len()
    }
    fn get(&self, i: usize) -> &str {
        if i >= self.ends.len() {
            return "";
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.ends.get(i).map(|&e| &self.buf[start..e]).unwrap_or("")
    }
    fn last(&self) -> Option<&str> {
        (!self.ends.is_empty()).then(|| self.get(self.ends.len() - 1))
    }
    fn matches(&self, path: &[String]) -> bool {
        self.len() == path.len() && path.iter().enumerate().all(|(i, p)| self.get(i) == p)
    }
    fn joined_from(&self, from: usize) -> String {
        (from..self.len()).map(|i| self.get(i)).collect::<Vec<_>>().join("_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::DeclaredTypes;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::DataType;

    fn read(opts: &str, text: &str) -> Result<RawTable> {
        let o: serde_norway::Value = serde_norway::from_str(opts).unwrap_or(serde_norway::Value::Null);
        let r = XmlFormat.reader(o).map_err(|e| SourceError::file("t", e))?;
        r.read(&SourceInput { file: "t.xml", bytes: text.as_bytes(), declared: &DeclaredTypes::new() })
    }

    #[test]
    fn field_named_like_its_record() {
        let t =
            read("", "<?xml version='1.0'?><R><Motif><ID>1</ID><Motif>Taille &amp; co</Motif></Motif><Motif><ID>2</ID><Motif/></Motif></R>").unwrap();
        assert_eq!(t.schema.field(0).data_type(), &DataType::Int64);
        let m = t.batches[0].column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(m.value(0), "Taille & co");
        assert!(datafusion::arrow::array::Array::is_null(m, 1));
    }

    #[test]
    fn nested_record_path_and_late_columns() {
        let t = read(
            "record_path: G/villes/ville",
            "<G><regions><region>A</region></regions><villes><ville><nom>X</nom></ville><ville><nom>Y</nom><pop>3</pop></ville></villes></G>",
        )
        .unwrap();
        assert_eq!(t.num_rows(), 2);
        let pop = t.batches[0].column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(pop.iter().collect::<Vec<_>>(), vec![None, Some(3)]);
    }

    #[test]
    fn ambiguous_root_and_malformed() {
        let err = read("", "<G><a><x>1</x></a><b><x>2</x></b></G>").unwrap_err().to_string();
        assert!(err.contains("set `record_path:`"), "{err}");
        let err = read("", "<R>\n<P><ID>1</ID></Q>\n</R>").unwrap_err().to_string();
        assert!(err.starts_with("t.xml: line 2"), "{err}");
        let err = read("", "<R><P><ID>1</ID></P><P><ID>2").unwrap_err().to_string();
        assert!(err.contains("not closed"), "{err}");
    }

    /// Outside test finding 2: 300,000 levels of nesting, one column per level with names growing each level,
    /// went past 8 GiB.
    #[test]
    fn deep_nesting_and_growing_names_are_refused() {
        let deep = format!("<R><P>{}</P></R>", "<a>".repeat(300_000));
        let err = read("", &deep).unwrap_err().to_string();
        assert!(err.starts_with("t.xml: line 1, column ") && err.contains("nested more than 256 levels"), "{err}");
        let names: String = (0..200).map(|i| format!("<element_with_a_long_name_{i}>")).collect();
        let err = read("", &format!("<R><P>{names}")).unwrap_err().to_string();
        assert!(err.contains("is longer than 1024 bytes"), "{err}");
    }

    #[test]
    fn too_many_columns_or_null_cells_are_refused() {
        let fields: String = (0..5_000).map(|i| format!("<f{i}/>")).collect();
        let err = read("", &format!("<R><P>{fields}</P></R>")).unwrap_err().to_string();
        assert!(err.contains("more than 4096 columns"), "{err}");
        // 4,000 columns once, then records of 4 bytes: each would be 4,000 NULL cells.
        let fields: String = (0..4_000).map(|i| format!("<f{i}/>")).collect();
        let text = format!("<R><P>{fields}</P>{}</R>", "<P/>".repeat(200_000));
        let err = read("", &text).unwrap_err().to_string();
        assert!(err.contains("cells for a file of"), "{err}");
    }
}
