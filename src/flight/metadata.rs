//! What the Flight SQL metadata calls answer: catalogs, schemas, tables (with their Arrow schemas), table types,
//! keys, SQL dialect facts (GetSqlInfo) and the type list (GetXdbcTypeInfo). Not for running queries.
//!
//! Tables and keys come from [`MetadataSource`]s. [`CatalogSource`] lists what is registered in the session's
//! catalog (`raw`, `staging`, and any schema registered later, such as `semantic`); the semantic model adds a
//! second source that contributes its relationships as primary and foreign keys, and its model table if that
//! table is not registered in the catalog.

use std::sync::Arc;

use arrow_flight::error::FlightError;
use arrow_flight::sql::metadata::{
    GetCatalogsBuilder, GetDbSchemasBuilder, GetTablesBuilder, SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData,
    XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    CommandGetCrossReference, CommandGetDbSchemas, CommandGetExportedKeys, CommandGetImportedKeys, CommandGetPrimaryKeys, CommandGetTables, Nullable,
    Searchable, SqlInfo, SqlNullOrdering, SqlSupportedCaseSensitivity, XdbcDataType,
};
use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray, UInt8Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

/// A table as the metadata calls show it.
#[derive(Debug, Clone)]
pub struct TableMeta {
    pub catalog: String,
    pub schema: String,
    pub name: String,
    /// `TABLE` or `VIEW`.
    pub table_type: String,
    /// Present when asked for (`include_schema`): getting it may load the table.
    pub arrow_schema: Option<SchemaRef>,
}

/// A fully qualified table name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub catalog: String,
    pub schema: String,
    pub table: String,
}

#[derive(Debug, Clone)]
pub struct PrimaryKey {
    pub table: TableRef,
    pub name: Option<String>,
    /// In key order.
    pub columns: Vec<String>,
}

/// One 1:N relationship: `fk_table.fk_columns` (the many side) references `pk_table.pk_columns` (the one side).
#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub name: Option<String>,
    pub pk_table: TableRef,
    pub pk_columns: Vec<String>,
    pub fk_table: TableRef,
    pub fk_columns: Vec<String>,
}

