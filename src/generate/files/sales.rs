//! The sales pipeline: one producer draws the sales day by day and hands chunks to two writer threads (the
//! MySQL dump and the XLSX export), while it decides the returns and keeps the small per-client and per-month
//! aggregates that Dim_Client and the objectives need.
//!
//! Both writers receive the very same chunks in the same order through bounded channels, so the two copies of
//! the sales are identical and memory stays bounded whatever the scale. Thread timing cannot change the bytes:
//! all randomness is drawn by the producer alone. A writer commits its file only after an explicit end marker,
//! so a run that fails half-way leaves no complete-looking sales file behind. The run stops early when `cancel`
//! is set (the sessions, written alongside, failed).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

use chrono::NaiveDate;

use super::Written;
use super::facts::ReturnsFile;
use crate::generate::calendar::Calendar;
use crate::generate::objectives::MonthlyRevenue;
use crate::generate::people::ClientStats;
use crate::generate::returns::ReturnsGen;
use crate::generate::sales::{Sale, SalesDefects, SalesStream};
use crate::generate::writers::fmt::{cents_to_f64, push_time};
use crate::generate::writers::sql_dump::{DumpWriter, column_names};
use crate::generate::writers::xlsx::{Book, sheet_position, split_sheet_name};
use crate::generate::{GenerateError, Progress};

/// Sales per chunk handed to the writers.
const CHUNK_ROWS: usize = 8192;
/// Chunks in flight per writer: bounds memory while letting the producer run ahead a little.
const CHANNEL_DEPTH: usize = 4;

enum Msg {
    Chunk(Arc<Vec<Sale>>),
    /// The stream is complete: the writer may commit its file.
    End,
}

/// What the sales pipeline leaves behind besides its files.
pub struct SalesOutcome {
    /// The dump, the XLSX export and the returns file.
    pub files: Vec<Written>,
    /// Per client, indexed by id − 1 (orphan sales are not counted).
    pub stats: Vec<ClientStats>,
    pub revenue: MonthlyRevenue,
    /// Defects counted on the rows as written.
    pub defects: SalesDefects,
}

/// Fixed texts and dates stamped into the files, so runs are reproducible.
pub struct Stamps {
    /// Creation date of the workbooks.
    pub created: NaiveDate,
    /// The "Dump completed on" text.
    pub completed_on: String,
}

pub fn run(
    dir: &Path,
    cal: &Calendar,
    stream: SalesStream<'_>,
    mut returns: ReturnsGen,
    stamps: &Stamps,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<SalesOutcome, GenerateError> {
    let (tx_dump, rx_dump) = sync_channel::<Msg>(CHANNEL_DEPTH);
    let (tx_xlsx, rx_xlsx) = sync_channel::<Msg>(CHANNEL_DEPTH);
    thread::scope(|s| {
        let dump = s.spawn(|| write_dump(dir, cal, rx_dump, stamps.completed_on.clone()));
        let xlsx = s.spawn(|| write_xlsx(dir, cal, rx_xlsx, stamps.created));
        let produced = produce(dir, cal, stream, &mut returns, [tx_dump, tx_xlsx], progress, cancel);
        let dump = dump.join().map_err(|_| panicked(super::BASE_VENTES_SQL));
        let xlsx = xlsx.join().map_err(|_| panicked(super::FAIT_VENTES_XLSX));
        // The producer's own error comes first: the writers then only saw the channel close.
        let (mut outcome, returns_file) = match produced {
            Ok(p) => p,
            Err(Stop::Failed(e)) => return Err(e),
            Err(Stop::WriterGone) => {
                // One writer failed; the other then saw the stream end early. Report the real failure.
                let errors = [dump, xlsx].into_iter().filter_map(|r| r.and_then(|w| w).err());
                let first = errors.min_by_key(|e| matches!(e, GenerateError::Aborted { .. }));
                return Err(first.unwrap_or_else(|| panicked("Fait_Ventes")));
            }
        };
        let dump = dump??;
        let xlsx = xlsx??;
        outcome.files = vec![dump, xlsx, returns_file];
        Ok(outcome)
    })
}

fn panicked(file: &str) -> GenerateError {
    GenerateError::WriterPanicked { file: file.to_string() }
}

enum Stop {
    Failed(GenerateError),
    /// A writer hung up early; its own result says why.
    WriterGone,
}

impl From<GenerateError> for Stop {
    fn from(e: GenerateError) -> Self {
        Stop::Failed(e)
    }
}

fn produce(
    dir: &Path,
    cal: &Calendar,
    stream: SalesStream<'_>,
    returns: &mut ReturnsGen,
    writers: [SyncSender<Msg>; 2],
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<(SalesOutcome, Written), Stop> {
    let mut returns_file = ReturnsFile::create(dir, cal)?;
    let mut stats = vec![ClientStats::default(); stream.client_count()];
    let mut revenue = MonthlyRevenue::new(cal);
    let mut defects = SalesDefects::default();
    let send = |chunk: Vec<Sale>| -> Result<(), Stop> {
        let chunk = Arc::new(chunk);
        for w in &writers {
            w.send(Msg::Chunk(Arc::clone(&chunk))).map_err(|_| Stop::WriterGone)?;
        }
        Ok(())
    };
    let mut chunk = Vec::with_capacity(CHUNK_ROWS * 2);
    for day in stream {
        for sale in &day {
            match stats.get_mut(sale.client.wrapping_sub(1) as usize) {
                Some(st) => st.record(sale.net, sale.day, sale.second_of_day()),
                None => defects.orphan_sales += 1,
            }
            if !sale.has_amounts() {
                defects.null_amount_sales += 1;
            }
            if let Some(ht) = sale.montant_ht {
                revenue.add(sale.day, ht - sale.remise);
            }
            if let Some(r) = returns.consider(sale) {
                returns_file.write(&r)?;
            }
        }
        chunk.extend(day);
        if chunk.len() >= CHUNK_ROWS {
            let n = chunk.len() as u64;
            send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS * 2)))?;
            progress.advance(n);
            if cancel.load(Ordering::Relaxed) {
                return Err(Stop::Failed(aborted("Fait_Ventes")));
            }
        }
    }
    let n = chunk.len() as u64;
    if !chunk.is_empty() {
        send(chunk)?;
    }
    progress.advance(n);
    let returns_written = returns_file.finish()?;
    for w in &writers {
        w.send(Msg::End).map_err(|_| Stop::WriterGone)?;
    }
    Ok((SalesOutcome { files: Vec::new(), stats, revenue, defects }, returns_written))
}

