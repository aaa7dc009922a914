//! The import-mode snapshot cache: each model's rows as an Arrow IPC stream in
//! `<project>/.omnimarket/cache/<data id>/<model>.arrows`, so that a restart reads the cleaned tables back
//! instead of parsing the raw files and running the models again.
//!
//! An entry is served only when its key matches the current one: the crate version, the data directory, the
//! sources file (its canonical path: `data`, `./data` and `/abs/data` share one cache), the
//! size/mtime/e-tag/ctime of every raw file the model reads (directly or through the models it refs) and the
//! text of the model and of every model upstream of it. A stale, truncated or corrupt file (the
//! header holds the payload's length and checksum) is reported, ignored and rebuilt, never served. Writes go to
//! a temp file in the same directory, fsynced, then renamed over the entry: a crash mid-write leaves the old
//! entry whole, and a reader never sees half a file.
//!
//! Not for: raw tables (only models are cached), sharing a cache between machines, or hashing the raw files'
//! content: the inode's change time (ctime) catches a rewrite whose mtime was set back (`touch -r`); only a
//! store without ctime (S3) relies on size, mtime and e-tag alone.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Capacities, MutableArrayData, OffsetSizeTrait, make_array};
use datafusion::arrow::buffer::{Buffer, MutableBuffer};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::convert::fb_to_schema;
use datafusion::arrow::ipc::reader::StreamDecoder;
use datafusion::arrow::ipc::root_as_message;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::record_batch::RecordBatchOptions;
use serde::{Deserialize, Serialize};

use super::models::ModelSet;
use super::template::Dependency;
use crate::sources::location::SourceStamp;

/// The cache directory inside a project.
pub const CACHE_DIR: &str = ".omnimarket/cache";
/// File extension of an entry (an Arrow IPC stream behind our header).
pub const EXTENSION: &str = "arrows";

/// First bytes of every entry; the last byte is the layout version, bumped when the layout changes.
const MAGIC: &[u8; 8] = b"OMNIMKT\x01";
/// magic, payload length (u64), payload checksum (u64), header length (u32).
const PREFIX: usize = 8 + 8 + 8 + 4;
/// The payload starts on this boundary so that Arrow buffers read from it are aligned and need no copy.
const ALIGN: usize = 64;
/// A header larger than this is not one we wrote.
const MAX_HEADER: usize = 1 << 20;
/// A temp file older than this is a crashed writer's leftover (a live writer finishes long before).
const STALE_TEMP: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{file}: {message}")]
    Io { file: String, message: String },
    #[error("{file}: cannot encode the rows as Arrow IPC: {message}")]
    Encode { file: String, message: String },
}

/// What an entry must match to be served, one fact per line (so that a mismatch can say which fact changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheKey {
    pub lines: Vec<String>,
}

impl CacheKey {
    /// Why an entry built under `old` is stale for `self`: the first fact that differs, in words.
    pub fn change_from(&self, old: &CacheKey) -> String {
        let what = |line: &str| -> String {
            let mut words = line.split(' ');
            match (words.next(), words.next(), words.next()) {
                (Some("source"), Some(name), Some(file)) => format!("source `{name}` changed ({file})"),
                (Some("model"), Some(name), _) => format!("model `{name}` changed"),
                (Some("sources-file"), ..) => "the sources file changed".into(),
                (Some("data"), ..) => "the data directory changed".into(),
                (Some("omnimarket"), ..) => "written by another version of omnimarket".into(),
                _ => format!("`{line}` changed"),
            }
        };
        for (i, line) in self.lines.iter().enumerate() {
            if old.lines.get(i) != Some(line) {
                return what(line);
            }
        }
        match old.lines.get(self.lines.len()) {
            Some(extra) => format!("{} is no longer read", extra.split(' ').take(2).collect::<Vec<_>>().join(" ")),
            None => "unchanged".into(),
        }
    }
}

/// Why an entry was not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// No entry yet (first build, or the cache was deleted).
    Absent,
    /// A well-formed entry for other inputs: why.
    Stale(String),
    /// An entry that is not what we wrote: truncated, garbled, or unreadable; what was expected.
    Corrupt(String),
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Miss::Absent => write!(f, "not cached"),
            Miss::Stale(why) => write!(f, "stale: {why}"),
            Miss::Corrupt(why) => write!(f, "corrupt: {why}"),
        }
    }
}

