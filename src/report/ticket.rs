//! `ranat ticket inspect`: what a Windows Remote Assistance ticket says,
//! and whether a helper on this machine could use it. The `--json`
//! document and the source of the table.
//!
//! Field names and enum spellings are part of the public contract
//! (documented in the README); a change to them bumps
//! [`TICKET_SCHEMA_VERSION`].

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::Serialize;

use super::family::FamilyStatus;
use super::model::ProbeReport;
use super::teredo::TeredoReportState;
use crate::proto::ticket::{
    AddressKind, ConnectionString1, ConnectionString2, Ticket, TicketShape, Unlocked,
};

/// The version of the ticket document's layout.
pub const TICKET_SCHEMA_VERSION: u32 = 1;

/// What one connection attempt gave.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum TcpOutcome {
    /// The handshake completed: something listens there.
    Connected { address: SocketAddr, ms: f64 },
    /// A reset came back: the machine is reachable, but nothing listens
    /// on that port.
    Refused { address: SocketAddr, ms: f64 },
    /// No answer before the deadline: dropped on the way (a NAT without a
    /// mapping for it, or a firewall).
    TimedOut,
    /// Failed at once, e.g. no route from here.
    Failed { error: String },
}

/// A moment the ticket names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Moment {
    /// Unix seconds, as the file writes it.
    pub unix: u64,
    /// RFC 3339, UTC.
    pub utc: String,
    /// RFC 3339, this machine's time zone.
    pub local: String,
}

impl Moment {
    pub fn at(unix: u64) -> Self {
        let utc = i64::try_from(unix)
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        Self {
            unix,
            utc: utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            local: utc
                .with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        }
    }
}

/// Where in the ticket an endpoint was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Connection string 1, readable by anyone holding the file.
    Rcticket,
    /// Connection string 2, decrypted from LHTICKET with the password.
    Lhticket,
    /// A bare connection string 2 (Offer Remote Assistance).
    ConnectionString2,
}

/// One address and port the novice offers.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Endpoint {
    /// As the ticket writes it (an IPv6 link-local address with the
    /// novice's zone index).
    pub address: String,
    pub port: u16,
    #[serde(flatten)]
    pub kind: AddressKind,
    pub sources: Vec<Source>,
    /// The connection test from this machine (`--reach`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reach: Option<EndpointReach>,
}

/// What the connection test gave for one endpoint, and what it means.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct EndpointReach {
    /// `None` when it was not tried (`why` says why).
    pub outcome: Option<TcpOutcome>,
    /// In plain words.
    pub why: String,
}

impl EndpointReach {
    pub fn connected(&self) -> bool {
        matches!(self.outcome, Some(TcpOutcome::Connected { .. }))
    }
}

/// LHTICKET: its size, and whether the password opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct LhTicket {
    pub bytes: usize,
    pub decrypted: bool,
}

/// The Remote Assistance verdict from this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RaVerdict {
    /// At least one endpoint accepted a connection.
    Connects,
    /// None did.
    DoesNotConnect,
}

/// The `--reach` part: the verdict, and this machine's probe facts that
/// explain the endpoints that did not answer.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Reach {
    pub verdict: RaVerdict,
    /// How long each connection attempt could take.
    pub timeout_ms: u64,
    /// The endpoints that accepted, "address:port".
    pub usable: Vec<String>,
    /// The verdict in words.
    pub summary: String,
    /// What the probe of this machine says, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub this_machine: Option<ThisMachine>,
}

/// The facts of this machine's probe that bear on the ticket's
/// endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ThisMachine {
    pub ipv4: FamilyStatus,
    pub ipv6: FamilyStatus,
    pub teredo: TeredoReportState,
    /// This machine's public IPv4 address, as STUN saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_public: Option<String>,
}

impl ThisMachine {
    pub fn from_probe(probe: &ProbeReport) -> Self {
        Self {
            ipv4: probe.ipv4.status,
            ipv6: probe.ipv6.status,
            teredo: probe.teredo.state,
            ipv4_public: probe
                .ipv4
                .mapped_address
                .as_deref()
                .map(|a| a.rsplit_once(':').map_or(a, |(ip, _)| ip).to_string()),
        }
    }
}

