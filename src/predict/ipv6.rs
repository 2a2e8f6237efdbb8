//! Native IPv6 between the two sides.

use std::net::SocketAddr;

use crate::proto::nat::FilteringBehavior;
use crate::report::{FamilyReport, FamilyStatus};

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

/// Native IPv6 on both sides. Without NAT each side keeps one address and
/// port (endpoint-independent); a side whose firewall admits unsolicited
/// packets (EIF) is reached directly; otherwise simultaneous sends open
/// both firewalls (RFC 5128 §3.3, RFC 6092 filtering), which ranat does and
/// Remote Assistance does not. A side whose IPv6 address is translated
/// (NPTv6, RFC 6296, or an IPv6 NAT) cannot be reached at the address it
/// offers, its own: see [`translated_side`].
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
            FamilyStatus::DnsFailed => {
                unknown.get_or_insert(format!(
                    "{}'s IPv6 was not measured (no STUN server name resolved: DNS did not work).",
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
    match (translated(n.ipv6()), translated(h.ipv6())) {
        (Some(tn), Some(th)) => return translated_pair((n, tn), (h, th)),
        (Some(t), None) => return translated_side((n, t), h, engine),
        (None, Some(t)) => return translated_side((h, t), n, engine),
        (None, None) => {}
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

/// The endpoint the STUN server saw and the local one, when they differ:
/// this side's IPv6 is translated on its way out (NPTv6, RFC 6296, or an
/// IPv6 NAT). `None` when they agree or either is missing. An unspecified
/// local address (a socket bound to `[::]`) agrees with any address.
fn translated(f: &FamilyReport) -> Option<(SocketAddr, SocketAddr)> {
    let parse = |s: &Option<String>| s.as_deref().and_then(|s| s.parse::<SocketAddr>().ok());
    let (local, mapped) = (parse(&f.local_address)?, parse(&f.mapped_address)?);
    let same_ip = local.ip().is_unspecified() || local.ip() == mapped.ip();
    (!same_ip || local.port() != mapped.port()).then_some((local, mapped))
}

/// One side (`t`, its local and mapped endpoints) is translated, the other
/// (`o`) is not. Both engines offer a host's own IPv6 addresses, so `o`'s
/// packets go to `t`'s internal address, which the translator does not let
/// in. `t`'s own packets leave from its translated address: they reach `o`
/// only through a firewall that admits unsolicited packets (EIF), and then
/// `o` answers where they came from (a peer-reflexive candidate, RFC 8445
/// §7.3.1.3), which ranat's checks do and Remote Assistance's TCP
/// connection does only if `t` is the side that connects.
fn translated_side(
    (t, (local, mapped)): (Peer, (SocketAddr, SocketAddr)),
    o: Peer,
    engine: Engine,
) -> MethodVerdict {
    let method = Method::Ipv6;
    let filterings: Vec<bool> = behaviours(o.ipv6())
        .iter()
        .map(|b| b.filtering == FilteringBehavior::EndpointIndependent)
        .collect();
    let translation = format!(
        "{}'s IPv6 address is translated on its way out ({} leaves as {}: NPTv6 or an IPv6 NAT), so {} cannot reach it at the address it offers, its own",
        t.title(),
        local.ip(),
        mapped.ip(),
        o.name()
    );
    match (agreed(&filterings), engine) {
        (Some(true), Engine::Ranat) => MethodVerdict::new(
            method,
            Feasibility::Works,
            format!(
                "{translation}; but {}'s firewall admits unsolicited packets (EIF): {}'s checks get in, and {} answers the address they came from.",
                o.name(),
                t.name(),
                o.name()
            ),
        ),
        (Some(true), Engine::Windows) => MethodVerdict::new(
            method,
            Feasibility::Unlikely,
            format!(
                "{translation}; {}'s firewall admits unsolicited packets (EIF), so only a TCP connection {} opens would pass.",
                o.name(),
                t.name()
            ),
        ),
        (Some(false), _) => MethodVerdict::new(
            method,
            Feasibility::Fails,
            format!(
                "{translation}, and {}'s firewall filters unsolicited packets: {}'s packets, from its translated address, are not let in.",
                o.name(),
                t.name()
            ),
        ),
        (None, _) => MethodVerdict::new(
            method,
            Feasibility::Unknown,
            format!(
                "{translation}: it depends on whether {}'s firewall admits unsolicited packets (not measured).",
                o.name()
            ),
        ),
    }
}

/// Both sides are translated: each offers its own, internal address, which
/// the other's packets cannot reach.
fn translated_pair(
    (n, (_, nm)): (Peer, (SocketAddr, SocketAddr)),
    (h, (_, hm)): (Peer, (SocketAddr, SocketAddr)),
) -> MethodVerdict {
    MethodVerdict::new(
        Method::Ipv6,
        Feasibility::Fails,
        format!(
            "Both sides' IPv6 addresses are translated on their way out ({}'s leaves as {}, {}'s as {}: NPTv6 or IPv6 NAT), and each offers its own, internal address, which the other's packets cannot reach.",
            n.name(),
            nm.ip(),
            h.name(),
            hm.ip()
        ),
    )
}
