//! Column types as a model file names them (`int64`, `decimal(12,2)`, `date`...), and the typed-value
//! inference shared by the text-based readers (XML, XLSX string cells, JSON declared types).
//!
//! Inference is deliberately conservative: a column becomes Int64, Float64, Date32 or Timestamp only when every
//! non-empty value parses as one; anything else stays Utf8. Declaring the type in `sources.yaml` always wins.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, TimeUnit};

/// Parse a declared type name. Errors list the accepted names, since this text comes from a user's YAML.
pub fn parse_type_name(name: &str) -> Result<DataType, String> {
    let n = name.trim().to_ascii_lowercase();
    let simple = match n.as_str() {
        "int" | "integer" | "int64" | "bigint" | "long" => Some(DataType::Int64),
        "float" | "float64" | "double" | "real" | "number" => Some(DataType::Float64),
        "string" | "utf8" | "text" | "varchar" => Some(DataType::Utf8),
        "date" | "date32" => Some(DataType::Date32),
        "timestamp" | "datetime" => Some(DataType::Timestamp(TimeUnit::Microsecond, None)),
        "bool" | "boolean" => Some(DataType::Boolean),
        _ => None,
    };
    if let Some(t) = simple {
        return Ok(t);
    }
    if let Some(args) = n.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) {
        let mut it = args.split(',').map(|s| s.trim().parse::<u8>());
        if let (Some(Ok(p)), Some(Ok(s)), None) = (it.next(), it.next(), it.next())
            && (1..=38).contains(&p)
            && s <= p
        {
            return Ok(DataType::Decimal128(p, s as i8));
        }
    }
    Err(format!("unknown column type `{name}`; expected one of int64, float64, decimal(p,s), utf8, date, timestamp, boolean"))
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date, validated.
pub fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&b[0..4])? as i32;
    let m = digits(&b[5..7])? as u32;
    let d = digits(&b[8..10])? as u32;
    days_from_civil(y, m, d)
}

/// Microseconds since the epoch of `YYYY-MM-DD HH:MM:SS[.ffffff]` (or with a `T`), no time zone.
pub fn parse_timestamp_micros(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || !(b[10] == b' ' || b[10] == b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = parse_date(std::str::from_utf8(&b[..10]).ok()?)? as i64;
    let h = digits(&b[11..13])? as i64;
    let mi = digits(&b[14..16])? as i64;
    let se = digits(&b[17..19])? as i64;
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut micros = 0i64;
    if b.len() > 19 {
        if b[19] != b'.' || b.len() == 20 || b.len() > 26 {
            return None;
        }
        let frac = &b[20..];
        micros = digits(frac)? as i64 * 10i64.pow(6 - frac.len() as u32);
    }
    Some(((days * 24 + h) * 60 + mi) * 60_000_000 + se * 1_000_000 + micros)
}

fn digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    let mut v = 0u64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u64;
    }
    Some(v)
}

/// Howard Hinnant's days-from-civil: exact for the proleptic Gregorian calendar, and rejects 2023-02-30.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> Option<i32> {
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe as i32 - 719_468)
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Scaled integer of a decimal literal (`-12.5` at scale 2 → -1250). None when it is not a plain decimal or
/// has more fractional digits than the scale allows (silently rounding money would hide a defect).
pub fn parse_decimal(s: &str, scale: i8) -> Option<i128> {
    let b = s.as_bytes();
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if b.is_empty() {
        return None;
    }
    let mut v: i128 = 0;
    let mut frac_digits: i32 = -1;
    for &c in b {
        if c == b'.' {
            if frac_digits >= 0 {
                return None;
            }
            frac_digits = 0;
            continue;
        }
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as i128)?;
        if frac_digits >= 0 {
            frac_digits += 1;
        }
    }
    let frac = frac_digits.max(0);
    if frac > scale as i32 {
        return None;
    }
    v = v.checked_mul(10i128.pow((scale as i32 - frac) as u32))?;
    Some(if neg { -v } else { v })
}

/// A number that is finite. `NaN`, `inf` and overflowing literals such as `1e400` (which Rust parses as
/// infinity) are rejected: an amount column holding them only fails later, in a measure's cast, far from the file.
pub fn parse_finite(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "oui" => Some(true),
        "false" | "0" | "no" | "non" => Some(false),
        _ => None,
    }
}

