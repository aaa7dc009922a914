//! Shared aggregations: an aggregation that appears several times in one query plan runs once.
//!
//! The semantic compiler writes one CTE per aggregation, and several parts of a query read the same one (a
//! rank reads the revenue per product for the current row and for every other product; a ratio reads the
//! total twice). DataFusion inlines a CTE at each reference, so each reference scanned the fact table again:
//! the products page's ranking query read the sales three times. Here the optimized logical plan is searched
//! for identical `Aggregate` subtrees; each occurrence is wrapped in a [`SharedNode`] holding one result cell
//! for all of them. At run time the first copy to be polled computes the aggregation (in its own task, so it
//! progresses whoever waits for it) and every copy streams the same batches; the other copies' inputs never
//! run. It is the storage-engine cache of Power BI's engine, within one query.
//!
//! Only aggregations are shared: their results are small by construction (one row per group), they are held
//! in memory for the query's lifetime, and that memory is counted in the query's memory pool, so a hostile
//! query that groups by a key cannot use this to escape `--memory-limit`.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::DFSchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

/// Plans queries with repeated aggregations shared (see the module's comment); otherwise DataFusion's planner.
#[derive(Debug, Default)]
pub struct SharingQueryPlanner;

#[async_trait]
impl QueryPlanner for SharingQueryPlanner {
    async fn create_physical_plan(&self, logical_plan: &LogicalPlan, session: &dyn Session) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = share_repeated_aggregates(logical_plan)?;
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(SharedPlanner)]).create_physical_plan(&plan, session).await
    }
}

/// The plan with every `Aggregate` that occurs more than once (identical subtree) wrapped in a [`SharedNode`];
/// the occurrences of one aggregation share one result.
pub fn share_repeated_aggregates(plan: &LogicalPlan) -> Result<LogicalPlan> {
    let mut counts: HashMap<&LogicalPlan, usize> = HashMap::new();
    plan.apply(|node| {
        if is_shared(node) {
            // Already shared (by the analyzer rule): not again.
            return Ok(TreeNodeRecursion::Jump);
        }
        if matches!(node, LogicalPlan::Aggregate(_)) {
            *counts.entry(node).or_default() += 1;
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let mut results: HashMap<&LogicalPlan, Arc<SharedResult>> = HashMap::new();
    for (node, n) in counts {
        if n > 1 {
            let id = results.len() + 1;
            results.insert(node, Arc::new(SharedResult::new(id)));
        }
    }
    if results.is_empty() {
        return Ok(plan.clone());
    }
    wrap(plan, &results)
}

fn is_shared(plan: &LogicalPlan) -> bool {
    matches!(plan, LogicalPlan::Extension(e) if e.node.as_any().downcast_ref::<SharedNode>().is_some())
}

/// The same rewrite before the optimizer: a CTE read in several places (`WITH f AS (SELECT MEASURE(...)) ...
/// FROM f UNION ALL ... FROM f`) is one aggregation there, but projection pruning then leaves each copy only the
/// columns its reader uses, and the copies no longer look alike. Shared here, they stay one.
#[derive(Debug, Default)]
pub struct ShareRepeatedAggregates;

impl AnalyzerRule for ShareRepeatedAggregates {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        share_repeated_aggregates(&plan)
    }

    fn name(&self) -> &str {
        "omnimarket_share_repeated_aggregates"
    }
}

fn wrap(plan: &LogicalPlan, results: &HashMap<&LogicalPlan, Arc<SharedResult>>) -> Result<LogicalPlan> {
    if is_shared(plan) {
        return Ok(plan.clone());
    }
    // Looked up before the children change: the keys are the original subtrees.
    let shared = results.get(plan).cloned();
    let rewritten = plan.clone().map_children(|child| Ok(Transformed::yes(wrap(&child, results)?)))?.data;
    Ok(match shared {
        Some(result) => LogicalPlan::Extension(Extension { node: Arc::new(SharedNode { input: rewritten, result }) }),
        None => rewritten,
    })
}

/// One occurrence of a shared aggregation in the logical plan.
#[derive(Debug, Clone)]
pub struct SharedNode {
    input: LogicalPlan,
    result: Arc<SharedResult>,
}

impl PartialEq for SharedNode {
    fn eq(&self, other: &Self) -> bool {
        self.result.id == other.result.id && self.input == other.input
    }
}

impl Eq for SharedNode {}

impl PartialOrd for SharedNode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.result.id.cmp(&other.result.id) {
            Ordering::Equal => self.input.partial_cmp(&other.input),
            o => Some(o),
        }
    }
}

