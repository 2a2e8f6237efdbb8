//! The one simulated world: hosts, RFC 4787 NATs in front of them, and a
//! wire between them, in virtual time. Any [`Machine`] runs in it
//! unchanged: the world binds its sockets, carries its datagrams through
//! the NATs and the wire, and fires its timers, one event at a time.
//!
//! Every host address is unique in a world, so that a datagram's
//! destination names one host (or one NAT's external address).
//!
//! Streams: a client's `Bind::Connect` socket reaches the server's
//! `Bind::Listen` socket (or, for servers that keep one socket for every
//! client, its `Bind::At` socket). A listener accepts a connection when its
//! first bytes arrive; from then on the two ends are linked, and a close of
//! either reaches the other at once.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::nat::Nat;
use super::wire::{Link, Packet, Path, Wire};
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};

/// The first ephemeral port of every host; each new socket takes the next
/// one 7 ports on, so that port-preserving and sequential NATs never look
/// alike.
const FIRST_PORT: u16 = 40000;
const PORT_STRIDE: u16 = 7;

/// A host of the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostId(usize);

/// A NAT of the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NatId(usize);

/// A machine running in the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(usize);

/// A service the NAT device itself runs on its LAN side (a PCP or
/// NAT-PMP server), with the power to change the NAT's mappings.
pub trait LanService {
    /// A request from `from` on the LAN: the answer, if any.
    fn answer(
        &mut self,
        now: Instant,
        nat: &mut Nat,
        from: SocketAddr,
        request: &[u8],
    ) -> Option<Vec<u8>>;
}

/// How a host reaches the rest of the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uplink {
    /// Its addresses are public.
    Public,
    /// Through a NAT (or a firewall: a NAT whose external address is the
    /// host's own).
    Behind(NatId),
    /// Every UDP packet to or from it is dropped.
    Blocked,
}

struct Host {
    ips: Vec<IpAddr>,
    uplink: Uplink,
    next_port: u16,
}

struct Node {
    machine: Box<dyn Machine>,
    host: HostId,
    locals: HashMap<SocketId, SocketAddr>,
    /// The stream sockets, with the server endpoint each is connected to.
    streams: HashMap<SocketId, SocketAddr>,
    /// Everything the machine sent, with the time, when tapped.
    tap: Option<Vec<(Instant, Transmit)>>,
    /// The listener sockets.
    listeners: HashSet<SocketId>,
}

/// One end of an accepted stream: the other end, and the addresses of the
/// packets this end sends.
#[derive(Debug, Clone, Copy)]
struct StreamEnd {
    other: (NodeId, SocketId),
    from: SocketAddr,
    to: SocketAddr,
}

/// The world; see the module documentation.
pub struct World {
    start: Instant,
    now: Instant,
    wire: Wire,
    hosts: Vec<Host>,
    nats: Vec<Nat>,
    nodes: Vec<Node>,
    /// Local endpoint -> the node and socket bound to it.
    bound: HashMap<SocketAddr, (NodeId, SocketId)>,
    /// Listening endpoint -> the node and its listener (TCP ports are not
    /// UDP ports: the two may share an endpoint).
    listening: HashMap<SocketAddr, (NodeId, SocketId)>,
    /// (listening endpoint, client as the server sees it) -> the stream
    /// socket the server named for that connection.
    accepted: HashMap<(SocketAddr, SocketAddr), (NodeId, SocketId)>,
    /// Both ends of every accepted stream.
    ends: HashMap<(NodeId, SocketId), StreamEnd>,
    /// Stream sockets whose other end closed, until the close arrives:
    /// what they send is lost.
    hung_up: HashSet<(NodeId, SocketId)>,
    /// Addresses whose packets vanish.
    silent: HashSet<IpAddr>,
    /// The NATs' own services, by the LAN endpoint they answer on.
    lan_services: HashMap<(NatId, SocketAddr), Box<dyn LanService>>,
    /// (server endpoint, client as the server sees it) -> the client's
    /// stream socket, for the server's answers.
    stream_peers: HashMap<(SocketAddr, SocketAddr), (NodeId, SocketId)>,
}