/// An entry read back.
#[derive(Debug)]
pub struct Snapshot {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub rows: u64,
    pub bytes: u64,
}

/// What the header holds besides the fixed prefix.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    model: String,
    rows: u64,
    key: CacheKey,
}

/// The cache of one project for one data directory.
#[derive(Debug, Clone)]
pub struct ModelCache {
    dir: PathBuf,
    base: Vec<String>,
}

impl ModelCache {
    /// The cache for `project_dir` and `data_dir`. Each data directory has a directory of its own (named by a
    /// digest of its path), so switching `--data` back and forth does not evict the other one's entries; the
    /// full path is in every key too, so two paths with the same digest cannot be confused.
    pub fn new(project_dir: &Path, data_dir: &Path, sources_file_text: &str) -> Self {
        // `data`, `./data` and `/abs/data` are one directory, so one cache.
        let data = if data_dir.to_string_lossy().contains("://") {
            // A bucket (`--data s3://...`) is named by its URL.
            data_dir.to_string_lossy().trim_end_matches('/').to_string()
        } else {
            std::fs::canonicalize(data_dir)
                .or_else(|_| std::path::absolute(data_dir))
                .unwrap_or_else(|_| data_dir.to_path_buf())
                .display()
                .to_string()
        };
        let dir = project_dir.join(CACHE_DIR).join(format!("{:016x}", digest(data.as_bytes())));
        let base = vec![
            format!("omnimarket {} layout {}", env!("CARGO_PKG_VERSION"), MAGIC[7]),
            format!("data {data}"),
            format!("sources-file {:016x}", digest(sources_file_text.as_bytes())),
        ];
        ModelCache { dir, base }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn entry_path(&self, model: &str) -> PathBuf {
        self.dir.join(format!("{model}.{EXTENSION}"))
    }

    /// The raw sources `name` reads, through the models it refs.
    pub fn sources_of(models: &ModelSet, name: &str) -> Vec<String> {
        let mut out: Vec<String> = models
            .closure(name)
            .iter()
            .flat_map(|m| &m.references)
            .filter_map(|r| match &r.dependency {
                Dependency::Source(s) => Some(s.clone()),
                Dependency::Model(_) => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The key of model `name`, given the stamps of (at least) every source it reads.
    pub fn key(&self, models: &ModelSet, name: &str, stamps: &BTreeMap<String, SourceStamp>) -> CacheKey {
        let mut lines = self.base.clone();
        for s in Self::sources_of(models, name) {
            match stamps.get(&s) {
                Some(st) => lines.push(format!(
                    "source {s} {} size={} mtime={} etag={} ctime={}",
                    st.file.replace(' ', "%20"),
                    st.size,
                    st.modified_ns,
                    st.e_tag.as_deref().unwrap_or("-"),
                    st.changed_ns.map(|c| c.to_string()).unwrap_or_else(|| "-".into())
                )),
                // Never matches a stored key: an unstamped source makes the entry unusable, not wrongly fresh.
                None => lines.push(format!("source {s} unknown")),
            }
        }
        let mut closure: Vec<_> = models.closure(name);
        closure.sort_by(|a, b| a.name.cmp(&b.name));
        for m in closure {
            lines.push(format!("model {} {:016x}", m.name, digest(m.sql.as_bytes())));
        }
        CacheKey { lines }
    }

    /// The entry of `model` if it is whole and was built under `key`, rows read and checked.
    pub fn load(&self, model: &str, key: &CacheKey) -> Result<Snapshot, Miss> {
        let entry = self.open(model, key)?;
        let batches = entry.read()?;
        Ok(Snapshot { schema: entry.schema.clone(), batches, rows: entry.rows, bytes: entry.bytes })
    }

    /// The entry of `model` if its header says it was built under `key` and its size is right: the schema and
    /// row count, without reading the rows ([`Entry::read`] does that, and checks the checksum).
    pub fn open(&self, model: &str, key: &CacheKey) -> Result<Entry, Miss> {
        Entry::open(&self.entry_path(model), model, key)
    }

    /// Whether the entry of `model` is whole and built under `key`, without decoding it (for `refresh`).
    pub fn verify(&self, model: &str, key: &CacheKey) -> Result<u64, Miss> {
        let entry = self.open(model, key)?;
        entry.verify_checksum()?;
        Ok(entry.rows)
    }

    /// Write the entry of `model` atomically; returns its size in bytes.
    pub fn store(&self, model: &str, key: &CacheKey, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<u64, CacheError> {
        let path = self.entry_path(model);
        let io = |p: &Path, e: io::Error| CacheError::Io { file: p.display().to_string(), message: e.to_string() };
        fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let header = Header { model: model.to_string(), rows: batches.iter().map(|b| b.num_rows() as u64).sum(), key: key.clone() };
        let json = serde_json::to_vec(&header).map_err(|e| io(&path, io::Error::other(e)))?;
        let mut encode_error = None;
        let size = write_atomic(&path, |file| {
            let mut head = Vec::with_capacity(PREFIX + json.len() + ALIGN);
            head.extend_from_slice(MAGIC);
            // Length and checksum are only known once the payload is written: zeros now, filled in below.
            head.extend_from_slice(&[0u8; 16]);
            head.extend_from_slice(&(json.len() as u32).to_le_bytes());
            head.extend_from_slice(&json);
            head.resize(head.len().next_multiple_of(ALIGN), 0);
            file.write_all(&head)?;
            let (len, sum) = match encode_payload(&mut *file, schema, batches) {
                Ok(Ok(done)) => done,
                Ok(Err(e)) => {
                    encode_error = Some(e.to_string());
                    return Err(io::Error::other("encoding failed"));
                }
                Err(e) => return Err(e),
            };
            file.seek(SeekFrom::Start(8))?;
            file.write_all(&len.to_le_bytes())?;
            file.write_all(&sum.to_le_bytes())?;
            Ok((head.len() as u64) + len)
        });
        match (size, encode_error) {
            (Ok(n), _) => Ok(n),
            (Err(_), Some(message)) => Err(CacheError::Encode { file: path.display().to_string(), message }),
            (Err(e), None) => Err(io(&path, e)),
        }
    }

    /// Remove entries of models that no longer exist and temp files left by crashed writers; returns what was
    /// removed.
    pub fn prune(&self, models: &ModelSet) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(&self.dir) else { return Vec::new() };
        let now = SystemTime::now();
        let mut removed = Vec::new();
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let orphan_entry = name.strip_suffix(&format!(".{EXTENSION}")).is_some_and(|model| !name.starts_with('.') && models.get(model).is_none());
            let old_temp = name.starts_with('.')
                && name.ends_with(".tmp")
                && e.metadata().and_then(|m| m.modified()).is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > STALE_TEMP));
            if (orphan_entry || old_temp) && fs::remove_file(&p).is_ok() {
                removed.push(p);
            }
        }
        removed
    }
}

/// Write the rows as an Arrow IPC stream to `file`; its length and checksum. The outer error is the disk's,
/// the inner one Arrow's (a batch it cannot encode).
fn encode_payload(
    file: &mut File,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> io::Result<Result<(u64, u64), datafusion::arrow::error::ArrowError>> {
    let mut sink = ChecksumWriter { inner: io::BufWriter::with_capacity(1 << 20, file), sum: Checksum::new(), len: 0 };
    let encoded = (|| {
        let mut w = StreamWriter::try_new(&mut sink, schema)?;
        for b in batches {
            w.write(b)?;
        }
        w.finish()
    })();
    if let Err(e) = encoded {
        // An I/O error surfaces through Arrow's writer as ArrowError::IoError: report it as the disk's.
        return match e {
            datafusion::arrow::error::ArrowError::IoError(_, io) => Err(io),
            other => Ok(Err(other)),
        };
    }
    sink.inner.flush()?;
    Ok(Ok((sink.len, sink.sum.finish())))
}

/// An entry whose header matched: the file stays open, so a concurrent `refresh` that renames a new entry over
/// the path cannot mix two entries in one read.
#[derive(Debug)]
pub struct Entry {
    file: File,
    path: PathBuf,
    pub schema: SchemaRef,
    pub rows: u64,
    /// The whole file's size.
    pub bytes: u64,
    payload_at: u64,
    payload_len: u64,
    checksum: u64,
}

/// Continuation marker that opens every message of an Arrow IPC stream.
const CONTINUATION: [u8; 4] = [0xff; 4];

impl Entry {
    /// Check the magic, the exact size, the model name and the key, and read the schema (the stream's first
    /// message).
    fn open(path: &Path, model: &str, key: &CacheKey) -> Result<Entry, Miss> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Miss::Absent),
            Err(e) => return Err(Miss::Corrupt(format!("cannot open: {e}"))),
        };
        let io = |e: io::Error| Miss::Corrupt(format!("cannot read: {e}"));
        let size = file.metadata().map_err(io)?.len();
        let mut prefix = [0u8; PREFIX];
        file.read_exact(&mut prefix).map_err(|_| Miss::Corrupt(format!("expected a {PREFIX}-byte header, the file has {size} bytes")))?;
        if &prefix[..8] != MAGIC {
            return Err(Miss::Corrupt("expected an omnimarket cache file (wrong magic bytes)".into()));
        }
        let word = |at: usize| u64::from_le_bytes(prefix[at..at + 8].try_into().unwrap_or_default());
        let (payload_len, checksum) = (word(8), word(16));
        let header_len = u32::from_le_bytes(prefix[24..28].try_into().unwrap_or_default()) as usize;
        if header_len > MAX_HEADER {
            return Err(Miss::Corrupt(format!("expected a header under {MAX_HEADER} bytes, found {header_len}")));
        }
        let payload_at = (PREFIX + header_len).next_multiple_of(ALIGN) as u64;
        let expected = payload_at.checked_add(payload_len);
        if expected != Some(size) {
            return Err(Miss::Corrupt(format!(
                "expected {} bytes, found {size} (truncated or overwritten)",
                expected.map_or("a valid length".to_string(), |n| n.to_string())
            )));
        }
        let mut json = vec![0u8; header_len];
        file.read_exact(&mut json).map_err(io)?;
        let header: Header = serde_json::from_slice(&json).map_err(|e| Miss::Corrupt(format!("expected a JSON header: {e}")))?;
        if header.model != model {
            return Err(Miss::Corrupt(format!("expected model `{model}`, the file holds `{}`", header.model)));
        }
        if &header.key != key {
            return Err(Miss::Stale(key.change_from(&header.key)));
        }
        let mut entry = Entry {
            file,
            path: path.to_path_buf(),
            schema: Arc::new(Schema::empty()),
            rows: header.rows,
            bytes: size,
            payload_at,
            payload_len,
            checksum,
        };
        let (first, meta_len) = entry.message_at(0)?.ok_or_else(|| Miss::Corrupt("expected a schema message, the stream is empty".into()))?;
        let message = root_as_message(&first.as_slice()[8..8 + meta_len]).map_err(|e| Miss::Corrupt(format!("expected an IPC schema: {e}")))?;
        let schema = message.header_as_schema().ok_or_else(|| Miss::Corrupt("expected the stream to open with a schema".into()))?;
        entry.schema = Arc::new(fb_to_schema(schema));
        Ok(entry)
    }

    /// Every row, read one IPC message at a time (so the file is never held whole in memory), each batch then
    /// copied into buffers of its own (see [`compact`]); the checksum and the row count are checked at the end.
    pub fn read(&self) -> Result<Vec<RecordBatch>, Miss> {
        let mut decoder = StreamDecoder::new();
        let mut sum = Checksum::new();
        let mut batches = Vec::new();
        let mut at = 0u64;
        while let Some((message, _)) = self.message_at(at)? {
            at += message.len() as u64;
            sum.update(message.as_slice());
            let mut buf: Buffer = message.into();
            while !buf.is_empty() {
                if let Some(b) = decoder.decode(&mut buf).map_err(ipc_error)? {
                    batches.push(compact(&b).map_err(ipc_error)?);
                }
            }
        }
        // The end-of-stream marker is covered by the checksum too; nothing may follow it.
        let tail_len = self.payload_len - at;
        if tail_len > 8 {
            return Err(Miss::Corrupt(format!("expected the stream to end at payload byte {at}, {tail_len} bytes follow")));
        }
        let mut tail = vec![0u8; tail_len as usize];
        self.file.read_exact_at(&mut tail, self.payload_at + at).map_err(|e| self.io(e))?;
        sum.update(&tail);
        self.check_sum(sum)?;
        // The decoder finishes a message when the next one's bytes arrive (a schema message has no body to
        // wait for): the end-of-stream marker completes the last one.
        let mut tail = Buffer::from(tail);
        while !tail.is_empty() {
            if let Some(b) = decoder.decode(&mut tail).map_err(ipc_error)? {
                batches.push(compact(&b).map_err(ipc_error)?);
            }
        }
        decoder.finish().map_err(ipc_error)?;
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        if rows != self.rows {
            return Err(Miss::Corrupt(format!("expected {} rows, found {rows}", self.rows)));
        }
        Ok(batches)
    }

    /// Checksum the payload without decoding it, in fixed-size chunks.
    pub fn verify_checksum(&self) -> Result<(), Miss> {
        let mut sum = Checksum::new();
        let mut chunk = vec![0u8; 1 << 20];
        let mut at = 0u64;
        while at < self.payload_len {
            let n = chunk.len().min((self.payload_len - at) as usize);
            self.file.read_exact_at(&mut chunk[..n], self.payload_at + at).map_err(|e| self.io(e))?;
            sum.update(&chunk[..n]);
            at += n as u64;
        }
        self.check_sum(sum)
    }

    fn check_sum(&self, sum: Checksum) -> Result<(), Miss> {
        let found = sum.finish();
        if found != self.checksum {
            return Err(Miss::Corrupt(format!("checksum mismatch (expected {:016x}, computed {found:016x})", self.checksum)));
        }
        Ok(())
    }

    fn io(&self, e: io::Error) -> Miss {
        Miss::Corrupt(format!("{}: cannot read: {e}", self.path.display()))
    }

    /// The IPC message at `at` in the payload (continuation, metadata length, metadata, body), in a 64-byte
    /// aligned buffer of its own, and the metadata's length; `None` at the end-of-stream marker. Every length is checked against what is
    /// left of the payload before anything is allocated.
    fn message_at(&self, at: u64) -> Result<Option<(MutableBuffer, usize)>, Miss> {
        let left = self.payload_len.saturating_sub(at);
        let bad = |what: String| Miss::Corrupt(format!("payload byte {at}: {what}"));
        if left < 8 {
            return if left == 0 || left == 4 { Ok(None) } else { Err(bad(format!("expected an IPC message, {left} bytes left"))) };
        }
        let mut head = [0u8; 8];
        self.file.read_exact_at(&mut head, self.payload_at + at).map_err(|e| self.io(e))?;
        if head[..4] != CONTINUATION {
            return Err(bad("expected an IPC continuation marker".into()));
        }
        let meta_len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as u64;
        if meta_len == 0 {
            return Ok(None);
        }
        if 8 + meta_len > left {
            return Err(bad(format!("a {meta_len}-byte message header overruns the payload")));
        }
        let mut meta = vec![0u8; meta_len as usize];
        self.file.read_exact_at(&mut meta, self.payload_at + at + 8).map_err(|e| self.io(e))?;
        let message = root_as_message(&meta).map_err(|e| bad(format!("expected an IPC message header: {e}")))?;
        let body = u64::try_from(message.bodyLength()).map_err(|_| bad("negative body length".into()))?;
        let total = (8 + meta_len).checked_add(body).filter(|t| *t <= left).ok_or_else(|| bad(format!("a {body}-byte body overruns the payload")))?;
        let mut buf = MutableBuffer::from_len_zeroed(total as usize);
        self.file.read_exact_at(buf.as_slice_mut(), self.payload_at + at).map_err(|e| self.io(e))?;
        Ok(Some((buf, meta_len as usize)))
    }
}

