//! One address family's part of the report, drawn from what each server
//! showed, and the overall verdict over the families.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::lifetime::BindingLifetime;
use super::tcp::TcpBehavior;
use super::unresolved::UnresolvedServer;
use crate::proto::nat::{
    ClassicNatType, FilteringBehavior, MappingBehavior, Observation, PortAllocation,
};

/// What one address family measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FamilyReport {
    pub status: FamilyStatus,
    /// The local endpoint of the mapping test ("ip:port").
    pub local_address: Option<String>,
    /// The endpoint the server saw ("ip:port").
    pub mapped_address: Option<String>,
    pub classic: ClassicNatType,
    pub mapping: Option<MappingBehavior>,
    pub filtering: Option<FilteringBehavior>,
    /// Whether the NAT loops a packet for its own external address back in
    /// (RFC 4787 §6); `None` when not measured.
    pub hairpinning: Option<bool>,
    /// Whether the external port equalled the local port on every mapping seen.
    pub port_preservation: Option<bool>,
    pub port_allocation: Option<PortAllocation>,
    /// Whether the servers agreed with each other (`None` with fewer than two
    /// servers whose answers classified the NAT).
    pub servers_agree: Option<bool>,
    pub servers: Vec<ServerReport>,
    /// The server names that gave no address of this family, and why.
    #[serde(default)]
    pub unresolved: Vec<UnresolvedServer>,
    /// Plain-language notes on why a result is missing or uncertain.
    pub notes: Vec<String>,
    /// How long an idle mapping lives (RFC 5780 §4.6), measured only with
    /// `ranat probe --lifetime`; `None` otherwise.
    #[serde(default)]
    pub binding_lifetime: Option<BindingLifetime>,
    /// NAT behaviour over TCP (RFC 5382), measured only with `ranat probe
    /// --tcp`; `None` otherwise.
    #[serde(default)]
    pub tcp: Option<TcpBehavior>,
}

/// The outcome for an address family as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FamilyStatus {
    /// Classified.
    Ok,
    /// No server of this family was given, or none has an address of it.
    NoServer,
    /// Servers were tried and none answered.
    UdpBlocked,
    /// There is a route, but no server name resolved: DNS does not work
    /// on this network.
    DnsFailed,
    /// Answers came, but not enough to classify (e.g. no behaviour-capable
    /// server); the behaviour that was measured is still given.
    Inconclusive,
    /// This host has no usable address or route of this family.
    Unavailable,
}

/// What one server contributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServerReport {
    /// The server endpoint probed ("ip:port").
    pub address: String,
    /// The name it was resolved from, if any.
    pub name: Option<String>,
    /// Whether the server answered at all.
    pub reachable: bool,
    /// Whether the server can run RFC 5780 behaviour tests: it sent
    /// OTHER-ADDRESS and its answers really came from the alternate address
    /// and port when asked.
    pub behavior_capable: bool,
    /// Round-trip time of the first binding transaction.
    pub rtt_ms: Option<f64>,
    /// The server's alternate endpoint (OTHER-ADDRESS, RFC 5780 §7.4).
    pub other_address: Option<String>,
    pub mapped_address: Option<String>,
    pub classic: ClassicNatType,
    pub mapping: Option<MappingBehavior>,
    pub filtering: Option<FilteringBehavior>,
    pub hairpinning: Option<bool>,
    /// Why a test with this server could not be completed.
    pub notes: Vec<String>,
}

/// The overall verdict of a probe, ordered from best to worst for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Open internet or a cone NAT on some family: hole punching works with most peers.
    TraversalFriendly,
    /// Only symmetric NAT: direct connections need a port mapping, prediction or a relay.
    Symmetric,
    /// Server addresses were known but nothing answered: UDP is blocked
    /// or every server is down.
    UdpBlocked,
    /// Measurements were incomplete.
    Inconclusive,
    /// There is a route, but no server name resolved: DNS does not work
    /// (offline, or a captive portal).
    DnsFailed,
    /// This host has no route off itself: no network.
    NoNetwork,
}

impl Verdict {
    /// The process exit code that carries this verdict (documented in the README).
    pub fn exit_code(self) -> i32 {
        match self {
            Self::TraversalFriendly => 0,
            Self::Symmetric => 10,
            Self::UdpBlocked => 11,
            Self::Inconclusive => 12,
            Self::NoNetwork => 13,
            Self::DnsFailed => 14,
        }
    }
}

impl FamilyReport {
    /// Whether this family was not tried at all: skipped (`-4`/`-6`) or
    /// no server of it was given, as opposed to names that gave no
    /// address of it.
    pub fn skipped(&self) -> bool {
        self.status == FamilyStatus::NoServer && self.unresolved.is_empty()
    }

