//! Hole punching and port prediction.

use crate::proto::nat::{FilteringBehavior as F, MappingBehavior as M, PortAllocationKind as A};
use crate::report::FamilyStatus;

use super::*;

/// The expected result of UDP hole punching for every pair of RFC 4787
/// behaviours, rows = novice, columns = helper, both in [`BEHAVIOURS`]
/// order: EIM/EIF, EIM/ADF, EIM/APDF, ADM/EIF, ADM/ADF, ADM/APDF,
/// APDM/EIF, APDM/ADF, APDM/APDF. Written out by hand from the rules (a
/// check counts only when answered from where it went, RFC 8445
/// §7.2.5.2.1):
///
/// - EIM on both sides: works whatever the filtering (rows/columns 1–3
///   among themselves).
/// - EIM with EIF or ADF (rows 1–2) ↔ anything: the dependent side's check
///   from its new port is admitted by address, and the EIM side answers
///   from the endpoint it was sent to.
/// - EIM/APDF (row 3) ↔ ADM or APDM: fails; the exact new port is unknown.
/// - APDM ↔ APDM: fails. Every answer leaves from a new mapping, never
///   from the endpoint the check went to.
/// - ADM ↔ dependent: an ADM side keeps one port toward the peer's
///   address, which the peer learns from its check. Works when the peer
///   admits that check (the peer is EIF; or ADF, with the ADM side EIF so
///   that it checks back at the peer's own mapping toward it) and the ADM
///   side admits the peer's check back (it filters by address only).
///
/// `crate::sim::sweep` runs the real punch machine over these pairs (and
/// every port allocation) and holds it to the same verdicts.
const HOLE_PUNCHING: [&str; 9] = [
    "111111111",
    "111111111",
    "111000000",
    "110110110",
    "110100100",
    "110000000",
    "110110000",
    "110100000",
    "110000000",
];

fn expected(i: usize, j: usize) -> bool {
    HOLE_PUNCHING[i].as_bytes()[j] == b'1'
}

fn pair(a: (M, F), b: (M, F)) -> (ProbeReport, ProbeReport) {
    let base = NatProfile::PortRestrictedCone;
    (
        behaving(novice(base), Some(a.0), Some(a.1), Some(A::Random)),
        behaving(helper(base), Some(b.0), Some(b.1), Some(A::Random)),
    )
}

#[test]
fn hole_punching_over_all_81_behaviour_pairs_matches_the_table() {
    for (i, &a) in BEHAVIOURS.iter().enumerate() {
        for (j, &b) in BEHAVIOURS.iter().enumerate() {
            let want = expected(i, j);
            assert_eq!(expected(j, i), want, "the table is symmetric ({i},{j})");
            let (n, h) = pair(a, b);
            let v = predict(&n, &h);
            let got = verdict(&v, Method::HolePunching);
            let f = if want {
                Feasibility::Works
            } else {
                Feasibility::Fails
            };
            assert_eq!(got.feasibility, f, "{a:?} ↔ {b:?}: {}", got.reason);
            assert!(
                got.reason.contains("the novice") && got.reason.contains("the helper"),
                "reason names the sides: {}",
                got.reason
            );
        }
    }
}

#[test]
fn hole_punching_needs_both_sides_measured_unless_the_answer_is_certain() {
    use NatProfile::*;
    // A full cone admits anyone and answers from its one mapping: the
    // helper's unmeasured mapping cannot change the result.
    let h = behaving(helper(PortRestrictedCone), None, None, None);
    let v = predict(&novice(FullCone), &h);
    assert_eq!(
        verdict(&v, Method::HolePunching).feasibility,
        Feasibility::Works
    );
    // Against a port-restricted cone it can.
    let v = predict(&novice(PortRestrictedCone), &h);
    let hp = verdict(&v, Method::HolePunching);
    assert_eq!(hp.feasibility, Feasibility::Unknown);
    assert!(
        hp.reason.contains("the helper's IPv4 mapping behaviour"),
        "{}",
        hp.reason
    );
    // Filtering alone missing, on a symmetric NAT facing a port-restricted one:
    // fails whatever the filtering.
    let h = behaving(
        helper(SymmetricRandom),
        Some(M::AddressAndPortDependent),
        None,
        Some(A::Random),
    );
    assert_eq!(
        feasibility(&novice(PortRestrictedCone), &h, Method::HolePunching),
        Feasibility::Fails
    );
}

