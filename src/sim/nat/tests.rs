//! The simulated NAT against the birthday-paradox formula it stands for.

use std::net::SocketAddr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Allocation, Nat as SimNat, NatBehavior};
use crate::predict::{OPEN_PORTS, PROBES, birthday_estimate};
use crate::proto::nat::{FilteringBehavior as F, MappingBehavior as M};

/// The one-sided birthday attack played in the simulator: the random side
/// opens `OPEN_PORTS` mappings toward the EIM/APDF side's endpoint, which
/// probes `PROBES` random ports; the hit rate over many seeds must match
/// the formula.
#[test]
fn birthday_probability_matches_the_simulator() {
    let trials = 200;
    let mut hits = 0;
    let easy_int: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let now = std::time::Instant::now();
    for seed in 0..trials {
        let mut easy = SimNat::new(
            NatBehavior {
                mapping: M::EndpointIndependent,
                filtering: F::AddressAndPortDependent,
                allocation: Allocation::Preserving,
                hairpinning: false,
            },
            "203.0.113.1".parse().unwrap(),
        );
        let hard_ip = "198.51.100.1".parse().unwrap();
        let mut hard = SimNat::new(
            NatBehavior {
                mapping: M::AddressAndPortDependent,
                filtering: F::AddressAndPortDependent,
                allocation: Allocation::Random { seed },
                hairpinning: false,
            },
            hard_ip,
        );
        let easy_ext = easy.outbound(now, easy_int, "192.0.2.1:3478".parse().unwrap());
        for i in 0..OPEN_PORTS {
            let internal = SocketAddr::new("10.0.1.1".parse().unwrap(), 20000 + i as u16);
            hard.outbound(now, internal, easy_ext);
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let mut probed = std::collections::HashSet::new();
        while probed.len() < PROBES as usize {
            probed.insert(rng.random_range(1024..=65535u16));
        }
        let hit = probed.iter().any(|&port| {
            let to = SocketAddr::new(hard_ip, port);
            let from = easy.outbound(now, easy_int, to);
            hard.inbound(now, from, to).is_some()
        });
        hits += u32::from(hit);
    }
    let observed = f64::from(hits) / f64::from(trials as u32);
    let p = birthday_estimate(1).success_probability;
    assert!(
        (observed - p).abs() < 0.1,
        "simulated {observed}, formula {p}"
    );
}