    /// A family that was not measured, with the reason.
    pub fn unmeasured(status: FamilyStatus, note: impl Into<String>) -> Self {
        let classic = match status {
            FamilyStatus::UdpBlocked => ClassicNatType::UdpBlocked,
            _ => ClassicNatType::Inconclusive,
        };
        Self {
            status,
            local_address: None,
            mapped_address: None,
            classic,
            mapping: None,
            filtering: None,
            hairpinning: None,
            port_preservation: None,
            port_allocation: None,
            servers_agree: None,
            servers: Vec::new(),
            unresolved: Vec::new(),
            notes: vec![note.into()],
            binding_lifetime: None,
            tcp: None,
        }
    }

    fn with_notes(mut self, notes: Vec<String>) -> Self {
        self.notes.extend(notes);
        self
    }
}

/// One server's contribution: its observation, or why it could not run.
#[derive(Debug)]
pub struct ServerResult {
    pub name: Option<String>,
    pub address: std::net::SocketAddr,
    pub observation: Result<Observation, ServerFailure>,
}

/// Why a server's tests could not run at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFailure {
    /// This host has no route to the server's family.
    NoRoute(String),
    /// Anything else (no socket, the time limit), in words.
    Other(String),
}

impl ServerFailure {
    fn message(&self) -> &str {
        match self {
            Self::NoRoute(m) | Self::Other(m) => m,
        }
    }
}

/// Combines the servers of one family; `unresolved` are the names that
/// gave no address of it.
///
/// The family's behaviour is taken from the servers that could run the
/// behaviour tests; where they disagree, the least traversal-friendly
/// behaviour wins and `servers_agree` is false, so the verdict never
/// promises more than a server measured. If no server could classify the
/// NAT, the family is inconclusive but keeps each behaviour a server did
/// measure, the least traversal-friendly where they differ.
pub fn combine(results: Vec<ServerResult>, unresolved: Vec<UnresolvedServer>) -> FamilyReport {
    let report = combine_results(results);
    FamilyReport {
        unresolved,
        ..report
    }
}

fn combine_results(results: Vec<ServerResult>) -> FamilyReport {
    let mut notes = Vec::new();
    if results.is_empty() {
        return FamilyReport::unmeasured(
            FamilyStatus::NoServer,
            "no server of this family was given",
        );
    }
    if results
        .iter()
        .all(|r| matches!(r.observation, Err(ServerFailure::NoRoute(_))))
    {
        let mut report = FamilyReport::unmeasured(
            FamilyStatus::Unavailable,
            "this host has no route for this address family",
        );
        report.notes.extend(
            results
                .iter()
                .filter_map(|r| r.observation.as_ref().err())
                .map(|e| e.message().to_string()),
        );
        return report;
    }
    let servers: Vec<ServerReport> = results.iter().map(server_report).collect();
    for r in &results {
        match &r.observation {
            Ok(o) => notes.extend(o.notes.iter().cloned()),
            Err(e) => notes.push(e.message().to_string()),
        }
    }
    let observed: Vec<&Observation> = results
        .iter()
        .filter_map(|r| r.observation.as_ref().ok())
        .filter(|o| o.reachable && o.mapped.is_some())
        .collect();
    let Some(first) = observed.first() else {
        if results
            .iter()
            .any(|r| r.observation.as_ref().is_ok_and(|o| o.reachable))
        {
            return FamilyReport {
                servers,
                ..FamilyReport::unmeasured(
                    FamilyStatus::Inconclusive,
                    "servers answered, but no answer carried a usable mapped address",
                )
            }
            .with_notes(notes);
        }
        return FamilyReport {
            servers,
            ..FamilyReport::unmeasured(
                FamilyStatus::UdpBlocked,
                "no server answered: UDP is blocked on this network, or every server is down",
            )
        }
        .with_notes(notes);
    };
    let capable: Vec<&Observation> = observed
        .iter()
        .copied()
        .filter(|o| classic(o) != ClassicNatType::Inconclusive)
        .collect();
    let behind_nat = observed.iter().any(|o| o.behind_nat == Some(true));
    // With no server that classified the NAT, the behaviours some server
    // measured are still reported (a server whose alternate address cannot
    // be reached measures filtering but not mapping).
    let measured = if capable.is_empty() {
        &observed
    } else {
        &capable
    };
    let mappings: Vec<MappingBehavior> = measured.iter().filter_map(|o| o.mapping).collect();
    let filterings: Vec<FilteringBehavior> = measured.iter().filter_map(|o| o.filtering).collect();
    let mapping = mappings.iter().copied().max_by_key(|m| mapping_rank(*m));
    let filtering = filterings
        .iter()
        .copied()
        .max_by_key(|f| filtering_rank(*f));
    if capable.is_empty()
        && (mappings.iter().any(|m| Some(*m) != mapping)
            || filterings.iter().any(|f| Some(*f) != filtering))
    {
        notes.push(
            "the servers disagree on the behaviours they measured; the least favourable is \
             reported"
                .into(),
        );
    }
    let servers_agree = (capable.len() >= 2).then(|| {
        capable
            .iter()
            .all(|o| classic(o) == classic(capable[0]) && o.mapping == capable[0].mapping)
    });
    if servers_agree == Some(false) {
        let seen: Vec<String> = capable
            .iter()
            .map(|o| format!("{} saw {}", o.server, classic(o).label()))
            .collect();
        notes.push(format!(
            "the servers disagree ({}); the least favourable result is reported",
            seen.join(", ")
        ));
    }
    let reference = capable.first().copied().unwrap_or(first);
    let (status, classic) = if capable.is_empty() {
        notes.push(
            "no server could run all the RFC 5780 behaviour tests, so the NAT type is not known"
                .into(),
        );
        (FamilyStatus::Inconclusive, ClassicNatType::Inconclusive)
    } else {
        (
            FamilyStatus::Ok,
            ClassicNatType::derive(behind_nat, mapping, filtering),
        )
    };
    FamilyReport {
        status,
        local_address: reference.local.map(|a| a.to_string()),
        mapped_address: reference.mapped.map(|a| a.to_string()),
        classic,
        mapping,
        filtering,
        hairpinning: reference.hairpinning,
        port_preservation: reference.port_preservation,
        port_allocation: reference.allocation,
        servers_agree,
        servers,
        unresolved: Vec::new(),
        notes,
        binding_lifetime: None,
        tcp: None,
    }
}

