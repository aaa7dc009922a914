//! The verdict of binding's data checks (one-side keys unique, which tables need a BLANK member), kept beside
//! the snapshots. Those checks scan every fact table, so without this a CLI query that reads one small table
//! would still read them all at every start. The verdict is keyed by the model's tables and relationships and
//! by each source's snapshot key (which changes with the raw files, the cleaning SQL and the crate version): a
//! change to any of them checks again. A failed check is never remembered (binding stops with its error).

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::Model;
use crate::project::{CATALOG, STAGING_SCHEMA};
use crate::transform::StagingSchema;
use crate::transform::cache::{digest, write_atomic};

/// Where a verdict for one model on one state of the data is kept.
pub struct Remembered {
    path: PathBuf,
    key: String,
}

#[derive(Serialize, Deserialize)]
struct Verdict {
    key: String,
    blank: Vec<bool>,
}

impl Remembered {
    /// The place for `model`'s verdict, when every table is a staging model with a snapshot key (the cache is
    /// on); `None` otherwise, and the checks run every time.
    pub async fn for_model(ctx: &SessionContext, model: &Model) -> Option<Remembered> {
        let schema = ctx.catalog(CATALOG)?.schema(STAGING_SCHEMA)?;
        let any: Arc<dyn std::any::Any + Send + Sync> = schema;
        let staging = any.downcast::<StagingSchema>().ok()?;
        let dir = staging.cache()?.dir().to_path_buf();
        let mut key = format!("omnimarket {}\n", env!("CARGO_PKG_VERSION"));
        for t in &model.tables {
            let name = t.source.strip_prefix(&format!("{STAGING_SCHEMA}."))?;
            key.push_str(&format!("table {} {} {}\n", t.name, t.source, staging.fingerprint(name).await?));
        }
        for r in &model.relationships {
            key.push_str(&format!("relationship {} {:?} {} {:?} {:?}\n", r.one, r.one_columns, r.many, r.many_columns, r.grain));
        }
        let path = dir.join(format!("model-checks-{:016x}.json", digest(key.as_bytes())));
        Some(Remembered { path, key })
    }

    /// The remembered BLANK flags, one per table, if this exact state was checked before.
    pub fn read(&self, tables: usize) -> Option<Vec<bool>> {
        let text = std::fs::read(&self.path).ok()?;
        let verdict: Verdict = serde_json::from_slice(&text).ok()?;
        (verdict.key == self.key && verdict.blank.len() == tables).then_some(verdict.blank)
    }

    /// Remember a passed check. Failing to write only costs the next start a check, so it is not an error.
    pub fn write(&self, blank: &[bool]) {
        let verdict = Verdict { key: self.key.clone(), blank: blank.to_vec() };
        if let Ok(json) = serde_json::to_vec(&verdict) {
            let _ = write_atomic(&self.path, |f| std::io::Write::write_all(f, &json));
        }
    }
}
