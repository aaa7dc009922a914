//! The calendar (Dim_Temps): days, commercial seasons, Moroccan public holidays and the real Ramadan dates.
//!
//! Everything date-related the rest of the generator needs is precomputed here once per day (ISO text, Excel
//! serial number, season), so the hot loops that write millions of sales never format a date.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use std::collections::BTreeSet;

/// The commercial season of a day, as written in `Saison_Commerciale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Season {
    Normal,
    SoldesHiver,
    SoldesEte,
    BlackFriday,
    Ramadan,
}

impl Season {
    pub const ALL: [Season; 5] = [Season::Normal, Season::SoldesHiver, Season::SoldesEte, Season::BlackFriday, Season::Ramadan];

    pub fn label(self) -> &'static str {
        match self {
            Season::Normal => "Normal",
            Season::SoldesHiver => "Soldes Hiver",
            Season::SoldesEte => "Soldes Été",
            Season::BlackFriday => "Black Friday",
            Season::Ramadan => "Ramadan",
        }
    }

    /// Expected sales of a day of this season relative to a Normal day (the contract's seasonality pattern).
    pub fn sales_multiplier(self) -> f64 {
        match self {
            Season::Normal => 1.0,
            Season::SoldesHiver => 1.3,
            Season::SoldesEte => 1.2,
            Season::BlackFriday => 2.5,
            Season::Ramadan => 1.4,
        }
    }

    pub fn is_soldes(self) -> bool {
        matches!(self, Season::SoldesHiver | Season::SoldesEte)
    }
}

/// One row of Dim_Temps, with the derived forms the writers need.
#[derive(Debug, Clone)]
pub struct Day {
    /// `ID_Date`: 1 for the first day of the range.
    pub id: u32,
    pub date: NaiveDate,
    pub season: Season,
    pub holiday: bool,
    /// `YYYY-MM-DD`.
    pub iso: String,
    /// Days since 1899-12-30: the Excel serial number of midnight of this day.
    pub excel_serial: f64,
}

impl Day {
    pub fn is_weekend(&self) -> bool {
        matches!(self.date.weekday(), Weekday::Sat | Weekday::Sun)
    }
}

/// The days of the generated range, in order.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub days: Vec<Day>,
}

impl Calendar {
    /// Builds the calendar of `start..=end`. The caller has checked `start <= end`.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Self {
        let ramadan = ramadan_periods(start, end);
        let holidays = holidays(start, end, &ramadan);
        let days = start
            .iter_days()
            .take_while(|d| *d <= end)
            .enumerate()
            .map(|(i, date)| {
                let in_ramadan = ramadan.iter().any(|(s, e)| *s <= date && date <= *e);
                Day {
                    id: (i + 1) as u32,
                    date,
                    season: season_of(date, in_ramadan),
                    holiday: holidays.contains(&date),
                    iso: date.format("%Y-%m-%d").to_string(),
                    excel_serial: excel_serial(date),
                }
            })
            .collect();
        Self { days }
    }

    pub fn len(&self) -> usize {
        self.days.len()
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    pub fn first(&self) -> Option<&Day> {
        self.days.first()
    }

    pub fn last(&self) -> Option<&Day> {
        self.days.last()
    }
}

/// The Excel serial number of a date: days since 1899-12-30 (valid from 1900-03-01, which the configuration
/// guarantees).
pub fn excel_serial(date: NaiveDate) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or(NaiveDate::MIN);
    (date - epoch).num_days() as f64
}

/// The season of a date: Ramadan wins over every month-based season.
pub fn season_of(date: NaiveDate, in_ramadan: bool) -> Season {
    if in_ramadan {
        return Season::Ramadan;
    }
    match date.month() {
        1 | 2 => Season::SoldesHiver,
        7 | 8 => Season::SoldesEte,
        11 => Season::BlackFriday,
        _ => Season::Normal,
    }
}

pub fn month_name(month: u32) -> &'static str {
    const NAMES: [&str; 12] =
        ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    NAMES.get(month.wrapping_sub(1) as usize).copied().unwrap_or("")
}

pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// A date as (year, month, day).
type Ymd = (i32, u32, u32);

/// Ramadan as observed in Morocco (first and last day), which usually starts a day after the Gulf countries.
/// Up to 2025 these are the announced dates; later ones are the astronomical predictions.
const RAMADAN_TABLE: [(Ymd, Ymd); 14] = [
    ((2018, 5, 17), (2018, 6, 14)),
    ((2019, 5, 7), (2019, 6, 4)),
    ((2020, 4, 25), (2020, 5, 23)),
    ((2021, 4, 14), (2021, 5, 12)),
    ((2022, 4, 3), (2022, 5, 1)),
    ((2023, 3, 23), (2023, 4, 21)),
    ((2024, 3, 12), (2024, 4, 9)),
    ((2025, 3, 2), (2025, 3, 30)),
    ((2026, 2, 19), (2026, 3, 20)),
    ((2027, 2, 9), (2027, 3, 9)),
    ((2028, 1, 29), (2028, 2, 26)),
    ((2029, 1, 17), (2029, 2, 14)),
    ((2030, 1, 6), (2030, 2, 4)),
    ((2030, 12, 27), (2031, 1, 25)),
];

/// Mean length of a lunar (Hijri) year in days, used to extrapolate Ramadan outside the table.
const LUNAR_YEAR_DAYS: f64 = 354.367;

