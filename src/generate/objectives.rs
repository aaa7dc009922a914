//! Monthly objectives (objectifs_mensuels.xlsx): a revenue target and a marketing budget per month.
//!
//! Targets are set from the month's actual net revenue (HT after discount) with ±15% noise, so they stay
//! within the contract's ±20% and scale with `--scale` like the sales do.

use std::collections::BTreeMap;

use chrono::Datelike;
use rand::Rng;
use rand::rngs::StdRng;

use super::calendar::Calendar;

/// Net revenue per (year, month), accumulated while the sales stream.
#[derive(Debug, Clone, Default)]
pub struct MonthlyRevenue {
    cents: BTreeMap<(i32, u32), i64>,
    /// Month of each calendar day, to avoid date arithmetic per sale.
    month_of_day: Vec<(i32, u32)>,
}

impl MonthlyRevenue {
    /// Every month of the calendar starts at zero, so a month without sales still gets an objective.
    pub fn new(cal: &Calendar) -> Self {
        let month_of_day: Vec<_> = cal.days.iter().map(|d| (d.date.year(), d.date.month())).collect();
        let cents = month_of_day.iter().map(|m| (*m, 0)).collect();
        Self { cents, month_of_day }
    }

    pub fn add(&mut self, day: u32, net_cents: i64) {
        if let Some(m) = self.month_of_day.get(day as usize)
            && let Some(c) = self.cents.get_mut(m)
        {
            *c += net_cents;
        }
    }

    pub fn months(&self) -> impl Iterator<Item = ((i32, u32), i64)> + '_ {
        self.cents.iter().map(|(k, v)| (*k, *v))
    }
}

/// One row of a year's sheet. Amounts in whole MAD, like the original file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objective {
    pub year: i32,
    pub month: u32,
    pub objectif_ca: i64,
    pub budget_marketing: i64,
}

pub fn objectives(revenue: &MonthlyRevenue, rng: &mut StdRng) -> Vec<Objective> {
    revenue
        .months()
        .map(|((year, month), cents)| {
            let objectif = (cents as f64 / 100.0 * rng.random_range(0.85..1.15)).round();
            let budget = (objectif * rng.random_range(0.06..0.10)).round();
            Objective { year, month, objectif_ca: objectif as i64, budget_marketing: budget as i64 }
        })
        .collect()
}
