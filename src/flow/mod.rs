//! The commands' flows as library code: plain options in, progress events
//! and results out. A flow never prints; `cli/` turns its events and
//! results into text.
//!
//! - [`probe`](mod@probe): `ranat probe`, this machine's NAT behaviour and report.
//! - [`check`]: `ranat check`, the prediction for two reports, one of them
//!   perhaps measured now.
//! - [`live`](mod@live): `ranat check --via`, the live check through a rendezvous:
//!   probe, exchange reports, predict, punch.
//! - [`relay`](mod@relay): `ranat relay-test`, allocate on a TURN relay and
//!   exchange datagrams with a peer through it.
//! - [`assist`](mod@assist): `ranat invite` / `ranat assist`, the Remote
//!   Assistance session over the connection.
//! - [`connect`](mod@connect): the session's connection: meet, probe,
//!   gather, punch, relay, and the QUIC channel over the path that opened.
//! - [`ticket`](mod@ticket): `ranat ticket inspect`, a Windows Remote
//!   Assistance ticket read, opened and tried from this machine.
//! - [`trial`](mod@trial): `ranat trial --via`, the session's connection made
//!   for real (direct or relayed QUIC) and measured.
//!
//! Progress comes as events through a callback (`impl FnMut(Event)`),
//! called in the order things happen. A flow that changes something on the
//! network (a test port mapping) takes an `interrupt` future: when it
//! completes first, the flow undoes its changes and returns `None`.

pub mod assist;
pub mod check;
pub mod connect;
pub mod interrupt;
pub mod live;
pub mod probe;
pub mod relay;
pub mod ticket;
pub mod trial;

pub use check::{Checked, NamedReport, THIS_MACHINE, compare, probe_and_compare};
pub use live::{
    Live, LiveError, LiveEvent, LiveOptions, LivePunch, PathReport, RENDEZVOUS_PORT, live,
    live_punch, predict_for,
};
pub use probe::{
    DEFAULT_SERVERS, Families, MAX_SERVERS_PER_FAMILY, ProbeEvent, ProbeOptions, TeredoChoice,
    default_servers, probe,
};

#[cfg(test)]
mod tests;