/// Something that contributes tables and keys to the metadata calls. Every method has an empty default, so a
/// source that only knows keys (a model's relationships) implements only those.
#[async_trait]
pub trait MetadataSource: Send + Sync {
    /// `(catalog, schema)` pairs this source shows.
    fn schemas(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The tables whose schema and name match `filter`; Arrow schemas only when `include_schema`.
    async fn tables(&self, _filter: &TableFilter, _include_schema: bool) -> Result<Vec<TableMeta>, DataFusionError> {
        Ok(Vec::new())
    }
    fn primary_keys(&self) -> Vec<PrimaryKey> {
        Vec::new()
    }
    fn foreign_keys(&self) -> Vec<ForeignKey> {
        Vec::new()
    }
}

/// The filters of GetTables / GetDbSchemas: an exact catalog, and SQL LIKE patterns (`%`, `_`) on names.
#[derive(Debug, Clone, Default)]
pub struct TableFilter {
    pub catalog: Option<String>,
    pub schema_pattern: Option<String>,
    pub table_pattern: Option<String>,
}

impl TableFilter {
    pub fn matches_schema(&self, catalog: &str, schema: &str) -> bool {
        self.catalog.as_deref().is_none_or(|c| c == catalog) && self.schema_pattern.as_deref().is_none_or(|p| like(p, schema))
    }
    pub fn matches(&self, catalog: &str, schema: &str, table: &str) -> bool {
        self.matches_schema(catalog, schema) && self.table_pattern.as_deref().is_none_or(|p| like(p, table))
    }
}

/// SQL LIKE with `%` (any run) and `_` (one character); `\` escapes the next character.
pub fn like(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('_', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some(('\\', rest)) if !rest.is_empty() => t.first() == rest.first() && go(&rest[1..], &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

/// Everything registered in one catalog of the session, `information_schema` aside (clients have the metadata
/// calls for that).
pub struct CatalogSource {
    ctx: SessionContext,
    catalog: String,
}

impl CatalogSource {
    pub fn new(ctx: SessionContext, catalog: impl Into<String>) -> CatalogSource {
        CatalogSource { ctx, catalog: catalog.into() }
    }
}

#[async_trait]
impl MetadataSource for CatalogSource {
    fn schemas(&self) -> Vec<(String, String)> {
        let Some(cat) = self.ctx.catalog(&self.catalog) else { return Vec::new() };
        let mut names = cat.schema_names();
        names.retain(|s| s != "information_schema");
        names.sort();
        names.into_iter().map(|s| (self.catalog.clone(), s)).collect()
    }

    async fn tables(&self, filter: &TableFilter, include_schema: bool) -> Result<Vec<TableMeta>, DataFusionError> {
        let Some(cat) = self.ctx.catalog(&self.catalog) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for (catalog, schema_name) in self.schemas() {
            if !filter.matches_schema(&catalog, &schema_name) {
                continue;
            }
            let Some(schema) = cat.schema(&schema_name) else { continue };
            let mut names = schema.table_names();
            names.sort();
            for name in names {
                if !filter.matches(&catalog, &schema_name, &name) {
                    continue;
                }
                // Only a caller that wants the columns pays for loading the table (raw files are parsed, SQL
                // models built, on first use).
                let (table_type, arrow_schema) = if include_schema {
                    match schema.table(&name).await {
                        Ok(Some(t)) => (type_name(t.table_type()), Some(t.schema())),
                        Ok(None) => continue,
                        // One broken model must not hide every other table from a BI tool's browser: leave it
                        // out, and say why in the server's log (querying it gives the error to the user).
                        Err(e) => {
                            eprintln!("warning: {catalog}.{schema_name}.{name} left out of the table list: {}", crate::errors::describe_error(&e));
                            continue;
                        }
                    }
                } else {
                    ("TABLE", None)
                };
                out.push(TableMeta { catalog: catalog.clone(), schema: schema_name.clone(), name, table_type: table_type.into(), arrow_schema });
            }
        }
        Ok(out)
    }
}

/// The semantic model's keys, on the SQL tables its tables read (`staging.stg_ventes`, ...): each model table's
/// primary key, and each 1:N relationship at row grain as a foreign key from the many side to the one side, so
/// BI tools draw the star schema. Month-grain links (objectives) reference no unique key and are left out.
pub struct ModelKeys {
    primary: Vec<PrimaryKey>,
    foreign: Vec<ForeignKey>,
}

impl ModelKeys {
    pub fn new(model: &crate::model::Model, catalog: &str, default_schema: &str) -> ModelKeys {
        let table_ref = |source: &str| {
            let (schema, table) = source.split_once('.').unwrap_or((default_schema, source));
            TableRef { catalog: catalog.into(), schema: schema.trim_matches('"').into(), table: table.trim_matches('"').into() }
        };
        let primary = model
            .tables
            .iter()
            .filter(|t| !t.primary_key.is_empty())
            .map(|t| PrimaryKey { table: table_ref(&t.source), name: Some(format!("pk_{}", t.name)), columns: t.primary_key.clone() })
            .collect();
        let foreign = model
            .relationships
            .iter()
            .filter(|r| r.grain == crate::model::Grain::Row)
            .filter_map(|r| {
                let (one, many) = (model.tables.get(r.one)?, model.tables.get(r.many)?);
                Some(ForeignKey {
                    name: Some(format!("fk_{}_{}_{}", many.name, one.name, r.many_columns.join("_"))),
                    pk_table: table_ref(&one.source),
                    pk_columns: r.one_columns.clone(),
                    fk_table: table_ref(&many.source),
                    fk_columns: r.many_columns.clone(),
                })
            })
            .collect();
        ModelKeys { primary, foreign }
    }
}

impl MetadataSource for ModelKeys {
    fn primary_keys(&self) -> Vec<PrimaryKey> {
        self.primary.clone()
    }
    fn foreign_keys(&self) -> Vec<ForeignKey> {
        self.foreign.clone()
    }
}

fn type_name(t: TableType) -> &'static str {
    match t {
        TableType::View => "VIEW",
        TableType::Temporary => "LOCAL TEMPORARY",
        TableType::Base => "TABLE",
    }
}

/// The server's view of all its metadata sources.
#[derive(Clone)]
pub struct Metadata {
    sources: Vec<Arc<dyn MetadataSource>>,
}

impl Metadata {
    pub fn new(sources: Vec<Arc<dyn MetadataSource>>) -> Metadata {
        Metadata { sources }
    }

    pub fn catalogs(&self) -> Vec<String> {
        let mut out: Vec<String> = self.schemas().into_iter().map(|(c, _)| c).collect();
        out.dedup();
        out
    }

    pub fn schemas(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self.sources.iter().flat_map(|s| s.schemas()).collect();
        out.sort();
        out.dedup();
        out
    }

    pub async fn tables(&self, filter: &TableFilter, include_schema: bool) -> Result<Vec<TableMeta>, DataFusionError> {
        let mut out = Vec::new();
        for s in &self.sources {
            out.extend(s.tables(filter, include_schema).await?);
        }
        Ok(out)
    }

    pub fn primary_keys(&self) -> Vec<PrimaryKey> {
        self.sources.iter().flat_map(|s| s.primary_keys()).collect()
    }

    pub fn foreign_keys(&self) -> Vec<ForeignKey> {
        self.sources.iter().flat_map(|s| s.foreign_keys()).collect()
    }

    pub fn schemas_batch(&self, query: CommandGetDbSchemas) -> Result<RecordBatch, FlightError> {
        let mut b: GetDbSchemasBuilder = query.into_builder();
        for (c, s) in self.schemas() {
            b.append(c, s);
        }
        b.build()
    }

    pub fn catalogs_batch(&self) -> Result<RecordBatch, FlightError> {
        let mut b = GetCatalogsBuilder::new();
        for c in self.catalogs() {
            b.append(c);
        }
        b.build()
    }

    pub async fn tables_batch(&self, query: CommandGetTables) -> Result<RecordBatch, TablesError> {
        let filter = TableFilter {
            catalog: query.catalog.clone(),
            schema_pattern: query.db_schema_filter_pattern.clone(),
            table_pattern: query.table_name_filter_pattern.clone(),
        };
        let include_schema = query.include_schema;
        let tables = self.tables(&filter, include_schema).await.map_err(TablesError::Load)?;
        let mut b: GetTablesBuilder = query.into_builder();
        let empty = Schema::empty();
        for t in tables {
            let schema = t.arrow_schema.as_deref().map(super::results::plain_schema);
            b.append(&t.catalog, &t.schema, &t.name, &t.table_type, schema.as_ref().unwrap_or(&empty)).map_err(TablesError::Arrow)?;
        }
        b.build().map_err(TablesError::Arrow)
    }

    pub fn table_types_batch(&self) -> Result<RecordBatch, FlightError> {
        let mut b = arrow_flight::sql::CommandGetTableTypes {}.into_builder();
        for t in ["TABLE", "VIEW"] {
            b.append(t);
        }
        b.build()
    }

    pub fn primary_keys_batch(&self, q: &CommandGetPrimaryKeys) -> Result<RecordBatch, FlightError> {
        let keep = |t: &TableRef| {
            q.catalog.as_deref().is_none_or(|c| c == t.catalog) && q.db_schema.as_deref().is_none_or(|s| s == t.schema) && t.table == q.table
        };
        let mut rows: Vec<(TableRef, Option<String>, String, i32)> = Vec::new();
        for pk in self.primary_keys().into_iter().filter(|pk| keep(&pk.table)) {
            for (i, col) in pk.columns.iter().enumerate() {
                rows.push((pk.table.clone(), pk.name.clone(), col.clone(), i as i32 + 1));
            }
        }
        let schema = primary_keys_schema();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter(rows.iter().map(|r| Some(r.0.catalog.as_str())))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| Some(r.0.schema.as_str())))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0.table.as_str()))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2.as_str()))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.1.as_deref()))),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.3))),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }

    /// GetImportedKeys: the foreign keys *of* the named table (it is the many side).
    pub fn imported_keys_batch(&self, q: &CommandGetImportedKeys) -> Result<RecordBatch, FlightError> {
        let (c, s, t) = (q.catalog.as_deref(), q.db_schema.as_deref(), q.table.as_str());
        self.keys_batch(|fk| matches_ref(&fk.fk_table, c, s, t))
    }

    /// GetExportedKeys: the foreign keys that reference the named table (it is the one side).
    pub fn exported_keys_batch(&self, q: &CommandGetExportedKeys) -> Result<RecordBatch, FlightError> {
        let (c, s, t) = (q.catalog.as_deref(), q.db_schema.as_deref(), q.table.as_str());
        self.keys_batch(|fk| matches_ref(&fk.pk_table, c, s, t))
    }

    /// GetCrossReference: the foreign keys from one named table to another.
    pub fn cross_reference_batch(&self, q: &CommandGetCrossReference) -> Result<RecordBatch, FlightError> {
        self.keys_batch(|fk| {
            matches_ref(&fk.pk_table, q.pk_catalog.as_deref(), q.pk_db_schema.as_deref(), &q.pk_table)
                && matches_ref(&fk.fk_table, q.fk_catalog.as_deref(), q.fk_db_schema.as_deref(), &q.fk_table)
        })
    }

    fn keys_batch(&self, keep: impl Fn(&ForeignKey) -> bool) -> Result<RecordBatch, FlightError> {
        let fks: Vec<ForeignKey> = self.foreign_keys().into_iter().filter(|fk| keep(fk)).collect();
        let mut rows: Vec<(&ForeignKey, &str, &str, i32)> = Vec::new();
        for fk in &fks {
            for (i, (pk_col, fk_col)) in fk.pk_columns.iter().zip(&fk.fk_columns).enumerate() {
                rows.push((fk, pk_col, fk_col, i as i32 + 1));
            }
        }
        type Row<'a> = (&'a ForeignKey, &'a str, &'a str, i32);
        let text = |f: &dyn Fn(&Row) -> Option<String>| -> ArrayRef { Arc::new(StringArray::from_iter(rows.iter().map(f))) };
        // 3 = NO ACTION: the model is read-only, nothing cascades.
        let no_action = || -> ArrayRef { Arc::new(UInt8Array::from_iter_values(rows.iter().map(|_| 3u8))) };
        let columns: Vec<ArrayRef> = vec![
            text(&|r| Some(r.0.pk_table.catalog.clone())),
            text(&|r| Some(r.0.pk_table.schema.clone())),
            text(&|r| Some(r.0.pk_table.table.clone())),
            text(&|r| Some(r.1.to_string())),
            text(&|r| Some(r.0.fk_table.catalog.clone())),
            text(&|r| Some(r.0.fk_table.schema.clone())),
            text(&|r| Some(r.0.fk_table.table.clone())),
            text(&|r| Some(r.2.to_string())),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.3))),
            text(&|r| r.0.name.clone()),
            text(&|_| None),
            no_action(),
            no_action(),
        ];
        Ok(RecordBatch::try_new(foreign_keys_schema(), columns)?)
    }
}

