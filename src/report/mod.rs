//! The report model and its presentation.

mod advice;
mod family;
#[cfg(test)]
mod fixtures;
mod model;
mod table;

pub use advice::{Family, FamilyAdvice, advise_family, verdict_line};
pub use family::*;
pub use model::*;
pub use table::{RenderOptions, render, render_with};
