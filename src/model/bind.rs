//! Binding the model to the data: each table's columns and types read from its source, keys and attributes
//! checked against them, one-side keys checked unique in the data, BLANK members found. Errors name the model
//! file's line.

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;

use super::{Grain, Model, ModelError};
use crate::suggest::hint as did_you_mean;

/// A quoted SQL reference to a model table's source (`staging.stg_ventes` → `"staging"."stg_ventes"`).
pub fn source_sql(source: &str) -> String {
    source.split('.').map(quote).collect::<Vec<_>>().join(".")
}

pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

async fn scalar_rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Vec<String>>, String> {
    let batches =
        ctx.sql(sql).await.map_err(|e| crate::errors::describe_error(&e))?.collect().await.map_err(|e| crate::errors::describe_error(&e))?;
    let mut rows = Vec::new();
    for b in &batches {
        for r in 0..b.num_rows() {
            let mut row = Vec::new();
            for c in b.columns() {
                row.push(if c.is_null(r) { "NULL".into() } else { array_value_to_string(c, r).unwrap_or_default() });
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The model with its tables' columns and types read from the data, keys checked unique and BLANK members
/// found. Measures are bound after this, by [`crate::lowering::BoundModel::new`].
pub async fn bind(mut model: Model, ctx: &SessionContext) -> Result<Model, ModelError> {
    for t in model.tables.iter_mut() {
        let provider = ctx.table_provider(source_sql(&t.source).as_str()).await.map_err(|e| {
            ModelError::new(t.anchor.clone(), format!("table `{}`: source `{}`: {}", t.name, t.source, crate::errors::describe_error(&e)))
        })?;
        t.columns = provider.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
    }
    let check_column = |model: &Model, table: usize, column: &str, what: &str, anchor: &Option<super::Location>| -> Result<(), ModelError> {
        let t = &model.tables[table];
        if t.column_type(column).is_none() {
            return Err(ModelError::new(
                anchor.clone(),
                format!("{what}: `{}` has no column `{column}`{}", t.name, did_you_mean(column, t.columns.iter().map(|(n, _)| n.as_str()))),
            ));
        }
        Ok(())
    };
    for (i, t) in model.tables.iter().enumerate() {
        for k in &t.primary_key {
            check_column(&model, i, k, "primary key", &t.anchor)?;
        }
    }
    for a in &model.attributes {
        check_column(&model, a.table, &a.column, &format!("attribute `{}`", a.name), &model.tables[a.table].anchor)?;
    }
    check_column(&model, model.date_table, &model.date_column.clone(), "date table", &model.tables[model.date_table].anchor)?;
    for r in &model.relationships {
        for (oc, mc) in r.one_columns.iter().zip(&r.many_columns) {
            check_column(&model, r.one, oc, "relationship", &r.anchor)?;
            check_column(&model, r.many, mc, "relationship", &r.anchor)?;
        }
    }

    // Keys and BLANK members, checked in the data: every fact table is scanned, so on unchanged data the
    // verdict of the last check is reused (see `checks`).
    let remembered = super::checks::Remembered::for_model(ctx, &model).await;
    if let Some(blank) = remembered.as_ref().and_then(|r| r.read(model.tables.len())) {
        for (t, b) in model.tables.iter_mut().zip(blank) {
            t.has_blank_row = b;
        }
        return Ok(model);
    }
    let mut blank = vec![false; model.tables.len()];
    for r in &model.relationships {
        let one = &model.tables[r.one];
        let many = &model.tables[r.many];
        let keys = r.one_columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
        if r.grain == Grain::Row {
            let sql =
                format!("SELECT {keys}, COUNT(*) AS n FROM {} GROUP BY {keys} HAVING COUNT(*) > 1 ORDER BY n DESC LIMIT 1", source_sql(&one.source));
            let rows =
                scalar_rows(ctx, &sql).await.map_err(|e| ModelError::new(r.anchor.clone(), format!("checking the keys of `{}`: {e}", one.name)))?;
            if let Some(row) = rows.first() {
                return Err(ModelError::new(
                    r.anchor.clone(),
                    format!(
                        "`{}[{}]` is the one side of a relationship but its key is not unique: {} appears {} times",
                        one.name,
                        r.one_columns.join(", "),
                        row[..row.len() - 1].join(", "),
                        row[row.len() - 1]
                    ),
                ));
            }
            let on =
                r.one_columns.iter().zip(&r.many_columns).map(|(o, m)| format!("o.{} = m.{}", quote(o), quote(m))).collect::<Vec<_>>().join(" AND ");
            let sql = format!(
                "SELECT COUNT(*) FROM {} m WHERE NOT EXISTS (SELECT 1 FROM {} o WHERE {on})",
                source_sql(&many.source),
                source_sql(&one.source)
            );
            let batches = ctx
                .sql(&sql)
                .await
                .map_err(|e| ModelError::new(r.anchor.clone(), crate::errors::describe_error(&e)))?
                .collect()
                .await
                .map_err(|e| ModelError::new(r.anchor.clone(), crate::errors::describe_error(&e)))?;
            let orphans = batches.first().and_then(|b| b.column(0).as_any().downcast_ref::<Int64Array>().map(|a| a.value(0))).unwrap_or(0);
            if orphans > 0 {
                blank[r.one] = true;
            }
        }
    }
    if let Some(r) = remembered {
        r.write(&blank);
    }
    for (t, b) in model.tables.iter_mut().zip(blank) {
        t.has_blank_row = b;
    }
    Ok(model)
}
