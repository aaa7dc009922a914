//! Product returns (Fait_Retours), decided sale by sale as the sales stream past.
//!
//! About 5% of sales come back 1–14 days later (never past the end of the range); fashion comes back most, and
//! mostly for size and colour, which makes "Couleur différente" + "Taille incorrecte" over a third of returns.

use rand::Rng;
use rand::rngs::StdRng;

use super::catalog::Category;
use super::dims::CANAL_MAGASIN;
use super::rng::Weighted;
use super::sales::Sale;

/// One row of Fait_Retours.
#[derive(Debug, Clone)]
pub struct Return {
    pub id: u64,
    pub sale_id: u64,
    /// Calendar index of the return day (`ID_Date_Retour` − 1).
    pub day: u32,
    pub motif: u8,
    pub montant_cents: i64,
    pub delai_jours: u32,
}

/// Chance that a sale of the category is returned. Weighted by the category mix of sales this averages
/// just over 5%, which the returns lost past the end of the range bring back to about 5%.
fn return_rate(cat: Category) -> f64 {
    match cat {
        Category::Electronique => 0.045,
        Category::Mode => 0.085,
        Category::Maison => 0.04,
        Category::Beaute => 0.025,
        Category::Sport => 0.045,
        Category::Livres => 0.02,
    }
}

/// Reason weights, in Dim_Motif_Retour order (défectueux, taille, couleur, avis, tardive, endommagé, autre).
const MOTIFS_MODE: [f64; 7] = [0.08, 0.42, 0.25, 0.13, 0.05, 0.04, 0.03];
const MOTIFS_OTHER: [f64; 7] = [0.30, 0.05, 0.10, 0.22, 0.14, 0.14, 0.05];

/// Decides the returns of the sales it is shown, in sale order.
pub struct ReturnsGen {
    rng: StdRng,
    last_day: u32,
    next_id: u64,
    mode: Weighted,
    mode_store: Weighted,
    other: Weighted,
    other_store: Weighted,
}

impl ReturnsGen {
    /// `last_day` is the calendar index of the last day of the range.
    pub fn new(rng: StdRng, last_day: u32) -> Self {
        // A sale made in a store was not delivered, so it cannot be returned for late delivery.
        let no_delivery = |w: [f64; 7]| {
            let mut w = w;
            w[4] = 0.0;
            Weighted::new(&w)
        };
        Self {
            rng,
            last_day,
            next_id: 1,
            mode: Weighted::new(&MOTIFS_MODE),
            mode_store: no_delivery(MOTIFS_MODE),
            other: Weighted::new(&MOTIFS_OTHER),
            other_store: no_delivery(MOTIFS_OTHER),
        }
    }

    /// The return of `sale`, if it is returned. Sales with a missing amount are never returned (there would
    /// be nothing to refund from).
    pub fn consider(&mut self, sale: &Sale) -> Option<Return> {
        let ttc = sale.montant_ttc.filter(|_| sale.montant_ht.is_some())?;
        if self.rng.random::<f64>() >= return_rate(sale.category) {
            return None;
        }
        let delai = self.rng.random_range(1..=14u32);
        let table = match (sale.category == Category::Mode, sale.canal == CANAL_MAGASIN) {
            (true, false) => &self.mode,
            (true, true) => &self.mode_store,
            (false, false) => &self.other,
            (false, true) => &self.other_store,
        };
        let motif = table.sample(&mut self.rng) as u8 + 1;
        let day = sale.day + delai;
        if day > self.last_day {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        Some(Return { id, sale_id: sale.id, day, motif, montant_cents: ttc, delai_jours: delai })
    }
}
