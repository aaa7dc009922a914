//! A project: where the model files are (`--project`, default `.`), where the data is (`--data`, default
//! `./data`), and the DataFusion session built from them. The bundled `semantic/sources.yaml` is compiled into
//! the binary, so the product runs from any directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, SchemaProvider};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::snapshots::SnapshotSchema;
use crate::sources::config::parse_sources;
use crate::sources::location::SourceLocation;
use crate::sources::{RawSchema, Result, SourceError};
use crate::transform::cache::ModelCache;
use crate::transform::{ModelSet, StagingSchema, TransformError};

/// The catalog every OmniMarket table lives in.
pub const CATALOG: &str = "omnimarket";
/// The schema of the raw source tables.
pub const RAW_SCHEMA: &str = "raw";
/// The schema of the cleaned tables built by the SQL models.
pub const STAGING_SCHEMA: &str = "staging";

/// Why a project could not be opened: a source declaration or a model file is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error("{0}")]
    Session(String),
}

pub const BUNDLED_SOURCES: &str = include_str!("../semantic/sources.yaml");

#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    /// Whether the models' snapshots are read from and written to `<dir>/.omnimarket/cache/` (on by default;
    /// `--no-cache` turns it off).
    pub cache: bool,
    /// Bytes the queries' operators (sorts, joins, aggregations) may hold at once, all queries together; past
    /// it they spill to disk or fail with "resources exhausted" rather than take the machine. `None`: no limit.
    pub memory_limit: Option<usize>,
    /// Where a Parquet snapshot of the models is (`--snapshots`): the `staging` schema is read from it and the
    /// models are never built.
    pub snapshots: Option<String>,
}

impl Project {
    pub fn new(dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        Project { dir: dir.into(), data_dir: data_dir.into(), cache: true, memory_limit: None, snapshots: None }
    }

    /// The same project with a memory limit for query operators (see [`Project::memory_limit`]).
    pub fn with_memory_limit(mut self, bytes: Option<usize>) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// The same project with the snapshot cache on or off.
    pub fn with_cache(mut self, on: bool) -> Self {
        self.cache = on;
        self
    }

    /// The same project reading its models from the Parquet snapshot at `location` (or building them: None).
    pub fn with_snapshots(mut self, location: Option<String>) -> Self {
        self.snapshots = location;
        self
    }

    /// The project's sources file, or the bundled one when the project has none.
    pub fn sources_text(&self) -> Result<(String, String)> {
        let path = self.dir.join("semantic").join("sources.yaml");
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| SourceError::Io { file: path.display().to_string(), message: e.to_string() })?;
            Ok((path.display().to_string(), text))
        } else {
            Ok(("<bundled>/semantic/sources.yaml".into(), BUNDLED_SOURCES.to_string()))
        }
    }

    /// The raw schema: every source declared, none loaded yet.
    pub fn raw_schema(&self, partitions: usize) -> Result<RawSchema> {
        let (file, text) = self.sources_text()?;
        let resolved = parse_sources(&file, &text)?;
        RawSchema::new(resolved, &self.data_dir, partitions)
    }

    /// A session with the raw tables (`raw.<name>`, also unqualified) and the SQL models (`staging.<model>`)
    /// registered; both are built on first use.
    /// With [`Project::snapshots`], the models are the snapshot's Parquet files instead.
    pub fn session(&self) -> std::result::Result<(SessionContext, Arc<RawSchema>), ProjectError> {
        let Some(location) = &self.snapshots else {
            let (ctx, raw, _) = self.open()?;
            return Ok((ctx, raw));
        };
        let config = session_config();
        let (sources_file, sources_text) = self.sources_text()?;
        let raw = Arc::new(RawSchema::new(parse_sources(&sources_file, &sources_text)?, &self.data_dir, config.target_partitions())?);
        let models = ModelSet::load(&self.dir, &raw.names())?;
        let ctx = self.context(config)?;
        let root = SourceLocation::resolve(location, Path::new("."))?;
        let staging = SnapshotSchema::new(root, models, &ctx).map_err(|e| ProjectError::Session(e.to_string()))?;
        register_schemas(&ctx, raw.clone(), staging)?;
        Ok((ctx, raw))
    }

    /// [`Project::session`], plus the staging schema itself (for `refresh`, and for tests that look at what
    /// the snapshot cache did).
    pub fn open(&self) -> std::result::Result<(SessionContext, Arc<RawSchema>, Arc<StagingSchema>), ProjectError> {
        let config = session_config();
        let partitions = config.target_partitions();
        let (sources_file, sources_text) = self.sources_text()?;
        let raw = Arc::new(RawSchema::new(parse_sources(&sources_file, &sources_text)?, &self.data_dir, partitions)?);
        let models = ModelSet::load(&self.dir, &raw.names())?;
        let cache = self.cache.then(|| ModelCache::new(&self.dir, &self.data_dir, &sources_text));
        let staging = StagingSchema::new(models, raw.clone(), cache).map_err(|e| ProjectError::Session(e.to_string()))?;
        let ctx = self.context(config)?;
        register_schemas(&ctx, raw.clone(), staging.clone())?;
        Ok((ctx, raw, staging))
    }

    /// A session with this project's memory limit, no tables yet.
    fn context(&self, config: SessionConfig) -> std::result::Result<SessionContext, ProjectError> {
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(limit) = self.memory_limit {
            // Fair: each spilling operator gets its share, so one big sort cannot starve the others.
            runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
        }
        let runtime = runtime.build_arc().map_err(|e| ProjectError::Session(e.to_string()))?;
        Ok(SessionContext::new_with_config_rt(config, runtime))
    }
}

/// The `omnimarket` catalog with its `raw` and `staging` schemas, registered in `ctx`.
fn register_schemas(ctx: &SessionContext, raw: Arc<RawSchema>, staging: Arc<dyn SchemaProvider>) -> std::result::Result<(), ProjectError> {
    let catalog = MemoryCatalogProvider::new();
    for (name, schema) in [(RAW_SCHEMA, raw as Arc<dyn SchemaProvider>), (STAGING_SCHEMA, staging)] {
        catalog.register_schema(name, schema).map_err(|e| ProjectError::Session(e.to_string()))?;
    }
    ctx.register_catalog(CATALOG, Arc::new(catalog));
    Ok(())
}

/// Session settings every entry point shares.
pub fn session_config() -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(CATALOG, RAW_SCHEMA)
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(true);
    let opts = config.options_mut();
    // Model names are mixed case (Dim_Client, Montant_HT): identifiers are matched as written.
    opts.sql_parser.enable_ident_normalization = false;
    // Utf8View cannot be read by JDBC clients; keep plain Utf8 end to end (Parquet snapshots included).
    opts.sql_parser.map_string_types_to_utf8view = false;
    opts.execution.parquet.schema_force_view_types = false;
    config
}

pub fn default_data_dir() -> &'static Path {
    Path::new("data")
}