impl Hash for SharedNode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.result.id.hash(state);
        self.input.hash(state);
    }
}

impl UserDefinedLogicalNodeCore for SharedNode {
    fn name(&self) -> &str {
        "SharedAggregate"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedAggregate: id={}", self.result.id)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, mut inputs: Vec<LogicalPlan>) -> Result<Self> {
        let input = inputs.pop().ok_or_else(|| DataFusionError::Internal("SharedAggregate takes one input".into()))?;
        Ok(SharedNode { input, result: self.result.clone() })
    }
}

/// The result of one shared aggregation, computed once per query.
#[derive(Debug)]
pub struct SharedResult {
    id: usize,
    batches: OnceCell<Arc<Vec<RecordBatch>>>,
    /// The memory the batches hold, counted in the query's pool while the result lives.
    reservation: Mutex<Option<MemoryReservation>>,
}

impl SharedResult {
    fn new(id: usize) -> Self {
        SharedResult { id, batches: OnceCell::new(), reservation: Mutex::new(None) }
    }

    /// The batches: computed by the first caller from its `input`, waited for by the others.
    async fn get(&self, input: Arc<dyn ExecutionPlan>, ctx: Arc<TaskContext>) -> Result<Arc<Vec<RecordBatch>>> {
        self.batches
            .get_or_try_init(|| async {
                // Its own task: the computation progresses even if the copy that started it is not polled again
                // until another copy has answered. Dropped with the query (SpawnedTask aborts on drop).
                let pool = ctx.memory_pool().clone();
                let task = SpawnedTask::spawn(datafusion::physical_plan::collect(input, ctx));
                let batches = task.join().await.map_err(|e| DataFusionError::External(Box::new(e)))??;
                let size: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
                let reservation = MemoryConsumer::new(format!("SharedAggregate[{}]", self.id)).register(&pool);
                reservation.try_grow(size)?;
                if let Ok(mut slot) = self.reservation.lock() {
                    *slot = Some(reservation);
                }
                Ok(Arc::new(batches))
            })
            .await
            .cloned()
    }
}

/// Plans a [`SharedNode`] as a [`SharedAggregateExec`].
struct SharedPlanner;

#[async_trait]
impl ExtensionPlanner for SharedPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn Session,
        _planning_ctx: &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(shared) = node.as_any().downcast_ref::<SharedNode>() else { return Ok(None) };
        let [input] = physical_inputs else { return Err(DataFusionError::Internal("SharedAggregate takes one input".into())) };
        Ok(Some(Arc::new(SharedAggregateExec::new(input.clone(), shared.result.clone()))))
    }
}

/// One occurrence of a shared aggregation: one output partition with the shared result's batches. Its child
/// runs only if this occurrence is the first to be polled.
#[derive(Debug)]
pub struct SharedAggregateExec {
    input: Arc<dyn ExecutionPlan>,
    result: Arc<SharedResult>,
    properties: Arc<PlanProperties>,
}

impl SharedAggregateExec {
    fn new(input: Arc<dyn ExecutionPlan>, result: Arc<SharedResult>) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(input.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        SharedAggregateExec { input, result, properties: Arc::new(properties) }
    }

    /// Which shared aggregation this is (equal ids: one computation).
    pub fn shared_id(&self) -> usize {
        self.result.id
    }
}

impl DisplayAs for SharedAggregateExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedAggregateExec: id={}", self.result.id)
    }
}

impl ExecutionPlan for SharedAggregateExec {
    fn name(&self) -> &str {
        "SharedAggregateExec"
    }

    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        let input = match (children.pop(), children.is_empty()) {
            (Some(input), true) => input,
            _ => return Err(DataFusionError::Internal("SharedAggregateExec takes one child".into())),
        };
        Ok(Arc::new(SharedAggregateExec::new(input, self.result.clone())))
    }

    fn execute(&self, partition: usize, ctx: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!("SharedAggregateExec has one partition, not {}", partition + 1)));
        }
        let input = self.input.clone();
        let result = self.result.clone();
        let batches = futures::stream::once(async move {
            let batches = result.get(input, ctx).await?;
            let owned: Vec<Result<RecordBatch>> = batches.iter().cloned().map(Ok).collect();
            Ok::<_, DataFusionError>(futures::stream::iter(owned))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), batches.boxed())))
    }
}
