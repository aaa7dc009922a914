//! The sales (Fait_Ventes) as a stream of days: how many sales each day gets, who buys what, when, through
//! which channel and promotion, the amounts, and the planted defects (orphan clients, missing amounts).
//!
//! Sales are produced one day at a time and never held all at once, so scale 100 (5 million sales) streams in
//! constant memory. Everything is drawn from the sales streams of the seed, in sale order, so the output does
//! not depend on who consumes the days or how fast.

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::index::sample;

use super::calendar::{Calendar, Season};
use super::catalog::{Catalog, Category};
use super::dims::{CANAL_MAGASIN, discount_percent, promo};
use super::people::ClientBase;
use super::rng::{Weighted, largest_remainder};

/// One row of Fait_Ventes. Money is in cents.
#[derive(Debug, Clone)]
pub struct Sale {
    pub id: u64,
    pub client: u64,
    pub product: u32,
    /// Index of the day in the calendar (`ID_Date` − 1).
    pub day: u32,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub canal: u8,
    pub promotion: u8,
    pub livraison: Option<u8>,
    pub quantite: u32,
    /// `None` for the planted missing amounts.
    pub montant_ht: Option<i64>,
    pub montant_ttc: Option<i64>,
    pub cout: i64,
    pub marge: i64,
    pub remise: i64,
    /// HT after discount, known even when an amount column is NULL (for the aggregates of the source system).
    pub net: i64,
    pub category: Category,
}

impl Sale {
    pub fn id_date(&self) -> u64 {
        u64::from(self.day) + 1
    }

    pub fn second_of_day(&self) -> u32 {
        u32::from(self.hour) * 3600 + u32::from(self.minute) * 60 + u32::from(self.second)
    }

    /// Whether both amounts are present (the planted defects blank one of them).
    pub fn has_amounts(&self) -> bool {
        self.montant_ht.is_some() && self.montant_ttc.is_some()
    }
}

/// Exact counts of the defects planted in the sales.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SalesDefects {
    pub orphan_sales: u64,
    pub null_amount_sales: u64,
}

impl SalesDefects {
    /// round(0.1% of sales) orphans and round(0.05% of sales) missing amounts.
    pub fn for_sales(n: u64) -> Self {
        Self { orphan_sales: (n + 500) / 1000, null_amount_sales: (n + 1000) / 2000 }
    }
}

/// Relative activity of each day: the season's multiplier, a little more on weekends, ±5% noise. Shared by
/// the sales and the web sessions.
pub fn day_weights(cal: &Calendar, rng: &mut StdRng) -> Vec<f64> {
    cal.days
        .iter()
        .map(|d| {
            let weekend = if d.is_weekend() { 1.1 } else { 1.0 };
            d.season.sales_multiplier() * weekend * rng.random_range(0.95..1.05)
        })
        .collect()
}

/// Hour-of-day profile of online sales: quiet nights, a lunchtime bump, an evening peak.
const HOURS_ONLINE: [f64; 24] =
    [1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 2.0, 3.0, 3.8, 4.2, 4.5, 4.3, 4.0, 4.0, 4.3, 4.8, 5.5, 6.5, 7.2, 7.0, 5.0, 2.8];
/// Stores open from 9:00 to 22:00, busiest after work.
const HOURS_STORE: [f64; 24] =
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 3.5, 4.5, 4.0, 3.5, 3.5, 4.0, 4.5, 5.5, 6.5, 7.0, 6.0, 3.0, 0.0, 0.0];

/// Everything a day's sales are drawn from.
pub struct SalesStream<'a> {
    cal: &'a Calendar,
    catalog: &'a Catalog,
    clients: &'a ClientBase,
    rng: StdRng,
    defects_rng: StdRng,
    per_day: Vec<u64>,
    next_day: usize,
    next_id: u64,
    /// Sale ids that carry a planted defect, ascending.
    defects: Vec<(u64, Defect)>,
    next_defect: usize,
    hours_online: Weighted,
    hours_store: Weighted,
    orphan_floor: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defect {
    Orphan,
    NullAmount,
}

