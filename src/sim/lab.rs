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
    /// Advertises an alternate address that requests never reach (as when
    /// it is unreachable from the client), though answers sent from it, to
    /// a CHANGE-REQUEST, get through.
    UnreachableAlternate,
    /// Advertises an alternate address that neither receives nor sends (an
    /// OTHER-ADDRESS that is not routed at all).
    DeadAlternate,
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

/// A responder whose answers from the alternate address never leave.
struct MuteAlternate {
    responder: Responder,
    alternate: IpAddr,
}

impl Machine for MuteAlternate {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        self.responder.poll_bind()
    }
    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr) {
        self.responder.handle_bound(now, socket, local);
    }
    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        self.responder.handle_input(now, socket, from, bytes);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.responder.handle_timeout(now);
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        while let Some(t) = self.responder.poll_transmit() {
            if self.responder.endpoint(t.socket).map(|e| e.ip()) != Some(self.alternate) {
                return Some(t);
            }
        }
        None
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
        Server::UnreachableAlternate => {
            world.silence(alternate.ip());
            world.add(servers, responder);
        }
        Server::DeadAlternate => {
            world.silence(alternate.ip());
            world.add(
                servers,
                MuteAlternate {
                    responder,
                    alternate: alternate.ip(),
                },
            );
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
mod tests;
