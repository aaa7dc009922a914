//! A physical optimizer rule that makes every join (and UNNEST) give the CPU back now and then. DataFusion
//! yields to tokio only where a data source hands out a batch; a join can turn one input batch into millions
//! of output batches (a cross join of the sales with themselves), and the aggregation above it then loops
//! without ever yielding. Such a task can be neither cancelled nor timed out, and holds its thread until it
//! ends. Wrapped in `CooperativeExec`, each output batch spends tokio's task budget, so the task yields every
//! 128 batches: time limits, cancellation and fairness between queries all rely on those yields.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;

#[derive(Debug, Default)]
pub struct YieldInsideJoins;

/// Operators whose output is not bounded by their input's: joins (two or more children) and UNNEST.
fn multiplies_rows(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.children().len() >= 2 || plan.name() == "UnnestExec"
}

impl PhysicalOptimizerRule for YieldInsideJoins {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if multiplies_rows(&node) {
                Ok(Transformed::yes(Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "omnimarket_yield_inside_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
