//! SQL functions the compiled measures call, registered in every session that runs them:
//! - `dax_add(a, b)`, `dax_sub(a, b)`: DAX's BLANK arithmetic (BLANK + 1 = 1, BLANK - BLANK = BLANK) with each
//!   operand written once, so a chain of `+` compiles to SQL of linear size;
//! - `dax_format(value, format)`: DAX's FORMAT for numbers (`0.00`, `#,##0`, `0.0%`) and dates (`yyyy-mm-dd`,
//!   `mmmm yyyy`, `dd/mm/yyyy`);
//! - `decimal_to_double(x)`: an exact decimal total as the DOUBLE nearest to it (see [`decimal_to_f64`]).

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::Decimal128Type;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use datafusion::prelude::SessionContext;

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(BlankArith::new("dax_add", 1.0)));
    ctx.register_udf(ScalarUDF::from(BlankArith::new("dax_sub", -1.0)));
    ctx.register_udf(ScalarUDF::from(Format::new()));
    ctx.register_udf(ScalarUDF::from(DecimalToDouble::new()));
}

/// Powers of ten that a DOUBLE holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// The DOUBLE nearest to the decimal `unscaled * 10^-scale`. Arrow's cast divides the unscaled integer by
/// 10^scale in floating point, which rounds twice once the integer is past 2^53: a DECIMAL(38, 10) total of
/// 1006482464.59 came out as 1006482464.5899999. With the trailing zeros dropped, a total with up to 15 or so
/// significant digits has both operands exact, and one IEEE division is correctly rounded; any other goes
/// through its decimal text, which Rust parses correctly rounded.
pub fn decimal_to_f64(unscaled: i128, scale: i8) -> f64 {
    let (mut v, mut s) = (unscaled, i32::from(scale));
    while s > 0 && v % 10 == 0 {
        v /= 10;
        s -= 1;
    }
    if s >= 0 && v.unsigned_abs() <= 1u128 << 53 && (s as usize) < EXACT_POWERS_OF_TEN.len() {
        return v as f64 / EXACT_POWERS_OF_TEN[s as usize];
    }
    format!("{v}e{}", -s).parse().unwrap_or(f64::NAN)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DecimalToDouble {
    signature: Signature,
}

impl DecimalToDouble {
    fn new() -> Self {
        DecimalToDouble { signature: Signature::any(1, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for DecimalToDouble {
    fn name(&self) -> &str {
        "decimal_to_double"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let cols = arrays(&args.args, args.number_rows)?;
        let Some(col) = cols.first() else { return exec_err!("decimal_to_double takes one value") };
        let out: ArrayRef = match col.data_type() {
            DataType::Decimal128(_, scale) => {
                let scale = *scale;
                let d = col.as_primitive::<Decimal128Type>();
                Arc::new(d.iter().map(|v| v.map(|v| decimal_to_f64(v, scale))).collect::<Float64Array>())
            }
            _ => cast(col, &DataType::Float64)?,
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct BlankArith {
    name: &'static str,
    /// +1 adds the second operand, -1 subtracts it (kept as bits so the struct can derive Eq and Hash).
    sign_bits: u64,
    signature: Signature,
}

impl BlankArith {
    fn new(name: &'static str, sign: f64) -> Self {
        BlankArith { name, sign_bits: sign.to_bits(), signature: Signature::exact(vec![DataType::Float64, DataType::Float64], Volatility::Immutable) }
    }
}

fn arrays(args: &[ColumnarValue], rows: usize) -> Result<Vec<ArrayRef>> {
    args.iter().map(|a| a.to_array(rows)).collect()
}

impl ScalarUDFImpl for BlankArith {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let sign = f64::from_bits(self.sign_bits);
        let cols = arrays(&args.args, args.number_rows)?;
        let (Some(a), Some(b)) = (cols[0].as_any().downcast_ref::<Float64Array>(), cols[1].as_any().downcast_ref::<Float64Array>()) else {
            return exec_err!("{} takes two DOUBLE values", self.name);
        };
        let out: Float64Array = (0..a.len())
            .map(|i| match (a.is_null(i), b.is_null(i)) {
                (true, true) => None,
                (false, true) => Some(a.value(i)),
                (true, false) => Some(sign * b.value(i)),
                (false, false) => Some(a.value(i) + sign * b.value(i)),
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Format {
    signature: Signature,
}

impl Format {
    fn new() -> Self {
        Format { signature: Signature::any(2, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for Format {
    fn name(&self) -> &str {
        "dax_format"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let cols = arrays(&args.args, args.number_rows)?;
        let formats = cast(&cols[1], &DataType::Utf8)?;
        let formats = formats.as_any().downcast_ref::<StringArray>().ok_or_else(|| datafusion::common::DataFusionError::Internal("format".into()))?;
        let value = &cols[0];
        let out: StringArray = match value.data_type() {
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => {
                let dates = cast(value, &DataType::Date32)?;
                let dates = dates
                    .as_any()
                    .downcast_ref::<datafusion::arrow::array::Date32Array>()
                    .ok_or_else(|| datafusion::common::DataFusionError::Internal("date".into()))?;
                (0..dates.len())
                    .map(|i| {
                        if dates.is_null(i) || formats.is_null(i) {
                            return Some(String::new());
                        }
                        let d = NaiveDate::from_num_days_from_ce_opt(dates.value(i) + 719_163)?;
                        Some(format_date(d, formats.value(i)))
                    })
                    .collect()
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let s = cast(value, &DataType::Utf8)?;
                let s = s.as_any().downcast_ref::<StringArray>().ok_or_else(|| datafusion::common::DataFusionError::Internal("text".into()))?;
                (0..s.len()).map(|i| Some(if s.is_null(i) { String::new() } else { s.value(i).to_string() })).collect()
            }
            _ => {
                let n = cast(value, &DataType::Float64)?;
                let n = n.as_any().downcast_ref::<Float64Array>().ok_or_else(|| datafusion::common::DataFusionError::Internal("number".into()))?;
                (0..n.len())
                    .map(|i| {
                        // FORMAT(BLANK(), ...) is an empty text.
                        if n.is_null(i) || formats.is_null(i) { Some(String::new()) } else { Some(format_number(n.value(i), formats.value(i))) }
                    })
                    .collect()
            }
        };
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// A number by a format string: `0`, `0.00`, `#,##0.0`, `0%`, `0.0%`; anything else prints the number as is.
pub fn format_number(value: f64, format: &str) -> String {
    let percent = format.contains('%');
    let core: String = format.chars().filter(|c| matches!(c, '0' | '#' | ',' | '.')).collect();
    if core.is_empty() {
        return if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { format!("{value}") };
    }
    let decimals = core.split_once('.').map(|(_, d)| d.chars().filter(|c| *c == '0' || *c == '#').count()).unwrap_or(0);
    let thousands = core.split_once('.').map(|(i, _)| i).unwrap_or(&core).contains(',');
    let v = if percent { value * 100.0 } else { value };
    // DAX rounds half away from zero; Rust's formatting rounds half to even.
    let scale = 10f64.powi(decimals as i32);
    let text = format!("{:.*}", decimals, (v.abs() * scale).round() / scale);
    let (int, frac) = text.split_once('.').map(|(i, f)| (i.to_string(), Some(f.to_string()))).unwrap_or((text.clone(), None));
    let int = if thousands {
        let digits: Vec<char> = int.chars().collect();
        let mut grouped = String::new();
        for (i, c) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(*c);
        }
        grouped
    } else {
        int
    };
    let negative = v < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0');
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&int);
    if let Some(f) = frac {
        out.push('.');
        out.push_str(&f);
    }
    if percent {
        out.push('%');
    }
    out
}

const MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// A date by a format string of `yyyy yy mmmm mmm mm m dddd ddd dd d` and literal separators.
pub fn format_date(d: NaiveDate, format: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].to_ascii_lowercase();
        let run = chars[i..].iter().take_while(|x| x.to_ascii_lowercase() == c).count();
        match c {
            'y' => {
                if run >= 3 {
                    out.push_str(&format!("{:04}", d.year()));
                } else {
                    out.push_str(&format!("{:02}", d.year() % 100));
                }
            }
            'm' => {
                let m = d.month0() as usize;
                match run {
                    1 => out.push_str(&format!("{}", m + 1)),
                    2 => out.push_str(&format!("{:02}", m + 1)),
                    3 => out.push_str(&MONTHS[m][..3]),
                    _ => out.push_str(MONTHS[m]),
                }
            }
            'd' => {
                let w = d.weekday().num_days_from_monday() as usize;
                match run {
                    1 => out.push_str(&format!("{}", d.day())),
                    2 => out.push_str(&format!("{:02}", d.day())),
                    3 => out.push_str(&DAYS[w][..3]),
                    _ => out.push_str(DAYS[w]),
                }
            }
            _ => {
                for _ in 0..run {
                    out.push(chars[i]);
                }
            }
        }
        i += run;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_the_nearest_double() {
        // 1006482464.59 as a DECIMAL(38, 10) total: Arrow's cast gives 1006482464.5899999.
        assert_eq!(decimal_to_f64(10_064_824_645_900_000_000, 10).to_string(), "1006482464.59");
        assert_eq!(decimal_to_f64(-10_064_824_645_900_000_000, 10), -1006482464.59);
        assert_eq!(decimal_to_f64(65_117_653_050_000_000, 10), 6511765.305);
        assert_eq!(decimal_to_f64(0, 10), 0.0);
        assert_eq!(decimal_to_f64(1, 10), 1e-10);
        // More significant digits than a DOUBLE holds: the nearest one, through the text.
        let text = |t: &str| t.parse::<f64>().unwrap_or(f64::NAN);
        assert_eq!(decimal_to_f64(12_345_678_901_234_567_890_123, 10), text("1234567890123.4567890123"));
        assert_eq!(decimal_to_f64(i128::MAX, 10), text("17014118346046923173168730371.5884105727"));
        assert_eq!(decimal_to_f64(5, -3), 5000.0);
        // Every cent amount up to a billion, sampled: the same double as its decimal text.
        for cents in (0..100_000_000_000i128).step_by(7_919_333) {
            let expected: f64 = format!("{}.{:02}", cents / 100, cents % 100).parse().unwrap_or(f64::NAN);
            assert_eq!(decimal_to_f64(cents * 100_000_000, 10), expected, "{cents}");
        }
    }

    #[test]
    fn numbers_and_dates_format_as_dax_does() {
        assert_eq!(format_number(1234.5, "#,##0"), "1,235");
        assert_eq!(format_number(1234.5, "0.00"), "1234.50");
        assert_eq!(format_number(0.1234, "0.0%"), "12.3%");
        assert_eq!(format_number(-0.5, "0%"), "-50%");
        assert_eq!(format_number(1234567.891, "#,##0.00"), "1,234,567.89");
        let d = NaiveDate::from_ymd_opt(2024, 3, 5).unwrap();
        assert_eq!(format_date(d, "yyyy-mm-dd"), "2024-03-05");
        assert_eq!(format_date(d, "mmmm yyyy"), "March 2024");
        assert_eq!(format_date(d, "dd/mm/yy"), "05/03/24");
        assert_eq!(format_date(d, "ddd d mmm"), "Tue 5 Mar");
    }
}
