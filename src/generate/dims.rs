//! The small fixed dimensions: channels, carriers, promotions, return reasons and the Moroccan geography.
//!
//! These are reference tables of a few rows; they do not depend on the seed or the scale (promotion dates follow
//! the generated range).

use chrono::{Datelike, NaiveDate};

use super::calendar::{Calendar, Season};

/// Dim_Canal: (ID_Canal, Nom_Canal, Type).
pub const CANAUX: [(u8, &str, &str); 3] = [(1, "Web", "Online"), (2, "Mobile", "Online"), (3, "Magasin", "Offline")];

/// The channel id of in-store sales, which have no delivery.
pub const CANAL_MAGASIN: u8 = 3;

/// Dim_Livraison: (ID_Livraison, Transporteur, Type_Livraison, Delai_Prevu_Jours).
pub const LIVRAISONS: [(u8, &str, &str, u8); 3] = [(1, "Amana", "Standard", 3), (2, "CTM", "Express", 1), (3, "Chrono Express", "Standard", 2)];

/// Dim_Motif_Retour: (ID_Motif, Motif, Categorie).
pub const MOTIFS: [(u8, &str, &str); 7] = [
    (1, "Produit défectueux", "Qualité"),
    (2, "Taille incorrecte", "Erreur"),
    (3, "Couleur différente", "Erreur"),
    (4, "Changement d'avis", "Client"),
    (5, "Livraison tardive", "Logistique"),
    (6, "Produit endommagé", "Logistique"),
    (7, "Autre", "Autre"),
];

/// Promotion ids, fixed by the contract.
pub mod promo {
    pub const BIENVENUE10: u8 = 1;
    pub const BLACKFRIDAY: u8 = 2;
    pub const SOLDES50: u8 = 3;
    pub const RAMADAN20: u8 = 4;
    pub const SANS_PROMOTION: u8 = 5;
}

/// Discount percentage of a promotion id (0 for "Sans promotion" and unknown ids).
pub fn discount_percent(id: u8) -> i64 {
    match id {
        promo::BIENVENUE10 => 10,
        promo::BLACKFRIDAY => 30,
        promo::SOLDES50 => 50,
        promo::RAMADAN20 => 20,
        _ => 0,
    }
}

/// One row of Dim_Promotion. The "Sans promotion" row has no code, type nor dates.
#[derive(Debug, Clone)]
pub struct Promotion {
    pub id: u8,
    pub code: Option<&'static str>,
    pub campagne: &'static str,
    pub type_remise: Option<&'static str>,
    pub valeur: i64,
    pub debut: Option<NaiveDate>,
    pub fin: Option<NaiveDate>,
}

/// Dim_Promotion. A seasonal promotion runs from the first to the last day of its season within the range, so
/// every sale that uses it falls between its dates; without such a day in the range, the season of the last
/// year is used.
pub fn promotions(cal: &Calendar) -> Vec<Promotion> {
    let (first, last) = match (cal.first(), cal.last()) {
        (Some(f), Some(l)) => (f.date, l.date),
        _ => return Vec::new(),
    };
    let span = |pred: fn(Season) -> bool| {
        let mut days = cal.days.iter().filter(|d| pred(d.season));
        let a = days.next().map(|d| d.date);
        let b = days.next_back().map(|d| d.date).or(a);
        a.zip(b)
    };
    let year = last.year();
    let fallback = |m1: u32, d1: u32, m2: u32, d2: u32| NaiveDate::from_ymd_opt(year, m1, d1).zip(NaiveDate::from_ymd_opt(year, m2, d2));
    let bf = span(|s| s == Season::BlackFriday).or_else(|| fallback(11, 1, 11, 30));
    let soldes = span(Season::is_soldes).or_else(|| fallback(7, 1, 8, 31));
    let ramadan = span(|s| s == Season::Ramadan).or_else(|| fallback(3, 1, 4, 30));
    let seasonal = |id, code, campagne, valeur, dates: Option<(NaiveDate, NaiveDate)>| Promotion {
        id,
        code: Some(code),
        campagne,
        type_remise: Some("Pourcentage"),
        valeur,
        debut: dates.map(|d| d.0),
        fin: dates.map(|d| d.1),
    };
    vec![
        seasonal(promo::BIENVENUE10, "BIENVENUE10", "Bienvenue nouveaux clients", 10, Some((first, last))),
        seasonal(promo::BLACKFRIDAY, "BLACKFRIDAY", "Black Friday", 30, bf),
        seasonal(promo::SOLDES50, "SOLDES50", "Soldes saisonnières", 50, soldes),
        seasonal(promo::RAMADAN20, "RAMADAN20", "Promo Ramadan", 20, ramadan),
        Promotion { id: promo::SANS_PROMOTION, code: None, campagne: "Sans promotion", type_remise: None, valeur: 0, debut: None, fin: None },
    ]
}

/// The 12 regions of Morocco (2015 division).
pub const REGIONS: [&str; 12] = [
    "Tanger-Tétouan-Al Hoceïma",
    "L'Oriental",
    "Fès-Meknès",
    "Rabat-Salé-Kénitra",
    "Béni Mellal-Khénifra",
    "Casablanca-Settat",
    "Marrakech-Safi",
    "Drâa-Tafilalet",
    "Souss-Massa",
    "Guelmim-Oued Noun",
    "Laâyoune-Sakia El Hamra",
    "Dakhla-Oued Ed-Dahab",
];

/// Referentiel_Geo cities: (name, region index, relative weight of its customer base, roughly by population).
pub const VILLES: [(&str, usize, f64); 24] = [
    ("Casablanca", 5, 22.0),
    ("Rabat", 3, 8.0),
    ("Marrakech", 6, 8.0),
    ("Fès", 2, 8.0),
    ("Tanger", 0, 7.0),
    ("Agadir", 8, 5.0),
    ("Meknès", 2, 4.5),
    ("Oujda", 1, 4.0),
    ("Kenitra", 3, 4.0),
    ("Tétouan", 0, 3.5),
    ("Salé", 3, 4.5),
    ("El Jadida", 5, 2.0),
    ("Nador", 1, 2.0),
    ("Mohammedia", 5, 2.5),
    ("Béni Mellal", 4, 2.0),
    ("Khouribga", 4, 1.2),
    ("Safi", 6, 2.0),
    ("Errachidia", 7, 0.8),
    ("Ouarzazate", 7, 0.7),
    ("Guelmim", 9, 0.6),
    ("Laâyoune", 10, 1.0),
    ("Dakhla", 11, 0.6),
    ("Settat", 5, 1.0),
    ("Taza", 2, 0.8),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotions_cover_their_seasons() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let cal = Calendar::new(d(2023, 1, 1), d(2024, 12, 31));
        let p = promotions(&cal);
        assert_eq!(p.len(), 5);
        assert_eq!(p[1].debut, Some(d(2023, 11, 1)));
        assert_eq!(p[1].fin, Some(d(2024, 11, 30)));
        assert_eq!(p[3].debut, Some(d(2023, 3, 23)));
        assert_eq!(p[3].fin, Some(d(2024, 4, 9)));
        assert!(p[4].code.is_none() && p[4].debut.is_none());
        // A range without November falls back on the last year's November.
        let cal = Calendar::new(d(2024, 1, 1), d(2024, 1, 31));
        assert_eq!(promotions(&cal)[1].debut, Some(d(2024, 11, 1)));
    }

    #[test]
    fn every_region_has_a_city() {
        for (r, name) in REGIONS.iter().enumerate() {
            assert!(VILLES.iter().any(|v| v.1 == r), "{name}");
        }
    }
}
