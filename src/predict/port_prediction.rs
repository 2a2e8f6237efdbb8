//! Port prediction (RFC 5128 §3.5): behind a destination-dependent NAT
//! whose allocator is sequential or port-preserving, a side guesses the
//! port its NAT will give the mapping toward the peer and advertises that.
//! A correctly predicted dependent mapping acts, toward this peer, as an
//! endpoint-independent one in the punching game of [`super::admission`].
//! [`port_guess`] is the rule; the verdict here and the punch plan
//! ([`super::plan`]) both follow it.

use crate::proto::nat::{MappingBehavior, PortAllocation, PortAllocationKind};
use crate::proto::punch::PortGuess;
use crate::report::FamilyReport;

use super::admission::{Nat, behaviours, opens, opens_knowing};
use super::hole_punching::udp_precondition;
use super::prediction::{Feasibility, Method, MethodVerdict};
use super::side::{BOOLS, Peer, agreed, capitalise};

/// The guess a side behind a destination-dependent NAT can make for its
/// mapping toward the peer (RFC 5128 §3.5): the next port of a sequential
/// allocator with a known step, or the local port of a port-preserving
/// one; none for a random allocator or an unknown step.
pub(crate) fn port_guess(allocation: PortAllocation) -> Option<PortGuess> {
    match (allocation.kind, allocation.delta) {
        (PortAllocationKind::Sequential, Some(delta)) => Some(PortGuess::Sequential { delta }),
        (PortAllocationKind::Preserving, _) => Some(PortGuess::Preserving),
        (PortAllocationKind::Sequential, None) | (PortAllocationKind::Random, _) => None,
    }
}

/// Whether a side's next port can be predicted: preserving or sequential
/// with a known step (RFC 5128 §3.5); every value when not measured.
fn predictable(family: &FamilyReport) -> Vec<bool> {
    match family.port_allocation {
        Some(PortAllocation {
            kind: PortAllocationKind::Sequential,
            delta: None,
        })
        | None => BOOLS.to_vec(),
        Some(a) => vec![port_guess(a).is_some()],
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
