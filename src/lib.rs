//! OmniMarket 360: a semantic layer for an omnichannel retailer, built on Apache DataFusion.
//!
//! Data flows one way:
//!
//! - [`generate`] writes the 14 raw files of a seeded synthetic business;
//! - [`sources`] exposes each raw file (CSV, JSON, XML, XLSX, MySQL dump) as a table of the `raw` schema;
//! - [`transform`] builds the cleaning models (`sql/staging/*.sql`) into the `staging` schema, with the snapshot
//!   cache and the data-quality report;
//! - [`model`] loads the semantic model (`semantic/model.yaml`, `measures.yaml`) and binds it to the data;
//! - [`dax`] parses DAX, [`lowering`] binds it to the model (the function registry is
//!   [`lowering::functions`]), and [`query`] compiles semantic SQL (`MEASURE()`) and DAX queries (`EVALUATE`)
//!   to SQL with DAX filter-context semantics;
//! - [`engine`] is the one entry point every front end shares: the read-only guard, the query runtime with
//!   time limits, plain, semantic or DAX text in and a DataFrame out.
//!
//! The front ends: the command line and the shell ([`cli`]), the Arrow Flight SQL server ([`flight`], with
//! users and tokens from [`auth`]), the PostgreSQL wire protocol ([`pg`], for psql, ODBC, JDBC and Python
//! drivers), and the dashboards and JSON API over HTTP ([`web`], pages defined by [`dashboards`]). [`project`] is where the model and the data are and the session built from them;
//! [`errors`], [`suggest`] ("did you mean") and [`catch_panic`] are shared by all.
//!
//! `docs/architecture.md` has the module map and recipes for extending each layer.

pub mod auth;
pub mod catch_panic;
pub mod cli;
pub mod dashboards;
pub mod dax;
pub mod engine;
pub mod errors;
pub mod flight;
pub mod generate;
pub mod lowering;
pub mod model;
pub mod pg;
pub mod project;
pub mod query;
pub mod snapshots;
pub mod sources;
pub mod suggest;
pub mod transform;
pub mod web;
