//! The customers (Dim_Client), their data-quality defects, who buys how often, and the RFM segmentation.
//!
//! Clients are kept compact (indices into name tables, no per-client strings) because at scale 100 there are
//! half a million of them in memory while the sales stream. Emails and phone numbers are derived from the
//! client's "person" number, so a duplicate (the same person registered twice) carries the same contact data.

use chrono::{Duration, NaiveDate};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::index::sample;

use super::dims::VILLES;
use super::rng::Weighted;

const PRENOMS_M: [&str; 30] = [
    "Mohammed", "Youssef", "Ahmed", "Omar", "Hamza", "Mehdi", "Amine", "Karim", "Rachid", "Said", "Hassan", "Anas", "Ayoub", "Bilal", "Driss",
    "Khalid", "Mustapha", "Nabil", "Othmane", "Reda", "Saad", "Tarik", "Yassine", "Zakaria", "Adil", "Brahim", "Hicham", "Ismail", "Jamal",
    "Soufiane",
];
const PRENOMS_F: [&str; 30] = [
    "Fatima", "Khadija", "Aicha", "Meryem", "Salma", "Sara", "Imane", "Nadia", "Zineb", "Hajar", "Houda", "Asmae", "Loubna", "Nawal", "Oumaima",
    "Rajae", "Samira", "Soukaina", "Widad", "Yasmine", "Amina", "Chaimae", "Dounia", "Ghita", "Hanane", "Ikram", "Jihane", "Kawtar", "Latifa",
    "Malika",
];
const NOMS: [&str; 40] = [
    "Alami",
    "Benjelloun",
    "Bennani",
    "Berrada",
    "Chraibi",
    "El Amrani",
    "El Idrissi",
    "Fassi",
    "Filali",
    "Guessous",
    "Hajji",
    "Kettani",
    "Lahlou",
    "Mekouar",
    "Naciri",
    "Ouazzani",
    "Qadiri",
    "Rami",
    "Sebti",
    "Tazi",
    "Zniber",
    "Ait Taleb",
    "Bouzidi",
    "Cherkaoui",
    "Daoudi",
    "El Mansouri",
    "Ghazali",
    "Harrak",
    "Jabri",
    "Kabbaj",
    "Lazrak",
    "Mernissi",
    "Nejjar",
    "Ouali",
    "Raji",
    "Slaoui",
    "Tahiri",
    "Yacoubi",
    "Zouhair",
    "Amrani",
];
const DOMAINES: [&str; 6] = ["gmail.com", "hotmail.com", "yahoo.fr", "outlook.com", "menara.ma", "email.ma"];

/// Share of sales lines that go to the "heavy" 20% of clients (the Pareto pattern).
pub const HEAVY_SHARE: f64 = 0.8;
/// Share of clients who are heavy buyers.
pub const HEAVY_CLIENTS: f64 = 0.2;
/// When a client has registered twice, the share of their purchases recorded under the second account.
const DUPLICATE_ACCOUNT_SHARE: f64 = 0.3;

/// How a Ville value was mangled, if it was (a legacy system's free-text field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Messy {
    Lower,
    UpperTrailingSpace,
    LeadingSpacesLower,
    TrailingSpace,
}

/// One row of Dim_Client, compact.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: u64,
    /// The original client index whose identity this row carries (itself for originals).
    pub person: u32,
    prenom: u8,
    nom: u8,
    domaine: u8,
    pub male: bool,
    pub age: u8,
    pub inscription: NaiveDate,
    pub has_telephone: bool,
    ville: Option<(u8, Option<Messy>)>,
    pub heavy: bool,
}

impl Client {
    pub fn code(&self) -> String {
        format!("CLI{:05}", self.id)
    }

