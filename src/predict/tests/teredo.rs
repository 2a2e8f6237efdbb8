//! Teredo under RFC 4380 and with the RFC 6081 extensions.

use crate::proto::nat::FilteringBehavior as F;
use crate::proto::teredo::TeredoNat;
use crate::report::{Rfc6081Extension, TeredoReportState};

use super::*;

/// The `protocols.md` §5.1 table, by hand: novice rows, helper columns in
/// the order cone, address-restricted, port-restricted, symmetric (no
/// UPnP, random), symmetric sequential, symmetric with UPnP.
const RFC6081: [&str; 6] = [
    "111111", // cone ↔ all (symmetric via §3.1)
    "111111", // address-restricted ↔ all (§3.1, §6.1)
    "111011", // port-restricted ↔ plain symmetric fails; sequential (§3.4), UPnP (§3.2) work
    "110001", // symmetric ↔ port-restricted and symmetric fail unless the other has UPnP
    "111001", // sequential symmetric ↔ port-restricted works (§3.4), ↔ symmetric only with UPnP
    "111111", // UPnP symmetric behaves as cone (§3.2)
];

fn teredo_side(base: ProbeReport, column: usize) -> ProbeReport {
    let mut r = base;
    let t = &mut r.teredo;
    t.state = TeredoReportState::Qualified;
    t.nat_special.upnp = Some(false);
    t.nat_special.port_preserving = Some(false);
    t.rfc6081_extensions = vec![Rfc6081Extension::ServerLoadReduction];
    t.rfc4380_qualifies = Some(true);
    r.ipv4.port_allocation = Some(crate::proto::nat::PortAllocation {
        kind: crate::proto::nat::PortAllocationKind::Random,
        delta: None,
    });
    match column {
        0 => t.nat_type = Some(TeredoNat::Cone),
        1 | 2 => {
            t.nat_type = Some(TeredoNat::Restricted);
            r.ipv4.filtering = Some(if column == 1 {
                F::AddressDependent
            } else {
                F::AddressAndPortDependent
            });
        }
        _ => {
            t.nat_type = Some(TeredoNat::Symmetric);
            t.rfc4380_qualifies = Some(false);
            t.rfc6081_extensions.push(Rfc6081Extension::SymmetricNat);
            if column == 4 {
                t.rfc6081_extensions
                    .push(Rfc6081Extension::SequentialPortNat);
            }
            if column == 5 {
                t.nat_special.upnp = Some(true);
                t.rfc6081_extensions
                    .push(Rfc6081Extension::UpnpSymmetricNat);
            }
        }
    }
    r
}

#[test]
fn rfc6081_follows_the_windows_7_table() {
    for (i, row) in RFC6081.iter().enumerate() {
        for (j, cell) in row.bytes().enumerate() {
            let n = teredo_side(novice(NatProfile::PortRestrictedCone), i);
            let h = teredo_side(helper(NatProfile::PortRestrictedCone), j);
            let v = predict(&n, &h);
            let t = verdict(&v, Method::TeredoRfc6081);
            let want = if cell == b'1' {
                Feasibility::Works
            } else {
                Feasibility::Fails
            };
            assert_eq!(t.feasibility, want, "row {i} column {j}: {}", t.reason);
            assert_eq!(RFC6081[j].as_bytes()[i], cell, "the table is symmetric");
            // Plain RFC 4380: only pairs without a symmetric NAT.
            let plain = if i < 3 && j < 3 {
                Feasibility::Works
            } else {
                Feasibility::Fails
            };
            assert_eq!(
                verdict(&v, Method::TeredoRfc4380).feasibility,
                plain,
                "{i} {j}"
            );
        }
    }
}

#[test]
fn offline_fails_skipped_is_unknown_and_unmeasured_facts_are_unknown() {
    use NatProfile::*;
    let v = predict(&novice(UdpBlocked), &helper(FullCone));
    for m in [Method::TeredoRfc4380, Method::TeredoRfc6081] {
        let t = verdict(&v, m);
        assert_eq!(t.feasibility, Feasibility::Fails);
        assert!(
            t.reason
                .contains("The novice's Teredo client cannot qualify"),
            "{}",
            t.reason
        );
    }
    let mut h = helper(FullCone);
    h.teredo = crate::report::TeredoReport::skipped("--no-teredo", None);
    for m in [Method::TeredoRfc4380, Method::TeredoRfc6081] {
        assert_eq!(feasibility(&novice(FullCone), &h, m), Feasibility::Unknown);
    }
    // Symmetric without knowing UPnP, facing a port-restricted NAT: unknown.
    let mut sym = teredo_side(novice(SymmetricRandom), 3);
    sym.teredo.nat_special.upnp = None;
    let pr = teredo_side(helper(PortRestrictedCone), 2);
    assert_eq!(
        feasibility(&sym, &pr, Method::TeredoRfc6081),
        Feasibility::Unknown
    );
    // The same against a cone NAT: works whatever UPnP is.
    let cone = teredo_side(helper(FullCone), 0);
    assert_eq!(
        feasibility(&sym, &cone, Method::TeredoRfc6081),
        Feasibility::Works
    );
    // Restricted, but the STUN filtering unknown, against a plain symmetric
    // NAT: address- or port-restricted decides, so unknown.
    let mut r = teredo_side(helper(PortRestrictedCone), 2);
    r.ipv4.filtering = None;
    let plain = teredo_side(novice(SymmetricRandom), 3);
    assert_eq!(
        feasibility(&plain, &r, Method::TeredoRfc6081),
        Feasibility::Unknown
    );
    // RFC 4380 symmetry not measured.
    let mut q = helper(FullCone);
    q.teredo.rfc4380_qualifies = None;
    assert_eq!(
        feasibility(&novice(FullCone), &q, Method::TeredoRfc4380),
        Feasibility::Unknown
    );
}

#[test]
fn behind_one_nat_rfc4380_needs_hairpinning_and_rfc6081_does_not() {
    let n = novice(NatProfile::PortRestrictedCone);
    let h = synthetic_report(NatProfile::PortRestrictedCone, NOVICE_IP);
    // The synthetic NAT does not hairpin.
    assert_eq!(
        feasibility(&n, &h, Method::TeredoRfc4380),
        Feasibility::Fails
    );
    assert_eq!(
        feasibility(&n, &h, Method::TeredoRfc6081),
        Feasibility::Works
    );
}
