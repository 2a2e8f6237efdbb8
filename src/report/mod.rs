//! The report model and its presentation.

mod advice;
mod family;
mod gateway_view;
mod layout;
mod load;
mod model;
mod portmap;
mod shared_address_space;
mod table;
mod teredo;
mod teredo_view;
#[cfg(test)]
mod testing;
mod topology;

pub use advice::{Family, FamilyAdvice, advise_family, verdict_line};
pub use family::{
    FamilyReport, FamilyStatus, ServerFailure, ServerReport, ServerResult, Verdict, combine,
    verdict,
};
pub use layout::RenderOptions;
pub use load::{LoadError, load, parse};
pub use model::{ProbeReport, SCHEMA_VERSION};
pub use portmap::{
    IgdDevice, MappingStatus, PortControlProtocol, PortControlReport, PortMappingReport,
    TestMapping, UpnpReport, Verification,
};
pub use shared_address_space::is_shared;
pub use table::{render, render_with};
pub use teredo::{
    ExistingInterface, NatSpecial, Rfc6081Extension, TeredoReport, TeredoReportState,
};
pub use topology::{Topology, TopologyReport};