fn ymd((y, m, d): Ymd) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// Every Ramadan period (first day, last day) that overlaps `from..=to`, widened by a year on each side so the
/// holidays that follow Ramadan (Eids, Islamic New Year, Mawlid) are found too. Outside the table the periods
/// are extrapolated from its ends by whole lunar years, 30 days long.
pub fn ramadan_periods(from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let lo = from - Duration::days(400);
    let hi = to + Duration::days(400);
    let table: Vec<(NaiveDate, NaiveDate)> = RAMADAN_TABLE.iter().map(|(s, e)| (ymd(*s), ymd(*e))).collect();
    let (Some(first), Some(last)) = (table.first().copied(), table.last().copied()) else {
        return Vec::new();
    };
    let shifted = |anchor: NaiveDate, years: i64| {
        let days = (years as f64 * LUNAR_YEAR_DAYS).round() as i64;
        anchor.checked_add_signed(Duration::days(days))
    };
    let mut out = Vec::new();
    // Backwards from the first entry.
    let mut k = 1;
    while let Some(s) = shifted(first.0, -k) {
        if s + Duration::days(29) < lo {
            break;
        }
        out.push((s, s + Duration::days(29)));
        k += 1;
    }
    out.reverse();
    out.extend(table.iter().copied().filter(|(s, e)| *e >= lo && *s <= hi));
    let mut k = 1;
    while let Some(s) = shifted(last.0, k) {
        if s > hi {
            break;
        }
        out.push((s, s + Duration::days(29)));
        k += 1;
    }
    out
}

/// Moroccan public holidays within `from..=to`: the fixed civil ones and the religious ones, derived from the
/// Ramadan dates by their usual distance in the Hijri calendar.
pub fn holidays(from: NaiveDate, to: NaiveDate, ramadan: &[(NaiveDate, NaiveDate)]) -> BTreeSet<NaiveDate> {
    let mut set = BTreeSet::new();
    for year in from.year()..=to.year() {
        // New Year, Independence Manifesto, Labour Day, Throne Day, Oued Ed-Dahab, Revolution of the King and
        // the People, Youth Day, Green March, Independence Day.
        let fixed: [(u32, u32); 10] = [(1, 1), (1, 11), (5, 1), (7, 30), (8, 14), (8, 20), (8, 21), (11, 6), (11, 18), (1, 14)];
        for (m, d) in fixed {
            // Amazigh New Year (Yennayer) is a public holiday since 2024.
            if (m, d) == (1, 14) && year < 2024 {
                continue;
            }
            if let Some(date) = NaiveDate::from_ymd_opt(year, m, d) {
                set.insert(date);
            }
        }
    }
    for (_, last) in ramadan {
        let eid_fitr = *last + Duration::days(1);
        let eid_adha = eid_fitr + Duration::days(68);
        let new_year = eid_adha + Duration::days(21);
        let mawlid = new_year + Duration::days(70);
        for (day, len) in [(eid_fitr, 2), (eid_adha, 2), (new_year, 1), (mawlid, 2)] {
            for k in 0..len {
                set.insert(day + Duration::days(k));
            }
        }
    }
    set.retain(|d| *d >= from && *d <= to);
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn ramadan_wins_and_months_map_to_seasons() {
        let cal = Calendar::new(d(2023, 1, 1), d(2024, 12, 31));
        assert_eq!(cal.len(), 731);
        let at = |date: NaiveDate| cal.days.iter().find(|x| x.date == date).unwrap().season;
        assert_eq!(at(d(2023, 3, 22)), Season::Normal);
        assert_eq!(at(d(2023, 3, 23)), Season::Ramadan);
        assert_eq!(at(d(2023, 4, 21)), Season::Ramadan);
        assert_eq!(at(d(2023, 4, 22)), Season::Normal);
        assert_eq!(at(d(2024, 1, 15)), Season::SoldesHiver);
        assert_eq!(at(d(2024, 8, 31)), Season::SoldesEte);
        assert_eq!(at(d(2024, 11, 29)), Season::BlackFriday);
        assert_eq!(cal.days[0].id, 1);
        assert_eq!(cal.days[0].iso, "2023-01-01");
        assert_eq!(cal.days[0].excel_serial, 44927.0);
    }

    #[test]
    fn moroccan_holidays() {
        let cal = Calendar::new(d(2023, 1, 1), d(2024, 12, 31));
        let hol = |date: NaiveDate| cal.days.iter().find(|x| x.date == date).unwrap().holiday;
        assert!(hol(d(2023, 7, 30)));
        assert!(hol(d(2024, 11, 18)));
        assert!(!hol(d(2023, 1, 14)), "Yennayer only from 2024");
        assert!(hol(d(2024, 1, 14)));
        assert!(hol(d(2023, 4, 22)), "Eid al-Fitr 2023");
        assert!(hol(d(2024, 4, 10)), "Eid al-Fitr 2024");
        assert!(hol(d(2023, 6, 29)), "Eid al-Adha 2023");
        assert!(hol(d(2024, 6, 17)), "Eid al-Adha 2024");
        assert!(hol(d(2024, 9, 16)), "Mawlid 2024");
        assert!(!hol(d(2024, 3, 5)));
    }

    #[test]
    fn ramadan_is_extrapolated_outside_the_table() {
        let periods = ramadan_periods(d(2040, 1, 1), d(2040, 12, 31));
        // Ramadan 2040 is expected around mid-September.
        assert!(periods.iter().any(|(s, _)| s.year() == 2040 && (8..=10).contains(&s.month())), "{periods:?}");
        let periods = ramadan_periods(d(2010, 1, 1), d(2010, 12, 31));
        assert!(periods.iter().any(|(s, _)| s.year() == 2010 && (7..=9).contains(&s.month())), "{periods:?}");
    }

    #[test]
    fn names() {
        assert_eq!(month_name(1), "January");
        assert_eq!(month_name(12), "December");
        assert_eq!(month_name(13), "");
        assert_eq!(weekday_name(Weekday::Sun), "Sunday");
    }
}
