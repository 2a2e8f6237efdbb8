//! Birthday punching: behind a destination-dependent NAT with a random
//! allocator, one side opens many mappings toward the other, which sends
//! probes to random ports of its address until one lands (the maths is in
//! [`super::birthday`]); each probe and its answer must pass the punching
//! game of [`super::admission`].
//!
//! Informational: ranat's engine does not run birthday punching (the live
//! punch sends no probes to unadvertised ports), so this verdict is shown in
//! `ranat check`'s method table but never carries ranat's headline (see
//! [`Method::in_ranat_engine`]).

use crate::proto::nat::{MappingBehavior, PortAllocationKind};
use crate::report::FamilyReport;

use super::admission::{Nat, behaviours, opens};
use super::birthday::{self, OPEN_PORTS, PORT_SPACE, PROBES, PROBES_PER_SECOND};
use super::hole_punching::udp_precondition;
use super::prediction::{Feasibility, Method, MethodVerdict};
use super::side::{BOOLS, Peer, agreed, capitalise, mapping_abbrev};

/// Whether a side's ports are random: every value when not measured.
fn random(family: &FamilyReport) -> Vec<bool> {
    match family.port_allocation {
        Some(a) => vec![a.kind == PortAllocationKind::Random],
        None => BOOLS.to_vec(),
    }
}

/// Whether `s` can find `r`'s random ports by probing: `r` (dependent,
/// random) opens [`OPEN_PORTS`] mappings toward `s`, and `s` sends
/// [`PROBES`] probes to random ports of `r`'s address. A probe that lands on
/// an open mapping must pass its filter (it comes from `s`'s mapped
/// endpoint, which the mapping was opened toward, when `s` is EIM;
/// otherwise `r` must filter by address only), and `r`'s answer must leave
/// from the port the probe hit (RFC 8445 §7.2.5.2.1): `s` is EIM, so the
/// probe came from the endpoint the mapping was opened toward; or `r` is
/// ADM, whose mapping toward `s`'s address is the one hit.
pub(crate) fn birthday_direction(r: Nat, r_random: bool, s: Nat) -> bool {
    r_random
        && !r.eim()
        && (s.eim() || r.by_address())
        && (s.eim() || r.mapping == MappingBehavior::AddressDependent)
}

/// Hole punching by probing random ports (the birthday paradox).
pub(crate) fn birthday_punching(n: Peer, h: Peer) -> MethodVerdict {
    let method = Method::BirthdayPunching;
    if let Some(v) = udp_precondition(method, n, h) {
        return v;
    }
    let mut outcomes = Vec::new();
    for a in behaviours(n.ipv4()) {
        for b in behaviours(h.ipv4()) {
            for ra in random(n.ipv4()) {
                for rb in random(h.ipv4()) {
                    outcomes.push(birthday_outcome((n, a, ra), (h, b, rb)));
                }
            }
        }
    }
    let keys: Vec<Option<u8>> = outcomes.iter().map(|o| o.0).collect();
    let Some(key) = agreed(&keys) else {
        return MethodVerdict::new(
            method,
            Feasibility::Unknown,
            "The answer depends on a behaviour or port-allocation pattern that was not measured.",
        );
    };
    let reason = match outcomes.as_slice() {
        [(_, reason)] => reason.clone(),
        [(_, example), ..] => format!(
            "The same for every value the unmeasured fields could take. For example: {example}"
        ),
        [] => String::new(),
    };
    match key {
        None => MethodVerdict::new(method, Feasibility::Works, reason),
        Some(0) => MethodVerdict::new(method, Feasibility::Fails, reason),
        Some(directions) => {
            let estimate = birthday::estimate(directions);
            let feasibility = if estimate.success_probability >= 0.5 {
                Feasibility::Likely
            } else {
                Feasibility::Unlikely
            };
            MethodVerdict {
                method,
                feasibility,
                reason,
                success_probability: Some(estimate.success_probability),
                expected_seconds: estimate.expected_seconds,
            }
        }
    }
}

/// `None` when not needed; otherwise the number of directions that can
/// find the other side's ports, with the reason.
fn birthday_outcome(n: (Peer, Nat, bool), h: (Peer, Nat, bool)) -> (Option<u8>, String) {
    let ((np, na, nr), (hp, hb, hr)) = (n, h);
    if opens(na, hb) {
        return (
            None,
            format!(
                "Not needed: plain hole punching already works ({} ↔ {}).",
                na.short(),
                hb.short()
            ),
        );
    }
    let mut found = Vec::new();
    let mut blocked = Vec::new();
    for ((rp, rn, rr), (sp, sn)) in [((np, na, nr), (hp, hb)), ((hp, hb, hr), (np, na))] {
        if rn.eim() || !rr {
            continue;
        }
        let (r, s) = (rp.name(), sp.name());
        if birthday_direction(rn, rr, sn) {
            found.push(format!(
                "{r}'s NAT ({}) gives each destination a new random port: {r} opens {OPEN_PORTS} mappings toward {s} while {s} sends {PROBES} probes to random ports of {r}'s address; a probe that lands on an open mapping gets in and the answer returns",
                rn.short()
            ));
        } else if !(sn.eim() || rn.by_address()) {
            blocked.push(format!(
                "{r}'s NAT ({}) admits only the exact endpoint each mapping was opened toward, and {s}'s probes leave from ports its own NAT ({}) picks per destination, so no probe can pass",
                rn.short(),
                sn.short()
            ));
        } else {
            blocked.push(format!(
                "a probe from {s} can reach {r}, but {r}'s answer leaves from yet another random port ({}), which {s}'s NAT ({}) drops",
                mapping_abbrev(rn.mapping),
                sn.short()
            ));
        }
    }
    if found.is_empty() {
        let reason = if blocked.is_empty() {
            "No side's NAT allocates ports at random behind a dependent mapping: birthday punching does not apply (see port prediction).".to_string()
        } else {
            format!(
                "{}. Only a relay connects this pair.",
                capitalise(&blocked.join("; and "))
            )
        };
        return (Some(0), reason);
    }
    let directions = found.len() as u8;
    let estimate = birthday::estimate(directions);
    let time = estimate.expected_seconds.map_or(String::new(), |s| {
        format!("; expected time {s:.1} s, given success")
    });
    (
        Some(directions),
        format!(
            "{}. Over {PORT_SPACE} ports with {OPEN_PORTS} open and {PROBES} probes in {} at {PROBES_PER_SECOND} probes/s: P = 1 - (C(N-k, m)/C(N, m))^{directions} = {:.1} %{time}.",
            capitalise(&found.join("; and ")),
            if directions == 1 {
                "one direction"
            } else {
                "each of both directions"
            },
            estimate.success_probability * 100.0
        ),
    )
}