/// Receives chunks until the end marker; `Ok(false)` if the channel closed without one (the producer failed).
fn for_each_sale(rx: Receiver<Msg>, mut f: impl FnMut(&Sale) -> Result<(), GenerateError>) -> Result<bool, GenerateError> {
    for msg in rx {
        match msg {
            Msg::Chunk(chunk) => {
                for s in chunk.iter() {
                    f(s)?;
                }
            }
            Msg::End => return Ok(true),
        }
    }
    Ok(false)
}

fn aborted(file: &str) -> GenerateError {
    GenerateError::Aborted { file: file.to_string() }
}

fn write_dump(dir: &Path, cal: &Calendar, rx: Receiver<Msg>, completed_on: String) -> Result<Written, GenerateError> {
    let name = super::BASE_VENTES_SQL;
    let mut w = DumpWriter::create(dir, name, "Fait_Ventes", completed_on)?;
    let complete = for_each_sale(rx, |s| {
        let day = cal.days.get(s.day as usize).map_or("", |d| d.iso.as_str());
        w.begin_row();
        w.u64(s.id);
        w.u64(s.client);
        w.u64(u64::from(s.product));
        w.u64(s.id_date());
        w.quoted_raw(&[day.as_bytes()]);
        w.u64(u64::from(s.hour));
        let buf = w.raw_sep();
        buf.push(b'\'');
        buf.extend_from_slice(day.as_bytes());
        buf.push(b' ');
        push_time(buf, s.hour, s.minute, s.second);
        buf.push(b'\'');
        w.u64(u64::from(s.canal));
        w.u64(u64::from(s.promotion));
        w.opt_u64(s.livraison.map(u64::from));
        w.u64(u64::from(s.quantite));
        w.opt_cents(s.montant_ht);
        w.opt_cents(s.montant_ttc);
        w.cents(s.cout);
        w.cents(s.marge);
        w.cents(s.remise);
        w.end_row()
    })?;
    if !complete {
        // Dropping the writer removes the temporary file.
        return Err(aborted(name));
    }
    let (rows, bytes) = w.finish()?;
    Ok((name.to_string(), rows, bytes))
}

fn write_xlsx(dir: &Path, cal: &Calendar, rx: Receiver<Msg>, created: NaiveDate) -> Result<Written, GenerateError> {
    let name = super::FAIT_VENTES_XLSX;
    let mut book = Book::new(dir, name, created)?;
    let header = column_names("Fait_Ventes");
    let mut sheet_number = 0;
    let mut sheet = book.add_sheet(&split_sheet_name("Fait_Ventes", 0), &header)?;
    let mut index = 0u64;
    let complete = for_each_sale(rx, |s| {
        let (number, row) = sheet_position(index);
        index += 1;
        if number != sheet_number {
            sheet = book.add_sheet(&split_sheet_name("Fait_Ventes", number), &header)?;
            sheet_number = number;
        }
        let serial = cal.days.get(s.day as usize).map_or(0.0, |d| d.excel_serial);
        let mut w = book.sheet(sheet)?;
        w.number(row, 0, s.id as f64)?;
        w.number(row, 1, s.client as f64)?;
        w.number(row, 2, f64::from(s.product))?;
        w.number(row, 3, s.id_date() as f64)?;
        w.date(row, 4, serial)?;
        w.number(row, 5, f64::from(s.hour))?;
        w.datetime(row, 6, serial + f64::from(s.second_of_day()) / 86_400.0)?;
        w.number(row, 7, f64::from(s.canal))?;
        w.number(row, 8, f64::from(s.promotion))?;
        w.opt_number(row, 9, s.livraison.map(f64::from))?;
        w.number(row, 10, f64::from(s.quantite))?;
        w.opt_number(row, 11, s.montant_ht.map(cents_to_f64))?;
        w.opt_number(row, 12, s.montant_ttc.map(cents_to_f64))?;
        w.number(row, 13, cents_to_f64(s.cout))?;
        w.number(row, 14, cents_to_f64(s.marge))?;
        w.number(row, 15, cents_to_f64(s.remise))
    })?;
    if !complete {
        return Err(aborted(name));
    }
    Ok((name.to_string(), index, book.save()?))
}
