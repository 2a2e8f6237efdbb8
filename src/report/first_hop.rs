//! How far the probe got toward its STUN servers, told apart honestly: no
//! route off this host, names that DNS does not resolve, servers that do not
//! answer, or some that do and some that do not.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::address_family::Family;
use super::family::{FamilyReport, FamilyStatus};
use super::unresolved::UnresolvedServer;

/// How far the probe got toward its servers, over both families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FirstHop {
    /// This host has no route off itself for any family probed: no network.
    NoNetwork,
    /// There is a route, but no server name resolved: DNS does not work
    /// here (offline, or a captive portal not yet accepted).
    DnsFailed,
    /// Server addresses were known, but none answered: UDP is blocked, or
    /// the servers are down.
    NoAnswer,
    /// Some servers answered, others did not (or their names did not
    /// resolve).
    Partial,
    /// Every server probed answered.
    AllAnswered,
    /// No server was probed: none was given for a family measured.
    #[default]
    NotTried,
}

/// The family of a report whose servers all failed to resolve: `routed`
/// says whether this host has a route for the family at all. Without a
/// route the family is unavailable (no network); with one, a DNS failure
/// makes it `dns_failed`; names that merely have no address of this family
/// leave it without a server.
pub fn unresolved_family(
    family: Family,
    unresolved: Vec<UnresolvedServer>,
    routed: bool,
) -> FamilyReport {
    let name = family.name();
    let (status, note) = if !routed {
        (
            FamilyStatus::Unavailable,
            format!("this host has no {name} route: no network over {name}"),
        )
    } else if unresolved.iter().any(|u| u.reason.is_dns_trouble()) {
        (
            FamilyStatus::DnsFailed,
            format!(
                "no server name resolved to an {name} address: DNS does not work on this \
                 network"
            ),
        )
    } else {
        (
            FamilyStatus::NoServer,
            format!("no server name has an {name} address"),
        )
    };
    FamilyReport {
        unresolved,
        ..FamilyReport::unmeasured(status, note)
    }
}

/// How far the probe got, from its two families.
pub fn first_hop(families: &[&FamilyReport]) -> FirstHop {
    let servers = || families.iter().flat_map(|f| &f.servers);
    if servers().any(|s| s.reachable) {
        let silent = servers().any(|s| !s.reachable);
        let unresolved = families
            .iter()
            .flat_map(|f| &f.unresolved)
            .any(|u| u.reason.is_dns_trouble());
        return if silent || unresolved {
            FirstHop::Partial
        } else {
            FirstHop::AllAnswered
        };
    }
    let any = |status: FamilyStatus| families.iter().any(|f| f.status == status);
    if any(FamilyStatus::UdpBlocked) {
        FirstHop::NoAnswer
    } else if any(FamilyStatus::DnsFailed) {
        FirstHop::DnsFailed
    } else if any(FamilyStatus::Unavailable)
        && families
            .iter()
            .all(|f| f.status == FamilyStatus::Unavailable || f.skipped())
    {
        FirstHop::NoNetwork
    } else {
        FirstHop::NotTried
    }
}

#[cfg(test)]
mod tests;
