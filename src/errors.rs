//! Turning errors into the one line a user reads: our own message (file, line, column), not DataFusion's
//! wrapping of it.

use datafusion::common::DataFusionError;

use crate::sources::SourceError;
use crate::transform::TransformError;

pub fn describe_error(e: &DataFusionError) -> String {
    let mut current: &DataFusionError = e;
    loop {
        match current {
            DataFusionError::External(inner) => {
                if let Some(s) = inner.downcast_ref::<SourceError>() {
                    return s.to_string();
                }
                if let Some(t) = inner.downcast_ref::<TransformError>() {
                    return t.to_string();
                }
                if let Some(d) = inner.downcast_ref::<DataFusionError>() {
                    current = d;
                    continue;
                }
                return inner.to_string();
            }
            DataFusionError::Context(_, inner) => current = inner,
            DataFusionError::Shared(inner) => current = inner,
            DataFusionError::Diagnostic(_, inner) => current = inner,
            other => return other.to_string(),
        }
    }
}
