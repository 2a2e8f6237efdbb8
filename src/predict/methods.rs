//! The direct IPv4 methods: same LAN, public IPv4, port mapping; and the
//! relay.

use std::net::IpAddr;

use crate::proto::nat::ClassicNatType;
use crate::report::{FamilyStatus, MappingStatus, TestMapping, Topology};

use super::prediction::{Feasibility, Method, MethodVerdict};
use super::side::{Peer, capitalise, ip_of};

/// Same LAN (RFC 5128 §3.2, RFC 4787 REQ-9).
///
/// Both sides seen from the Internet at one IPv4 address sit behind one
/// NAT. With the same gateway they share a LAN and talk over private
/// addresses (works). Behind different inner routers only the shared NAT
/// can connect them, by hairpinning their public endpoints: that decides.
/// A carrier-grade NAT's address is shared by many customers, so the same
/// address proves little there unless the NAT hairpins. Without gateway
/// evidence, one address most likely means one home or office (likely).
pub(crate) fn same_lan(n: Peer, h: Peer) -> MethodVerdict {
    let method = Method::SameLan;
    let (a, b) = match (n.public_ipv4(), h.public_ipv4()) {
        (Some(a), Some(b)) => (a, b),
        (a, _) => {
            let p = if a.is_none() { n } else { h };
            return MethodVerdict::new(
                method,
                Feasibility::Unknown,
                format!(
                    "{}'s public IPv4 address was not measured, so whether both sit behind one NAT is unknown.",
                    p.title()
                ),
            );
        }
    };
    if a != b {
        return MethodVerdict::new(
            method,
            Feasibility::Fails,
            format!(
                "Different public IPv4 addresses (the novice {a}, the helper {b}): they are not behind the same NAT."
            ),
        );
    }
    let hairpin = match (n.ipv4().hairpinning, h.ipv4().hairpinning) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), _) | (_, Some(false)) => Some(false),
        _ => None,
    };
    let hairpin_words = match hairpin {
        Some(true) => {
            "the shared NAT hairpins (RFC 4787 §6), so their public endpoints reach each other"
        }
        Some(false) => {
            "the shared NAT does not hairpin (RFC 4787 REQ-9 unmet), so their public endpoints do not reach each other"
        }
        None => "whether the shared NAT hairpins was not measured",
    };
    let gateways = (n.report.port_mapping.gateway, h.report.port_mapping.gateway);
    let cgnat = [n, h]
        .iter()
        .any(|p| p.report.topology.finding == Topology::CarrierGradeNatLikely);
    let (feasibility, why) = match gateways {
        (Some(g), Some(k)) if g == k => (
            Feasibility::Works,
            format!(
                "both use the gateway {g}: they share a LAN and talk over their private addresses ({} and {})",
                n.ipv4().local_address.as_deref().unwrap_or("?"),
                h.ipv4().local_address.as_deref().unwrap_or("?")
            ),
        ),
        (Some(g), Some(k)) => (
            hairpin_feasibility(hairpin, Feasibility::Fails),
            format!(
                "they use different gateways ({g} and {k}) behind a shared NAT; {hairpin_words}"
            ),
        ),
        _ if cgnat => (
            hairpin_feasibility(hairpin, Feasibility::Unlikely),
            format!(
                "a carrier-grade NAT is likely in the path, whose address many customers share; {hairpin_words}"
            ),
        ),
        _ => (
            Feasibility::Likely,
            format!(
                "most likely one home or office NAT: they talk over private addresses unless they sit on separate internal networks ({hairpin_words})"
            ),
        ),
    };
    MethodVerdict::new(
        method,
        feasibility,
        format!("Both reach the Internet as {a}: {why}."),
    )
}

fn hairpin_feasibility(hairpin: Option<bool>, without: Feasibility) -> Feasibility {
    match hairpin {
        Some(true) => Feasibility::Likely,
        Some(false) => without,
        None => Feasibility::Unknown,
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local() || crate::report::is_shared(v4),
        IpAddr::V6(_) => false,
    }
}

