//! Teredo between the two sides: plain RFC 4380, and with the RFC 6081
//! extensions that Windows 7 and later ship (`protocols.md` §5.1).

use crate::proto::nat::FilteringBehavior;
use crate::proto::teredo::TeredoNat;
use crate::report::{Rfc6081Extension, TeredoReportState};

use super::prediction::{Feasibility, Method, MethodVerdict};
use super::side::{BOOLS, Peer, agreed, completions};

/// The NAT as the Teredo peer-to-peer rules see it. Teredo itself does not
/// tell address- from port-restricted NATs apart; the STUN probe's IPv4
/// filtering does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Cone,
    AddressRestricted,
    PortRestricted,
    /// With the facts the RFC 6081 extensions depend on: a UPnP mapping of
    /// the Teredo port (§3.2), and a port-preserving (§3.3) or sequential
    /// (§3.4) allocator.
    Symmetric {
        upnp: bool,
        predictable: bool,
    },
}

impl Class {
    fn label(self) -> &'static str {
        match self {
            Self::Cone => "cone",
            Self::AddressRestricted => "address-restricted",
            Self::PortRestricted => "port-restricted",
            Self::Symmetric { .. } => "symmetric",
        }
    }
}

/// Fails when a side's client is offline, unknown when not checked.
fn qualification(method: Method, n: Peer, h: Peer) -> Option<MethodVerdict> {
    let mut unknown = None;
    for p in [n, h] {
        match p.report.teredo.state {
            TeredoReportState::Offline => {
                return Some(MethodVerdict::new(
                    method,
                    Feasibility::Fails,
                    format!(
                        "{}'s Teredo client cannot qualify (offline): the Teredo server on UDP port 3544 did not answer.",
                        p.title()
                    ),
                ));
            }
            TeredoReportState::Skipped => {
                unknown.get_or_insert_with(|| {
                    MethodVerdict::new(
                        method,
                        Feasibility::Unknown,
                        format!("{}'s Teredo qualification was not checked.", p.title()),
                    )
                });
            }
            TeredoReportState::Qualified => {}
        }
    }
    unknown
}

/// Both sides behind one NAT: their Teredo addresses carry one mapped IPv4
/// address.
fn same_nat(n: Peer, h: Peer) -> bool {
    match (
        n.report.teredo.external_mapping,
        h.report.teredo.external_mapping,
    ) {
        (Some(a), Some(b)) => a.ip() == b.ip(),
        _ => false,
    }
}

/// Plain RFC 4380: a client behind a symmetric NAT does not qualify
/// (§5.2.1); two qualified clients reach each other with direct and
/// indirect bubbles (§5.2.4, §5.2.6), except behind one NAT, where the
/// packets must hairpin.
pub(crate) fn rfc4380(n: Peer, h: Peer) -> MethodVerdict {
    let method = Method::TeredoRfc4380;
    if let Some(v) = qualification(method, n, h) {
        return v;
    }
    for p in [n, h] {
        if p.report.teredo.rfc4380_qualifies == Some(false) {
            return MethodVerdict::new(
                method,
                Feasibility::Fails,
                format!(
                    "{}'s NAT is symmetric (the two Teredo server addresses saw different mapped ports): a plain RFC 4380 client does not qualify.",
                    p.title()
                ),
            );
        }
    }
    for p in [n, h] {
        if p.report.teredo.rfc4380_qualifies.is_none() {
            return MethodVerdict::new(
                method,
                Feasibility::Unknown,
                format!(
                    "Whether {}'s NAT is symmetric was not measured (the secondary Teredo server address did not answer).",
                    p.name()
                ),
            );
        }
    }
    if same_nat(n, h) {
        let hairpin = n.ipv4().hairpinning.or(h.ipv4().hairpinning);
        let (f, words) = match hairpin {
            Some(true) => (Feasibility::Works, "which it does"),
            Some(false) => (Feasibility::Fails, "which it does not"),
            None => (Feasibility::Unknown, "which was not measured"),
        };
        return MethodVerdict::new(
            method,
            f,
            format!(
                "Both qualify but sit behind one NAT: plain RFC 4380 needs that NAT to hairpin their packets, {words}."
            ),
        );
    }
    MethodVerdict::new(
        method,
        Feasibility::Works,
        "Both clients qualify under RFC 4380 (neither NAT is symmetric): direct and indirect bubbles through the Teredo servers open both NATs (RFC 4380 §5.2.4).",
    )
}