impl World {
    /// An empty world whose clock starts at `start`.
    pub fn new(start: Instant, link: Link) -> Self {
        Self {
            start,
            now: start,
            wire: Wire::new(link),
            hosts: Vec::new(),
            nats: Vec::new(),
            nodes: Vec::new(),
            bound: HashMap::new(),
            listening: HashMap::new(),
            accepted: HashMap::new(),
            ends: HashMap::new(),
            hung_up: HashSet::new(),
            silent: HashSet::new(),
            lan_services: HashMap::new(),
            stream_peers: HashMap::new(),
        }
    }

    /// The virtual time now.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The virtual time since the world began.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn add_nat(&mut self, nat: Nat) -> NatId {
        self.nats.push(nat);
        NatId(self.nats.len() - 1)
    }

    pub fn nat_mut(&mut self, id: NatId) -> &mut Nat {
        &mut self.nats[id.0]
    }

    /// A host with addresses `ips` (the first is where its client sockets
    /// bind).
    pub fn add_host(&mut self, ips: &[IpAddr], uplink: Uplink) -> HostId {
        self.hosts.push(Host {
            ips: ips.to_vec(),
            uplink,
            next_port: FIRST_PORT,
        });
        HostId(self.hosts.len() - 1)
    }

    /// The NAT `nat` answers on its LAN endpoint `at` with `service`.
    pub fn add_lan_service(
        &mut self,
        nat: NatId,
        at: SocketAddr,
        service: impl LanService + 'static,
    ) {
        self.lan_services.insert((nat, at), Box::new(service));
    }

    /// The NAT `nat`.
    pub fn nat(&self, id: NatId) -> &Nat {
        &self.nats[id.0]
    }

    /// Packets to `ip` vanish from now on (a server address that never
    /// answers).
    pub fn silence(&mut self, ip: IpAddr) {
        self.silent.insert(ip);
    }

    /// Runs `machine` on `host`: binds every socket it asks for now.
    pub fn add<M: Machine>(&mut self, host: HostId, machine: M) -> NodeId {
        let id = NodeId(self.nodes.len());
        self.nodes.push(Node {
            machine: Box::new(machine),
            host,
            locals: HashMap::new(),
            streams: HashMap::new(),
            tap: None,
            listeners: HashSet::new(),
        });
        self.rebind(id);
        id
    }

    /// Binds the sockets `node` asks for. An endpoint already taken is a
    /// failed bind.
    fn rebind(&mut self, id: NodeId) {
        while let Some((socket, bind)) = self.nodes[id.0].machine.poll_bind() {
            let local = self.allocate(self.nodes[id.0].host, bind);
            let node = &mut self.nodes[id.0];
            let table = if matches!(bind, Bind::Listen(_)) {
                node.listeners.insert(socket);
                &mut self.listening
            } else {
                &mut self.bound
            };
            if table.contains_key(&local) {
                node.listeners.remove(&socket);
                node.machine.handle_bind_failed(self.now, socket);
                continue;
            }
            table.insert(local, (id, socket));
            node.locals.insert(socket, local);
            if let Bind::Connect(server) | Bind::ConnectFrom(server, _) = bind {
                node.streams.insert(socket, server);
            }
            node.machine.handle_bound(self.now, socket, local);
        }
    }

    /// Closes the sockets `node` gives up.
    fn close(&mut self, id: NodeId) {
        while let Some(socket) = self.nodes[id.0].machine.poll_close() {
            let node = &mut self.nodes[id.0];
            node.streams.remove(&socket);
            if let Some(local) = node.locals.remove(&socket) {
                if node.listeners.remove(&socket) {
                    self.listening.remove(&local);
                } else {
                    self.bound.remove(&local);
                }
            }
            self.hung_up.remove(&(id, socket));
            self.unlink(id, socket);
        }
    }

    /// Ends the accepted stream whose end is `socket` of `node`: the other
    /// end hears it closed after what was sent before.
    fn unlink(&mut self, node: NodeId, socket: SocketId) {
        let Some(end) = self.ends.remove(&(node, socket)) else {
            return;
        };
        self.ends.remove(&end.other);
        self.accepted
            .retain(|_, s| *s != (node, socket) && *s != end.other);
        self.hung_up.insert(end.other);
        let (other, other_socket) = end.other;
        let packet = Packet {
            from: end.from,
            to: end.to,
            payload: Vec::new(),
            path: Path::StreamEnd {
                node: other.0,
                socket: other_socket,
            },
        };
        self.wire.send(self.now, packet);
    }

    /// The other end of stream `socket` of `node` is gone: the socket goes
    /// too (a closed connection carries nothing more), and the machine
    /// hears it.
    fn hang_up(&mut self, node: NodeId, socket: SocketId) {
        let n = &mut self.nodes[node.0];
        if n.streams.remove(&socket).is_some()
            && let Some(local) = n.locals.remove(&socket)
        {
            self.bound.remove(&local);
        }
        n.machine.handle_closed(self.now, socket);
    }

    /// A local endpoint on `host` for `bind`.
    fn allocate(&mut self, host: HostId, bind: Bind) -> SocketAddr {
        let h = &mut self.hosts[host.0];
        let ip = match bind {
            Bind::At(at) | Bind::Listen(at) if at.port() != 0 => return at,
            Bind::At(at) | Bind::Listen(at) if h.ips.contains(&at.ip()) => at.ip(),
            Bind::At(_)
            | Bind::Listen(_)
            | Bind::Toward(_)
            | Bind::Connect(_)
            | Bind::ConnectFrom(..) => h.ips[0],
        };
        let port = h.next_port;
        h.next_port = h.next_port.wrapping_add(PORT_STRIDE);
        SocketAddr::new(ip, port)
    }

    /// The machine of `node`, as the type it was added with.
    ///
    /// # Panics
    /// When `M` is not that type: a mistake in the test that asks.
    pub fn machine<M: Machine>(&self, node: NodeId) -> &M {
        (self.nodes[node.0].machine.as_ref() as &dyn Any)
            .downcast_ref()
            .expect("the node runs a machine of this type")
    }

    /// See [`World::machine`].
    pub fn machine_mut<M: Machine>(&mut self, node: NodeId) -> &mut M {
        (self.nodes[node.0].machine.as_mut() as &mut dyn Any)
            .downcast_mut()
            .expect("the node runs a machine of this type")
    }

    /// Records everything `node` sends from now on, as a capture on its
    /// host would.
    pub fn tap(&mut self, node: NodeId) {
        self.nodes[node.0].tap.get_or_insert_with(Vec::new);
    }

    /// What `node` sent since it was tapped, with the time of each.
    pub fn tapped(&self, node: NodeId) -> &[(Instant, Transmit)] {
        self.nodes[node.0].tap.as_deref().unwrap_or_default()
    }

    /// Where socket `socket` of `node` is bound.
    pub fn local(&self, node: NodeId, socket: SocketId) -> Option<SocketAddr> {
        self.nodes[node.0].locals.get(&socket).copied()
    }

    /// Where the rest of the world reaches `host`: its NAT's external
    /// address, or its own first address.
    pub fn public_ip(&self, host: HostId) -> IpAddr {
        let h = &self.hosts[host.0];
        match h.uplink {
            Uplink::Behind(nat) => self.nats[nat.0].external_ip(),
            Uplink::Public | Uplink::Blocked => h.ips[0],
        }
    }

    /// Runs the world until `until` holds (true), nothing is left to
    /// happen, or the next event would come at or after `limit` (false;
    /// the clock then stands at `limit`).
    pub fn run_until(
        &mut self,
        mut until: impl FnMut(&mut World) -> bool,
        limit: Option<Instant>,
    ) -> bool {
        loop {
            self.flush();
            if until(self) {
                return true;
            }
            let packet = self.wire.next_at();
            let timer = self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.machine.poll_timeout().map(|at| (at, i)))
                .min();
            let next = [packet, timer.map(|(at, _)| at)]
                .into_iter()
                .flatten()
                .min();
            let next = match (next, limit) {
                (Some(next), Some(limit)) if next >= limit => None,
                (next, _) => next,
            };
            let Some(next) = next else {
                if let Some(limit) = limit {
                    self.now = self.now.max(limit);
                }
                return false;
            };
            self.now = self.now.max(next);
            match (packet, timer) {
                (Some(at), _) if at == next => {
                    if let Some(p) = self.wire.pop() {
                        self.deliver(p);
                    }
                }
                (_, Some((_, node))) => self.nodes[node].machine.handle_timeout(self.now),
                (_, None) => {}
            }
        }
    }

    /// Runs the world for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        let limit = self.now + duration;
        self.run_until(|_| false, Some(limit));
    }

    /// Runs until every machine of `nodes` is done, or `limit`.
    pub fn run_to_end(&mut self, nodes: &[NodeId], limit: Option<Instant>) -> bool {
        self.run_until(
            |w| nodes.iter().all(|n| w.nodes[n.0].machine.is_done()),
            limit,
        )
    }

    /// Binds what the machines ask for, sends every datagram they have
    /// queued, then closes what they gave up.
    fn flush(&mut self) {
        for i in 0..self.nodes.len() {
            self.rebind(NodeId(i));
            while let Some(t) = self.nodes[i].machine.poll_transmit() {
                let now = self.now;
                if let Some(tap) = self.nodes[i].tap.as_mut() {
                    tap.push((now, t.clone()));
                }
                if self.hung_up.contains(&(NodeId(i), t.socket)) {
                    continue;
                }
                if let Some(end) = self.ends.get(&(NodeId(i), t.socket)).copied() {
                    let (node, socket) = end.other;
                    let packet = Packet {
                        from: end.from,
                        to: end.to,
                        payload: t.payload,
                        path: Path::Stream {
                            node: node.0,
                            socket,
                        },
                    };
                    self.wire.send(self.now, packet);
                    continue;
                }
                let Some(local) = self.nodes[i].locals.get(&t.socket).copied() else {
                    continue;
                };
                if let Some(server) = self.nodes[i].streams.get(&t.socket).copied() {
                    self.send_on_stream(NodeId(i), t.socket, local, server, t.payload);
                    continue;
                }
                if let Some(&(node, socket)) = self.stream_peers.get(&(local, t.destination)) {
                    let packet = Packet {
                        from: local,
                        to: t.destination,
                        payload: t.payload,
                        path: Path::Stream {
                            node: node.0,
                            socket,
                        },
                    };
                    self.wire.send(self.now, packet);
                    continue;
                }
                let host = self.nodes[i].host;
                self.send(host, local, t.destination, t.payload);
            }
            self.close(NodeId(i));
        }
    }

    /// Bytes down a client's stream to `server`. A stream is not UDP: it
    /// passes a UDP-blocking network and leaves the NATs' UDP mappings
    /// alone; the server sees it come from the host's public address and
    /// the socket's own port.
    fn send_on_stream(
        &mut self,
        node: NodeId,
        socket: SocketId,
        local: SocketAddr,
        server: SocketAddr,
        payload: Vec<u8>,
    ) {
        let public = SocketAddr::new(self.public_ip(self.nodes[node.0].host), local.port());
        let Some(&(server_node, server_socket)) = self
            .listening
            .get(&server)
            .or_else(|| self.bound.get(&server))
        else {
            return;
        };
        self.stream_peers.insert((server, public), (node, socket));
        let packet = Packet {
            from: public,
            to: server,
            payload,
            path: Path::Stream {
                node: server_node.0,
                socket: server_socket,
            },
        };
        self.wire.send(self.now, packet);
    }

    /// A datagram leaves `local` on `host` for `to`.
    fn send(&mut self, host: HostId, local: SocketAddr, to: SocketAddr, payload: Vec<u8>) {
        let packet = match self.hosts[host.0].uplink {
            Uplink::Blocked => return,
            Uplink::Public => Packet {
                from: local,
                to,
                payload,
                path: Path::Internet,
            },
            Uplink::Behind(nat) => {
                let now = self.now;
                let n = &mut self.nats[nat.0];
                if let Some(service) = self.lan_services.get_mut(&(nat, to)) {
                    if let Some(answer) = service.answer(now, n, local, &payload) {
                        let packet = Packet {
                            from: to,
                            to: local,
                            payload: answer,
                            path: Path::Lan,
                        };
                        self.wire.send(now, packet);
                    }
                    return;
                }
                let from = n.outbound(now, local, to);
                // RFC 4787 §6: a hairpinning NAT loops the packet back with
                // the external source.
                let looped = n.hairpinning().then(|| n.hairpin_target(to)).flatten();
                if looped.is_none() && to.ip() == n.external_ip() {
                    // Without hairpinning the NAT takes a packet for its own
                    // address as meant for itself, and drops it.
                    return;
                }
                Packet {
                    from,
                    to: looped.unwrap_or(to),
                    payload,
                    path: if looped.is_some() {
                        Path::Hairpin
                    } else {
                        Path::Internet
                    },
                }
            }
        };
        self.wire.send(self.now, packet);
    }

    /// Stream bytes arrive at `socket` of `node`: a listener's go to the
    /// stream it accepted for their sender (accepting it first); bytes for
    /// a socket closed since are lost with it.
    fn deliver_on_stream(&mut self, node: NodeId, socket: SocketId, p: Packet) {
        let mut target = socket;
        if self.nodes[node.0].listeners.contains(&socket) {
            target = match self.accepted.get(&(p.to, p.from)) {
                Some(&(_, stream)) => stream,
                None => {
                    let client = self.stream_peers.get(&(p.to, p.from)).copied();
                    let named = self.nodes[node.0]
                        .machine
                        .handle_accept(self.now, socket, p.from);
                    match (named, client) {
                        (Some(stream), Some(client)) => {
                            self.link(node, stream, client, p.to, p.from);
                            stream
                        }
                        (None, Some((client, client_socket))) => {
                            self.hang_up(client, client_socket);
                            return;
                        }
                        (_, None) => return,
                    }
                }
            };
        } else if !self.ends.contains_key(&(node, socket))
            && !self.nodes[node.0].locals.contains_key(&socket)
        {
            return;
        }
        self.nodes[node.0]
            .machine
            .handle_input(self.now, target, p.from, &p.payload);
    }

    /// Links the server's new stream `stream` on `listening` with the
    /// client's socket that connected from `client_public`.
    fn link(
        &mut self,
        server: NodeId,
        stream: SocketId,
        client: (NodeId, SocketId),
        listening: SocketAddr,
        client_public: SocketAddr,
    ) {
        self.accepted
            .insert((listening, client_public), (server, stream));
        self.ends.insert(
            (server, stream),
            StreamEnd {
                other: client,
                from: listening,
                to: client_public,
            },
        );
        self.ends.insert(
            client,
            StreamEnd {
                other: (server, stream),
                from: client_public,
                to: listening,
            },
        );
    }

    /// A packet arrives: through the NAT that owns its destination, or
    /// straight to a public host.
    fn deliver(&mut self, p: Packet) {
        if self.silent.contains(&p.to.ip()) {
            return;
        }
        if let Path::Stream { node, socket } = p.path {
            self.deliver_on_stream(NodeId(node), socket, p);
            return;
        }
        if let Path::StreamEnd { node, socket } = p.path {
            if self.hung_up.remove(&(NodeId(node), socket)) {
                self.hang_up(NodeId(node), socket);
            }
            return;
        }
        let (internal, through_nat) = if matches!(p.path, Path::Hairpin | Path::Lan) {
            (Some(p.to), true)
        } else if let Some(nat) = self.nats.iter_mut().find(|n| n.external_ip() == p.to.ip()) {
            (nat.inbound(self.now, p.from, p.to), true)
        } else {
            (Some(p.to), false)
        };
        let Some(to) = internal else { return };
        let Some(&(node, socket)) = self.bound.get(&to) else {
            return;
        };
        // A host behind a NAT is reached only through it; a blocked one
        // never.
        let reachable = match self.hosts[self.nodes[node.0].host.0].uplink {
            Uplink::Public => !through_nat,
            Uplink::Behind(_) => through_nat,
            Uplink::Blocked => false,
        };
        if !reachable {
            return;
        }
        self.nodes[node.0]
            .machine
            .handle_input(self.now, socket, p.from, &p.payload);
    }
}

#[cfg(test)]
mod tests;
