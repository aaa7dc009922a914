//! French number formatting for the pages: `3,48 M MAD`, `57,0 %`, `12 345`. French groups thousands with a
//! narrow no-break space (U+202F) and puts a no-break space (U+00A0) before a unit or `%`, so a value never
//! wraps across lines. Not a general locale library: only the four formats the model's measures use.

use crate::model::Format;

/// Thousands separator (espace fine insécable).
pub const GROUP: char = '\u{202F}';
/// Before a unit or `%` (espace insécable).
pub const NBSP: char = '\u{A0}';

/// `value` with `decimals` digits after a decimal comma and grouped thousands: `12 345,67`.
pub fn number(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let mut out = String::with_capacity(text.len() + 4);
    // "-0,00" reads oddly: the sign only when the rounded value is not zero.
    if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    let digits = int.len();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (digits - i) % 3 == 0 {
            out.push(GROUP);
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push(',');
        out.push_str(frac);
    }
    out
}

/// A short form for KPI cards and chart labels: `3,48 M MAD`, `845,2 k MAD`, `57,0 %`, `12 345`.
pub fn compact(value: f64, format: Format) -> String {
    match format {
        Format::Currency => format!("{}{NBSP}MAD", scaled(value)),
        Format::Percent => percent(value),
        Format::Integer => {
            if value.abs() >= 1e6 {
                scaled(value)
            } else {
                number(value, 0)
            }
        }
        // A whole number computed in floating point (a funnel step) reads without ",00".
        Format::Decimal | Format::Text => {
            if value.abs() >= 1e6 {
                scaled(value)
            } else {
                number(value, if value.fract() == 0.0 { 0 } else { 2 })
            }
        }
    }
}

/// The full form for tables: `3 481 234,56 MAD`, `57,0 %`, `12 345`, `4,20`.
pub fn full(value: f64, format: Format) -> String {
    match format {
        Format::Currency => format!("{}{NBSP}MAD", number(value, 2)),
        Format::Percent => percent(value),
        Format::Integer => number(value, 0),
        Format::Decimal | Format::Text => number(value, 2),
    }
}

/// A ratio as a percentage with one decimal: 0.5704 → `57,0 %`.
pub fn percent(ratio: f64) -> String {
    format!("{}{NBSP}%", number(ratio * 100.0, 1))
}

/// 3 481 234 → `3,48 M`; 845 200 → `845,2 k`; 2,1e9 → `2,10 Md` (milliard, the French billion).
fn scaled(value: f64) -> String {
    let a = value.abs();
    if a >= 1e9 {
        format!("{}{NBSP}Md", number(value / 1e9, 2))
    } else if a >= 1e6 {
        format!("{}{NBSP}M", number(value / 1e6, 2))
    } else if a >= 1e4 {
        format!("{}{NBSP}k", number(value / 1e3, 1))
    } else {
        number(value, if a >= 100.0 { 0 } else { 2 })
    }
}

/// The month's French name (1 → `janvier`), for slicers and axis labels.
pub fn month_name(month: i64) -> Option<&'static str> {
    const NAMES: [&str; 12] =
        ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"];
    usize::try_from(month).ok().and_then(|m| m.checked_sub(1)).and_then(|i| NAMES.get(i).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: String) -> String {
        s.replace([GROUP, NBSP], " ")
    }

    #[test]
    fn french_forms() {
        assert_eq!(plain(compact(3_481_234.56, Format::Currency)), "3,48 M MAD");
        assert_eq!(plain(compact(0.5704, Format::Percent)), "57,0 %");
        assert_eq!(plain(compact(12_345.0, Format::Integer)), "12 345");
        assert_eq!(plain(compact(845_200.0, Format::Currency)), "845,2 k MAD");
        assert_eq!(plain(compact(2_100_000_000.0, Format::Currency)), "2,10 Md MAD");
        assert_eq!(plain(full(3_481_234.561, Format::Currency)), "3 481 234,56 MAD");
        assert_eq!(plain(full(-1234.5, Format::Decimal)), "-1 234,50");
        assert_eq!(plain(full(-0.001, Format::Decimal)), "0,00");
        assert_eq!(plain(full(999.0, Format::Integer)), "999");
        assert_eq!(number(f64::NAN, 2), "–");
        assert_eq!(plain(compact(65_235.0, Format::Decimal)), "65 235");
        assert_eq!(plain(compact(4.2, Format::Decimal)), "4,20");
        assert_eq!(compact(0.5704, Format::Percent), "57,0\u{a0}%");
        assert_eq!(month_name(8), Some("août"));
        assert_eq!(month_name(0), None);
        assert_eq!(month_name(13), None);
    }
}
