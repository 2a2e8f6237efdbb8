//! Two peers, each behind its own gateway, a STUN server and a rendezvous,
//! set up in the simulated [`World`]: the real [`Punch`] machines run in it
//! unchanged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::lab::Gateway;
use super::nat::Nat;
use super::wire::Link;
use super::world::{HostId, NodeId, Uplink, World};
use crate::proto::machine::SocketId;
use crate::proto::punch::{Candidate, CandidateKind, Punch, PunchConfig, PunchOutcome};
use crate::proto::stun::{Responder, ResponderConfig};

/// The STUN server both sides gather through.
const SERVER: &str = "198.51.100.1:3478";

/// One peer's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side {
    pub gateway: Gateway,
    /// A UPnP-style static mapping of socket 0 to this external port, which
    /// the side advertises as a port-mapped candidate.
    pub static_port: Option<u16>,
    /// Idle mappings on the NAT expire after this long.
    pub lifetime: Option<Duration>,
}

impl Side {
    pub fn new(gateway: Gateway) -> Self {
        Self {
            gateway,
            static_port: None,
            lifetime: None,
        }
    }
}

/// How the two sides meet.
#[derive(Debug, Clone, Copy)]
pub struct Meeting {
    /// One-way delay of every link.
    pub one_way: Duration,
    /// How much later the second side receives the candidates.
    pub skew: Duration,
}

impl Default for Meeting {
    fn default() -> Self {
        Self {
            one_way: Duration::from_millis(15),
            skew: Duration::from_millis(30),
        }
    }
}

/// What each side's punch ended with, and the virtual time it took.
#[derive(Debug)]
pub struct Trial {
    pub outcomes: [Option<PunchOutcome>; 2],
    pub took: Duration,
}

impl Trial {
    /// Both sides proved the path.
    pub fn connected(&self) -> bool {
        self.outcomes
            .iter()
            .all(|o| matches!(o, Some(PunchOutcome::Connected(_))))
    }
}

/// Puts one side's host (and its NAT) into `world`: side `index` (0 or 1)
/// is 203.0.113.`index + 1` outside, 10.0.`index + 1`.2 behind a NAT.
pub(super) fn add_host(world: &mut World, index: u8, side: Side) -> (HostId, Uplink) {
    let public = IpAddr::from(Ipv4Addr::new(203, 0, 113, index + 1));
    let (ip, uplink) = match side.gateway {
        Gateway::Nat {
            behavior,
            firewall_only,
        } => {
            let ip = if firewall_only {
                public
            } else {
                IpAddr::from(Ipv4Addr::new(10, 0, index + 1, 2))
            };
            let mut nat = Nat::new(behavior, if firewall_only { ip } else { public });
            if let Some(lifetime) = side.lifetime {
                nat = nat.with_lifetime(lifetime);
            }
            (ip, Uplink::Behind(world.add_nat(nat)))
        }
        Gateway::None => (public, Uplink::Public),
        Gateway::Blocked => (public, Uplink::Blocked),
    };
    (world.add_host(&[ip], uplink), uplink)
}

/// The STUN server both sides gather through, put into `world`.
pub(super) fn add_stun_server(world: &mut World) -> SocketAddr {
    let server: SocketAddr = SERVER.parse().expect("constant address");
    let host = world.add_host(&[server.ip()], Uplink::Public);
    world.add(
        host,
        Responder::new(ResponderConfig::new(server, None).expect("one endpoint is valid")),
    );
    server
}

/// Puts one side's host (and its NAT) into `world`, with its punch.
fn add_side(world: &mut World, index: u8, side: Side, config: PunchConfig, seed: u64) -> NodeId {
    let (host, uplink) = add_host(world, index, side);
    let node = world.add(host, Punch::new(config, seed));
    if let (Uplink::Behind(nat), Some(port), Some(local)) =
        (uplink, side.static_port, world.local(node, SocketId(0)))
    {
        let now = world.now();
        world.nat_mut(nat).add_static(now, local, port);
    }
    node
}

/// What a side advertises: its gathered candidates and its static mapping.
fn candidates(world: &World, node: NodeId, side: Side, public: IpAddr) -> Vec<Candidate> {
    let mut out = world
        .machine::<Punch>(node)
        .local_candidates()
        .unwrap_or_default()
        .to_vec();
    if let (Gateway::Nat { .. }, Some(port)) = (side.gateway, side.static_port) {
        out.push(Candidate {
            address: SocketAddr::new(public, port),
            kind: CandidateKind::PortMapped,
        });
    }
    out
}

