//! The report model and its presentation.

mod advice;
mod family;
#[cfg(test)]
mod fixtures;
mod gateway_view;
mod layout;
mod load;
mod model;
mod portmap;
mod shared_address_space;
mod table;
mod teredo;
mod teredo_view;
mod topology;

pub use advice::{Family, FamilyAdvice, advise_family, verdict_line};
pub use family::*;
pub use layout::RenderOptions;
pub use load::{LoadError, load, parse};
pub use model::*;
pub use portmap::*;
pub use shared_address_space::is_shared;
pub use table::{render, render_with};
pub use teredo::*;
pub use topology::{Topology, TopologyReport};
