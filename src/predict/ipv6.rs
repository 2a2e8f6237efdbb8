//! Native IPv6 between the two sides.

use crate::proto::nat::FilteringBehavior;
use crate::report::FamilyStatus;

use super::admission::{Nat, behaviours, opens};
use super::hole_punching::explain_pair;
use super::prediction::{Feasibility, Method, MethodVerdict};
use super::side::{Peer, agreed, depends_on, missing_behaviour};

/// Which engine's IPv6 abilities apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    /// Direct, or simultaneous UDP sends through the rendezvous.
    Ranat,
    /// Direct TCP only: Remote Assistance does not punch holes.
    Windows,
}

/// Native IPv6 on both sides. There is no NAT, so each side keeps one
/// address and port (endpoint-independent); a side whose firewall admits
/// unsolicited packets (EIF) is reached directly; otherwise simultaneous
/// sends open both firewalls (RFC 5128 §3.3, RFC 6092 filtering), which
/// ranat does and Remote Assistance does not.
pub(crate) fn ipv6(n: Peer, h: Peer, engine: Engine) -> MethodVerdict {
    let method = Method::Ipv6;
    let mut unknown = None;
    for p in [n, h] {
        let f = p.ipv6();
        let fails = match f.status {
            FamilyStatus::UdpBlocked => Some(format!(
                "{}'s IPv6 UDP is blocked: no IPv6 STUN server answered.",
                p.title()
            )),
            FamilyStatus::Unavailable => {
                Some(format!("{} has no IPv6 address or route.", p.title()))
            }
            FamilyStatus::NoServer => {
                unknown.get_or_insert(format!(
                    "{}'s IPv6 was not measured (no IPv6 STUN server).",
                    p.title()
                ));
                None
            }
            FamilyStatus::Ok | FamilyStatus::Inconclusive => None,
        };
        if let Some(why) = fails {
            return MethodVerdict::new(method, Feasibility::Fails, why);
        }
    }
    if let Some(why) = unknown {
        return MethodVerdict::new(method, Feasibility::Unknown, why);
    }
    let mut outcomes = Vec::new();
    for a in behaviours(n.ipv6()) {
        for b in behaviours(h.ipv6()) {
            outcomes.push(ipv6_outcome((n, a), (h, b), engine));
        }
    }
    let fs: Vec<Feasibility> = outcomes.iter().map(|o| o.0).collect();
    match (agreed(&fs), outcomes.as_slice()) {
        (Some(f), [(_, reason)]) => MethodVerdict::new(method, f, reason.clone()),
        (Some(f), [(_, example), ..]) => MethodVerdict::new(
            method,
            f,
            format!(
                "The same for every value the unmeasured fields could take. For example: {example}"
            ),
        ),
        _ => {
            let mut missing = missing_behaviour(n, n.ipv6(), "IPv6");
            missing.extend(missing_behaviour(h, h.ipv6(), "IPv6"));
            MethodVerdict::new(method, Feasibility::Unknown, depends_on(&missing))
        }
    }
}

fn ipv6_outcome(n: (Peer, Nat), h: (Peer, Nat), engine: Engine) -> (Feasibility, String) {
    for ((l, ln), (c, _)) in [(n, h), (h, n)] {
        if ln.filtering == FilteringBehavior::EndpointIndependent {
            return (
                Feasibility::Works,
                format!(
                    "Both have IPv6, and {}'s firewall admits unsolicited packets (EIF): {} connects straight to its address.",
                    l.name(),
                    c.name()
                ),
            );
        }
    }
    let opened = opens(n.1, h.1);
    match (opened, engine) {
        (true, Engine::Ranat) => (
            Feasibility::Works,
            format!(
                "Both have IPv6 but filter unsolicited packets. {}",
                explain_pair(n, h)
            ),
        ),
        (true, Engine::Windows) => (
            Feasibility::Unlikely,
            format!(
                "Both have IPv6, but both firewalls filter unsolicited packets (the novice {}, the helper {}); Remote Assistance opens a plain TCP connection and does not punch holes, so it passes only if a firewall lets that connection in (not measured for TCP).",
                n.1.short(),
                h.1.short()
            ),
        ),
        (false, _) => (
            Feasibility::Fails,
            format!(
                "Both have IPv6, but neither firewall admits the other. {}",
                explain_pair(n, h)
            ),
        ),
    }
}
