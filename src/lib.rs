//! OmniMarket 360: a semantic layer for an omnichannel retailer, built on Apache DataFusion.
//!
//! Data flows one way: [`generate`] writes the raw files, [`sources`] exposes each raw file as a DataFusion
//! table, and the command line ([`cli`]) queries them.

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
pub mod project;
pub mod query;
pub mod sources;
pub mod suggest;
pub mod transform;
pub mod web;