    pub fn prenom(&self) -> &'static str {
        let list = if self.male { &PRENOMS_M } else { &PRENOMS_F };
        list[usize::from(self.prenom) % list.len()]
    }

    pub fn nom(&self) -> &'static str {
        NOMS[usize::from(self.nom) % NOMS.len()]
    }

    pub fn nom_complet(&self) -> String {
        format!("{} {}", self.prenom(), self.nom())
    }

    /// Unique per person: the person number is part of the address.
    pub fn email(&self) -> String {
        let clean = |s: &str| s.to_lowercase().replace([' ', '\''], "");
        let domaine = DOMAINES[usize::from(self.domaine) % DOMAINES.len()];
        format!("{}.{}{}@{}", clean(self.prenom()), clean(self.nom()), self.person + 1, domaine)
    }

    /// `+2126` and 8 digits, unique per person, or `None` for the deliberately missing ones.
    pub fn telephone(&self) -> Option<String> {
        // x -> a·x + b (mod 10^8) with a prime to 10 is a bijection: distinct persons get distinct numbers that
        // do not look sequential.
        let digits = (u64::from(self.person) * 7_919_993 + 37_482_916) % 100_000_000;
        self.has_telephone.then(|| format!("+2126{digits:08}"))
    }

    /// The Ville as written in the file: canonical, mangled, or missing.
    pub fn ville(&self) -> Option<String> {
        let (idx, messy) = self.ville?;
        let name = VILLES[usize::from(idx) % VILLES.len()].0;
        Some(match messy {
            None => name.to_string(),
            Some(Messy::Lower) => name.to_lowercase(),
            Some(Messy::UpperTrailingSpace) => format!("{} ", name.to_uppercase()),
            Some(Messy::LeadingSpacesLower) => format!("  {}", name.to_lowercase()),
            Some(Messy::TrailingSpace) => format!("{name} "),
        })
    }

    pub fn ville_is_messy(&self) -> bool {
        matches!(self.ville, Some((_, Some(_))))
    }
}

/// Exact counts of the defects planted in Dim_Client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientDefects {
    pub duplicates: u64,
    pub null_telephone: u64,
    pub null_ville: u64,
    pub messy_ville: u64,
}

impl ClientDefects {
    /// The planted counts for a scale: 50, 100, 100 and 100 per unit of scale.
    pub fn for_scale(scale: u64) -> Self {
        Self { duplicates: 50 * scale, null_telephone: 100 * scale, null_ville: 100 * scale, messy_ville: 100 * scale }
    }
}

/// All clients (originals then duplicates, so `clients[id - 1]`) and the purchase behaviour of each.
#[derive(Debug, Clone)]
pub struct ClientBase {
    pub clients: Vec<Client>,
    pub originals: usize,
    /// For each original, the id of its duplicate account, if it has one.
    duplicate_of: Vec<Option<u64>>,
    heavy: Vec<u32>,
    light: Vec<u32>,
    /// Registration day of each original, in days from the first day of the range (negative before it).
    inscription_day: Vec<i64>,
}

impl ClientBase {
    /// Generates `5000·scale` clients plus their planted duplicates, for a range `start..=end`.
    pub fn generate(scale: u64, start: NaiveDate, end: NaiveDate, rng: &mut StdRng, defects_rng: &mut StdRng) -> Self {
        let originals = (5000 * scale) as usize;
        let villes = Weighted::new(&VILLES.map(|v| v.2));
        let range_days = (end - start).num_days().max(0);
        // Heavy buyers are long-standing customers (registered in the three years before the range), so they can
        // buy from day one; other clients keep registering until a month before the end.
        let light_last = (range_days - 30).max(0);
        let mut clients = Vec::with_capacity(originals + originals / 100);
        let mut inscription_day = Vec::with_capacity(originals);
        let heavy_set = pick_set(rng, originals, (originals as f64 * HEAVY_CLIENTS).round() as usize);
        for (i, &heavy) in heavy_set.iter().enumerate() {
            let day = if heavy { -rng.random_range(1..=1095i64) } else { rng.random_range(-1095..=light_last) };
            let male = rng.random::<bool>();
            // Ages 18-70, most between 25 and 45.
            let age = (18.0 + 52.0 * rng.random::<f64>().powf(1.6)).round() as u8;
            clients.push(Client {
                id: i as u64 + 1,
                person: i as u32,
                prenom: rng.random_range(0..PRENOMS_M.len()) as u8,
                nom: rng.random_range(0..NOMS.len()) as u8,
                domaine: rng.random_range(0..DOMAINES.len()) as u8,
                male,
                age: age.clamp(18, 70),
                inscription: start + Duration::days(day),
                has_telephone: true,
                ville: Some((villes.sample(rng) as u8, None)),
                heavy,
            });
            inscription_day.push(day);
        }
        let heavy = (0..originals as u32).filter(|&i| heavy_set[i as usize]).collect();
        let light = (0..originals as u32).filter(|&i| !heavy_set[i as usize]).collect();

        // Defects. Nulls and mangled cities are planted only on clients that have no duplicate, so that every
        // count in the file is exact (a duplicate copies its original's values).
        let planned = ClientDefects::for_scale(scale);
        let dup_sources = sample_n(defects_rng, originals, planned.duplicates as usize);
        let mut duplicate_of = vec![None; originals];
        let mut is_source = vec![false; originals];
        for &src in &dup_sources {
            is_source[src] = true;
        }
        let eligible: Vec<usize> = (0..originals).filter(|&i| !is_source[i]).collect();
        for k in sample_n(defects_rng, eligible.len(), planned.null_telephone as usize) {
            clients[eligible[k]].has_telephone = false;
        }
        for k in sample_n(defects_rng, eligible.len(), planned.null_ville as usize) {
            clients[eligible[k]].ville = None;
        }
        let with_ville: Vec<usize> = eligible.iter().copied().filter(|&i| clients[i].ville.is_some()).collect();
        for k in sample_n(defects_rng, with_ville.len(), planned.messy_ville as usize) {
            let kind = match defects_rng.random_range(0..4) {
                0 => Messy::Lower,
                1 => Messy::UpperTrailingSpace,
                2 => Messy::LeadingSpacesLower,
                _ => Messy::TrailingSpace,
            };
            if let Some((_, messy)) = clients[with_ville[k]].ville.as_mut() {
                *messy = Some(kind);
            }
        }
        for &src in &dup_sources {
            let id = clients.len() as u64 + 1;
            let mut dup = clients[src].clone();
            dup.id = id;
            duplicate_of[src] = Some(id);
            clients.push(dup);
        }
        Self { clients, originals, duplicate_of, heavy, light, inscription_day }
    }

