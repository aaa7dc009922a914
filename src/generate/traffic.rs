//! Web and app sessions (Fait_Trafic_Web), streamed straight to the JSON file.
//!
//! About half the visitors are anonymous, half the sessions end in a purchase, and about 30% of the others
//! abandon a cart. Each session carries a nested `Contexte` object (channel, device, traffic source), which is
//! what the JSON readers must flatten.

use rand::Rng;
use rand::rngs::StdRng;

use super::calendar::Calendar;
use super::people::ClientBase;
use super::rng::{Weighted, largest_remainder};

/// One session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: u64,
    pub client: Option<u64>,
    /// Calendar index of the day (`ID_Date` − 1).
    pub day: u32,
    pub pages_vues: u32,
    pub duree_sec: u32,
    pub a_achete: bool,
    pub panier_abandonne: bool,
    /// 1 = Web, 2 = Mobile (the app).
    pub canal: u8,
    pub appareil: &'static str,
    pub source: &'static str,
}

const SOURCES: [(&str, f64); 5] = [("Recherche organique", 0.35), ("Direct", 0.20), ("Réseaux sociaux", 0.20), ("Publicité", 0.15), ("Email", 0.10)];

/// Generates the sessions of each day in turn.
pub struct SessionStream<'a> {
    clients: &'a ClientBase,
    rng: StdRng,
    per_day: Vec<u64>,
    day: usize,
    left_today: u64,
    next_id: u64,
    sources: Weighted,
}

impl<'a> SessionStream<'a> {
    /// Exactly `total` sessions spread over the days in proportion to `weights`.
    pub fn new(cal: &Calendar, clients: &'a ClientBase, weights: &[f64], total: u64, rng: StdRng) -> Self {
        let per_day = largest_remainder(&weights[..weights.len().min(cal.len())], total);
        let left_today = per_day.first().copied().unwrap_or(0);
        Self { clients, rng, per_day, day: 0, left_today, next_id: 1, sources: Weighted::new(&SOURCES.map(|s| s.1)) }
    }

    fn draw(&mut self, day: usize) -> Session {
        let rng = &mut self.rng;
        let client = if rng.random::<f64>() < 0.5 { None } else { Some(self.clients.pick(rng, day as i64)) };
        // Known customers convert more than anonymous visitors; together about half the sessions buy.
        let buy_rate = if client.is_some() { 0.6 } else { 0.4 };
        let a_achete = rng.random::<f64>() < buy_rate;
        let panier_abandonne = !a_achete && rng.random::<f64>() < 0.3;
        let pages_vues = if a_achete {
            5 + geometric(rng, 7.0)
        } else if panier_abandonne {
            3 + geometric(rng, 5.0)
        } else {
            1 + geometric(rng, 3.0)
        }
        .min(80);
        let duree_sec = pages_vues * rng.random_range(20..95) + rng.random_range(5..60);
        let canal = if rng.random::<f64>() < 2.0 / 3.0 { 1 } else { 2 };
        let x = rng.random::<f64>();
        let appareil = match canal {
            1 if x < 0.55 => "Ordinateur",
            1 if x < 0.90 => "Smartphone",
            1 => "Tablette",
            _ if x < 0.85 => "Smartphone",
            _ => "Tablette",
        };
        let source = SOURCES[self.sources.sample(rng)].0;
        let id = self.next_id;
        self.next_id += 1;
        Session { id, client, day: day as u32, pages_vues, duree_sec, a_achete, panier_abandonne, canal, appareil, source }
    }
}

impl Iterator for SessionStream<'_> {
    type Item = Session;

    fn next(&mut self) -> Option<Session> {
        while self.left_today == 0 {
            self.day += 1;
            self.left_today = *self.per_day.get(self.day)?;
        }
        self.left_today -= 1;
        Some(self.draw(self.day))
    }
}

/// A draw from a geometric distribution on 0, 1, 2, ... with the given mean.
fn geometric(rng: &mut StdRng, mean: f64) -> u32 {
    let p = 1.0 / (1.0 + mean);
    let u: f64 = 1.0 - rng.random::<f64>();
    (u.ln() / (1.0 - p).ln()).floor().min(1e6) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::rng::{Stream, stream};
    use chrono::NaiveDate;

    #[test]
    fn rates() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let cal = Calendar::new(d(2024, 1, 1), d(2024, 1, 31));
        let clients = ClientBase::generate(1, d(2024, 1, 1), d(2024, 1, 31), &mut stream(1, Stream::Clients), &mut stream(1, Stream::ClientDefects));
        let sessions: Vec<_> = SessionStream::new(&cal, &clients, &vec![1.0; 31], 20_000, stream(1, Stream::Sessions)).collect();
        assert_eq!(sessions.len(), 20_000);
        assert_eq!(sessions.last().unwrap().day, 30);
        let share = |f: &dyn Fn(&Session) -> bool| sessions.iter().filter(|s| f(s)).count() as f64 / 20_000.0;
        assert!((share(&|s| s.client.is_none()) - 0.5).abs() < 0.02);
        assert!((share(&|s| s.a_achete) - 0.5).abs() < 0.02);
        assert!(sessions.iter().all(|s| !(s.a_achete && s.panier_abandonne)));
    }
}
