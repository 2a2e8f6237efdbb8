//! UDP hole punching over IPv4 through a rendezvous (RFC 5128 §3.3): the
//! verdict, and why the game of [`super::admission`] opens a path or not,
//! in words.

use crate::proto::nat::FilteringBehavior;
use crate::report::FamilyStatus;

use super::admission::{Nat, answer_back, behaviours, first_packet_in, opens};
use super::prediction::{Feasibility, Method, MethodVerdict};
use super::side::{Peer, agreed, depends_on, mapping_abbrev, missing_behaviour};

/// Why the game between `r` (receiving) and `s` (sending) opens or not.
fn explain(r: (Peer, Nat), s: (Peer, Nat)) -> String {
    let ((rp, rn), (sp, sn)) = (r, s);
    let (rname, sname) = (rp.name(), sp.name());
    let in_ = first_packet_in(rn, sn);
    let first = match (rn.filtering, rn.eim(), sn.eim()) {
        (FilteringBehavior::EndpointIndependent, ..) => format!(
            "{rname}'s NAT ({}) lets in packets from anyone, so {sname}'s first packet to its mapped endpoint gets in",
            rn.short()
        ),
        (FilteringBehavior::AddressDependent, true, _) => format!(
            "{rname}'s NAT ({}) keeps one mapping and, once it has sent to {sname}'s address, admits any port of it, so {sname}'s first packet gets in",
            rn.short()
        ),
        (_, true, true) => format!(
            "both NATs keep one mapping (EIM), so {sname}'s packets come from the very endpoint {rname} sends to and pass {rname}'s filter ({})",
            rn.short()
        ),
        (_, true, false) => format!(
            "{rname}'s NAT ({}) admits only the exact endpoint it sent to, but {sname}'s NAT ({}) sends from a new port for each destination, which {rname} cannot know",
            rn.short(),
            sn.short()
        ),
        (_, false, _) => format!(
            "{sname}'s packets to {rname}'s mapped endpoint hit the mapping {rname}'s NAT ({}) made for the STUN server, which admits only the server; its mapping toward {sname} has a port {sname} cannot know",
            rn.short()
        ),
    };
    if !in_ {
        return first;
    }
    let back = if rn.eim() {
        format!("{rname} answers from that same mapped endpoint, which {sname} has sent to")
    } else {
        format!(
            "but {rname}'s answer leaves from a new port ({}), not from the endpoint {sname} sent to, so it proves no path (RFC 8445 §7.2.5.2.1)",
            mapping_abbrev(rn.mapping)
        )
    };
    format!("{first}; {back}")
}

/// The reason for a known pair of behaviours.
pub(crate) fn explain_pair(n: (Peer, Nat), h: (Peer, Nat)) -> String {
    let opened = opens(n.1, h.1);
    let direction = |r: (Peer, Nat), s: (Peer, Nat)| first_packet_in(r.1, s.1) && answer_back(r.1);
    if opened {
        let (r, s) = if direction(n, h) { (n, h) } else { (h, n) };
        format!(
            "Simultaneous sends through the rendezvous open a path (RFC 5128 §3.3): {}.",
            explain(r, s)
        )
    } else {
        format!(
            "Simultaneous sends cannot open a path: {}; and {}.",
            explain(n, h),
            explain(h, n)
        )
    }
}

/// Fails or unknown when a side's IPv4 UDP cannot be punched at all.
pub(crate) fn udp_precondition(method: Method, n: Peer, h: Peer) -> Option<MethodVerdict> {
    let mut unknown = None;
    for p in [n, h] {
        match p.ipv4().status {
            FamilyStatus::UdpBlocked => {
                return Some(MethodVerdict::new(
                    method,
                    Feasibility::Fails,
                    format!(
                        "{}'s IPv4 UDP is blocked: no STUN server answered, so there is nothing to punch through.",
                        p.title()
                    ),
                ));
            }
            FamilyStatus::Unavailable => {
                return Some(MethodVerdict::new(
                    method,
                    Feasibility::Fails,
                    format!("{} has no IPv4 route.", p.title()),
                ));
            }
            FamilyStatus::NoServer => {
                unknown.get_or_insert_with(|| {
                    MethodVerdict::new(
                        method,
                        Feasibility::Unknown,
                        format!(
                            "{}'s IPv4 NAT was not measured (no STUN server).",
                            p.title()
                        ),
                    )
                });
            }
            FamilyStatus::DnsFailed => {
                unknown.get_or_insert_with(|| {
                    MethodVerdict::new(
                        method,
                        Feasibility::Unknown,
                        format!(
                            "{}'s IPv4 NAT was not measured (no STUN server name resolved: DNS did not work).",
                            p.title()
                        ),
                    )
                });
            }
            FamilyStatus::Ok | FamilyStatus::Inconclusive => {}
        }
    }
    unknown
}

fn missing(n: Peer, h: Peer) -> Vec<String> {
    let mut out = missing_behaviour(n, n.ipv4(), "IPv4");
    out.extend(missing_behaviour(h, h.ipv4(), "IPv4"));
    out
}

/// Plain UDP hole punching over IPv4.
pub(crate) fn hole_punching(n: Peer, h: Peer) -> MethodVerdict {
    let method = Method::HolePunching;
    if let Some(v) = udp_precondition(method, n, h) {
        return v;
    }
    let mut outcomes = Vec::new();
    for a in behaviours(n.ipv4()) {
        for b in behaviours(h.ipv4()) {
            outcomes.push((opens(a, b), explain_pair((n, a), (h, b))));
        }
    }
    let opened: Vec<bool> = outcomes.iter().map(|o| o.0).collect();
    match (agreed(&opened), outcomes.as_slice()) {
        (Some(ok), [(_, reason)]) => MethodVerdict::new(method, works_or_fails(ok), reason),
        (Some(ok), [(_, example), ..]) => MethodVerdict::new(
            method,
            works_or_fails(ok),
            format!(
                "{} for every value the unmeasured fields could take ({}). For example: {example}",
                if ok { "Opens" } else { "Fails" },
                missing(n, h).join(", ")
            ),
        ),
        _ => MethodVerdict::new(method, Feasibility::Unknown, depends_on(&missing(n, h))),
    }
}

fn works_or_fails(ok: bool) -> Feasibility {
    if ok {
        Feasibility::Works
    } else {
        Feasibility::Fails
    }
}