#[test]
fn hole_punching_fails_when_udp_is_blocked_and_is_unknown_without_a_server() {
    use NatProfile::*;
    assert_eq!(
        feasibility(&novice(FullCone), &helper(UdpBlocked), Method::HolePunching),
        Feasibility::Fails
    );
    let mut h = helper(FullCone);
    h.ipv4 = crate::report::FamilyReport::unmeasured(FamilyStatus::NoServer, "none");
    for m in [
        Method::HolePunching,
        Method::PortPrediction,
        Method::BirthdayPunching,
    ] {
        assert_eq!(
            feasibility(&novice(PortRestrictedCone), &h, m),
            Feasibility::Unknown
        );
    }
    // A blocked side beats an unmeasured one: nothing can be punched.
    assert_eq!(
        feasibility(&novice(UdpBlocked), &h, Method::HolePunching),
        Feasibility::Fails
    );
}

#[test]
fn port_prediction_by_allocation_pattern() {
    use NatProfile::*;
    let pr = novice(PortRestrictedCone);
    let seq = helper(SymmetricSequential);
    let v = predict(&pr, &seq);
    let pp = verdict(&v, Method::PortPrediction);
    assert_eq!(pp.feasibility, Feasibility::Likely, "{}", pp.reason);
    assert!(
        pp.reason.contains("step +1") && pp.reason.contains("RFC 5128 §3.5"),
        "{}",
        pp.reason
    );
    // A port-preserving symmetric NAT: the fresh-local-port trick.
    let pres = behaving(
        helper(SymmetricRandom),
        Some(M::AddressAndPortDependent),
        Some(F::AddressAndPortDependent),
        Some(A::Preserving),
    );
    let pp = predict(&pr, &pres);
    assert_eq!(
        verdict(&pp, Method::PortPrediction).feasibility,
        Feasibility::Likely
    );
    // Random: nothing to predict.
    let v = predict(&pr, &helper(SymmetricRandom));
    let pp = verdict(&v, Method::PortPrediction);
    assert_eq!(pp.feasibility, Feasibility::Fails);
    assert!(
        pp.reason.contains("helper's NAT") && pp.reason.contains("random"),
        "{}",
        pp.reason
    );
    // Both sequential symmetric: both predicted, as EIM/APDF ↔ EIM/APDF.
    assert_eq!(
        feasibility(&novice(SymmetricSequential), &seq, Method::PortPrediction),
        Feasibility::Likely
    );
    // Sequential ↔ random symmetric: the random side still cannot be found.
    assert_eq!(
        feasibility(
            &novice(SymmetricSequential),
            &helper(SymmetricRandom),
            Method::PortPrediction
        ),
        Feasibility::Fails
    );
    // Not needed when plain punching works.
    let v = predict(&novice(FullCone), &seq);
    let pp = verdict(&v, Method::PortPrediction);
    assert_eq!(pp.feasibility, Feasibility::Works);
    assert!(pp.reason.starts_with("Not needed"), "{}", pp.reason);
    // The allocation of the dependent side not measured: unknown.
    let unmeasured = behaving(
        helper(SymmetricRandom),
        Some(M::AddressAndPortDependent),
        Some(F::AddressAndPortDependent),
        None,
    );
    assert_eq!(
        feasibility(&pr, &unmeasured, Method::PortPrediction),
        Feasibility::Unknown
    );
}
