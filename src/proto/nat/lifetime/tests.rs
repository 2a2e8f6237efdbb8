//! The lifetime machine in the simulated world, against NATs whose idle
//! mappings expire after a set time, in virtual time.

use std::net::IpAddr;

use super::*;
use crate::proto::nat::{FilteringBehavior, MappingBehavior};
use crate::proto::stun::{Responder, ResponderConfig};
use crate::sim::nat::{Allocation, Nat, NatBehavior};
use crate::sim::wire::Link;
use crate::sim::world::{Uplink, World};

const PRIMARY: &str = "198.51.100.1:3478";
const ALTERNATE: &str = "198.51.100.2:3479";
const RTT: Duration = Duration::from_millis(20);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The usual home router: endpoint-independent mapping, port-restricted
/// filtering (RFC 4787), ports preserved.
fn port_restricted() -> NatBehavior {
    NatBehavior {
        mapping: MappingBehavior::EndpointIndependent,
        filtering: FilteringBehavior::AddressAndPortDependent,
        allocation: Allocation::Preserving,
        hairpinning: false,
    }
}

/// How the server treats the test.
#[derive(Clone, Copy)]
enum Server {
    Honours,
    /// Answers to the request's source port whatever RESPONSE-PORT says.
    IgnoresResponsePort,
    /// Falls silent this long after round 1 started.
    FallsSilent(Duration),
}

/// A responder that answers every request at its source, as a server
/// without RFC 5780 §7.5 does.
struct IgnoresResponsePort {
    responder: Responder,
    from: Option<SocketAddr>,
}

impl Machine for IgnoresResponsePort {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        self.responder.poll_bind()
    }
    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr) {
        self.responder.handle_bound(now, socket, local);
    }
    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        self.from = Some(from);
        self.responder.handle_input(now, socket, from, bytes);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.responder.handle_timeout(now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        let mut t = self.responder.poll_transmit()?;
        t.destination = self.from?;
        Some(t)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.responder.poll_timeout()
    }
    fn is_done(&self) -> bool {
        false
    }
}

struct Run {
    result: LifetimeResult,
    events: Vec<LifetimeEvent>,
    took: Duration,
}

/// Measures behind a NAT whose idle mappings live `lifetime` (`None`: for
/// ever), with `loss` on every link.
fn measure(
    behavior: NatBehavior,
    lifetime: Option<Duration>,
    bound: Duration,
    loss: f64,
    seed: u64,
    server: Server,
) -> Run {
    let primary = addr(PRIMARY);
    let start = Instant::now();
    let mut world = World::new(
        start,
        Link {
            one_way: RTT / 2,
            loss,
            seed,
        },
    );
    let servers = world.add_host(&[primary.ip(), addr(ALTERNATE).ip()], Uplink::Public);
    let responder = Responder::new(ResponderConfig::new(primary, Some(addr(ALTERNATE))).unwrap());
    match server {
        Server::IgnoresResponsePort => {
            world.add(
                servers,
                IgnoresResponsePort {
                    responder,
                    from: None,
                },
            );
        }
        Server::Honours | Server::FallsSilent(_) => {
            world.add(servers, responder);
        }
    }
    let mut nat = Nat::new(behavior, IpAddr::from([203, 0, 113, 1]));
    if let Some(lifetime) = lifetime {
        nat = nat.with_lifetime(lifetime);
    }
    let nat = world.add_nat(nat);
    let host = world.add_host(&[IpAddr::from([10, 0, 1, 2])], Uplink::Behind(nat));
    let config = LifetimeConfig::new(primary, bound);
    let node = world.add(host, Lifetime::new(config, seed));
    let limit = start + config.worst_case();
    let mut events = Vec::new();
    let run = |w: &mut World, events: &mut Vec<LifetimeEvent>, limit| {
        w.run_until(
            |w| {
                let m = w.machine_mut::<Lifetime>(node);
                while let Some(e) = m.poll_event() {
                    events.push(e);
                }
                m.is_done() || (limit.is_none() && !events.is_empty())
            },
            limit,
        )
    };
    if let Server::FallsSilent(after) = server {
        run(&mut world, &mut events, None);
        world.run_for(after);
        world.silence(primary.ip());
    }
    run(&mut world, &mut events, Some(limit));
    let result = world
        .machine::<Lifetime>(node)
        .result()
        .cloned()
        .expect("the machine ends within its worst case");
    Run {
        result,
        events,
        took: world.elapsed(),
    }
}

/// The bracket, which must hold `lifetime`: the NAT counts idleness from
/// X's request, the machine from X's answer, and the test's answer reaches
/// the NAT a round trip after it leaves, so the NAT's idle time exceeds
/// the machine's by up to two round trips.
fn assert_brackets(result: &LifetimeResult, lifetime: Duration) -> (Duration, Duration) {
    let LifetimeOutcome::Measured { alive, expired } = result.outcome else {
        panic!("not measured: {result:?}");
    };
    assert!(alive < lifetime, "alive {alive:?} beyond {lifetime:?}");
    assert!(
        expired + RTT * 2 >= lifetime,
        "expired {expired:?} before {lifetime:?}"
    );
    (alive, expired)
}