    /// The highest client id in Dim_Client.
    pub fn max_id(&self) -> u64 {
        self.clients.len() as u64
    }

    /// Counts the defects actually present in the rows (what a data-quality check would find).
    pub fn count_defects(&self) -> ClientDefects {
        ClientDefects {
            duplicates: (self.clients.len() - self.originals) as u64,
            null_telephone: self.clients.iter().filter(|c| !c.has_telephone).count() as u64,
            null_ville: self.clients.iter().filter(|c| c.ville.is_none()).count() as u64,
            messy_ville: self.clients.iter().filter(|c| c.ville_is_messy()).count() as u64,
        }
    }

    /// Draws the client of a purchase (or identified visit) on day `day` (0 = first day of the range).
    ///
    /// With probability [`HEAVY_SHARE`] the buyer is one of the heavy 20%, otherwise one of the others; only
    /// clients registered by that day qualify.
    pub fn pick(&self, rng: &mut StdRng, day: i64) -> u64 {
        let group = if rng.random::<f64>() < HEAVY_SHARE { &self.heavy } else { &self.light };
        let mut chosen = None;
        if !group.is_empty() {
            for _ in 0..16 {
                let c = group[rng.random_range(0..group.len())] as usize;
                if self.inscription_day[c] <= day {
                    chosen = Some(c);
                    break;
                }
            }
        }
        // Heavy clients all registered before the range, so this fallback always qualifies.
        let c = match chosen {
            Some(c) => c,
            None if !self.heavy.is_empty() => self.heavy[rng.random_range(0..self.heavy.len())] as usize,
            None => 0,
        };
        match self.duplicate_of.get(c).copied().flatten() {
            Some(dup) if rng.random::<f64>() < DUPLICATE_ACCOUNT_SHARE => dup,
            _ => c as u64 + 1,
        }
    }
}

/// `amount` distinct indices below `len` (fewer if `len` is smaller), in sampling order.
fn sample_n(rng: &mut StdRng, len: usize, amount: usize) -> Vec<usize> {
    sample(rng, len, amount.min(len)).into_vec()
}

/// A membership mask of `amount` random indices below `len`.
fn pick_set(rng: &mut StdRng, len: usize, amount: usize) -> Vec<bool> {
    let mut set = vec![false; len];
    for i in sample_n(rng, len, amount) {
        set[i] = true;
    }
    set
}

/// Purchases of one client, accumulated while the sales stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientStats {
    pub nb_achats: u32,
    /// Net revenue (HT after discount), in cents.
    pub ca_cents: i64,
    /// Day index and second of the day of the latest purchase.
    pub last: Option<(u32, u32)>,
}

