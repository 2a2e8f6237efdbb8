//! One side of the pair, and the small vocabulary the verdicts share:
//! names in words, completions of unmeasured fields, IPv4 facts.

use std::net::{IpAddr, SocketAddr};

use crate::proto::nat::{FilteringBehavior, MappingBehavior};
use crate::report::{FamilyReport, FamilyStatus, ProbeReport};

use super::prediction::Feasibility;

/// Which peer a report belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Novice,
    Helper,
}

/// A report with the role it plays.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer<'a> {
    pub role: Role,
    pub report: &'a ProbeReport,
}

impl<'a> Peer<'a> {
    pub fn new(role: Role, report: &'a ProbeReport) -> Self {
        Self { role, report }
    }

    /// "the novice" / "the helper".
    pub fn name(self) -> &'static str {
        match self.role {
            Role::Novice => "the novice",
            Role::Helper => "the helper",
        }
    }

    /// "The novice" at the start of a sentence.
    pub fn title(self) -> &'static str {
        match self.role {
            Role::Novice => "The novice",
            Role::Helper => "The helper",
        }
    }

    pub fn ipv4(self) -> &'a FamilyReport {
        &self.report.ipv4
    }

    pub fn ipv6(self) -> &'a FamilyReport {
        &self.report.ipv6
    }

    /// The public IPv4 address the STUN server saw.
    pub fn public_ipv4(self) -> Option<IpAddr> {
        ip_of(self.ipv4().mapped_address.as_deref())
    }

    /// Whether this side can send UDP to the Internet over `family`, as a
    /// verdict with its reason: answers came (works), none came (UDP
    /// blocked: TCP, which Windows uses, was not measured), no route
    /// (fails), not measured (unknown).
    pub fn sends_out(self, family: &FamilyReport, family_name: &str) -> (Feasibility, String) {
        match family.status {
            FamilyStatus::Ok | FamilyStatus::Inconclusive => (
                Feasibility::Works,
                format!(
                    "{} reaches the Internet over {family_name} (a STUN server answered)",
                    self.name()
                ),
            ),
            FamilyStatus::UdpBlocked => (
                Feasibility::Unknown,
                format!(
                    "{}'s {family_name} UDP is blocked (no STUN server answered); a TCP connection was not measured",
                    self.name()
                ),
            ),
            FamilyStatus::Unavailable => (
                Feasibility::Fails,
                format!("{} has no {family_name} route", self.name()),
            ),
            FamilyStatus::NoServer => (
                Feasibility::Unknown,
                format!(
                    "{}'s {family_name} was not measured (no STUN server)",
                    self.name()
                ),
            ),
            FamilyStatus::DnsFailed => (
                Feasibility::Unknown,
                format!(
                    "{}'s {family_name} was not measured (no STUN server name resolved: DNS did not work)",
                    self.name()
                ),
            ),
        }
    }
}

/// The IP address of an "ip:port" field.
pub(crate) fn ip_of(endpoint: Option<&str>) -> Option<IpAddr> {
    endpoint
        .and_then(|s| s.parse::<SocketAddr>().ok())
        .map(|a| a.ip())
}

/// Every value a field could have: the measured one, or all of them.
pub(crate) fn completions<T: Copy>(measured: Option<T>, all: &[T]) -> Vec<T> {
    measured.map_or_else(|| all.to_vec(), |v| vec![v])
}

pub(crate) const BOOLS: [bool; 2] = [true, false];

/// The one value every completion gives, if they agree.
pub(crate) fn agreed<T: PartialEq + Clone>(outcomes: &[T]) -> Option<T> {
    let first = outcomes.first()?;
    outcomes.iter().all(|o| o == first).then(|| first.clone())
}

pub(crate) fn mapping_abbrev(m: MappingBehavior) -> &'static str {
    match m {
        MappingBehavior::EndpointIndependent => "EIM",
        MappingBehavior::AddressDependent => "ADM",
        MappingBehavior::AddressAndPortDependent => "APDM",
    }
}

pub(crate) fn filtering_abbrev(f: FilteringBehavior) -> &'static str {
    match f {
        FilteringBehavior::EndpointIndependent => "EIF",
        FilteringBehavior::AddressDependent => "ADF",
        FilteringBehavior::AddressAndPortDependent => "APDF",
    }
}

/// Which behaviour fields of a family were not measured, in words.
pub(crate) fn missing_behaviour(peer: Peer, family: &FamilyReport, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if family.mapping.is_none() {
        out.push(format!("{}'s {name} mapping behaviour", peer.name()));
    }
    if family.filtering.is_none() {
        out.push(format!("{}'s {name} filtering behaviour", peer.name()));
    }
    out
}

/// "… depends on X and Y, which were not measured."
pub(crate) fn depends_on(missing: &[String]) -> String {
    match missing {
        [] => "The answer depends on fields that were not measured.".to_string(),
        [one] => format!("The answer depends on {one}, which was not measured."),
        more => format!(
            "The answer depends on {}, which were not measured.",
            more.join(" and ")
        ),
    }
}

/// The string with its first letter in upper case.
pub(crate) fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().collect::<String>() + chars.as_str()
    })
}
