//! The report model and its presentation.

mod model;

pub use model::*;