fn matches_ref(t: &TableRef, catalog: Option<&str>, schema: Option<&str>, table: &str) -> bool {
    catalog.is_none_or(|c| c == t.catalog) && schema.is_none_or(|s| s == t.schema) && t.table == table
}

#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    #[error("{}", crate::errors::describe_error(.0))]
    Load(DataFusionError),
    #[error("{0}")]
    Arrow(FlightError),
}

/// The result schema of GetPrimaryKeys, as the Flight SQL protocol defines it.
pub fn primary_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// The result schema of GetImportedKeys / GetExportedKeys / GetCrossReference.
pub fn foreign_keys_schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("pk_catalog_name", true),
        text("pk_db_schema_name", true),
        text("pk_table_name", false),
        text("pk_column_name", false),
        text("fk_catalog_name", true),
        text("fk_db_schema_name", true),
        text("fk_table_name", false),
        text("fk_column_name", false),
        Field::new("key_sequence", DataType::Int32, false),
        text("fk_key_name", true),
        text("pk_key_name", true),
        Field::new("update_rule", DataType::UInt8, false),
        Field::new("delete_rule", DataType::UInt8, false),
    ]))
}

/// GetSqlInfo: who we are and the dialect facts JDBC/ODBC drivers ask for at connect time.
pub fn sql_info() -> Result<SqlInfoData, FlightError> {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "OmniMarket 360");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    // The Arrow IPC format version (Schema.fbs MetadataVersion V5 is "1.3" in the format docs).
    b.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
    b.append(SqlInfo::FlightSqlServerReadOnly, true);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(SqlInfo::FlightSqlServerTransaction, 0i32);
    b.append(SqlInfo::FlightSqlServerCancel, false);
    b.append(SqlInfo::FlightSqlServerBulkIngestion, false);
    b.append(SqlInfo::FlightSqlServerStatementTimeout, 0i32);
    b.append(SqlInfo::FlightSqlServerTransactionTimeout, 0i32);
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, false);
    b.append(SqlInfo::SqlDdlTable, false);
    // Identifiers are matched exactly as written (Montant_HT), quoted or not: case-sensitive and mixed case,
    // which the protocol's enum has no value for ("unknown" keeps drivers from folding names).
    b.append(SqlInfo::SqlIdentifierCase, SqlSupportedCaseSensitivity::SqlCaseSensitivityUnknown as i32);
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(SqlInfo::SqlQuotedIdentifierCase, SqlSupportedCaseSensitivity::SqlCaseSensitivityUnknown as i32);
    b.append(SqlInfo::SqlAllTablesAreSelectable, true);
    b.append(SqlInfo::SqlNullOrdering, SqlNullOrdering::SqlNullsSortedHigh as i32);
    b.append(SqlInfo::SqlSearchStringEscape, "\\");
    b.append(SqlInfo::SqlExtraNameCharacters, "");
    b.append(SqlInfo::SqlSupportsColumnAliasing, true);
    b.append(SqlInfo::SqlNullPlusNullIsNull, true);
    b.append(SqlInfo::SqlSupportsTableCorrelationNames, true);
    b.append(SqlInfo::SqlSupportsDifferentTableCorrelationNames, false);
    b.append(SqlInfo::SqlSupportsExpressionsInOrderBy, true);
    b.append(SqlInfo::SqlSupportsOrderByUnrelated, true);
    b.append(SqlInfo::SqlSupportsLikeEscapeClause, true);
    b.append(SqlInfo::SqlSupportsNonNullableColumns, true);
    b.append(SqlInfo::SqlSupportsIntegrityEnhancementFacility, false);
    b.append(SqlInfo::SqlSchemaTerm, "schema");
    b.append(SqlInfo::SqlProcedureTerm, "procedure");
    b.append(SqlInfo::SqlCatalogTerm, "catalog");
    b.append(SqlInfo::SqlCatalogAtStart, true);
    b.append(SqlInfo::SqlSelectForUpdateSupported, false);
    b.append(SqlInfo::SqlStoredProceduresSupported, false);
    b.append(SqlInfo::SqlCorrelatedSubqueriesSupported, true);
    b.append(SqlInfo::SqlKeywords, &["ABS", "APPROX_DISTINCT", "ARRAY_AGG", "DATE_TRUNC", "EXPLAIN", "FIRST_VALUE", "ILIKE", "MEASURE"][..]);
    b.append(SqlInfo::SqlNumericFunctions, &["abs", "ceil", "exp", "floor", "ln", "log", "power", "round", "sqrt", "trunc"][..]);
    b.append(
        SqlInfo::SqlStringFunctions,
        &["concat", "initcap", "length", "lower", "lpad", "ltrim", "replace", "rpad", "rtrim", "substr", "trim", "upper"][..],
    );
    b.append(
        SqlInfo::SqlDatetimeFunctions,
        &["current_date", "current_timestamp", "date_part", "date_trunc", "extract", "now", "to_date", "to_timestamp"][..],
    );
    b.append(SqlInfo::SqlSystemFunctions, &["arrow_typeof", "version"][..]);
    b.build()
}