/// Bytes of string or binary values the offsets span.
fn values_len<O: OffsetSizeTrait>(offsets: &[O]) -> usize {
    match (offsets.first(), offsets.last()) {
        (Some(first), Some(last)) => (*last - *first).as_usize(),
        _ => 0,
    }
}

fn ipc_error(e: ArrowError) -> Miss {
    Miss::Corrupt(format!("expected an Arrow IPC stream: {e}"))
}

/// The batch with every column copied into buffers sized to it. A batch decoded from an IPC message shares the
/// message's one allocation among all its columns, and Arrow sizes an array by its buffers' whole allocation:
/// each column would count as the whole message, so Flight's encoder would cut a batch into messages far too
/// small (apache/arrow-rs#3407) and DataFusion's memory accounting would charge a join or sort many times the
/// real size. One copy at load buys exact sizes for the life of the table.
pub fn compact(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .map(|c| {
            let data = c.to_data();
            let capacities = match data.data_type() {
                DataType::Utf8 => Capacities::Binary(data.len(), Some(values_len(c.as_string::<i32>().value_offsets()))),
                DataType::LargeUtf8 => Capacities::Binary(data.len(), Some(values_len(c.as_string::<i64>().value_offsets()))),
                DataType::Binary => Capacities::Binary(data.len(), Some(values_len(c.as_binary::<i32>().value_offsets()))),
                _ => Capacities::Array(data.len()),
            };
            let mut copy = MutableArrayData::with_capacities(vec![&data], data.null_count() > 0, capacities);
            copy.try_extend(0, 0, data.len())?;
            Ok(make_array(copy.freeze()))
        })
        .collect::<Result<Vec<_>, ArrowError>>()?;
    RecordBatch::try_new_with_options(batch.schema(), columns, &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())))
}