/// Every class a side could be, given what was measured.
fn classes(p: Peer) -> Vec<Class> {
    let t = &p.report.teredo;
    let restricted = match p.ipv4().filtering {
        Some(FilteringBehavior::AddressDependent) => vec![Class::AddressRestricted],
        Some(FilteringBehavior::AddressAndPortDependent) => vec![Class::PortRestricted],
        _ => vec![Class::AddressRestricted, Class::PortRestricted],
    };
    let has = |e: Rfc6081Extension| t.rfc6081_extensions.contains(&e);
    let upnp = if has(Rfc6081Extension::UpnpSymmetricNat) {
        vec![true]
    } else {
        completions(t.nat_special.upnp, &BOOLS)
    };
    let predictable = if has(Rfc6081Extension::PortPreservingNat)
        || has(Rfc6081Extension::SequentialPortNat)
    {
        vec![true]
    } else if t.nat_special.port_preserving == Some(false) && p.ipv4().port_allocation.is_some() {
        vec![false]
    } else {
        BOOLS.to_vec()
    };
    let mut symmetric = Vec::new();
    for &u in &upnp {
        for &pr in &predictable {
            symmetric.push(Class::Symmetric {
                upnp: u,
                predictable: pr,
            });
        }
    }
    match t.nat_type {
        Some(TeredoNat::Cone) => vec![Class::Cone],
        Some(TeredoNat::Restricted) => restricted,
        Some(TeredoNat::Symmetric) => symmetric,
        Some(TeredoNat::Unknown) | None => {
            let mut all = vec![Class::Cone];
            all.extend(restricted);
            all.extend(symmetric);
            all
        }
    }
}

/// The `protocols.md` §5.1 table with the RFC 6081 extensions: whether
/// the pair connects, and why.
fn rfc6081_pair(a: (Peer, Class), b: (Peer, Class)) -> (bool, String) {
    use Class::*;
    match (a, b) {
        ((sp, Symmetric { upnp: u1, .. }), (op, Symmetric { upnp: u2, .. })) => {
            if u1 || u2 {
                let who = if u1 { sp } else { op };
                (
                    true,
                    format!(
                        "Both NATs are symmetric, but {}'s UPnP mapping of its Teredo port makes it behave as a cone NAT (RFC 6081 §3.2).",
                        who.name()
                    ),
                )
            } else {
                (
                    false,
                    "Both NATs are symmetric and neither side has UPnP: no RFC 6081 extension connects this pair (§3.2 needs UPnP on one side).".to_string(),
                )
            }
        }
        ((sp, Symmetric { upnp, predictable }), (op, PortRestricted))
        | ((op, PortRestricted), (sp, Symmetric { upnp, predictable })) => {
            if upnp {
                (
                    true,
                    format!(
                        "{}'s NAT is symmetric, but its UPnP mapping of the Teredo port makes it behave as a cone NAT toward {}'s port-restricted NAT (RFC 6081 §3.2).",
                        sp.title(),
                        op.name()
                    ),
                )
            } else if predictable {
                (
                    true,
                    format!(
                        "{}'s symmetric NAT is port-preserving or sequential, so its next port is predictable and {}'s port-restricted NAT can be opened toward it (RFC 6081 §3.3/§3.4).",
                        sp.title(),
                        op.name()
                    ),
                )
            } else {
                (
                    false,
                    format!(
                        "{}'s NAT is symmetric without UPnP, port preservation or sequential ports, and {}'s port-restricted NAT admits only the exact port it sent to (RFC 6081 §3.1 reaches only cone and address-restricted peers).",
                        sp.title(),
                        op.name()
                    ),
                )
            }
        }
        ((sp, Symmetric { .. }), (op, other)) | ((op, other), (sp, Symmetric { .. })) => (
            true,
            format!(
                "{}'s NAT is symmetric; the RFC 6081 symmetric-NAT extension (§3.1) reaches {}'s {} NAT, which admits the new port by address (RFC 6081 §6.1).",
                sp.title(),
                op.name(),
                other.label()
            ),
        ),
        ((_, x), (_, y)) => (
            true,
            format!(
                "Neither NAT is symmetric (the novice {}, the helper {}): Teredo bubbles open both (RFC 4380 §5.2.4).",
                x.label(),
                y.label()
            ),
        ),
    }
}

/// Teredo with the RFC 6081 extensions (Windows 7 and later).
pub(crate) fn rfc6081(n: Peer, h: Peer) -> MethodVerdict {
    let method = Method::TeredoRfc6081;
    if let Some(v) = qualification(method, n, h) {
        return v;
    }
    if same_nat(n, h) {
        return MethodVerdict::new(
            method,
            Feasibility::Works,
            "Both sit behind one NAT: the RFC 6081 hairpinning extension (§3.5) exchanges their local addresses and they talk directly.",
        );
    }
    let mut outcomes = Vec::new();
    for a in classes(n) {
        for b in classes(h) {
            outcomes.push(rfc6081_pair((n, a), (h, b)));
        }
    }
    let ok: Vec<bool> = outcomes.iter().map(|o| o.0).collect();
    match (agreed(&ok), outcomes.as_slice()) {
        (Some(ok), [(_, reason)]) => MethodVerdict::new(method, works(ok), reason.clone()),
        (Some(ok), [(_, example), ..]) => MethodVerdict::new(
            method,
            works(ok),
            format!(
                "The same for every NAT type and extension the unmeasured fields allow. For example: {example}"
            ),
        ),
        _ => MethodVerdict::new(
            method,
            Feasibility::Unknown,
            "The answer depends on a Teredo NAT type, UPnP or port-allocation fact that was not measured.",
        ),
    }
}

fn works(ok: bool) -> Feasibility {
    if ok {
        Feasibility::Works
    } else {
        Feasibility::Fails
    }
}
