//! DAX, the measures' language: [`parser`] turns text into an [`ast`], [`lower`] binds it against the model
//! into the [`ir`] the query planner compiles to SQL. A new DAX function goes into `lower.rs` (`Binder::call`)
//! and, if it needs new SQL, into `crate::query::plan`.

pub mod ast;
pub mod ir;
pub mod lower;
pub mod parser;
