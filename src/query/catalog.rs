//! The model in the catalog: schema `semantic` with one table named after the model, whose columns are the
//! attributes and the measures. It is there for metadata (information_schema, Flight SQL GetTables, BI tools
//! listing columns); reading it goes through the semantic surface (`MEASURE()`), so a scan only answers
//! schema probes (`LIMIT 0`) and otherwise says how to query it.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::prelude::SessionContext;
use tokio::sync::OnceCell;

use crate::lowering::{BoundModel, bind_model as bind};
use crate::model::{Format, Model};

type SessionHandle = Box<dyn Fn() -> Option<SessionContext> + Send + Sync>;

pub struct SemanticSchema {
    model: Arc<Model>,
    bound: Arc<OnceCell<Arc<BoundModel>>>,
    /// The session this schema lives in, reached weakly: the session owns the schema.
    session: SessionHandle,
}

impl std::fmt::Debug for SemanticSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticSchema").field("model", &self.model.name).finish()
    }
}

impl SemanticSchema {
    /// The semantic schema of `ctx`, sharing the engine's bound model.
    pub fn new(ctx: &SessionContext, model: Arc<Model>, bound: Arc<OnceCell<Arc<BoundModel>>>) -> Self {
        let weak = ctx.state_weak_ref();
        let session: SessionHandle = Box::new(move || weak.upgrade().map(|s| SessionContext::new_with_state(s.read().clone())));
        SemanticSchema { model, bound, session }
    }
}

/// Field-metadata keys that describe the model table's columns to clients that only see the catalog (a
/// remote shell's `\measures`, BI tools showing folders and descriptions).
pub const KIND_KEY: &str = "omnimarket.kind";
pub const FOLDER_KEY: &str = "omnimarket.folder";
pub const EXPRESSION_KEY: &str = "omnimarket.expression";
pub const FORMAT_KEY: &str = "omnimarket.format";
pub const DESCRIPTION_KEY: &str = "omnimarket.description";
pub const SOURCE_KEY: &str = "omnimarket.source";

/// The columns of the model table: attributes (their source types), then measures (by format), each tagged
/// with the metadata above.
pub fn model_schema(bm: &BoundModel) -> SchemaRef {
    let mut fields = Vec::new();
    for a in &bm.model.attributes {
        let table = &bm.model.tables[a.table];
        let ty = table.column_type(&a.column).cloned().unwrap_or(DataType::Utf8);
        let metadata = [(KIND_KEY, "attribute".to_string()), (SOURCE_KEY, format!("{}[{}]", table.name, a.column))];
        fields.push(Field::new(&a.name, ty, true).with_metadata(tags(metadata)));
    }
    for m in &bm.model.measures {
        let ty = match m.format {
            Format::Text => DataType::Utf8,
            Format::Integer => DataType::Int64,
            _ => DataType::Float64,
        };
        let metadata = [
            (KIND_KEY, "measure".to_string()),
            (FOLDER_KEY, m.folder.clone()),
            (EXPRESSION_KEY, m.dax_one_line()),
            (FORMAT_KEY, m.format.name().to_string()),
            (DESCRIPTION_KEY, m.description.clone()),
        ];
        fields.push(Field::new(&m.name, ty, true).with_metadata(tags(metadata)));
    }
    Arc::new(Schema::new(fields))
}

fn tags<const N: usize>(pairs: [(&str, String); N]) -> HashMap<String, String> {
    pairs.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v)).collect()
}

#[async_trait]
impl SchemaProvider for SemanticSchema {
    fn table_names(&self) -> Vec<String> {
        vec![self.model.name.clone()]
    }
    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if name != self.model.name {
            return Ok(None);
        }
        let ctx = (self.session)().ok_or_else(|| DataFusionError::Plan("the session is gone".into()))?;
        let bound = self.bound.get_or_try_init(|| bind((*self.model).clone(), &ctx)).await.map_err(|e| DataFusionError::Plan(e.to_string()))?;
        Ok(Some(Arc::new(SemanticTable { schema: model_schema(bound), model: self.model.name.clone() })))
    }
    fn table_exist(&self, name: &str) -> bool {
        name == self.model.name
    }
}

#[derive(Debug)]
struct SemanticTable {
    schema: SchemaRef,
    model: String,
}

#[async_trait]
impl TableProvider for SemanticTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn table_type(&self) -> TableType {
        TableType::View
    }
    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if limit == Some(0) {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        Err(DataFusionError::Plan(format!(
            "the semantic table `{m}` is queried with attributes and measures, e.g. SELECT Nom_Canal, MEASURE(CA_Total) FROM {m} GROUP BY Nom_Canal",
            m = self.model
        )))
    }
}
