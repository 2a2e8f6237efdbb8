//! A probe lab: one client, an optional NAT, and an RFC 5780 server, set up
//! in the simulated [`World`], where the real [`Discovery`] and
//! [`Responder`] machines run unchanged.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::nat::{Nat, NatBehavior};
use super::wire::Link;
use super::world::{Uplink, World};
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};
use crate::proto::nat::{Discovery, DiscoveryConfig, Observation};
use crate::proto::stun::{Responder, ResponderConfig};

/// The lab's fixed addresses.
const CLIENT_IP: [u8; 4] = [10, 0, 1, 2];
const NAT_IP: [u8; 4] = [203, 0, 113, 1];
const SERVER_PRIMARY: &str = "198.51.100.1:3478";
const SERVER_ALTERNATE: &str = "198.51.100.2:3479";

/// What sits between the client and the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gateway {
    /// The client has a public address.
    None,
    /// A NAT, or with `firewall_only` a stateful firewall that keeps the
    /// client's own address and ports but filters like the NAT would.
    Nat {
        behavior: NatBehavior,
        firewall_only: bool,
    },
    /// Every UDP packet is dropped.
    Blocked,
}

/// The server the client probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// RFC 5780 full mode: two addresses × two ports.
    Full,
    /// Basic mode: one endpoint, no OTHER-ADDRESS.
    Basic,
    /// Advertises an alternate but always answers from the endpoint the
    /// request arrived on, as a server behind a 1:1 NAT or with a wrong
    /// advertised address does.
    IgnoresChangeRequest,
    /// Advertises an alternate that never answers.
    SilentAlternate,
}

/// The lab's network conditions.
#[derive(Debug, Clone, Copy)]
pub struct Conditions {
    pub rtt: Duration,
    /// Probability of losing each packet, each way.
    pub loss: f64,
    pub seed: u64,
    /// The caller's time limit, after which the discovery is cut short.
    pub deadline: Option<Duration>,
}

impl Default for Conditions {
    fn default() -> Self {
        Self {
            rtt: Duration::from_millis(20),
            loss: 0.0,
            seed: 1,
            deadline: None,
        }
    }
}

/// A responder that advertises an alternate but always answers from the
/// endpoint the request arrived on.
struct IgnoresChangeRequest {
    responder: Responder,
    arrived_on: SocketId,
}

impl Machine for IgnoresChangeRequest {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        self.responder.poll_bind()
    }
    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr) {
        self.responder.handle_bound(now, socket, local);
    }
    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        self.arrived_on = socket;
        self.responder.handle_input(now, socket, from, bytes);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.responder.handle_timeout(now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        let mut t = self.responder.poll_transmit()?;
        t.socket = self.arrived_on;
        Some(t)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.responder.poll_timeout()
    }
    fn is_done(&self) -> bool {
        self.responder.is_done()
    }
}