/// The whole document of `ranat ticket inspect --json`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TicketReport {
    pub schema_version: u32,
    pub shape: TicketShape,
    pub username: Option<String>,
    pub created_at: Option<Moment>,
    pub lifetime_minutes: Option<u64>,
    pub expires_at: Option<Moment>,
    /// `None` when the ticket does not say when it expires.
    pub expired: Option<bool>,
    pub rc_ticket_encrypted: Option<bool>,
    pub low_speed: Option<bool>,
    pub pass_stub: Option<String>,
    pub connection_string1: Option<ConnectionString1>,
    pub lh_ticket: Option<LhTicket>,
    pub connection_string2: Option<ConnectionString2>,
    /// The encrypted PassStub the expert sends, hex; with the password
    /// only.
    pub pass_stub_proof: Option<String>,
    pub endpoints: Vec<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reach: Option<Reach>,
    /// What is missing or odd, in words.
    pub notes: Vec<String>,
}

impl TicketReport {
    /// The report of `ticket` at `now` (Unix seconds), opened with the
    /// password when `unlocked` is given.
    pub fn new(ticket: &Ticket, unlocked: Option<&Unlocked>, now: u64) -> Self {
        let connection2 = ticket
            .connection2
            .clone()
            .or_else(|| unlocked.and_then(|u| u.connection2.clone()));
        let mut endpoints: Vec<Endpoint> = Vec::new();
        let mut add = |address: &str, port: u16, source: Source| match endpoints
            .iter_mut()
            .find(|e| e.address == address && e.port == port)
        {
            Some(known) if !known.sources.contains(&source) => known.sources.push(source),
            Some(_) => {}
            None => endpoints.push(Endpoint {
                address: address.to_string(),
                port,
                kind: AddressKind::of(address),
                sources: vec![source],
                reach: None,
            }),
        };
        if let Some(one) = &ticket.connection1 {
            for a in &one.addresses {
                add(&a.host, a.port, Source::Rcticket);
            }
        }
        if let Some(two) = &connection2 {
            let source = match ticket.shape {
                TicketShape::Invitation => Source::Lhticket,
                TicketShape::ConnectionString2 => Source::ConnectionString2,
            };
            for l in two.listeners() {
                add(&l.address, l.port, source);
            }
        }
        let mut notes = Vec::new();
        if let Some(sealed) = &ticket.lh_ticket
            && unlocked.is_none()
        {
            notes.push(format!(
                "LHTICKET ({} bytes) holds every address the novice listens on, encrypted: give --password to read it",
                sealed.len()
            ));
        }
        if ticket.shape == TicketShape::Invitation && ticket.expires_at().is_none() {
            notes.push(
                "the invitation does not say when it was made or for how long (DtStart, DtLength)"
                    .into(),
            );
        }
        let expires_at = ticket.expires_at();
        Self {
            schema_version: TICKET_SCHEMA_VERSION,
            shape: ticket.shape,
            username: ticket.username.clone(),
            created_at: ticket.created_at.map(Moment::at),
            lifetime_minutes: ticket.lifetime_minutes,
            expires_at: expires_at.map(Moment::at),
            expired: expires_at.map(|at| now >= at),
            rc_ticket_encrypted: ticket.rc_ticket_encrypted,
            low_speed: ticket.low_speed,
            pass_stub: ticket.pass_stub.clone(),
            connection_string1: ticket.connection1.clone(),
            lh_ticket: ticket.lh_ticket.as_ref().map(|t| LhTicket {
                bytes: t.len(),
                decrypted: unlocked.is_some(),
            }),
            connection_string2: connection2,
            pass_stub_proof: unlocked
                .and_then(|u| u.pass_stub_proof.as_ref())
                .map(|p| p.iter().map(|b| format!("{b:02x}")).collect()),
            endpoints,
            reach: None,
            notes,
        }
    }
}