#[test]
fn the_bracket_holds_the_lifetime_to_a_tenth_or_a_second() {
    for lifetime in [3, 8, 30, 100] {
        let lifetime = secs(lifetime);
        let run = measure(
            port_restricted(),
            Some(lifetime),
            secs(180),
            0.0,
            1,
            Server::Honours,
        );
        let (alive, expired) = assert_brackets(&run.result, lifetime);
        let target = secs(1).max(alive / 10);
        assert!(expired - alive <= target, "{alive:?}..{expired:?}");
        assert!(run.result.notes.is_empty(), "{:?}", run.result.notes);
        // Round 1 ends soon after the first expiry, each later round
        // within the lifetime: far less than the bound per round.
        assert!(
            run.took < lifetime * 3 + secs(10),
            "{lifetime:?} took {:?}",
            run.took
        );
    }
}

#[test]
fn a_symmetric_nat_is_measured_the_same_way() {
    let behavior = NatBehavior {
        mapping: MappingBehavior::AddressAndPortDependent,
        filtering: FilteringBehavior::AddressAndPortDependent,
        allocation: Allocation::Random { seed: 5 },
        hairpinning: false,
    };
    let run = measure(behavior, Some(secs(8)), secs(60), 0.0, 2, Server::Honours);
    assert_brackets(&run.result, secs(8));
}

#[test]
fn loss_never_reads_as_an_early_expiry() {
    let lifetime = secs(20);
    for seed in 1..=12 {
        let run = measure(
            port_restricted(),
            Some(lifetime),
            secs(60),
            0.1,
            seed,
            Server::Honours,
        );
        assert_brackets(&run.result, lifetime);
    }
}

#[test]
fn a_mapping_that_outlives_the_bound_is_reported_as_longer() {
    let run = measure(port_restricted(), None, secs(20), 0.0, 3, Server::Honours);
    assert_eq!(run.result.rounds, 1);
    let LifetimeOutcome::Longer { alive } = run.result.outcome else {
        panic!("{:?}", run.result);
    };
    assert!(alive >= secs(20), "{alive:?}");
    assert!(run.took < secs(25), "{:?}", run.took);
}

#[test]
fn a_server_that_ignores_response_port_is_found_at_once() {
    let run = measure(
        port_restricted(),
        Some(secs(30)),
        secs(180),
        0.0,
        4,
        Server::IgnoresResponsePort,
    );
    let LifetimeOutcome::NotMeasured { reason } = &run.result.outcome else {
        panic!("{:?}", run.result);
    };
    assert!(reason.contains("ignores RESPONSE-PORT"), "{reason}");
    assert!(run.events.is_empty());
    assert!(run.took < secs(1), "{:?}", run.took);
}

#[test]
fn a_server_falling_silent_is_not_read_as_expiry() {
    // Silent before the mappings of round 1 are made, and after.
    for after in [Duration::ZERO, secs(3)] {
        let run = measure(
            port_restricted(),
            Some(secs(30)),
            secs(180),
            0.0,
            5,
            Server::FallsSilent(after),
        );
        let LifetimeOutcome::NotMeasured { reason } = &run.result.outcome else {
            panic!("{:?}", run.result);
        };
        assert!(reason.contains("stopped answering"), "{reason}");
    }
}

#[test]
fn progress_names_each_round_and_the_bracket_so_far() {
    let run = measure(
        port_restricted(),
        Some(secs(8)),
        secs(180),
        0.0,
        6,
        Server::Honours,
    );
    let LifetimeEvent::Round {
        round,
        alive,
        expired,
        longest_wait,
    } = run.events[0].clone();
    assert_eq!((round, expired, longest_wait), (1, None, secs(180)));
    assert!(alive.is_some_and(|a| a < secs(1)), "{alive:?}");
    let LifetimeEvent::Round { round, expired, .. } = run.events[1].clone();
    assert_eq!(round, 2);
    assert!(
        expired.is_some_and(|e| e >= secs(8) && e <= secs(10)),
        "{expired:?}"
    );
    assert_eq!(run.result.rounds, u32::try_from(run.events.len()).unwrap());
}

#[test]
fn the_ladder_grows_by_a_quarter_up_to_the_bound() {
    let waits = ladder(secs(1), secs(180));
    assert_eq!(&waits[..8], &[1, 2, 3, 4, 5, 7, 9, 12].map(secs));
    assert_eq!(waits.last(), Some(&secs(180)));
    assert!(waits.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(ladder(secs(1), secs(1)), vec![secs(1)]);
}
