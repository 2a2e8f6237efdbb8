//! Two peers, each behind its own gateway, a STUN server and a rendezvous,
//! in virtual time: the real [`Punch`] machines run in it unchanged.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::lab::Gateway;
use super::nat::Nat;
use crate::proto::nat::SocketId;
use crate::proto::punch::{Candidate, CandidateKind, Punch, PunchConfig, PunchOutcome};
use crate::proto::stun::{Responder, ResponderConfig};

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

struct Host {
    side: Side,
    nat: Option<Nat>,
    /// The address its sockets bind to.
    ip: IpAddr,
    punch: Punch,
    locals: Vec<SocketAddr>,
}

impl Host {
    fn new(index: u8, side: Side, config: PunchConfig, seed: u64, now: Instant) -> Self {
        let public = IpAddr::from(Ipv4Addr::new(203, 0, 113, index + 1));
        let (nat, ip) = match side.gateway {
            Gateway::Nat {
                behavior,
                firewall_only,
            } => {
                let ip = if firewall_only {
                    public
                } else {
                    IpAddr::from(Ipv4Addr::new(10, 0, index + 1, 2))
                };
                let external = if firewall_only { ip } else { public };
                let mut nat = Nat::new(behavior, external);
                if let Some(lifetime) = side.lifetime {
                    nat = nat.with_lifetime(lifetime);
                }
                (Some(nat), ip)
            }
            Gateway::None | Gateway::Blocked => (None, public),
        };
        let mut host = Self {
            side,
            nat,
            ip,
            punch: Punch::new(config, seed),
            locals: Vec::new(),
        };
        while let Some(id) = host.punch.poll_bind() {
            let local = SocketAddr::new(ip, 40000 + u16::from(id.0));
            host.locals.push(local);
            host.punch.handle_bound(now, id, local);
        }
        if let (Some(nat), Some(port)) = (host.nat.as_mut(), side.static_port) {
            nat.add_static(now, host.locals[0], port);
        }
        host
    }

    /// Where the outside reaches this host.
    fn public_ip(&self) -> IpAddr {
        self.nat.as_ref().map_or(self.ip, Nat::external_ip)
    }

    fn candidates(&self) -> Option<Vec<Candidate>> {
        let mut out = self.punch.local_candidates()?.to_vec();
        if let (Some(nat), Some(port)) = (self.nat.as_ref(), self.side.static_port) {
            out.push(Candidate {
                address: SocketAddr::new(nat.external_ip(), port),
                kind: CandidateKind::PortMapped,
            });
        }
        Some(out)
    }
}

struct Packet {
    from: SocketAddr,
    to: SocketAddr,
    payload: Vec<u8>,
}

/// Runs one punch between two sides: both gather through the STUN server,
/// the rendezvous hands each the other's candidates (the second side
/// `skew` later), and both check until done.
pub fn punch(sides: [Side; 2], configs: [PunchConfig; 2], meeting: Meeting, seed: u64) -> Trial {
    let start = Instant::now();
    let server: SocketAddr = SERVER.parse().expect("constant address");
    let mut responder =
        Responder::new(ResponderConfig::new(server, None).expect("one endpoint is valid"));
    let credentials = [
        configs[0].credentials.clone(),
        configs[1].credentials.clone(),
    ];
    let [ca, cb] = configs;
    let mut hosts = [
        Host::new(0, sides[0], ca, seed, start),
        Host::new(1, sides[1], cb, seed.wrapping_add(1), start),
    ];
    let mut wire: BTreeMap<(Instant, u64), Packet> = BTreeMap::new();
    let mut sequence = 0u64;
    let mut send = |wire: &mut BTreeMap<(Instant, u64), Packet>, at: Instant, packet: Packet| {
        sequence += 1;
        wire.insert((at + meeting.one_way, sequence), packet);
    };
    let mut exchanged = false;
    let mut pending: [Option<(Instant, Vec<Candidate>)>; 2] = [None, None];
    let mut now = start;
    loop {
        for host in hosts.iter_mut() {
            while let Some(t) = host.punch.poll_transmit() {
                if host.side.gateway == Gateway::Blocked {
                    continue;
                }
                let local = host.locals[usize::from(t.socket.0)];
                let from = match host.nat.as_mut() {
                    Some(nat) => nat.outbound(now, local, t.destination),
                    None => local,
                };
                let packet = Packet {
                    from,
                    to: t.destination,
                    payload: t.payload,
                };
                send(&mut wire, now, packet);
            }
        }
        if !exchanged && let (Some(a), Some(b)) = (hosts[0].candidates(), hosts[1].candidates()) {
            exchanged = true;
            let at = now + meeting.one_way * 2;
            pending = [Some((at, b)), Some((at + meeting.skew, a))];
        }
        if hosts.iter().all(|h| h.punch.is_done()) {
            break;
        }
        let wake = [
            wire.keys().next().map(|(at, _)| *at),
            hosts[0].punch.poll_timeout(),
            hosts[1].punch.poll_timeout(),
            pending[0].as_ref().map(|p| p.0),
            pending[1].as_ref().map(|p| p.0),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(wake) = wake else { break };
        now = now.max(wake);
        for i in 0..2 {
            if let Some((_, candidates)) = pending[i].take_if(|p| p.0 <= now) {
                hosts[i]
                    .punch
                    .start(now, credentials[1 - i].clone(), &candidates);
            }
        }
        while let Some(entry) = wire.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let packet = entry.remove();
            if packet.to == server {
                responder.handle_input(server, packet.from, &packet.payload);
                while let Some(t) = responder.poll_transmit() {
                    let answer = Packet {
                        from: t.source,
                        to: t.destination,
                        payload: t.payload,
                    };
                    send(&mut wire, now, answer);
                }
                continue;
            }
            let Some(host) = hosts
                .iter_mut()
                .find(|h| h.public_ip() == packet.to.ip() && h.side.gateway != Gateway::Blocked)
            else {
                continue;
            };
            let internal = match host.nat.as_mut() {
                Some(nat) => nat.inbound(now, packet.from, packet.to),
                None => Some(packet.to),
            };
            let socket = internal.and_then(|to| host.locals.iter().position(|l| *l == to));
            if let Some(k) = socket {
                host.punch
                    .handle_input(now, SocketId(k as u8), packet.from, &packet.payload);
            }
        }
        for host in hosts.iter_mut() {
            if host.punch.poll_timeout().is_some_and(|at| at <= now) {
                host.punch.handle_timeout(now);
            }
        }
    }
    Trial {
        outcomes: hosts.map(|h| h.punch.outcome().cloned()),
        took: now - start,
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