impl<'a> SalesStream<'a> {
    /// A stream of exactly `total` sales over the calendar, `weights` giving each day's relative activity.
    pub fn new(
        cal: &'a Calendar,
        catalog: &'a Catalog,
        clients: &'a ClientBase,
        weights: &[f64],
        total: u64,
        rng: StdRng,
        mut defects_rng: StdRng,
    ) -> Self {
        let per_day = largest_remainder(weights, total);
        let planned = SalesDefects::for_sales(total);
        let n_orphan = planned.orphan_sales as usize;
        let n_defects = (n_orphan + planned.null_amount_sales as usize).min(total as usize);
        let mut defects: Vec<(u64, Defect)> = sample(&mut defects_rng, total as usize, n_defects)
            .into_iter()
            .enumerate()
            .map(|(k, i)| (i as u64 + 1, if k < n_orphan { Defect::Orphan } else { Defect::NullAmount }))
            .collect();
        defects.sort_unstable_by_key(|d| d.0);
        Self {
            cal,
            catalog,
            clients,
            rng,
            defects_rng,
            per_day,
            next_day: 0,
            next_id: 1,
            defects,
            next_defect: 0,
            hours_online: Weighted::new(&HOURS_ONLINE),
            hours_store: Weighted::new(&HOURS_STORE),
            // Orphans point well above every real client id.
            orphan_floor: clients.max_id() * 10,
        }
    }

    /// Rows of Dim_Client (the ids a non-orphan sale can point at are `1..=client_count`).
    pub fn client_count(&self) -> usize {
        self.clients.clients.len()
    }

    /// Sales planned for each day, in calendar order.
    pub fn per_day(&self) -> &[u64] {
        &self.per_day
    }

    fn draw(&mut self, day: usize) -> Sale {
        let rng = &mut self.rng;
        let season = self.cal.days[day].season;
        let canal = match rng.random::<f64>() {
            x if x < 0.6 => 1,
            x if x < 0.9 => 2,
            _ => CANAL_MAGASIN,
        };
        let hour = if canal == CANAL_MAGASIN { self.hours_store.sample(rng) } else { self.hours_online.sample(rng) };
        let minute = rng.random_range(0..60u8);
        let second = rng.random_range(0..60u8);
        let client = self.clients.pick(rng, day as i64);
        let product = &self.catalog.products[self.catalog.sample(rng)];
        let quantite = quantity(product.category, rng);
        let promotion = promotion(season, rng);
        let livraison = if canal == CANAL_MAGASIN {
            None
        } else {
            Some(match rng.random::<f64>() {
                x if x < 0.5 => 1,
                x if x < 0.7 => 2,
                _ => 3,
            })
        };
        let ht = product.prix_cents * i64::from(quantite);
        let remise = (ht * discount_percent(promotion) + 50) / 100;
        let net = ht - remise;
        let ttc = (net * 12 + 5) / 10;
        let cout = product.cout_cents * i64::from(quantite);
        Sale {
            id: 0,
            client,
            product: product.id,
            day: day as u32,
            hour: hour as u8,
            minute,
            second,
            canal,
            promotion,
            livraison,
            quantite,
            montant_ht: Some(ht),
            montant_ttc: Some(ttc),
            cout,
            marge: net - cout,
            remise,
            net,
            category: product.category,
        }
    }

    /// Numbers the sales of a day (already in time order) and plants the defects that fall on them.
    fn finalize(&mut self, sales: &mut [Sale]) {
        for s in sales {
            s.id = self.next_id;
            self.next_id += 1;
            while self.next_defect < self.defects.len() && self.defects[self.next_defect].0 < s.id {
                self.next_defect += 1;
            }
            match self.defects.get(self.next_defect) {
                Some(&(id, Defect::Orphan)) if id == s.id => {
                    s.client = self.orphan_floor + self.defects_rng.random_range(1..=self.clients.max_id().max(1));
                }
                Some(&(id, Defect::NullAmount)) if id == s.id => {
                    if self.defects_rng.random::<bool>() {
                        s.montant_ht = None;
                    } else {
                        s.montant_ttc = None;
                    }
                }
                _ => {}
            }
        }
    }
}

