//! Dim_Client.xlsx: the `Dim_Client` sheet (one row per account, duplicates and defects included) and the
//! `Stats_RFM` sheet (purchase statistics of every client who bought).

use std::path::Path;

use chrono::NaiveDate;

use super::Written;
use crate::generate::GenerateError;
use crate::generate::calendar::{Calendar, excel_serial};
use crate::generate::people::{ClientBase, ClientStats, fidelity_score, segments};
use crate::generate::writers::fmt::cents_to_f64;
use crate::generate::writers::sql_dump::column_names;
use crate::generate::writers::xlsx::Book;

/// `stats` is indexed by client id − 1.
pub fn dim_client(dir: &Path, created: NaiveDate, cal: &Calendar, clients: &ClientBase, stats: &[ClientStats]) -> Result<Written, GenerateError> {
    let name = super::DIM_CLIENT_XLSX;
    let mut book = Book::new(dir, name, created)?;
    let seg = segments(stats);
    let last_day = cal.len().saturating_sub(1) as u32;
    let no_stats = ClientStats::default();

    let sheet = book.add_sheet("Dim_Client", &column_names("Dim_Client"))?;
    for (i, c) in clients.clients.iter().enumerate() {
        let row = i as u32 + 1;
        let st = stats.get(i).unwrap_or(&no_stats);
        let mut s = book.sheet(sheet)?;
        s.number(row, 0, c.id as f64)?;
        s.string(row, 1, &c.code())?;
        s.string(row, 2, c.prenom())?;
        s.string(row, 3, c.nom())?;
        s.string(row, 4, &c.nom_complet())?;
        s.string(row, 5, &c.email())?;
        s.opt_string(row, 6, c.telephone().as_deref())?;
        s.date(row, 7, excel_serial(c.inscription))?;
        s.opt_string(row, 8, c.ville().as_deref())?;
        s.string(row, 9, "Maroc")?;
        s.number(row, 10, f64::from(c.age))?;
        s.string(row, 11, if c.male { "M" } else { "F" })?;
        s.string(row, 12, seg.get(i).map_or("Nouveau", |g| g.label()))?;
        s.number(row, 13, f64::from(fidelity_score(st, last_day)))?;
    }

    let sheet = book.add_sheet("Stats_RFM", &["ID_Client", "Nb_Achats", "CA_Total", "Derniere_Vente", "Segment_RFM"])?;
    let mut row = 0u32;
    for (i, st) in stats.iter().enumerate() {
        let Some((day, second)) = st.last else { continue };
        let Some(d) = cal.days.get(day as usize) else { continue };
        row += 1;
        let mut s = book.sheet(sheet)?;
        s.number(row, 0, (i + 1) as f64)?;
        s.number(row, 1, f64::from(st.nb_achats))?;
        s.number(row, 2, cents_to_f64(st.ca_cents))?;
        s.datetime(row, 3, d.excel_serial + f64::from(second) / 86_400.0)?;
        s.string(row, 4, seg.get(i).map_or("Nouveau", |g| g.label()))?;
    }
    Ok((name.to_string(), clients.clients.len() as u64, book.save()?))
}