/// Runs one punch between two sides: both gather through the STUN server,
/// the rendezvous hands each the other's candidates (the second side
/// `skew` later), and both check until done.
pub fn punch(sides: [Side; 2], configs: [PunchConfig; 2], meeting: Meeting, seed: u64) -> Trial {
    let start = Instant::now();
    let mut world = World::new(
        start,
        Link {
            one_way: meeting.one_way,
            loss: 0.0,
            seed,
        },
    );
    add_stun_server(&mut world);
    let credentials = [
        configs[0].credentials.clone(),
        configs[1].credentials.clone(),
    ];
    let [ca, cb] = configs;
    let nodes = [
        add_side(&mut world, 0, sides[0], ca, seed),
        add_side(&mut world, 1, sides[1], cb, seed.wrapping_add(1)),
    ];
    let gathered = |w: &mut World| {
        nodes
            .iter()
            .all(|n| w.machine::<Punch>(*n).local_candidates().is_some())
    };
    if world.run_until(gathered, None) {
        let public = [0, 1].map(|i| {
            let ip = Ipv4Addr::new(203, 0, 113, i + 1);
            IpAddr::from(ip)
        });
        let offers = [0, 1].map(|i| candidates(&world, nodes[i], sides[i], public[i]));
        let first = world.now() + meeting.one_way * 2;
        for (i, at) in [(0, first), (1, first + meeting.skew)] {
            world.run_until(|_| false, Some(at));
            let now = world.now();
            world.machine_mut::<Punch>(nodes[i]).start(
                now,
                credentials[1 - i].clone(),
                &offers[1 - i],
            );
        }
        world.run_to_end(&nodes, None);
    }
    Trial {
        outcomes: nodes.map(|n| world.machine::<Punch>(n).outcome().cloned()),
        took: world.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::nat::{FilteringBehavior as F, MappingBehavior as M};
    use crate::proto::punch::Credentials;
    use crate::sim::nat::{Allocation, NatBehavior};

    fn symmetric(seed: u64) -> Gateway {
        Gateway::Nat {
            behavior: NatBehavior {
                mapping: M::AddressAndPortDependent,
                filtering: F::AddressAndPortDependent,
                allocation: Allocation::Random { seed },
                hairpinning: false,
            },
            firewall_only: false,
        }
    }

    fn configs() -> [PunchConfig; 2] {
        let server = Some(SERVER.parse().unwrap());
        let mut n = [3u8, 9u8];
        [0, 1].map(|i| {
            PunchConfig::new(
                Credentials::generate(|| {
                    n[i] = n[i].wrapping_mul(41).wrapping_add(5);
                    n[i]
                }),
                server,
            )
        })
    }

    #[test]
    fn a_static_mapping_opens_two_symmetric_nats() {
        let plain = punch(
            [Side::new(symmetric(1)), Side::new(symmetric(2))],
            configs(),
            Meeting::default(),
            1,
        );
        assert!(!plain.connected(), "{plain:?}");
        let mapped = Side {
            static_port: Some(45000),
            ..Side::new(symmetric(1))
        };
        let trial = punch(
            [mapped, Side::new(symmetric(2))],
            configs(),
            Meeting::default(),
            1,
        );
        assert!(trial.connected(), "{trial:?}");
        for outcome in &trial.outcomes {
            let Some(PunchOutcome::Connected(path)) = outcome else {
                unreachable!()
            };
            assert!(
                path.remote.port() == 45000 || path.local.is_some_and(|l| l.port() == 40000),
                "the path runs through the static mapping: {path:?}"
            );
        }
    }

    #[test]
    fn checks_keep_a_short_lived_mapping_open_for_a_late_peer() {
        let cone = |lifetime| Side {
            lifetime: Some(lifetime),
            ..Side::new(Gateway::Nat {
                behavior: NatBehavior {
                    mapping: M::EndpointIndependent,
                    filtering: F::AddressAndPortDependent,
                    allocation: Allocation::Random { seed: 5 },
                    hairpinning: false,
                },
                firewall_only: false,
            })
        };
        let late = Meeting {
            skew: Duration::from_millis(900),
            ..Meeting::default()
        };
        // The early side's checks refresh its 1 s mapping while it waits,
        // and the late side's mapping, idle for 0.9 s, is still there.
        let kept = punch(
            [cone(Duration::from_secs(1)), cone(Duration::from_secs(1))],
            configs(),
            late,
            4,
        );
        assert!(kept.connected(), "{kept:?}");
        // A 0.5 s mapping: the late side's advertised endpoint dies while
        // it waits for the candidates (a punch sends nothing before it
        // starts), its first check gets a new random port, and the
        // port-restricted cone on the other side never admits it.
        let lost = punch(
            [
                cone(Duration::from_millis(500)),
                cone(Duration::from_millis(500)),
            ],
            configs(),
            late,
            4,
        );
        assert!(!lost.connected(), "{lost:?}");
    }
}
