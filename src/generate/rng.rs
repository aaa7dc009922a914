//! Seeded randomness: one independent generator per concern, plus the few sampling helpers the generator needs.
//!
//! Each concern (clients, sales, returns, sessions, ...) draws from its own stream derived from the user's seed,
//! so the output of one part never depends on how many numbers another part consumed, nor on which thread runs
//! it. Changing how sessions are generated, for instance, leaves the sales byte-for-byte unchanged.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The independent random streams. The discriminants are part of the output's identity: renumbering them
/// changes every file for a given seed.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    DayNoise = 1,
    Products = 2,
    Clients = 3,
    ClientDefects = 4,
    Sales = 5,
    SalesDefects = 6,
    Returns = 7,
    Sessions = 8,
    Stock = 9,
    Objectives = 10,
}

/// The generator of one stream for a seed.
pub fn stream(seed: u64, which: Stream) -> StdRng {
    // Multiplying by an odd constant spreads the small stream ids over the whole 64-bit space before mixing them
    // with the seed, so streams of neighbouring seeds do not coincide.
    let salt = (which as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    StdRng::seed_from_u64(seed ^ salt)
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut StdRng) -> f64 {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Picks an index with probability proportional to fixed weights, in O(log n).
#[derive(Debug, Clone)]
pub struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    /// Weights must be finite and non-negative with a positive sum; the generator only builds them from its own
    /// constant tables, never from user input.
    pub fn new(weights: &[f64]) -> Self {
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w.max(0.0);
                acc
            })
            .collect();
        Self { cumulative }
    }

    pub fn sample(&self, rng: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        i.min(self.cumulative.len().saturating_sub(1))
    }
}

/// Splits `total` units over buckets in proportion to `weights`, exactly (largest-remainder method).
///
/// Ties in the remainders go to the lower index, so the split is deterministic.
pub fn largest_remainder(weights: &[f64], total: u64) -> Vec<u64> {
    let sum: f64 = weights.iter().map(|w| w.max(0.0)).sum();
    if weights.is_empty() {
        return Vec::new();
    }
    if sum <= 0.0 {
        // No information: spread evenly.
        return largest_remainder(&vec![1.0; weights.len()], total);
    }
    let mut counts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut assigned = 0u64;
    for (i, w) in weights.iter().enumerate() {
        let exact = w.max(0.0) / sum * total as f64;
        let floor = exact.floor() as u64;
        counts.push(floor);
        remainders.push((exact - floor as f64, i));
        assigned += floor;
    }
    // Float error can make the floors overshoot by a unit in pathological cases; trim from the largest buckets.
    while assigned > total {
        if let Some(max) = counts.iter_mut().max() {
            *max -= 1;
        }
        assigned -= 1;
    }
    remainders.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let missing = (total - assigned) as usize;
    for k in 0..missing {
        let (_, i) = remainders[k % remainders.len()];
        counts[i] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_remainder_is_exact_and_proportional() {
        let c = largest_remainder(&[1.0, 1.0, 1.0], 10);
        assert_eq!(c, vec![4, 3, 3]);
        let c = largest_remainder(&[2.5, 1.0, 1.0, 0.0], 1000);
        assert_eq!(c.iter().sum::<u64>(), 1000);
        assert_eq!(c[3], 0);
        assert!((c[0] as f64 / c[1] as f64 - 2.5).abs() < 0.01);
        assert_eq!(largest_remainder(&[0.0, 0.0], 3).iter().sum::<u64>(), 3);
        assert!(largest_remainder(&[], 3).is_empty());
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a: u64 = stream(1, Stream::Sales).random();
        let b: u64 = stream(1, Stream::Sales).random();
        let c: u64 = stream(1, Stream::Returns).random();
        let d: u64 = stream(2, Stream::Sales).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn weighted_follows_weights() {
        let w = Weighted::new(&[1.0, 0.0, 3.0]);
        let mut rng = stream(7, Stream::Sales);
        let mut n = [0u32; 3];
        for _ in 0..40_000 {
            n[w.sample(&mut rng)] += 1;
        }
        assert_eq!(n[1], 0);
        let share = f64::from(n[2]) / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{share}");
    }
}
