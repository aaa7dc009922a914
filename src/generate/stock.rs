//! Weekly stock snapshots (Fait_Stock): every Sunday, the level of every product.
//!
//! Levels follow a random walk of weekly demand and restocking; inactive products are no longer restocked and
//! run down. Stock does not scale with `--scale`. The value is stock at purchase cost.

use chrono::{Datelike, Weekday};
use rand::Rng;
use rand::rngs::StdRng;

use super::calendar::Calendar;
use super::catalog::Catalog;

#[derive(Debug, Clone)]
pub struct StockRow {
    pub id: u64,
    pub product: u32,
    /// Calendar index of the Sunday (`ID_Date` − 1).
    pub day: u32,
    pub disponible: u32,
    pub reservee: u32,
    pub valeur_cents: i64,
}

/// All snapshots, Sunday by Sunday, products in id order.
pub fn snapshots(cal: &Calendar, catalog: &Catalog, rng: &mut StdRng) -> Vec<StockRow> {
    let mut level: Vec<u32> = catalog.products.iter().map(|_| rng.random_range(80..500)).collect();
    let mut rows = Vec::new();
    for (day, d) in cal.days.iter().enumerate() {
        if d.date.weekday() != Weekday::Sun {
            continue;
        }
        for (p, stock) in catalog.products.iter().zip(level.iter_mut()) {
            let demand = rng.random_range(0..45);
            *stock = stock.saturating_sub(demand);
            if p.actif && *stock < 60 {
                *stock += rng.random_range(150..400);
            }
            let reservee = rng.random_range(0..=(*stock).min(20));
            rows.push(StockRow {
                id: rows.len() as u64 + 1,
                product: p.id,
                day: day as u32,
                disponible: *stock,
                reservee,
                valeur_cents: i64::from(*stock) * p.cout_cents,
            });
        }
    }
    rows
}
