//! The fact files other than the sales: Fait_Retours and Fait_Stock (CSV), Fait_Trafic_Web (JSON with a nested
//! `Contexte`), and the monthly objectives (XLSX, a sheet per year).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::NaiveDate;

use super::Written;
use crate::generate::calendar::Calendar;
use crate::generate::objectives::Objective;
use crate::generate::returns::Return;
use crate::generate::stock::StockRow;
use crate::generate::traffic::Session;
use crate::generate::writers::csv::CsvWriter;
use crate::generate::writers::json::{JsonOut, Value};
use crate::generate::writers::sql_dump::column_names;
use crate::generate::writers::xlsx::Book;
use crate::generate::{GenerateError, Progress};

/// Fait_Retours, written as the returns are decided.
pub struct ReturnsFile<'a> {
    w: CsvWriter,
    cal: &'a Calendar,
}

impl<'a> ReturnsFile<'a> {
    pub fn create(dir: &Path, cal: &'a Calendar) -> Result<Self, GenerateError> {
        Ok(Self { w: CsvWriter::create(dir, super::FAIT_RETOURS_CSV, &column_names("Fait_Retours"))?, cal })
    }

    pub fn write(&mut self, r: &Return) -> Result<(), GenerateError> {
        let iso = self.cal.days.get(r.day as usize).map_or("", |d| d.iso.as_str());
        self.w
            .u64(r.id)
            .u64(r.sale_id)
            .u64(u64::from(r.day) + 1)
            .str(iso)
            .u64(u64::from(r.motif))
            .cents(r.montant_cents)
            .u64(u64::from(r.delai_jours));
        self.w.end_row()
    }

    pub fn finish(self) -> Result<Written, GenerateError> {
        let (rows, bytes) = self.w.finish()?;
        Ok((super::FAIT_RETOURS_CSV.to_string(), rows, bytes))
    }
}

pub fn fait_stock(dir: &Path, cal: &Calendar, rows: &[StockRow]) -> Result<Written, GenerateError> {
    let name = super::FAIT_STOCK_CSV;
    let mut w = CsvWriter::create(dir, name, &column_names("Fait_Stock"))?;
    for r in rows {
        let iso = cal.days.get(r.day as usize).map_or("", |d| d.iso.as_str());
        w.u64(r.id)
            .u64(u64::from(r.product))
            .u64(u64::from(r.day) + 1)
            .str(iso)
            .u64(u64::from(r.disponible))
            .u64(u64::from(r.reservee))
            .cents(r.valeur_cents);
        w.end_row()?;
    }
    let (rows, bytes) = w.finish()?;
    Ok((name.to_string(), rows, bytes))
}

/// Sessions between two progress reports.
const PROGRESS_EVERY: u64 = 10_000;

/// Writes `{"generated_at": ..., "sessions": [...]}` from a stream of sessions; gives up (leaving no file) when
/// `cancel` is set because the run failed elsewhere.
pub fn fait_trafic_web(
    dir: &Path,
    generated_at: &str,
    sessions: impl Iterator<Item = Session>,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Written, GenerateError> {
    let name = super::FAIT_TRAFIC_WEB_JSON;
    let mut out = JsonOut::create(dir, name)?;
    out.open_object(None);
    out.field("generated_at", Value::Str(generated_at));
    out.open_array(Some("sessions"));
    let mut rows = 0u64;
    for s in sessions {
        out.open_object(None);
        out.field_u64("ID_Session", s.id);
        match s.client {
            Some(c) => out.field_u64("ID_Client", c),
            None => out.field("ID_Client", Value::Null),
        }
        out.field_u64("ID_Date", u64::from(s.day) + 1);
        out.field_u64("Pages_Vues", u64::from(s.pages_vues));
        out.field_u64("Duree_Session_Sec", u64::from(s.duree_sec));
        out.field_u64("A_Achete", u64::from(s.a_achete));
        out.field_u64("Panier_Abandonne", u64::from(s.panier_abandonne));
        out.open_object(Some("Contexte"));
        out.field_u64("ID_Canal", u64::from(s.canal));
        out.field("Appareil", Value::Str(s.appareil));
        out.field("Source_Trafic", Value::Str(s.source));
        out.close(b'}')?;
        out.close(b'}')?;
        rows += 1;
        if rows.is_multiple_of(PROGRESS_EVERY) {
            progress.advance(PROGRESS_EVERY);
            if cancel.load(Ordering::Relaxed) {
                // Dropping the writer removes the temporary file.
                return Err(GenerateError::Aborted { file: name.to_string() });
            }
        }
    }
    progress.advance(rows % PROGRESS_EVERY);
    out.close(b']')?;
    out.close(b'}')?;
    Ok((name.to_string(), rows, out.finish()?))
}

pub fn objectifs(dir: &Path, created: NaiveDate, rows: &[Objective]) -> Result<Written, GenerateError> {
    let name = super::OBJECTIFS_XLSX;
    let mut book = Book::new(dir, name, created)?;
    let header = ["Mois", "Objectif_CA", "Budget_Marketing"];
    let mut current: Option<(i32, usize, u32)> = None;
    for o in rows {
        let (sheet, row) = match current {
            Some((year, sheet, row)) if year == o.year => (sheet, row + 1),
            _ => (book.add_sheet(&o.year.to_string(), &header)?, 1),
        };
        current = Some((o.year, sheet, row));
        let mut s = book.sheet(sheet)?;
        s.number(row, 0, f64::from(o.month))?;
        s.number(row, 1, o.objectif_ca as f64)?;
        s.number(row, 2, o.budget_marketing as f64)?;
    }
    if current.is_none() {
        book.add_sheet(&created.format("%Y").to_string(), &header)?;
    }
    Ok((name.to_string(), rows.len() as u64, book.save()?))
}
