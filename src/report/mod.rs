//! The report model and its presentation.

mod address_family;
mod advice;
mod family;
mod first_hop;
mod gateway_view;
pub mod html;
mod layout;
mod lifetime;
mod load;
mod model;
mod portmap;
mod table;
mod tcp;
mod teredo;
mod teredo_view;
#[cfg(test)]
mod testing;
mod ticket;
mod ticket_reach;
mod ticket_view;
mod topology;
mod unresolved;

pub use crate::proto::shared_address_space::is_shared;
pub use address_family::Family;
pub use advice::{FamilyAdvice, advise_family, verdict_line};
pub use family::{
    FamilyReport, FamilyStatus, ServerFailure, ServerReport, ServerResult, Verdict, combine,
    verdict,
};
pub use first_hop::{FirstHop, first_hop, unresolved_family};
pub use layout::RenderOptions;
pub use lifetime::{BindingLifetime, LifetimeStatus};
pub use load::{LoadError, load, parse};
pub use model::{ProbeReport, SCHEMA_VERSION};
pub use portmap::{
    IgdDevice, MappingStatus, PortControlProtocol, PortControlReport, PortMappingReport,
    TestMapping, UpnpReport, Verification,
};
pub use table::{render, render_verdict, render_with};
pub use tcp::{SimultaneousOpenVerdict, TcpBehavior, TcpTest};
pub use teredo::{
    ExistingInterface, NatSpecial, Rfc6081Extension, TeredoReport, TeredoReportState,
};
pub use ticket::{
    Endpoint, EndpointReach, LhTicket, Moment, RaVerdict, Reach, Source, TICKET_SCHEMA_VERSION,
    TcpOutcome, ThisMachine, TicketReport,
};
pub use ticket_reach::{endpoint_text, explain, not_tried, verdict as ticket_verdict};
pub use ticket_view::render_ticket;
pub use topology::{Topology, TopologyReport};
pub use unresolved::{DnsFailure, UnresolvedServer};
