//! Splitting a model's rows by the year of its first DATE column (the facts' partitioning).

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, Int32Array};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::kernels::temporal::{DatePart, date_part};
use datafusion::arrow::compute::{filter_record_batch, is_null};
use datafusion::arrow::datatypes::{DataType, Int32Type, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

/// The partition directory of rows whose date is NULL (Hive writes `__HIVE_DEFAULT_PARTITION__`; shorter here).
pub const NULL_YEAR: &str = "__null__";

/// The column a model is partitioned by: its first DATE column, if it has one.
pub fn partition_column(schema: &Schema) -> Option<usize> {
    schema.fields().iter().position(|f| matches!(f.data_type(), DataType::Date32 | DataType::Date64))
}

/// The rows of `batches` grouped by the year of column `column` (None: a NULL date), in year order; row order
/// within a year is kept.
pub fn split_by_year(batches: &[RecordBatch], column: usize) -> Result<BTreeMap<Option<i32>, Vec<RecordBatch>>, ArrowError> {
    let mut out: BTreeMap<Option<i32>, Vec<RecordBatch>> = BTreeMap::new();
    for batch in batches {
        if batch.num_rows() == 0 {
            continue;
        }
        let years = date_part(batch.column(column).as_ref(), DatePart::Year)?;
        let years: &Int32Array = years.as_primitive::<Int32Type>();
        let mut distinct: Vec<i32> = years.iter().flatten().collect();
        distinct.sort_unstable();
        distinct.dedup();
        // Most batches hold one year: no copy then.
        if distinct.len() == 1 && years.null_count() == 0 {
            out.entry(Some(distinct[0])).or_default().push(batch.clone());
            continue;
        }
        for year in distinct {
            let mask: BooleanArray = eq(years, &Int32Array::new_scalar(year))?;
            out.entry(Some(year)).or_default().push(filter_record_batch(batch, &mask)?);
        }
        if years.null_count() > 0 {
            out.entry(None).or_default().push(filter_record_batch(batch, &is_null(years)?)?);
        }
    }
    Ok(out)
}

/// The directory name of a year's partition.
pub fn partition_dir(year: Option<i32>) -> String {
    match year {
        Some(y) => format!("year={y}"),
        None => format!("year={NULL_YEAR}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Date32Array, Int64Array};
    use datafusion::arrow::datatypes::Field;

    use super::*;

    #[test]
    fn splits_rows_by_year_and_keeps_nulls_apart() {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("d", DataType::Date32, true)]));
        // 2023-12-31, 2024-01-01, NULL, 2024-06-30 (days since 1970-01-01).
        let dates = Date32Array::from(vec![Some(19722), Some(19723), None, Some(19904)]);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2, 3, 4])), Arc::new(dates)]).unwrap();
        assert_eq!(partition_column(&schema), Some(1));
        let parts = split_by_year(&[batch], 1).unwrap();
        let ids = |k: Option<i32>| -> Vec<i64> {
            parts[&k].iter().flat_map(|b| b.column(0).as_primitive::<datafusion::arrow::datatypes::Int64Type>().values().to_vec()).collect()
        };
        assert_eq!(parts.keys().copied().collect::<Vec<_>>(), vec![None, Some(2023), Some(2024)]);
        assert_eq!(ids(Some(2023)), vec![1]);
        assert_eq!(ids(Some(2024)), vec![2, 4]);
        assert_eq!(ids(None), vec![3]);
        assert_eq!(partition_dir(None), "year=__null__");
    }
}