impl ClientStats {
    pub fn record(&mut self, net_cents: i64, day: u32, second: u32) {
        self.nb_achats += 1;
        self.ca_cents += net_cents;
        // Sales arrive in time order, so the latest one is the last one recorded.
        self.last = Some((day, second));
    }
}

/// The RFM segment written in Dim_Client and Stats_RFM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Gold,
    Silver,
    Bronze,
    Nouveau,
}

impl Segment {
    pub fn label(self) -> &'static str {
        match self {
            Segment::Gold => "Gold",
            Segment::Silver => "Silver",
            Segment::Bronze => "Bronze",
            Segment::Nouveau => "Nouveau",
        }
    }
}

/// Segments by revenue rank among buyers: top 20% Gold, next 30% Silver, the rest Bronze; no purchase: Nouveau.
pub fn segments(stats: &[ClientStats]) -> Vec<Segment> {
    let mut buyers: Vec<usize> = (0..stats.len()).filter(|&i| stats[i].nb_achats > 0).collect();
    buyers.sort_by(|&a, &b| stats[b].ca_cents.cmp(&stats[a].ca_cents).then(a.cmp(&b)));
    let n = buyers.len();
    let mut out = vec![Segment::Nouveau; stats.len()];
    for (rank, &i) in buyers.iter().enumerate() {
        out[i] = if rank * 5 < n {
            Segment::Gold
        } else if rank * 2 < n {
            Segment::Silver
        } else {
            Segment::Bronze
        };
    }
    out
}

/// A 0–100 loyalty score: frequency (up to 60 points) plus recency relative to the last day of the range.
pub fn fidelity_score(stats: &ClientStats, last_day: u32) -> u32 {
    let Some((day, _)) = stats.last else {
        return 0;
    };
    let frequency = (stats.nb_achats * 2).min(60);
    let recency = match last_day.saturating_sub(day) {
        0..=90 => 40,
        91..=180 => 25,
        181..=365 => 10,
        _ => 0,
    };
    frequency + recency
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::rng::{Stream, stream};

    fn base() -> ClientBase {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        ClientBase::generate(1, d(2023, 1, 1), d(2024, 12, 31), &mut stream(1, Stream::Clients), &mut stream(1, Stream::ClientDefects))
    }

    #[test]
    fn defects_are_exact_and_duplicates_are_the_same_person() {
        let b = base();
        assert_eq!(b.clients.len(), 5050);
        assert_eq!(b.count_defects(), ClientDefects::for_scale(1));
        for dup in &b.clients[5000..] {
            let orig = &b.clients[dup.person as usize];
            assert_eq!(dup.id, b.clients.iter().position(|c| std::ptr::eq(c, dup)).unwrap() as u64 + 1);
            assert_eq!(dup.email(), orig.email());
            assert_eq!(dup.telephone(), orig.telephone());
            assert_eq!(dup.ville(), orig.ville());
            assert_ne!(dup.code(), orig.code());
        }
        let emails: std::collections::HashSet<_> = b.clients[..5000].iter().map(Client::email).collect();
        assert_eq!(emails.len(), 5000);
    }

    #[test]
    fn messy_villes_differ_from_the_canonical_name() {
        let b = base();
        for c in b.clients.iter().filter(|c| c.ville_is_messy()) {
            let v = c.ville().unwrap();
            assert!(VILLES.iter().all(|(name, _, _)| *name != v), "{v:?}");
            assert!(VILLES.iter().any(|(name, _, _)| name.to_lowercase() == v.trim().to_lowercase()), "{v:?}");
        }
    }

    #[test]
    fn segments_by_rank() {
        let mut stats = vec![ClientStats::default(); 11];
        for (i, s) in stats.iter_mut().enumerate().take(10) {
            s.record(i as i64 * 100, 1, 0);
        }
        let seg = segments(&stats);
        assert_eq!(seg[10], Segment::Nouveau);
        assert_eq!(seg[9], Segment::Gold);
        assert_eq!(seg[8], Segment::Gold);
        assert_eq!(seg[7], Segment::Silver);
        assert_eq!(seg[5], Segment::Silver);
        assert_eq!(seg[4], Segment::Bronze);
        assert_eq!(fidelity_score(&stats[10], 100), 0);
        assert_eq!(fidelity_score(&stats[0], 50), 42);
    }
}
