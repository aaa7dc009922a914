//! DAX syntax: [`parser`] turns a measure's text into an [`ast`]. It knows nothing of the model, so the model
//! loader can check measure files with it; binding names to the model and lowering to the planner's IR is
//! [`crate::lowering`]'s job, after the model is bound.

pub mod ast;
pub mod parser;
