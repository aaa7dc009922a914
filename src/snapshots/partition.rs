//! Splitting a model's rows by the year of its first DATE column (the facts' partitioning).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, Int32Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::kernels::temporal::{DatePart, date_part};
use datafusion::arrow::compute::{filter_record_batch, is_null};
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

/// The partition directory of rows whose date is NULL (Hive writes `__HIVE_DEFAULT_PARTITION__`; shorter here).
pub const NULL_YEAR: &str = "__null__";

/// How a fact's rows get their year.
#[derive(Debug, Clone)]
pub enum YearOf {
    /// The year of this DATE (or timestamp) column.
    DateColumn(String),
    /// The year the date table gives this key column (e.g. `ID_Date` → `Dim_Temps[Date_Complete]`): what the
    /// model's time intelligence dates the row by. A key the date table lacks has no year.
    DateKey { column: String, years: Arc<HashMap<i64, i32>> },
}

impl YearOf {
    /// What the manifest says the files are partitioned by.
    pub fn describe(&self) -> String {
        match self {
            YearOf::DateColumn(c) => format!("year({c})"),
            YearOf::DateKey { column, .. } => format!("year of the date table's row for {column}"),
        }
    }

    fn years(&self, batch: &RecordBatch) -> Result<Int32Array, ArrowError> {
        let column = |name: &str| {
            batch
                .schema()
                .index_of(name)
                .map(|i| batch.column(i).clone())
                .map_err(|_| ArrowError::SchemaError(format!("no column `{name}` to partition by")))
        };
        match self {
            YearOf::DateColumn(name) => Ok(date_part(column(name)?.as_ref(), DatePart::Year)?.as_primitive::<Int32Type>().clone()),
            YearOf::DateKey { column: name, years } => {
                let keys = cast(column(name)?.as_ref(), &DataType::Int64)?;
                Ok(keys.as_primitive::<Int64Type>().iter().map(|k| k.and_then(|k| years.get(&k).copied())).collect())
            }
        }
    }
}

/// The first DATE column of a schema, if any.
pub fn first_date_column(schema: &Schema) -> Option<String> {
    schema.fields().iter().find(|f| matches!(f.data_type(), DataType::Date32 | DataType::Date64)).map(|f| f.name().clone())
}

/// The rows of `batches` grouped by year (None: no year), in year order; row order within a year is kept.
pub fn split_by_year(batches: &[RecordBatch], year_of: &YearOf) -> Result<BTreeMap<Option<i32>, Vec<RecordBatch>>, ArrowError> {
    let mut out: BTreeMap<Option<i32>, Vec<RecordBatch>> = BTreeMap::new();
    for batch in batches {
        if batch.num_rows() == 0 {
            continue;
        }
        let years = year_of.years(batch)?;
        let mut distinct: Vec<i32> = years.iter().flatten().collect();
        distinct.sort_unstable();
        distinct.dedup();
        // Most batches hold one year: no copy then.
        if distinct.len() == 1 && years.null_count() == 0 {
            out.entry(Some(distinct[0])).or_default().push(batch.clone());
            continue;
        }
        for year in distinct {
            let mask: BooleanArray = eq(&years, &Int32Array::new_scalar(year))?;
            out.entry(Some(year)).or_default().push(filter_record_batch(batch, &mask)?);
        }
        if years.null_count() > 0 {
            out.entry(None).or_default().push(filter_record_batch(batch, &is_null(&years)?)?);
        }
    }
    Ok(out)
}

/// The year of each key of the date table: `key` column → year of its `date` column.
pub fn years_by_key(batches: &[RecordBatch], key: &str, date: &str) -> Result<HashMap<i64, i32>, ArrowError> {
    let mut out = HashMap::new();
    for batch in batches {
        let of = YearOf::DateColumn(date.to_string());
        let years = of.years(batch)?;
        let index = batch.schema().index_of(key)?;
        let keys = cast(batch.column(index).as_ref(), &DataType::Int64)?;
        for (k, y) in keys.as_primitive::<Int64Type>().iter().zip(years.iter()) {
            if let (Some(k), Some(y)) = (k, y) {
                out.insert(k, y);
            }
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
        assert_eq!(first_date_column(&schema).as_deref(), Some("d"));
        let parts = split_by_year(std::slice::from_ref(&batch), &YearOf::DateColumn("d".into())).unwrap();
        let ids = |k: Option<i32>| -> Vec<i64> {
            parts[&k].iter().flat_map(|b| b.column(0).as_primitive::<datafusion::arrow::datatypes::Int64Type>().values().to_vec()).collect()
        };
        assert_eq!(parts.keys().copied().collect::<Vec<_>>(), vec![None, Some(2023), Some(2024)]);
        assert_eq!(ids(Some(2023)), vec![1]);
        assert_eq!(ids(Some(2024)), vec![2, 4]);
        assert_eq!(ids(None), vec![3]);
        assert_eq!(partition_dir(None), "year=__null__");

        // Through a date key: ids 1 and 3 are dated by the date table, id 2 is not (an orphan key).
        let years = Arc::new(HashMap::from([(10, 2023), (30, 2024)]));
        let keyed = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("k", DataType::Int64, true)])),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3])), Arc::new(Int64Array::from(vec![Some(10), Some(20), Some(30)]))],
        )
        .unwrap();
        let parts = split_by_year(&[keyed], &YearOf::DateKey { column: "k".into(), years }).unwrap();
        assert_eq!(parts.keys().copied().collect::<Vec<_>>(), vec![None, Some(2023), Some(2024)]);
        assert_eq!(parts[&None][0].num_rows(), 1);
    }
}
