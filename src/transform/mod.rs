//! Cleaning as code: dbt-style SQL model files (`sql/**/*.sql`, one SELECT per file) that read raw tables with
//! `{{ source('...') }}` and each other with `{{ ref('...') }}`, built in dependency order into the `staging`
//! schema, in memory ("import mode").
//!
//! [`models`] finds and orders the models and checks every reference; [`staging`] materialises them on first
//! use, reading them back from [`cache`] (Arrow IPC snapshots) when their inputs have not changed. The raw
//! layer is below this one and knows nothing of it.

pub mod cache;
pub mod models;
pub mod quality;
pub mod snapshot_table;
pub mod staging;
pub mod template;

pub use models::{Model, ModelSet, TransformError};
pub use staging::StagingSchema;