/// Whether `p` accepts unsolicited IPv4 packets at a public address.
fn public_listener(p: Peer) -> (Feasibility, String) {
    let f = p.ipv4();
    let (local, mapped) = (
        ip_of(f.local_address.as_deref()),
        ip_of(f.mapped_address.as_deref()),
    );
    if f.status == FamilyStatus::Unavailable {
        return (
            Feasibility::Fails,
            format!("{} has no IPv4 route", p.name()),
        );
    }
    if f.status == FamilyStatus::Ok {
        return match f.classic {
            ClassicNatType::OpenInternet => (
                Feasibility::Works,
                format!(
                    "{} has the public IPv4 address {} with no NAT and no filtering (open internet)",
                    p.name(),
                    mapped.map_or("?".to_string(), |ip| ip.to_string())
                ),
            ),
            ClassicNatType::SymmetricUdpFirewall => (
                Feasibility::Fails,
                format!(
                    "{} has a public address, but a stateful firewall drops unsolicited packets",
                    p.name()
                ),
            ),
            other => (
                Feasibility::Fails,
                format!("{} is behind a {}", p.name(), other.label()),
            ),
        };
    }
    match (local, mapped) {
        (Some(l), Some(m)) if l != m => (
            Feasibility::Fails,
            format!("{} is behind NAT (own address {l}, seen as {m})", p.name()),
        ),
        (Some(l), _) if is_private(l) => (
            Feasibility::Fails,
            format!(
                "{}'s own address {l} is private: it is behind NAT",
                p.name()
            ),
        ),
        _ => (
            Feasibility::Unknown,
            format!(
                "whether {} accepts unsolicited IPv4 packets was not measured",
                p.name()
            ),
        ),
    }
}

/// The transport an engine's session runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// TCP (Windows Remote Assistance): a side whose UDP is blocked may
    /// still connect out, which the probe does not measure.
    Tcp,
    /// UDP (ranat's QUIC channel): a side whose UDP is blocked cannot
    /// connect out at all.
    Udp,
}

/// Fails when a side's IPv4 UDP is blocked: ranat's channel is UDP (QUIC),
/// so that side can neither listen nor connect over IPv4.
fn udp_channel_blocked(method: Method, n: Peer, h: Peer) -> Option<MethodVerdict> {
    let p = *udp_blocked(n, h).first()?;
    Some(MethodVerdict::new(
        method,
        Feasibility::Fails,
        format!(
            "{}'s IPv4 UDP is blocked (no STUN server answered), and ranat's channel is UDP (QUIC): it can neither listen nor connect.",
            p.title()
        ),
    ))
}

/// Public IPv4: one side listens at its public address, the other
/// connects to it (the open-internet label of RFC 3489 §10.1: no NAT, no
/// filtering). A stateful firewall ("symmetric UDP firewall") can only
/// connect out, so it counts only as the connecting side.
pub(crate) fn public_ipv4(n: Peer, h: Peer, transport: Transport) -> MethodVerdict {
    if transport == Transport::Udp
        && let Some(v) = udp_channel_blocked(Method::PublicIpv4, n, h)
    {
        return v;
    }
    let direction = |l: Peer, c: Peer| {
        let (listen, why_l) = public_listener(l);
        let (out, why_c) = c.sends_out(c.ipv4(), "IPv4");
        (listen.and(out), why_l, why_c)
    };
    let ((fa, la, ca), (fb, lb, cb)) = (direction(n, h), direction(h, n));
    let (f, reason) = if fa == Feasibility::Fails && fb == Feasibility::Fails {
        // The listener's reason when it cannot listen, else the
        // connecting side's.
        let why = |l: Peer, la: &str, ca: &str| {
            if public_listener(l).0 == Feasibility::Fails {
                la.to_string()
            } else {
                format!("{la}, but {ca}")
            }
        };
        (
            Feasibility::Fails,
            format!(
                "Neither side can connect to the other: {}; {}.",
                why(n, &la, &ca),
                why(h, &lb, &cb)
            ),
        )
    } else if fa.rank() >= fb.rank() {
        (fa, format!("{}; {ca}.", capitalise(&la)))
    } else {
        (fb, format!("{}; {cb}.", capitalise(&lb)))
    };
    let reason = match transport {
        Transport::Tcp => format!("Over TCP (as Windows): {reason}"),
        Transport::Udp => reason,
    };
    MethodVerdict::new(Method::PublicIpv4, f, reason)
}

/// Which port-mapping protocols count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocols {
    /// UPnP IGD, PCP and NAT-PMP (ranat, whose channel is UDP).
    All,
    /// UPnP IGD only (Windows Remote Assistance).
    UpnpOnly,
}

fn mapping_verdict(
    p: Peer,
    name: &str,
    status: MappingStatus,
    mapping: Option<&TestMapping>,
) -> (Feasibility, String) {
    let who = p.name();
    let ext = mapping.map_or(String::new(), |m| format!(" {}", m.external));
    let layered = matches!(
        p.report.topology.finding,
        Topology::DoubleNat | Topology::CarrierGradeNatLikely
    );
    match status {
        MappingStatus::Works => (
            Feasibility::Works,
            format!("{who}'s {name} mapping{ext} works: a packet from outside came in through it"),
        ),
        MappingStatus::Unverified if layered => (
            Feasibility::Unlikely,
            format!(
                "{who}'s {name} mapping{ext} was made but not tested end to end, and another NAT lies beyond the gateway ({})",
                p.report.topology.finding.label()
            ),
        ),
        MappingStatus::Unverified => (
            Feasibility::Likely,
            format!(
                "{who}'s {name} mapping{ext} was made but not tested end to end (the STUN server could not send to it)"
            ),
        ),
        MappingStatus::Unreachable => (
            Feasibility::Fails,
            format!(
                "{who}'s {name} mapping{ext} was made but nothing sent to it arrived ({})",
                p.report.topology.finding.label()
            ),
        ),
        MappingStatus::Refused => (
            Feasibility::Fails,
            format!("{who}'s gateway refused the {name} mapping"),
        ),
        MappingStatus::Failed => (
            Feasibility::Fails,
            format!("{who}'s {name} gateway answered, but not in a usable way"),
        ),
        MappingStatus::NotFound => (
            Feasibility::Fails,
            format!("no {name} gateway answered on {who}'s network"),
        ),
        MappingStatus::Skipped => (
            Feasibility::Unknown,
            format!("{who}'s {name} was not checked"),
        ),
    }
}