/// The narrowest type every non-empty value of a column parses as.
pub fn infer_type<'a>(values: impl Iterator<Item = Option<&'a str>>) -> DataType {
    let (mut int, mut float, mut date, mut ts) = (true, true, true, true);
    let mut any = false;
    for v in values.flatten() {
        if v.is_empty() {
            continue;
        }
        any = true;
        if int && v.parse::<i64>().is_err() {
            int = false;
        }
        // A leading `+` or `0` marks an identifier such as a phone number, not a quantity.
        if (int || float) && looks_like_code(v) {
            int = false;
            float = false;
        }
        if float && !int && v.parse::<f64>().map(|f| !f.is_finite()).unwrap_or(true) {
            float = false;
        }
        if date && parse_date(v).is_none() {
            date = false;
        }
        if ts && parse_timestamp_micros(v).is_none() {
            ts = false;
        }
        if !(int || float || date || ts) {
            return DataType::Utf8;
        }
    }
    if !any {
        DataType::Utf8
    } else if int {
        DataType::Int64
    } else if float {
        DataType::Float64
    } else if date {
        DataType::Date32
    } else if ts {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    } else {
        DataType::Utf8
    }
}

fn looks_like_code(v: &str) -> bool {
    let b = v.as_bytes();
    b[0] == b'+' || (b.len() > 1 && b[0] == b'0' && b[1].is_ascii_digit())
}

/// Build an Arrow array of `data_type` from optional text values, with the same typed builders as the
/// tokenizing readers ([`super::builders::ColumnBuilder`]). An empty value is NULL, for text too, as in CSV (an
/// empty field) and XLSX (an empty cell), so that every format reads a missing value the same way; other values
/// are trimmed before parsing. On a value that does not parse, returns the index of the row and what was expected.
pub fn build_array<'a>(data_type: &DataType, values: impl ExactSizeIterator<Item = Option<&'a str>>) -> Result<ArrayRef, (usize, String)> {
    let supported = matches!(
        data_type,
        DataType::Int64
            | DataType::Float64
            | DataType::Date32
            | DataType::Timestamp(TimeUnit::Microsecond, None)
            | DataType::Boolean
            | DataType::Decimal128(..)
            | DataType::Utf8
    );
    if !supported {
        return Err((0, format!("column type {data_type} is not supported by this reader")));
    }
    let text = *data_type == DataType::Utf8;
    let mut col = super::builders::ColumnBuilder::new(data_type);
    for (i, v) in values.enumerate() {
        match v {
            None => col.null(),
            Some(raw) => {
                let s = if text { raw } else { raw.trim() };
                if s.is_empty() {
                    col.null();
                } else if !col.push(s) {
                    return Err((i, format!("expected {}, found `{}`", col.expects(), super::error::clip(s))));
                }
            }
        }
    }
    col.finish().map_err(|e| (0, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-02-29"), Some(19782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2023-1-01"), None);
        assert_eq!(parse_timestamp_micros("1970-01-02 00:00:01"), Some(86_401_000_000));
        assert_eq!(parse_timestamp_micros("1970-01-01T00:00:00.5"), Some(500_000));
        assert_eq!(parse_timestamp_micros("1970-01-01 25:00:00"), None);
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("12.5", 2), Some(1250));
        assert_eq!(parse_decimal("-0.07", 2), Some(-7));
        assert_eq!(parse_decimal("3", 2), Some(300));
        assert_eq!(parse_decimal("1.234", 2), None);
        assert_eq!(parse_decimal("1.2.3", 2), None);
    }

    #[test]
    fn inference_keeps_codes_as_text() {
        let t = |v: &[&str]| infer_type(v.iter().map(|s| Some(*s)));
        assert_eq!(t(&["1", "2", ""]), DataType::Int64);
        assert_eq!(t(&["1", "2.5"]), DataType::Float64);
        assert_eq!(t(&["+212612345678"]), DataType::Utf8);
        assert_eq!(t(&["0612345678"]), DataType::Utf8);
        assert_eq!(t(&["2023-01-01", ""]), DataType::Date32);
        assert_eq!(t(&["2023-01-01 10:00:00"]), DataType::Timestamp(TimeUnit::Microsecond, None));
        assert_eq!(t(&["2023-01-01", "x"]), DataType::Utf8);
        assert_eq!(t(&[]), DataType::Utf8);
    }

    #[test]
    fn declared_names() {
        assert_eq!(parse_type_name("Decimal(12, 2)"), Ok(DataType::Decimal128(12, 2)));
        assert!(parse_type_name("int65").unwrap_err().contains("expected one of"));
    }
}