/// The overall verdict: the best outcome among the families measured, since
/// a session may use whichever family works.
pub fn verdict(families: &[&FamilyReport]) -> Verdict {
    let ok: Vec<_> = families
        .iter()
        .filter(|f| f.status == FamilyStatus::Ok)
        .collect();
    let any = |status: FamilyStatus| families.iter().any(|f| f.status == status);
    if ok.iter().any(|f| f.classic.is_traversal_friendly()) {
        Verdict::TraversalFriendly
    } else if ok.iter().any(|f| f.classic == ClassicNatType::Symmetric) {
        Verdict::Symmetric
    } else if any(FamilyStatus::Inconclusive) {
        Verdict::Inconclusive
    } else if any(FamilyStatus::UdpBlocked) {
        Verdict::UdpBlocked
    } else if any(FamilyStatus::DnsFailed) {
        Verdict::DnsFailed
    } else if any(FamilyStatus::Unavailable)
        && families
            .iter()
            .all(|f| f.status == FamilyStatus::Unavailable || f.skipped())
    {
        // No family that was tried has a route. A family whose names
        // merely have no address of it has one (it was asked), so it
        // keeps the verdict off "no network".
        Verdict::NoNetwork
    } else {
        // No server was given for any family measured: nothing was
        // measured, which is no sign of blocked UDP.
        Verdict::Inconclusive
    }
}

fn classic(o: &Observation) -> ClassicNatType {
    ClassicNatType::derive(o.behind_nat == Some(true), o.mapping, o.filtering)
}

fn mapping_rank(m: MappingBehavior) -> u8 {
    match m {
        MappingBehavior::EndpointIndependent => 0,
        MappingBehavior::AddressDependent => 1,
        MappingBehavior::AddressAndPortDependent => 2,
    }
}

fn filtering_rank(f: FilteringBehavior) -> u8 {
    match f {
        FilteringBehavior::EndpointIndependent => 0,
        FilteringBehavior::AddressDependent => 1,
        FilteringBehavior::AddressAndPortDependent => 2,
    }
}

fn server_report(r: &ServerResult) -> ServerReport {
    match &r.observation {
        Ok(o) => ServerReport {
            address: r.address.to_string(),
            name: r.name.clone(),
            reachable: o.reachable,
            behavior_capable: o.behavior_capable,
            rtt_ms: o.rtt.map(|d| (d.as_secs_f64() * 1e4).round() / 10.0),
            other_address: o.other_address.map(|a| a.to_string()),
            mapped_address: o.mapped.map(|a| a.to_string()),
            classic: if o.reachable {
                classic(o)
            } else {
                ClassicNatType::UdpBlocked
            },
            mapping: o.mapping,
            filtering: o.filtering,
            hairpinning: o.hairpinning,
            notes: o.notes.clone(),
        },
        Err(e) => ServerReport {
            address: r.address.to_string(),
            name: r.name.clone(),
            reachable: false,
            behavior_capable: false,
            rtt_ms: None,
            other_address: None,
            mapped_address: None,
            classic: ClassicNatType::Inconclusive,
            mapping: None,
            filtering: None,
            hairpinning: None,
            notes: vec![e.message().to_string()],
        },
    }
}