/// Runs one discovery in the lab; returns its observation and the virtual
/// time it took.
pub fn run(
    gateway: Gateway,
    server: Server,
    conditions: Conditions,
    config: impl FnOnce(SocketAddr) -> DiscoveryConfig,
) -> (Observation, Duration) {
    let primary: SocketAddr = SERVER_PRIMARY.parse().expect("constant address");
    let alternate: SocketAddr = SERVER_ALTERNATE.parse().expect("constant address");
    let start = Instant::now();
    let mut world = World::new(
        start,
        Link {
            one_way: conditions.rtt / 2,
            loss: conditions.loss,
            seed: conditions.seed,
        },
    );
    let servers = world.add_host(&[primary.ip(), alternate.ip()], Uplink::Public);
    let full = (server != Server::Basic).then_some(alternate);
    let responder =
        Responder::new(ResponderConfig::new(primary, full).expect("distinct endpoints"));
    match server {
        Server::IgnoresChangeRequest => {
            world.add(
                servers,
                IgnoresChangeRequest {
                    responder,
                    arrived_on: SocketId(0),
                },
            );
        }
        Server::SilentAlternate => {
            world.silence(alternate.ip());
            world.add(servers, responder);
        }
        Server::Full | Server::Basic => {
            world.add(servers, responder);
        }
    }
    let client_ip = IpAddr::from(CLIENT_IP);
    let uplink = match gateway {
        Gateway::None => Uplink::Public,
        Gateway::Blocked => Uplink::Blocked,
        Gateway::Nat {
            behavior,
            firewall_only,
        } => {
            let external = if firewall_only {
                client_ip
            } else {
                IpAddr::from(NAT_IP)
            };
            Uplink::Behind(world.add_nat(Nat::new(behavior, external)))
        }
    };
    let host = world.add_host(&[client_ip], uplink);
    let client = world.add(host, Discovery::new(config(primary), conditions.seed));
    let limit = conditions.deadline.map(|d| start + d);
    if !world.run_to_end(&[client], limit) {
        world.machine_mut::<Discovery>(client).cut_short();
    }
    let observation = world
        .machine::<Discovery>(client)
        .observation()
        .cloned()
        .expect("the machine ends every test on its own schedule");
    (observation, world.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::nat::{
        ClassicNatType, FilteringBehavior as F, MappingBehavior as M, PortAllocationKind,
    };
    use crate::sim::nat::Allocation;

    fn nat(mapping: M, filtering: F, allocation: Allocation, hairpinning: bool) -> Gateway {
        Gateway::Nat {
            behavior: NatBehavior {
                mapping,
                filtering,
                allocation,
                hairpinning,
            },
            firewall_only: false,
        }
    }

    fn probe(gateway: Gateway, conditions: Conditions) -> (Observation, Duration) {
        run(gateway, Server::Full, conditions, DiscoveryConfig::new)
    }

    #[test]
    fn every_behaviour_combination_is_measured_as_configured() {
        let allocations = [
            (Allocation::Preserving, PortAllocationKind::Preserving),
            (
                Allocation::Sequential {
                    start: 20000,
                    delta: 1,
                },
                PortAllocationKind::Sequential,
            ),
            (Allocation::Random { seed: 7 }, PortAllocationKind::Random),
        ];
        let mut scenarios = 0;
        for mapping in M::ALL {
            for filtering in F::ALL {
                for (allocation, kind) in allocations {
                    for hairpinning in [true, false] {
                        let gateway = nat(mapping, filtering, allocation, hairpinning);
                        let (o, _) = probe(gateway, Conditions::default());
                        let what = format!("{gateway:?}");
                        assert_eq!(o.mapping, Some(mapping), "{what}");
                        assert_eq!(o.filtering, Some(filtering), "{what}");
                        assert_eq!(o.hairpinning, Some(hairpinning), "{what}");
                        assert_eq!(o.behind_nat, Some(true), "{what}");
                        assert!(o.behavior_capable, "{what}");
                        assert_eq!(o.allocation.map(|a| a.kind), Some(kind), "{what}");
                        if kind == PortAllocationKind::Sequential {
                            assert_eq!(o.allocation.and_then(|a| a.delta), Some(1), "{what}");
                        }
                        assert_eq!(
                            o.port_preservation,
                            Some(kind == PortAllocationKind::Preserving),
                            "{what}"
                        );
                        scenarios += 1;
                    }
                }
            }
        }
        assert_eq!(scenarios, 54);
    }

    #[test]
    fn sequential_allocation_with_other_deltas() {
        for delta in [2, -1, 5] {
            let allocation = Allocation::Sequential {
                start: 30000,
                delta,
            };
            let (o, _) = probe(
                nat(
                    M::AddressAndPortDependent,
                    F::AddressAndPortDependent,
                    allocation,
                    false,
                ),
                Conditions::default(),
            );
            assert_eq!(o.allocation.and_then(|a| a.delta), Some(i32::from(delta)));
        }
    }

    #[test]
    fn open_internet_firewall_and_blocked() {
        let (o, _) = probe(Gateway::None, Conditions::default());
        assert_eq!(o.behind_nat, Some(false));
        assert_eq!(o.filtering, Some(F::EndpointIndependent));
        assert_eq!(o.hairpinning, None, "no NAT, nothing to hairpin");
        assert_eq!(
            ClassicNatType::derive(false, o.mapping, o.filtering),
            ClassicNatType::OpenInternet
        );

        let firewall = Gateway::Nat {
            behavior: NatBehavior {
                mapping: M::EndpointIndependent,
                filtering: F::AddressAndPortDependent,
                allocation: Allocation::Preserving,
                hairpinning: false,
            },
            firewall_only: true,
        };
        let (o, _) = probe(firewall, Conditions::default());
        assert_eq!(o.behind_nat, Some(false));
        assert_eq!(
            ClassicNatType::derive(false, o.mapping, o.filtering),
            ClassicNatType::SymmetricUdpFirewall
        );

        let (o, took) = probe(Gateway::Blocked, Conditions::default());
        assert!(!o.reachable);
        assert_eq!(o.mapping, None);
        assert!(
            took <= Duration::from_millis(2100),
            "gave up after {took:?}"
        );
    }

    #[test]
    fn basic_mode_server_is_not_behaviour_capable() {
        let gateway = nat(
            M::EndpointIndependent,
            F::AddressAndPortDependent,
            Allocation::Preserving,
            true,
        );
        let (o, _) = run(
            gateway,
            Server::Basic,
            Conditions::default(),
            DiscoveryConfig::new,
        );
        assert!(o.reachable);
        assert!(!o.behavior_capable);
        assert_eq!((o.mapping, o.filtering), (None, None));
        assert!(o.notes.iter().any(|n| n.contains("OTHER-ADDRESS")));
    }

    #[test]
    fn a_server_that_ignores_change_request_yields_no_filtering_verdict() {
        // Behind a port-restricted cone, answers from the wrong source would
        // pass the filter and fake "full cone" if they were believed.
        for filtering in [F::EndpointIndependent, F::AddressAndPortDependent] {
            let gateway = nat(
                M::EndpointIndependent,
                filtering,
                Allocation::Preserving,
                false,
            );
            let (o, _) = run(
                gateway,
                Server::IgnoresChangeRequest,
                Conditions::default(),
                DiscoveryConfig::new,
            );
            assert_eq!(o.filtering, None, "{filtering:?}");
            // Tests II and III need no CHANGE-REQUEST: mapping is still measured.
            assert_eq!(o.mapping, Some(M::EndpointIndependent));
            assert!(!o.behavior_capable);
            assert!(
                o.notes.iter().any(|n| n.contains("CHANGE-REQUEST")),
                "{:?}",
                o.notes
            );
        }
    }

    #[test]
    fn a_silent_alternate_yields_no_behaviour_verdict() {
        let gateway = nat(
            M::AddressAndPortDependent,
            F::AddressAndPortDependent,
            Allocation::Random { seed: 3 },
            false,
        );
        let (o, took) = run(
            gateway,
            Server::SilentAlternate,
            Conditions::default(),
            DiscoveryConfig::new,
        );
        assert!(o.reachable);
        assert_eq!(o.mapping, None);
        assert!(!o.behavior_capable);
        assert!(
            o.notes.iter().any(|n| n.contains("did not answer")),
            "{:?}",
            o.notes
        );
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }

    #[test]
    fn five_percent_loss_does_not_change_a_verdict() {
        for seed in 0..40 {
            for gateway in [
                nat(
                    M::EndpointIndependent,
                    F::AddressAndPortDependent,
                    Allocation::Preserving,
                    true,
                ),
                nat(
                    M::EndpointIndependent,
                    F::AddressDependent,
                    Allocation::Preserving,
                    false,
                ),
                nat(
                    M::AddressAndPortDependent,
                    F::AddressAndPortDependent,
                    Allocation::Sequential {
                        start: 20000,
                        delta: 1,
                    },
                    false,
                ),
            ] {
                let conditions = Conditions {
                    rtt: Duration::from_millis(50),
                    loss: 0.05,
                    seed,
                    deadline: None,
                };
                let (o, _) = probe(gateway, conditions);
                let Gateway::Nat { behavior, .. } = gateway else {
                    unreachable!()
                };
                assert_eq!(o.mapping, Some(behavior.mapping), "seed {seed} {gateway:?}");
                assert_eq!(
                    o.filtering,
                    Some(behavior.filtering),
                    "seed {seed} {gateway:?}"
                );
                assert_eq!(o.hairpinning, Some(behavior.hairpinning), "seed {seed}");
            }
        }
    }

    #[test]
    fn probe_at_50ms_rtt_fits_in_well_under_a_second_of_virtual_time() {
        let gateway = nat(
            M::EndpointIndependent,
            F::AddressAndPortDependent,
            Allocation::Preserving,
            false,
        );
        let conditions = Conditions {
            rtt: Duration::from_millis(50),
            ..Conditions::default()
        };
        let (_, took) = probe(gateway, conditions);
        // Test I (1 RTT) plus four RTOs of 120 ms for the unanswered tests.
        assert!(took < Duration::from_millis(600), "took {took:?}");
    }

    #[test]
    fn a_probe_cut_short_keeps_what_it_measured_and_claims_nothing_else() {
        let gateway = nat(
            M::EndpointIndependent,
            F::AddressAndPortDependent,
            Allocation::Preserving,
            true,
        );
        // Test I answered at 50 ms; the filtering and hairpin tests, whose
        // negative answers take four RTOs, are still running at 200 ms.
        let conditions = Conditions {
            rtt: Duration::from_millis(50),
            deadline: Some(Duration::from_millis(200)),
            ..Conditions::default()
        };
        let (o, took) = probe(gateway, conditions);
        assert_eq!(took, Duration::from_millis(200));
        assert!(o.reachable);
        assert!(o.mapped.is_some());
        assert_eq!(
            o.mapping,
            Some(M::EndpointIndependent),
            "Tests II/III were answered"
        );
        assert_eq!(
            o.filtering, None,
            "an unfinished negative test proves nothing"
        );
        assert_eq!(
            o.hairpinning,
            Some(true),
            "the hairpinned request arrived in time"
        );
        assert!(
            o.notes.iter().any(|n| n.contains("time limit")),
            "{:?}",
            o.notes
        );
    }
}