/// The best mapping `p` can make with `protocols`.
fn mapping_side(p: Peer, protocols: Protocols) -> (Feasibility, String) {
    let pm = &p.report.port_mapping;
    let pcp_name = pm.pcp.protocol.map_or("PCP/NAT-PMP", |x| x.name());
    let upnp = mapping_verdict(p, "UPnP", pm.upnp.status, pm.upnp.mapping.as_ref());
    let pcp = mapping_verdict(p, pcp_name, pm.pcp.status, pm.pcp.mapping.as_ref());
    match protocols {
        Protocols::All if pcp.0.rank() > upnp.0.rank() => pcp,
        Protocols::All if upnp.0 == Feasibility::Fails && pcp.0 == Feasibility::Fails => {
            (Feasibility::Fails, format!("{}; {}", upnp.1, pcp.1))
        }
        Protocols::All => upnp,
        Protocols::UpnpOnly if pcp.0.rank() > upnp.0.rank() => (
            upnp.0,
            format!(
                "{} ({pcp_name} would serve, but Windows uses only UPnP)",
                upnp.1
            ),
        ),
        Protocols::UpnpOnly => upnp,
    }
}

/// Port mapping: a UPnP IGD (or PCP / NAT-PMP, RFC 6887 / RFC 6886)
/// mapping on one side makes it reachable; the other connects to it.
/// ranat's session over a mapping is UDP, so a UDP-blocked side fails it.
pub(crate) fn port_mapping(n: Peer, h: Peer, protocols: Protocols) -> MethodVerdict {
    if protocols == Protocols::All
        && let Some(v) = udp_channel_blocked(Method::PortMapping, n, h)
    {
        return v;
    }
    let direction = |l: Peer, c: Peer| {
        let (side, why_l) = mapping_side(l, protocols);
        let (out, why_c) = c.sends_out(c.ipv4(), "IPv4");
        (side.and(out), why_l, why_c)
    };
    let ((fa, la, ca), (fb, lb, cb)) = (direction(n, h), direction(h, n));
    let (f, reason) = if fa == Feasibility::Fails && fb == Feasibility::Fails {
        (Feasibility::Fails, format!("{}; {}.", capitalise(&la), lb))
    } else if fa.rank() >= fb.rank() {
        (fa, format!("{}; {ca}.", capitalise(&la)))
    } else {
        (fb, format!("{}; {cb}.", capitalise(&lb)))
    };
    let reason = match protocols {
        Protocols::All => reason,
        Protocols::UpnpOnly => format!("UPnP only (as Windows): {reason}"),
    };
    MethodVerdict::new(Method::PortMapping, f, reason)
}

/// The sides whose IPv4 UDP is blocked: they reach the relay over TCP
/// (TURN over TCP, RFC 6062), the others over UDP.
pub(crate) fn udp_blocked<'a>(n: Peer<'a>, h: Peer<'a>) -> Vec<Peer<'a>> {
    [n, h]
        .into_iter()
        .filter(|p| p.ipv4().status == FamilyStatus::UdpBlocked)
        .collect()
}

/// The relay: the help desk's TURN relay (`ranat serve`) carries the
/// session when no direct path opens, over UDP, or over TCP from a side
/// whose UDP is blocked. The probes do not say whether the help desk runs
/// one, so this is unknown, not "works".
pub(crate) fn relay(n: Peer, h: Peer) -> MethodVerdict {
    let transport = match udp_blocked(n, h).as_slice() {
        [] => "over UDP from both sides".to_string(),
        [p] => format!(
            "over TCP from {} (its UDP is blocked), over UDP from the other",
            p.name()
        ),
        _ => "over TCP from both sides (their UDP is blocked)".to_string(),
    };
    MethodVerdict::new(
        Method::Relay,
        Feasibility::Unknown,
        format!(
            "The fallback when no direct path opens: the help desk's TURN relay carries the session, {transport}. Whether the help desk runs one is not known from the probes."
        ),
    )
}