/// GetXdbcTypeInfo: the SQL types a result can hold, for drivers that map them to JDBC/ODBC types.
pub fn xdbc_type_info() -> Result<XdbcTypeInfoData, FlightError> {
    let mut b = XdbcTypeInfoDataBuilder::new();
    let ty = |name: &str, t: XdbcDataType, size: Option<i32>, prefix: Option<&str>, searchable: Searchable| XdbcTypeInfo {
        type_name: name.into(),
        data_type: t,
        column_size: size,
        literal_prefix: prefix.map(Into::into),
        literal_suffix: prefix.map(Into::into),
        create_params: None,
        nullable: Nullable::NullabilityNullable,
        case_sensitive: matches!(t, XdbcDataType::XdbcVarchar),
        searchable,
        unsigned_attribute: matches!(t, XdbcDataType::XdbcInteger | XdbcDataType::XdbcBigint | XdbcDataType::XdbcDouble | XdbcDataType::XdbcDecimal)
            .then_some(false),
        fixed_prec_scale: matches!(t, XdbcDataType::XdbcDecimal),
        auto_increment: Some(false),
        local_type_name: Some(name.into()),
        minimum_scale: None,
        maximum_scale: None,
        sql_data_type: t,
        datetime_subcode: None,
        num_prec_radix: matches!(t, XdbcDataType::XdbcInteger | XdbcDataType::XdbcBigint | XdbcDataType::XdbcDecimal).then_some(10),
        interval_precision: None,
    };
    use Searchable::{Basic, Full};
    use XdbcDataType as X;
    b.append(ty("VARCHAR", X::XdbcVarchar, None, Some("'"), Full));
    b.append(ty("BOOLEAN", X::XdbcBit, Some(1), None, Basic));
    b.append(ty("INTEGER", X::XdbcInteger, Some(32), None, Basic));
    b.append(ty("BIGINT", X::XdbcBigint, Some(64), None, Basic));
    b.append(ty("DOUBLE", X::XdbcDouble, Some(53), None, Basic));
    b.append(ty("DECIMAL", X::XdbcDecimal, Some(38), None, Basic));
    b.append(ty("DATE", X::XdbcDate, Some(10), Some("'"), Basic));
    b.append(ty("TIMESTAMP", X::XdbcTimestamp, Some(29), Some("'"), Basic));
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("Dim_%", "Dim_Client"));
        assert!(like("%", ""));
        assert!(like("stg\\_ventes", "stg_ventes"));
        assert!(!like("stg\\_ventes", "stgXventes"));
        assert!(like("Fait_Ventes", "Fait_Ventes"));
        assert!(!like("Fait", "Fait_Ventes"));
        assert!(like("_ait%", "Fait_Ventes"));
    }

    #[test]
    fn static_infos_describe_the_server_and_its_types() {
        use datafusion::arrow::util::pretty::pretty_format_batches;
        let info = sql_info().expect("sql info");
        let ids = [SqlInfo::FlightSqlServerName as u32, SqlInfo::FlightSqlServerReadOnly as u32, SqlInfo::SqlIdentifierQuoteChar as u32];
        let batch = info.record_batch(ids).expect("the asked infos");
        assert_eq!(batch.num_rows(), 3);
        let text = pretty_format_batches(&[batch]).expect("prints").to_string();
        assert!(text.contains("OmniMarket 360") && text.contains("true") && text.contains('"'), "{text}");
        let types = xdbc_type_info().expect("type info");
        let varchar = types.record_batch(Some(XdbcDataType::XdbcVarchar as i32)).expect("VARCHAR");
        assert_eq!(varchar.num_rows(), 1);
        assert!(pretty_format_batches(&[varchar]).expect("prints").to_string().contains("VARCHAR"));
        let all = types.record_batch(None).expect("every type");
        assert!(all.num_rows() >= 6, "{} types", all.num_rows());
    }
}