impl Iterator for SalesStream<'_> {
    /// The sales of one day, sorted by time, numbered on from the previous day.
    type Item = Vec<Sale>;

    fn next(&mut self) -> Option<Vec<Sale>> {
        let day = self.next_day;
        let count = *self.per_day.get(day)?;
        self.next_day += 1;
        let mut sales: Vec<Sale> = (0..count).map(|_| self.draw(day)).collect();
        // Stable: equal times keep drawing order, so the numbering is deterministic.
        sales.sort_by_key(Sale::second_of_day);
        self.finalize(&mut sales);
        Some(sales)
    }
}

/// Units per sales line: electronics mostly one at a time, other goods sometimes by several.
fn quantity(cat: Category, rng: &mut StdRng) -> u32 {
    let x = rng.random::<f64>();
    let thresholds: &[f64] = match cat {
        Category::Electronique => &[0.85, 0.97, 1.0],
        _ => &[0.55, 0.80, 0.92, 0.97, 1.0],
    };
    thresholds.iter().position(|&t| x < t).map_or(1, |i| i as u32 + 1)
}

/// The promotion of a sale: the season's campaign on a share of its sales, the welcome code on about 10% of
/// the others, otherwise none.
fn promotion(season: Season, rng: &mut StdRng) -> u8 {
    let seasonal = match season {
        Season::BlackFriday => Some((promo::BLACKFRIDAY, 0.55)),
        Season::SoldesHiver | Season::SoldesEte => Some((promo::SOLDES50, 0.35)),
        Season::Ramadan => Some((promo::RAMADAN20, 0.45)),
        Season::Normal => None,
    };
    let x = rng.random::<f64>();
    if let Some((id, share)) = seasonal
        && x < share
    {
        return id;
    }
    if rng.random::<f64>() < 0.10 { promo::BIENVENUE10 } else { promo::SANS_PROMOTION }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::rng::{Stream, stream};
    use chrono::NaiveDate;

    #[test]
    fn stream_is_exact_ordered_and_consistent() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let cal = Calendar::new(d(2024, 1, 1), d(2024, 3, 31));
        let catalog = Catalog::generate(&mut stream(3, Stream::Products));
        let clients = ClientBase::generate(1, d(2024, 1, 1), d(2024, 3, 31), &mut stream(3, Stream::Clients), &mut stream(3, Stream::ClientDefects));
        let w = day_weights(&cal, &mut stream(3, Stream::DayNoise));
        let s = SalesStream::new(&cal, &catalog, &clients, &w, 20_000, stream(3, Stream::Sales), stream(3, Stream::SalesDefects));
        let all: Vec<Sale> = s.flatten().collect();
        assert_eq!(all.len(), 20_000);
        let mut orphans = 0;
        let mut nulls = 0;
        for (i, x) in all.iter().enumerate() {
            assert_eq!(x.id, i as u64 + 1);
            if i > 0 {
                let p = &all[i - 1];
                assert!((p.day, p.second_of_day()) <= (x.day, x.second_of_day()));
            }
            if x.client > clients.max_id() {
                orphans += 1;
            }
            if !x.has_amounts() {
                nulls += 1;
            }
            assert_eq!(x.net, x.cout + x.marge);
            if x.canal == CANAL_MAGASIN {
                assert!(x.livraison.is_none() && (9..=21).contains(&x.hour));
            }
        }
        assert_eq!(orphans, 20);
        assert_eq!(nulls, 10);
    }

    #[test]
    fn planted_defect_counts_round() {
        assert_eq!(SalesDefects::for_sales(50_000), SalesDefects { orphan_sales: 50, null_amount_sales: 25 });
        assert_eq!(SalesDefects::for_sales(1_499), SalesDefects { orphan_sales: 1, null_amount_sales: 1 });
        assert_eq!(SalesDefects::for_sales(0), SalesDefects::default());
    }
}
