//! Hand-rolled number formatting into byte buffers.
//!
//! The big files (the dump, the sessions JSON) format tens of millions of numbers at scale 100; going through
//! `format!` allocates per value. These helpers append to a reused `Vec<u8>` instead. Amounts are integer cents
//! everywhere in the generator, so `push_cents` is exact and every writer prints the same digits.

/// Appends the decimal digits of `v`.
pub fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends `v` with a leading `-` when negative.
pub fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    push_u64(buf, v.unsigned_abs());
}

/// Appends an amount held in cents as `1234.56` (always two decimals, `-` when negative).
pub fn push_cents(buf: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        buf.push(b'-');
    }
    let abs = cents.unsigned_abs();
    push_u64(buf, abs / 100);
    buf.push(b'.');
    push_2digits(buf, (abs % 100) as u8);
}

/// Appends a number below 100 as two digits (`07`).
pub fn push_2digits(buf: &mut Vec<u8>, v: u8) {
    buf.push(b'0' + v / 10 % 10);
    buf.push(b'0' + v % 10);
}

/// Appends `HH:MM:SS`.
pub fn push_time(buf: &mut Vec<u8>, hour: u8, minute: u8, second: u8) {
    push_2digits(buf, hour);
    buf.push(b':');
    push_2digits(buf, minute);
    buf.push(b':');
    push_2digits(buf, second);
}

/// The value an XLSX cell holds for an amount in cents.
///
/// Dividing the exact integer by 100 is correctly rounded, so the shortest representation of the result is the
/// same two-decimal text the dump prints: both copies of the sales agree digit for digit.
pub fn cents_to_f64(cents: i64) -> f64 {
    cents as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn integers() {
        assert_eq!(s(|b| push_u64(b, 0)), "0");
        assert_eq!(s(|b| push_u64(b, u64::MAX)), u64::MAX.to_string());
        assert_eq!(s(|b| push_i64(b, -42)), "-42");
        assert_eq!(s(|b| push_i64(b, i64::MIN)), i64::MIN.to_string());
    }

    #[test]
    fn cents() {
        assert_eq!(s(|b| push_cents(b, 0)), "0.00");
        assert_eq!(s(|b| push_cents(b, 5)), "0.05");
        assert_eq!(s(|b| push_cents(b, -5)), "-0.05");
        assert_eq!(s(|b| push_cents(b, 123456)), "1234.56");
        assert_eq!(s(|b| push_cents(b, -100)), "-1.00");
    }

    #[test]
    fn xlsx_value_prints_like_the_dump() {
        for c in [1i64, 5, 10, 99, 101, 123456, 999_999_999, -4321, 100_000_007] {
            let dump = s(|b| push_cents(b, c));
            let xlsx = cents_to_f64(c).to_string();
            assert_eq!(dump.parse::<f64>().unwrap(), xlsx.parse::<f64>().unwrap(), "{c}");
        }
    }

    #[test]
    fn time() {
        assert_eq!(s(|b| push_time(b, 7, 5, 59)), "07:05:59");
    }
}
