//! Hole punching and port prediction.

use std::net::SocketAddr;

use crate::proto::nat::{FilteringBehavior as F, MappingBehavior as M, PortAllocationKind as A};
use crate::report::FamilyStatus;
use crate::sim::nat::{Allocation, Nat as SimNat, NatBehavior};

use super::*;

/// The expected result of UDP hole punching for every pair of RFC 4787
/// behaviours, rows = novice, columns = helper, both in [`BEHAVIOURS`]
/// order: EIM/EIF, EIM/ADF, EIM/APDF, ADM/EIF, ADM/ADF, ADM/APDF,
/// APDM/EIF, APDM/ADF, APDM/APDF. Written out by hand from the rules:
///
/// - EIM on both sides: works whatever the filtering (rows/columns 1–3
///   among themselves).
/// - EIM with EIF or ADF (rows 1–2) ↔ anything: the dependent side's new
///   port is admitted by address and the EIM side answers from the
///   endpoint the other sent to.
/// - EIM/APDF (row 3) ↔ ADM or APDM: fails; the exact new port is unknown.
/// - Dependent ↔ dependent: the peer's first packet lands on the mapping
///   made for the STUN server, so only an EIF side receives it; its answer
///   leaves from a new port, which only an EIF/ADF filter admits. So
///   dependent/EIF ↔ dependent/EIF or /ADF works; everything else fails.
///   ADM behaves as APDM here because the peer's address is not the
///   server's.
const HOLE_PUNCHING: [&str; 9] = [
    "111111111",
    "111111111",
    "111000000",
    "110110110",
    "110100100",
    "110000000",
    "110110110",
    "110100100",
    "110000000",
];

fn expected(i: usize, j: usize) -> bool {
    HOLE_PUNCHING[i].as_bytes()[j] == b'1'
}

/// Plays the punch in the simulator's RFC 4787 NATs: both sides learn
/// their mapped endpoint from a server, then repeatedly send to every
/// endpoint they know of the other (first its mapped endpoint, then each
/// source they received from). Success: both received something.
fn simulated_punch(a: (M, F), b: (M, F), seed: u64) -> bool {
    let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let nat = |(mapping, filtering): (M, F), ip: &str, seed| {
        SimNat::new(
            NatBehavior {
                mapping,
                filtering,
                allocation: Allocation::Random { seed },
                hairpinning: false,
            },
            ip.parse().unwrap(),
        )
    };
    let mut na = nat(a, "203.0.113.1", seed);
    let mut nb = nat(b, "198.51.100.1", seed + 1);
    let ia: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let ib: SocketAddr = "10.0.1.1:5000".parse().unwrap();
    let ea = na.outbound(ia, server);
    let eb = nb.outbound(ib, server);
    let (mut to_b, mut to_a) = (vec![eb], vec![ea]);
    let (mut a_got, mut b_got) = (false, false);
    for _ in 0..4 {
        for t in to_b.clone() {
            let src = na.outbound(ia, t);
            if nb.inbound(src, t).is_some() {
                b_got = true;
                if !to_a.contains(&src) {
                    to_a.push(src);
                }
            }
        }
        for t in to_a.clone() {
            let src = nb.outbound(ib, t);
            if na.inbound(src, t).is_some() {
                a_got = true;
                if !to_b.contains(&src) {
                    to_b.push(src);
                }
            }
        }
    }
    a_got && b_got
}

fn pair(a: (M, F), b: (M, F)) -> (ProbeReport, ProbeReport) {
    let base = NatProfile::PortRestrictedCone;
    (
        behaving(novice(base), Some(a.0), Some(a.1), Some(A::Random)),
        behaving(helper(base), Some(b.0), Some(b.1), Some(A::Random)),
    )
}

#[test]
fn hole_punching_over_all_81_behaviour_pairs_matches_the_table_and_the_simulator() {
    for (i, &a) in BEHAVIOURS.iter().enumerate() {
        for (j, &b) in BEHAVIOURS.iter().enumerate() {
            let want = expected(i, j);
            assert_eq!(expected(j, i), want, "the table is symmetric ({i},{j})");
            assert_eq!(
                simulated_punch(a, b, (i * 9 + j) as u64),
                want,
                "simulator disagrees with the table for {a:?} ↔ {b:?}"
            );
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