/// Write `path` through a temp file in the same directory (same filesystem, so the rename is atomic), fsync
/// it, rename it over `path`, then fsync the directory so the rename itself survives a power cut. On any
/// error the temp file is removed and `path` is untouched.
pub fn write_atomic<T>(path: &Path, write: impl FnOnce(&mut File) -> io::Result<T>) -> io::Result<T> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Unique per process and call: two writers (threads or processes) never share a temp file.
    let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let out = write(&mut file)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        Ok(out)
    })();
    match result {
        Ok(out) => {
            // Best effort: not every platform can open a directory to sync it, and the data is already safe.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(out)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// FNV-1a, 64 bits: a stable digest of short texts (model SQL, paths) for keys and directory names; stable
/// across Rust releases, unlike `DefaultHasher`.
pub fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The payload checksum: eight bytes at a time, `h = (rotl(h, 23) ^ word) * K` with K odd, so each step is a
/// bijection of both the state and the word and any single changed word always changes the result. It guards
/// against torn writes and disk corruption (not tampering) at several GB/s, so checking it costs little of a
/// warm start.
struct Checksum {
    h: u64,
    pending: [u8; 8],
    npending: usize,
    len: u64,
}

impl Checksum {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;

    fn new() -> Self {
        Checksum { h: 0x243F_6A88_85A3_08D3, pending: [0; 8], npending: 0, len: 0 }
    }

    fn word(&mut self, w: u64) {
        self.h = (self.h.rotate_left(23) ^ w).wrapping_mul(Self::K);
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.npending > 0 {
            let take = (8 - self.npending).min(data.len());
            self.pending[self.npending..self.npending + take].copy_from_slice(&data[..take]);
            self.npending += take;
            data = &data[take..];
            if self.npending < 8 {
                return;
            }
            let w = u64::from_le_bytes(self.pending);
            self.word(w);
            self.npending = 0;
        }
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.word(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.npending = rest.len();
    }

    fn finish(mut self) -> u64 {
        if self.npending > 0 {
            let mut b = [0u8; 8];
            b[..self.npending].copy_from_slice(&self.pending[..self.npending]);
            self.word(u64::from_le_bytes(b));
        }
        // The length goes in last, so that trailing zero bytes are not invisible.
        let len = self.len;
        self.word(len);
        let mut h = self.h;
        h ^= h >> 32;
        h = h.wrapping_mul(Self::K);
        h ^ (h >> 29)
    }
}

struct ChecksumWriter<W: Write> {
    inner: W,
    sum: Checksum,
    len: u64,
}

impl<W: Write> Write for ChecksumWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sum.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn models() -> ModelSet {
        ModelSet::from_files(
            vec![
                ("sql/a.sql".into(), "SELECT * FROM {{ source('S1') }}".into()),
                ("sql/b.sql".into(), "SELECT * FROM {{ ref('a') }} JOIN {{ source('S2') }} USING (x)".into()),
                ("sql/c.sql".into(), "SELECT * FROM {{ source('S3') }}".into()),
            ],
            &["S1".to_string(), "S2".to_string(), "S3".to_string()],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn stamps(s1_size: u64) -> BTreeMap<String, SourceStamp> {
        ["S1", "S2", "S3"]
            .iter()
            .map(|n| {
                let size = if *n == "S1" { s1_size } else { 10 };
                (n.to_string(), SourceStamp { file: format!("/d/{n}.csv"), size, modified_ns: 1, e_tag: None, changed_ns: None })
            })
            .collect()
    }

    fn batch() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("name", DataType::Utf8, true)]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3])), Arc::new(StringArray::from(vec![Some("é"), None, Some("c")]))],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        (schema, vec![b.clone(), b])
    }

    #[test]
    fn keys_follow_the_sources_and_models_read_transitively() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let c = ModelCache::new(dir.path(), Path::new("/data"), "sources: []");
        let m = models();
        assert_eq!(ModelCache::sources_of(&m, "b"), ["S1", "S2"]);
        // b reads S1 through a: a change to S1 changes b's key, a change to S3 does not.
        let k = c.key(&m, "b", &stamps(10));
        assert_ne!(k, c.key(&m, "b", &stamps(11)));
        assert_eq!(c.key(&m, "c", &stamps(10)), c.key(&m, "c", &stamps(11)));
        assert_eq!(c.key(&m, "b", &stamps(11)).change_from(&k), "source `S1` changed (/d/S1.csv)");
        // An edit of upstream model a changes b's key.
        let edited = ModelSet::from_files(
            vec![
                ("sql/a.sql".into(), "SELECT 1 AS x, * FROM {{ source('S1') }}".into()),
                ("sql/b.sql".into(), "SELECT * FROM {{ ref('a') }} JOIN {{ source('S2') }} USING (x)".into()),
            ],
            &["S1".to_string(), "S2".to_string()],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.key(&edited, "b", &stamps(10)).change_from(&k), "model `a` changed");
        // Another data directory, another cache directory and another key.
        let other = ModelCache::new(dir.path(), Path::new("/data2"), "sources: []");
        assert_ne!(other.dir(), c.dir());
        assert_eq!(other.key(&m, "b", &stamps(10)).change_from(&k), "the data directory changed");
    }

    #[test]
    fn round_trip_stale_and_corrupt() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let c = ModelCache::new(dir.path(), Path::new("/data"), "");
        let m = models();
        let key = c.key(&m, "a", &stamps(10));
        assert_eq!(c.load("a", &key).err(), Some(Miss::Absent));
        let (schema, batches) = batch();
        c.store("a", &key, &schema, &batches).unwrap_or_else(|e| panic!("{e}"));
        let snap = c.load("a", &key).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((snap.rows, snap.schema.clone()), (6, schema.clone()));
        assert_eq!(snap.batches[0], batches[0]);
        // Another key: stale, with the reason.
        let newer = c.key(&m, "a", &stamps(11));
        assert_eq!(c.load("a", &newer).err(), Some(Miss::Stale("source `S1` changed (/d/S1.csv)".into())));
        // One flipped byte in the payload, a truncated file, garbage: all corrupt, none served.
        let path = c.entry_path("a");
        let good = fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut flipped = good.clone();
        let last = flipped.len() - 20;
        flipped[last] ^= 0x40;
        fs::write(&path, &flipped).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(c.load("a", &key), Err(Miss::Corrupt(m)) if m.contains("checksum")));
        fs::write(&path, &good[..good.len() - 7]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(c.load("a", &key), Err(Miss::Corrupt(m)) if m.contains("truncated")));
        fs::write(&path, b"garbage").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(c.load("a", &key), Err(Miss::Corrupt(_))));
        fs::write(&path, vec![0u8; 4096]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(c.load("a", &key), Err(Miss::Corrupt(m)) if m.contains("magic")));
        // An entry of another model copied over this one is not served either.
        c.store("c", &c.key(&m, "c", &stamps(10)), &schema, &batches).unwrap_or_else(|e| panic!("{e}"));
        fs::copy(c.entry_path("c"), &path).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(c.load("a", &key), Err(Miss::Corrupt(m)) if m.contains("holds `c`")));
    }

    #[test]
    fn an_interrupted_write_leaves_the_old_entry() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("x.arrows");
        fs::write(&path, b"old").unwrap_or_else(|e| panic!("{e}"));
        let r = write_atomic(&path, |f| {
            f.write_all(b"half of the new")?;
            Err::<(), _>(io::Error::other("disk full"))
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&path).unwrap_or_default(), b"old");
        let names: Vec<_> = fs::read_dir(dir.path()).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, ["x.arrows"], "the temp file is removed");
        write_atomic(&path, |f| f.write_all(b"new")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fs::read(&path).unwrap_or_default(), b"new");
    }

    #[test]
    fn checksum_is_incremental_and_sensitive() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = {
            let mut c = Checksum::new();
            c.update(&data);
            c.finish()
        };
        let pieces = {
            let mut c = Checksum::new();
            for part in data.chunks(13) {
                c.update(part);
            }
            c.finish()
        };
        assert_eq!(whole, pieces);
        let mut zeros = data.clone();
        zeros.push(0);
        let mut c = Checksum::new();
        c.update(&zeros);
        assert_ne!(c.finish(), whole, "a trailing zero byte counts");
    }
}
