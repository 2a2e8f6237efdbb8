//! Punching to a port that is not known but guessed: port prediction for
//! sequential or preserving allocators (RFC 5128 §3.5), and birthday-paradox
//! probing for random ones (the maths is in [`super::birthday`]). Both use
//! the punching game of [`super::admission`]: a correctly predicted dependent
//! mapping acts, toward this peer, as an endpoint-independent one.

use crate::proto::nat::{MappingBehavior, PortAllocationKind};
use crate::report::FamilyReport;

use super::admission::{Nat, behaviours, opens, opens_knowing};
use super::birthday::{self, OPEN_PORTS, PORT_SPACE, PROBES, PROBES_PER_SECOND};
use super::hole_punching::udp_precondition;
use super::prediction::{Feasibility, Method, MethodVerdict};
use super::side::{BOOLS, Peer, agreed, capitalise, mapping_abbrev};

/// Whether a side's next port can be predicted: preserving or sequential
/// with a known step (RFC 5128 §3.5); every value when not measured.
fn predictable(family: &FamilyReport) -> Vec<bool> {
    match family.port_allocation {
        Some(a) => match (a.kind, a.delta) {
            (PortAllocationKind::Preserving, _) | (PortAllocationKind::Sequential, Some(_)) => {
                vec![true]
            }
            (PortAllocationKind::Sequential, None) => BOOLS.to_vec(),
            (PortAllocationKind::Random, _) => vec![false],
        },
        None => BOOLS.to_vec(),
    }
}

/// As the peer sees it, a guessed mapping acts as EIM: an address-dependent
/// one toward every port of the peer's address, an address-and-port-
/// dependent one only toward the endpoint it was guessed for, so only when
/// the peer checks from an endpoint known in advance (`peer_known`: it
/// keeps one mapping, or its own is guessed).
fn predicted(nat: Nat, predictable: bool, peer_known: bool) -> Nat {
    let usable = match nat.mapping {
        MappingBehavior::EndpointIndependent => false,
        MappingBehavior::AddressDependent => predictable,
        MappingBehavior::AddressAndPortDependent => predictable && peer_known,
    };
    if usable {
        Nat::new(MappingBehavior::EndpointIndependent, nat.filtering)
    } else {
        nat
    }
}

fn prediction_words(p: Peer, nat: Nat) -> String {
    let kind = p.ipv4().port_allocation;
    match kind.map(|a| (a.kind, a.delta)) {
        Some((PortAllocationKind::Sequential, Some(delta))) => format!(
            "{}'s NAT ({}) allocates ports sequentially (step {delta:+}): it learns its last port from the STUN server and advertises last {} {} (RFC 5128 §3.5)",
            p.name(),
            nat.short(),
            if delta < 0 { "-" } else { "+" },
            delta.unsigned_abs()
        ),
        _ => format!(
            "{}'s NAT ({}) preserves ports: it punches from a fresh local port and advertises that number as its external port (as RFC 6081 §3.3 does)",
            p.name(),
            nat.short()
        ),
    }
}

/// Hole punching where a dependent side's port toward the peer is predicted.
pub(crate) fn port_prediction(n: Peer, h: Peer) -> MethodVerdict {
    let method = Method::PortPrediction;
    if let Some(v) = udp_precondition(method, n, h) {
        return v;
    }
    let mut outcomes = Vec::new();
    for a in behaviours(n.ipv4()) {
        for b in behaviours(h.ipv4()) {
            for pa in predictable(n.ipv4()) {
                for pb in predictable(h.ipv4()) {
                    outcomes.push(prediction_outcome((n, a, pa), (h, b, pb)));
                }
            }
        }
    }
    let feasibility: Vec<Feasibility> = outcomes.iter().map(|o| o.0).collect();
    match (agreed(&feasibility), outcomes.as_slice()) {
        (Some(f), [(_, reason)]) => MethodVerdict::new(method, f, reason),
        (Some(f), [(_, example), ..]) => MethodVerdict::new(
            method,
            f,
            format!(
                "The same for every value the unmeasured fields could take. For example: {example}"
            ),
        ),
        _ => MethodVerdict::new(
            method,
            Feasibility::Unknown,
            "The answer depends on a behaviour or port-allocation pattern that was not measured.",
        ),
    }
}

fn prediction_outcome(n: (Peer, Nat, bool), h: (Peer, Nat, bool)) -> (Feasibility, String) {
    let ((np, na, npred), (hp, hb, hpred)) = (n, h);
    if opens(na, hb) {
        return (
            Feasibility::Works,
            format!(
                "Not needed: plain hole punching already works ({} ↔ {}); the prediction of an endpoint-independent mapping is its mapped port.",
                na.short(),
                hb.short()
            ),
        );
    }
    let dependent = |nat: Nat| !nat.eim();
    let (ea, eb) = (
        predicted(na, npred, hb.eim() || hpred),
        predicted(hb, hpred, na.eim() || npred),
    );
    let known = |nat: Nat, pred: bool| nat.eim() || pred;
    if opens_knowing(ea, eb, known(na, npred), known(hb, hpred)) {
        let mut how = Vec::new();
        for (p, nat, guessed, pred) in [(np, na, ea, npred), (hp, hb, eb, hpred)] {
            if nat != guessed || (dependent(nat) && pred) {
                how.push(prediction_words(p, nat));
            }
        }
        return (
            Feasibility::Likely,
            format!(
                "{}; punching then proceeds as with an endpoint-independent mapping. Another mapping made on the same NAT in between (another host or program) spoils the guess, hence only likely.",
                capitalise(&how.join("; and "))
            ),
        );
    }
    let mut why = Vec::new();
    for (p, nat, pred) in [(np, na, npred), (hp, hb, hpred)] {
        if dependent(nat) && !pred {
            why.push(format!(
                "{}'s NAT ({}) allocates ports at random: there is nothing to predict",
                p.name(),
                nat.short()
            ));
        }
    }
    if why.is_empty() {
        why.push(
            "even with the guessed ports, no check can get in and be answered from where it went"
                .to_string(),
        );
    }
    (
        Feasibility::Fails,
        format!("{} (see birthday punching).", capitalise(&why.join("; "))),
    )
}

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
