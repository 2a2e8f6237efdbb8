//! The whole scenario space, both sides: every gateway the simulator
//! offers (open Internet, UDP blocked, and every RFC 4787 mapping ×
//! filtering × port allocation × hairpinning) against every other. For
//! each pair the real probe runs behind each side, the prediction is made
//! from the two reports, and the real punch runs with the plan the
//! reports give: the simulated probe must equal the configured NAT, the
//! prediction the simulated outcome, and, for the pairs `ranat matrix`
//! shows, the matrix's ranat column the outcome too (a direct method when
//! the punch connects, the relay when it fails).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};

use super::lab::Gateway;
use super::pair::{self, Meeting, Side};
use super::reports::{gateways, probe};
use crate::predict::{
    Method, NatProfile, PunchExpectation, matrix, predict, punch_plan, synthetic_report,
};
use crate::proto::punch::{Credentials, PunchOutcome};
use crate::report::ProbeReport;

/// The matrix profile whose synthetic report has `report`'s IPv4
/// behaviour, if one has (hairpinning aside: the matrix's sides sit behind
/// different NATs).
fn profile(report: &ProbeReport) -> Option<NatProfile> {
    let key = |r: &ProbeReport| {
        let f = &r.ipv4;
        (
            f.status,
            f.classic,
            f.mapping,
            f.filtering,
            f.port_allocation.map(|a| (a.kind, a.delta)),
        )
    };
    NatProfile::ALL
        .into_iter()
        .find(|p| key(&synthetic_report(*p, Ipv4Addr::new(203, 0, 113, 7))) == key(report))
}

fn credentials(seed: u8) -> Credentials {
    let mut n = seed;
    Credentials::generate(|| {
        n = n.wrapping_mul(37).wrapping_add(17);
        n
    })
}

#[test]
fn every_prediction_equals_the_simulated_punch() {
    let sides: Vec<(Gateway, ProbeReport)> =
        gateways(11).into_iter().map(|g| (g, probe(g))).collect();
    let peers: Vec<(Gateway, ProbeReport)> =
        gateways(23).into_iter().map(|g| (g, probe(g))).collect();
    let mut scenarios = 0;
    let mut connected = 0;
    let mut wrong: Vec<String> = Vec::new();
    let server: SocketAddr = "198.51.100.1:3478".parse().expect("constant");
    let cells = matrix();
    let mut matrix_pairs = BTreeSet::new();
    for (i, (ga, ra)) in sides.iter().enumerate() {
        for (j, (gb, rb)) in peers.iter().enumerate() {
            let expectation = predict(ra, rb).punch_expectation();
            assert_ne!(
                expectation,
                PunchExpectation::Unknown,
                "every field was measured, so no verdict may be unknown: {ga:?} / {gb:?}"
            );
            let expected = matches!(
                expectation,
                PunchExpectation::Connects | PunchExpectation::Likely
            );
            let configs = [
                punch_plan(ra, rb, false).config(credentials(1), Some(server)),
                punch_plan(rb, ra, false).config(credentials(2), Some(server)),
            ];
            let trial = pair::punch(
                [Side::new(*ga), Side::new(*gb)],
                configs,
                Meeting::default(),
                (i * 1000 + j) as u64,
            );
            let ends = trial
                .outcomes
                .iter()
                .map(|o| matches!(o, Some(PunchOutcome::Connected(_))))
                .collect::<Vec<_>>();
            assert_eq!(ends[0], ends[1], "one side only: {trial:?}\n{ga:?}\n{gb:?}");
            if trial.connected() != expected {
                let short = |g: &Gateway| match g {
                    Gateway::Nat { behavior: b, .. } => {
                        format!("{:?}/{:?}/{:?}", b.mapping, b.filtering, b.allocation)
                    }
                    other => format!("{other:?}"),
                };
                wrong.push(format!(
                    "{expectation:?} but {} : {} <-> {}",
                    if trial.connected() {
                        "connected"
                    } else {
                        "failed"
                    },
                    short(ga),
                    short(gb)
                ));
            }
            if let (Some(pa), Some(pb)) = (profile(ra), profile(rb)) {
                let cell = cells
                    .iter()
                    .find(|c| c.novice == pa && c.helper == pb)
                    .expect("every pair is in the matrix");
                let direct = cell.ranat.via.first() != Some(&Method::Relay);
                if direct != trial.connected() {
                    wrong.push(format!(
                        "matrix {pa:?} × {pb:?} says \"{}\" but the punch {}",
                        cell.ranat.summary,
                        if trial.connected() {
                            "connected"
                        } else {
                            "failed"
                        }
                    ));
                }
                matrix_pairs.insert((pa.label(), pb.label()));
            }
            scenarios += 1;
            connected += usize::from(trial.connected());
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(scenarios, 56 * 56);
    assert_eq!(matrix_pairs.len(), 49, "every matrix pair was simulated");
    assert!(
        connected > 1000 && connected < scenarios - 500,
        "{connected}"
    );
}
