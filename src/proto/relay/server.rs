//! The TURN relay of `ranat serve` (RFC 8656): a [`Machine`] around the
//! sans-IO `turn-server-proto` server, which does the protocol (allocations,
//! permissions, channels, Send and Data, refreshes, nonces, the long-term
//! credential mechanism of RFC 8489 §9.2, the framing of TURN over TCP).
//! This machine adds what makes it safe to run on the Internet:
//!
//! - credentials of the "TURN REST API" kind, checked before the crate sees
//!   a request: a user is known to the crate only once a request of theirs
//!   carried a valid, unexpired `EXPIRY:NAME` username and a good
//!   MESSAGE-INTEGRITY;
//! - peers only where the [`PeerPolicy`] permits (403 Forbidden otherwise,
//!   RFC 8656 §9.1), checked again on every datagram relayed out;
//! - quotas per user and in all on allocations (486 Allocation Quota
//!   Reached and 508 Insufficient Capacity, RFC 8656 §7.2), bandwidth
//!   (datagrams beyond it are dropped) and lifetime (a refresh past it is
//!   refused);
//! - UDP allocations only (RFC 6062 TCP allocations get 442, RFC 8656
//!   §7.2), on ports of the configured range.
//!
//! Its sockets: the UDP endpoint ([`LISTEN_UDP`]), the TCP listener on the
//! same endpoint ([`LISTEN_TCP`]), then one per relayed address and one per
//! TCP connection, named as they come.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_types::TransportType;
use stun_types::attribute::{ErrorCode, Nonce, Realm, Username, XorMappedAddress};
use stun_types::message::{
    BINDING, IntegrityAlgorithm, LongTermCredentials, Message, MessageClass,
    MessageIntegrityCredentials, MessageWriteVec,
};
use stun_types::prelude::*;
use turn_server_proto::api::{
    SocketAllocateError, TcpConnectError, TurnServerApi, TurnServerPollRet,
};
use turn_server_proto::server::TurnServer;
use turn_server_proto::stun::agent::Transmit as TurnTransmit;
use turn_server_proto::types::attribute::{Lifetime, RequestedTransport, XorPeerAddress};
use turn_server_proto::types::message::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, REFRESH};
use turn_server_proto::types::transmit::TransmitBuild;
use turn_server_proto::types::{AddressFamily, Instant as TurnInstant};

use super::credentials::{RestUsername, Secret, UnixClock};
use super::framing::{Framer, pad_for_stream};
use super::policy::{Bucket, Limits, PeerPolicy};
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};

/// The relay's UDP endpoint.
pub const LISTEN_UDP: SocketId = SocketId(0);
/// The relay's TCP listener, on the same endpoint.
pub const LISTEN_TCP: SocketId = SocketId(1);
/// The first id of the sockets named as the relay runs.
const FIRST_DYNAMIC: u16 = 2;
/// The last: room is left above for a machine that shares the port.
const LAST_DYNAMIC: u16 = u16::MAX - 16;

/// How many ports an allocation tries before it gives up (508).
const PORT_TRIES: u32 = 32;

/// How the relay is set up.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The endpoint it listens on, UDP and TCP.
    pub listen: SocketAddr,
    /// The REALM of the long-term credentials (RFC 8489 §9.2).
    pub realm: String,
    pub secret: Secret,
    /// Unix time, for the expiry of credentials.
    pub clock: UnixClock,
    pub policy: PeerPolicy,
    pub limits: Limits,
}

/// What the relay has done, for the operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Allocations made.
    pub allocations: u64,
    /// Requests refused: bad, expired or unknown credentials, denied peers,
    /// TCP allocations, connections beyond the limit.
    pub refused: u64,
    /// Bytes of application data relayed, both ways.
    pub bytes_relayed: u64,
    /// Requests and datagrams refused because a quota was reached.
    pub quota_hits: u64,
    /// Datagrams dropped: from peers without a permission, or to peers the
    /// policy denies.
    pub dropped: u64,
    /// TCP connections closed for input that is not TURN.
    pub malformed: u64,
}

/// The client side of the relay the crate serves: over UDP or over TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    Udp,
    Tcp,
}

impl Side {
    fn transport(self) -> TransportType {
        match self {
            Side::Udp => TransportType::Udp,
            Side::Tcp => TransportType::Tcp,
        }
    }
}

/// One relayed address.
#[derive(Debug)]
struct Relayed {
    side: Side,
    client: SocketAddr,
    user: Login,
    born: Instant,
}

/// A relayed socket being bound.
#[derive(Debug)]
struct PendingSocket {
    side: Side,
    client: SocketAddr,
    family: AddressFamily,
    user: Login,
    tries: u32,
}

/// Who a client authenticated as: the whole REST username
/// (`EXPIRY:NAME`), and its NAME, the unit of the per-user quotas.
#[derive(Debug, Clone, Default)]
struct Login {
    username: String,
    name: String,
}

/// A TCP connection from a client.
#[derive(Debug)]
struct Connection {
    remote: SocketAddr,
    framing: Framer,
}

/// A user's share.
#[derive(Debug)]
struct User {
    allocations: usize,
    bandwidth: Bucket,
}

/// The relay; see the module documentation.
#[derive(Debug)]
pub struct Relay {
    config: RelayConfig,
    /// OTHER-ADDRESS for Binding answers over TCP (RFC 5780 §7.4), when
    /// the relay shares its port with an RFC 5780 responder.
    other_address: Option<SocketAddr>,
    udp: TurnServer,
    tcp: TurnServer,
    /// The usernames each side's crate knows.
    known: HashMap<Side, HashSet<String>>,
    /// The user (NAME) each client last authenticated as.
    client_user: HashMap<(Side, SocketAddr), Login>,
    users: HashMap<String, User>,
    bandwidth: Bucket,
    relayed: HashMap<SocketId, Relayed>,
    /// Relayed address -> its socket.
    relayed_at: HashMap<SocketAddr, SocketId>,
    /// Its socket -> the relayed address.
    relayed_addr: HashMap<SocketId, SocketAddr>,
    pending: HashMap<SocketId, PendingSocket>,
    connections: HashMap<SocketId, Connection>,
    connection_of: HashMap<SocketAddr, SocketId>,
    next_id: u16,
    next_port: u32,
    asked: u8,
    binds: VecDeque<(SocketId, Bind)>,
    closes: VecDeque<SocketId>,
    transmits: VecDeque<Transmit>,
    wake: Option<Instant>,
    stats: RelayStats,
}

impl Relay {
    pub fn new(config: RelayConfig) -> Self {
        let udp = TurnServer::new(TransportType::Udp, config.listen, config.realm.clone());
        let tcp = TurnServer::new(TransportType::Tcp, config.listen, config.realm.clone());
        Self {
            other_address: None,
            bandwidth: Bucket::new(config.limits.total_bandwidth),
            udp,
            tcp,
            known: HashMap::new(),
            client_user: HashMap::new(),
            users: HashMap::new(),
            relayed: HashMap::new(),
            relayed_at: HashMap::new(),
            relayed_addr: HashMap::new(),
            pending: HashMap::new(),
            connections: HashMap::new(),
            connection_of: HashMap::new(),
            next_id: FIRST_DYNAMIC,
            next_port: 0,
            asked: 0,
            binds: VecDeque::new(),
            closes: VecDeque::new(),
            transmits: VecDeque::new(),
            wake: None,
            stats: RelayStats::default(),
            config,
        }
    }

    pub fn stats(&self) -> RelayStats {
        self.stats
    }

    /// The allocations alive now.
    pub fn allocations(&self) -> usize {
        self.relayed.len()
    }

    /// The relayed address of every allocation.
    pub fn relayed_addresses(&self) -> Vec<SocketAddr> {
        self.relayed_at.keys().copied().collect()
    }

    /// The crate's clock: nanoseconds since the machine's clock anchor.
    fn turn_now(&self, now: Instant) -> TurnInstant {
        let nanos = now
            .saturating_duration_since(self.config.clock.at())
            .as_nanos();
        TurnInstant::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    fn std_instant(&self, at: TurnInstant) -> Instant {
        let nanos = u64::try_from(at.as_nanos()).unwrap_or(0);
        self.config.clock.at() + Duration::from_nanos(nanos)
    }

    fn server(&mut self, side: Side) -> &mut TurnServer {
        match side {
            Side::Udp => &mut self.udp,
            Side::Tcp => &mut self.tcp,
        }
    }

    /// A fresh socket id: the next one not in use.
    fn fresh_id(&mut self) -> Option<SocketId> {
        for _ in FIRST_DYNAMIC..=LAST_DYNAMIC {
            let id = SocketId(self.next_id);
            self.next_id = if self.next_id >= LAST_DYNAMIC {
                FIRST_DYNAMIC
            } else {
                self.next_id + 1
            };
            let taken = self.relayed.contains_key(&id)
                || self.pending.contains_key(&id)
                || self.connections.contains_key(&id);
            if !taken {
                return Some(id);
            }
        }
        None
    }

    /// Names `other` in the OTHER-ADDRESS of Binding answers over TCP: the
    /// responder's alternate, whose port this relay shares.
    pub fn with_other_address(mut self, other: Option<SocketAddr>) -> Self {
        self.other_address = other;
        self
    }

    /// A datagram or a whole TCP frame from a client.
    fn handle_client(&mut self, now: Instant, side: Side, client: SocketAddr, frame: &[u8]) {
        if let Ok(msg) = Message::from_bytes(frame)
            && msg.has_class(MessageClass::Request)
            && let Some(answer) = self.screen(now, side, client, &msg)
        {
            self.send_to_client(side, client, answer);
            return;
        }
        let listen = self.config.listen;
        let at = self.turn_now(now);
        let transmit = TurnTransmit::new(frame, side.transport(), client, listen);
        let out = self
            .server(side)
            .recv(transmit, at)
            .map(TransmitBuild::build);
        if let Some(out) = out {
            self.dispatch(now, out.transport, out.from, out.to, out.data);
        }
        self.drain(now);
    }

    /// Checks a request before the crate sees it: the credentials, the
    /// peers and the quotas. Returns the answer when the relay refuses it
    /// itself.
    fn screen(
        &mut self,
        now: Instant,
        side: Side,
        client: SocketAddr,
        msg: &Message<'_>,
    ) -> Option<Vec<u8>> {
        if msg.method() == BINDING {
            // Over UDP the responder answers Binding (proto::serve); over
            // the relay's TCP listener the relay does, with the client's
            // endpoint (RFC 8489 §14.2), so that STUN over TCP works on the
            // primary's port too (RFC 5382 mapping tests).
            let other = self.other_address;
            return (side == Side::Tcp).then(|| binding_success(msg, client, other));
        }
        // RFC 8489 §9.2.4: a USERHASH names a user only the crate could
        // look up, past the expiry check; REST usernames go in the clear.
        if msg.has_attribute(stun_types::attribute::Userhash::TYPE) {
            self.stats.refused += 1;
            return Some(self.refused(msg));
        }
        // Without a username the crate answers with its challenge (401
        // with REALM and NONCE); but on a 5-tuple that holds an
        // allocation it answers with a 401 signed with the holder's key,
        // which a newcomer cannot read: the relay challenges it instead,
        // so that its signed Allocate can be told 437 (RFC 8656 §7.2).
        let Ok(username) = msg.attribute::<Username>() else {
            let held = msg.method() == ALLOCATE && self.holds_allocation(side, client, None);
            return held.then(|| self.unauthorized(msg, "Unauthorized", "ranat-challenge"));
        };
        let username = username.username().to_string();
        let Ok(user) =
            RestUsername::parse(&username).and_then(|u| u.check(self.config.clock.seconds(now)))
        else {
            self.stats.refused += 1;
            return Some(self.refused(msg));
        };
        let name = user.name.to_string();
        let password = self.config.secret.password(&username);
        let key: MessageIntegrityCredentials =
            LongTermCredentials::new(username.clone(), password.clone())
                .to_key(self.config.realm.clone())
                .into();
        let Ok(algorithm) = msg.validate_integrity(&key) else {
            // Wrong password or realm: the crate, which cannot validate it
            // either, answers 401.
            self.stats.refused += 1;
            return None;
        };
        if self.known.entry(side).or_default().insert(username.clone()) {
            self.server(side).add_user(username.clone(), password);
        }
        let refuse = |code| Some(signed_error(msg, code, &key, algorithm));
        // RFC 8656 §7.2 step 2: the 5-tuple holds another user's
        // allocation (a NAT gave this port to another host while the first
        // allocation lives). The crate's own answer, 441, is for
        // non-Allocate requests (§6), and would not tell the client to
        // move (§7.4); the 5-tuple stays its first user's.
        if msg.method() == ALLOCATE && self.holds_allocation(side, client, Some(&username)) {
            self.stats.refused += 1;
            return refuse(ErrorCode::ALLOCATION_MISMATCH);
        }
        let login = Login {
            username,
            name: name.clone(),
        };
        self.client_user.insert((side, client), login);
        match msg.method() {
            ALLOCATE => {
                let udp = msg
                    .attribute::<RequestedTransport>()
                    .is_ok_and(|t| t.protocol() == RequestedTransport::UDP);
                if !udp {
                    self.stats.refused += 1;
                    return refuse(ErrorCode::UNSUPPORTED_TRANSPORT_PROTOCOL);
                }
                let has = self.users.get(&name).map_or(0, |u| u.allocations);
                if has >= self.config.limits.user_allocations {
                    self.stats.quota_hits += 1;
                    return refuse(ErrorCode::ALLOCATION_QUOTA_REACHED);
                }
                if self.relayed.len() + self.pending.len() >= self.config.limits.total_allocations {
                    self.stats.quota_hits += 1;
                    return refuse(ErrorCode::INSUFFICIENT_CAPACITY);
                }
            }
            CREATE_PERMISSION | CHANNEL_BIND => {
                let policy = &self.config.policy;
                let channel = msg.method() == CHANNEL_BIND;
                let denied = msg
                    .iter_attributes()
                    .filter(|(_, raw)| raw.get_type() == XorPeerAddress::TYPE)
                    .filter_map(|(_, raw)| XorPeerAddress::from_raw_ref(&raw).ok())
                    .map(|peer| peer.addr(msg.transaction_id()))
                    .any(|peer| {
                        if channel {
                            !policy.permits(peer)
                        } else {
                            !policy.permits_permission(peer.ip())
                        }
                    });
                if denied {
                    self.stats.refused += 1;
                    return refuse(ErrorCode::FORBIDDEN);
                }
            }
            REFRESH => {
                let deleting = msg.attribute::<Lifetime>().is_ok_and(|l| l.seconds() == 0);
                let lifetime = self.config.limits.lifetime;
                let too_old = self.relayed.values().any(|r| {
                    r.side == side && r.client == client && now.duration_since(r.born) >= lifetime
                });
                if too_old && !deleting {
                    self.stats.quota_hits += 1;
                    return refuse(ErrorCode::FORBIDDEN);
                }
            }
            _ => {}
        }
        None
    }

    /// Whether `client`'s 5-tuple on `side` holds an allocation (made or
    /// being made), under a username other than `other_than` if given.
    /// The same username is the crate's to judge: a retransmission is
    /// answered as the first request was, a new request with 437 (RFC
    /// 8656 §7.2).
    fn holds_allocation(&self, side: Side, client: SocketAddr, other_than: Option<&str>) -> bool {
        let held = |s: Side, c: SocketAddr, user: &Login| {
            s == side && c == client && other_than.is_none_or(|name| user.username != name)
        };
        self.relayed
            .values()
            .any(|r| held(r.side, r.client, &r.user))
            || self
                .pending
                .values()
                .any(|p| held(p.side, p.client, &p.user))
    }

    /// A 401 for credentials the relay will never take (RFC 8489 §9.2.4
    /// asks for REALM and NONCE; a retry with them fails the same way).
    fn refused(&self, msg: &Message<'_>) -> Vec<u8> {
        let reason = "Unauthorized: credentials malformed or expired";
        self.unauthorized(msg, reason, "ranat-refused")
    }

    /// A 401 with `reason`, the realm and `nonce` (RFC 8489 §9.2.4).
    fn unauthorized(&self, msg: &Message<'_>, reason: &str, nonce: &str) -> Vec<u8> {
        let mut out = Message::builder_error(msg, MessageWriteVec::new());
        if let Ok(error) = ErrorCode::builder(ErrorCode::UNAUTHORIZED)
            .reason(reason)
            .build()
        {
            let _ = out.add_attribute(&error);
        }
        if let Ok(realm) = Realm::new(&self.config.realm) {
            let _ = out.add_attribute(&realm);
        }
        if let Ok(nonce) = Nonce::new(nonce) {
            let _ = out.add_attribute(&nonce);
        }
        out.finish()
    }

    /// Sends `bytes` to a client, over UDP or its TCP connection.
    fn send_to_client(&mut self, side: Side, client: SocketAddr, bytes: Vec<u8>) {
        let socket = match side {
            Side::Udp => LISTEN_UDP,
            Side::Tcp => match self.connection_of.get(&client) {
                Some(id) => *id,
                None => return,
            },
        };
        let payload = match side {
            Side::Udp => bytes,
            Side::Tcp => pad_for_stream(bytes),
        };
        self.transmits.push_back(Transmit {
            socket,
            destination: client,
            payload,
        });
    }

    /// Sends what the crate gave: to a client from the relay's endpoint,
    /// or to a peer from a relayed address, if the policy and the quotas
    /// let it.
    fn dispatch(
        &mut self,
        now: Instant,
        transport: TransportType,
        from: SocketAddr,
        to: SocketAddr,
        data: Vec<u8>,
    ) {
        if from == self.config.listen {
            let side = match transport {
                TransportType::Tcp => Side::Tcp,
                _ => Side::Udp,
            };
            self.send_to_client(side, to, data);
            return;
        }
        let Some(&socket) = self.relayed_at.get(&from) else {
            return;
        };
        if !self.config.policy.permits(to) || !self.within_quota(now, socket, data.len()) {
            self.stats.dropped += u64::from(!self.config.policy.permits(to));
            return;
        }
        self.stats.bytes_relayed += data.len() as u64;
        self.transmits.push_back(Transmit {
            socket,
            destination: to,
            payload: data,
        });
    }

    /// Whether `bytes` more fit the lifetime and bandwidth of the
    /// allocation on `socket`, its user's and the relay's; they are
    /// counted when they do.
    fn within_quota(&mut self, now: Instant, socket: SocketId, bytes: usize) -> bool {
        let Some(r) = self.relayed.get(&socket) else {
            return false;
        };
        let bytes = bytes as u64;
        let alive = now.duration_since(r.born) < self.config.limits.lifetime;
        let user = self.users.get_mut(&r.user.name);
        let fits = alive
            && user.is_some_and(|u| u.bandwidth.take(now, bytes))
            && self.bandwidth.take(now, bytes);
        if !fits {
            self.stats.quota_hits += 1;
        }
        fits
    }

    /// A datagram from a peer to the relayed address on `socket`.
    fn handle_peer(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        let (Some(r), Some(&relayed)) = (self.relayed.get(&socket), self.relayed_addr.get(&socket))
        else {
            return;
        };
        let side = r.side;
        let at = self.turn_now(now);
        let transmit = TurnTransmit::new(bytes, TransportType::Udp, from, relayed);
        let Some(out) = self
            .server(side)
            .recv(transmit, at)
            .map(TransmitBuild::build)
        else {
            // No permission for this peer (RFC 8656 §10.3): dropped.
            self.stats.dropped += 1;
            return;
        };
        if !self.within_quota(now, socket, bytes.len()) {
            return;
        }
        self.stats.bytes_relayed += bytes.len() as u64;
        self.dispatch(now, out.transport, out.from, out.to, out.data);
        self.drain(now);
    }

    /// Bytes on a client's TCP connection: whole frames go to the crate;
    /// a connection that carries something else is closed.
    fn handle_connection(&mut self, now: Instant, socket: SocketId, bytes: &[u8]) {
        let Some(c) = self.connections.get_mut(&socket) else {
            return;
        };
        let remote = c.remote;
        c.framing.push(bytes);
        let mut frames = Vec::new();
        loop {
            match c.framing.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(_) => {
                    self.stats.malformed += 1;
                    self.close_connection(now, socket);
                    return;
                }
            }
        }
        for frame in frames {
            self.handle_client(now, Side::Tcp, remote, &frame);
        }
    }

    /// Closes a client's TCP connection, and tells the crate.
    fn close_connection(&mut self, now: Instant, socket: SocketId) {
        self.closes.push_back(socket);
        self.forget_connection(now, socket);
    }

    fn forget_connection(&mut self, now: Instant, socket: SocketId) {
        let Some(c) = self.connections.remove(&socket) else {
            return;
        };
        self.connection_of.remove(&c.remote);
        self.client_user.remove(&(Side::Tcp, c.remote));
        // Empty data is the crate's word for a connection gone.
        let at = self.turn_now(now);
        let listen = self.config.listen;
        let gone = TurnTransmit::new(&[][..], TransportType::Tcp, c.remote, listen);
        let _ = self.tcp.recv(gone, at);
    }

    /// Runs the crates' own work: sockets to bind or close, timers,
    /// transmits.
    fn drain(&mut self, now: Instant) {
        let at = self.turn_now(now);
        let mut wake: Option<Instant> = None;
        for side in [Side::Udp, Side::Tcp] {
            loop {
                match self.server(side).poll(at) {
                    TurnServerPollRet::WaitUntil(until) => {
                        let until = self.std_instant(until);
                        wake = Some(wake.map_or(until, |w| w.min(until)));
                        break;
                    }
                    TurnServerPollRet::AllocateSocket {
                        transport,
                        listen_addr,
                        client_addr,
                        allocation_transport,
                        family,
                    } => self.allocate(
                        now,
                        side,
                        (transport, listen_addr, client_addr),
                        allocation_transport,
                        family,
                    ),
                    TurnServerPollRet::TcpConnect {
                        relayed_addr,
                        peer_addr,
                        listen_addr,
                        client_addr,
                    } => self.server(side).tcp_connected(
                        relayed_addr,
                        peer_addr,
                        listen_addr,
                        client_addr,
                        Err(TcpConnectError::Forbidden),
                        at,
                    ),
                    TurnServerPollRet::TcpClose {
                        local_addr,
                        remote_addr,
                    } => {
                        if local_addr == self.config.listen
                            && let Some(&id) = self.connection_of.get(&remote_addr)
                        {
                            self.close_connection(now, id);
                        }
                    }
                    TurnServerPollRet::SocketClose { listen_addr, .. } => {
                        self.release(listen_addr);
                    }
                }
            }
            while let Some(t) = self.server(side).poll_transmit(at) {
                self.dispatch(now, t.transport, t.from, t.to, t.data);
            }
        }
        self.wake = wake;
    }

    /// The crate asks for a relayed socket for `client`.
    fn allocate(
        &mut self,
        now: Instant,
        side: Side,
        (transport, listen, client): (TransportType, SocketAddr, SocketAddr),
        allocation_transport: TransportType,
        family: AddressFamily,
    ) {
        let same_family = match family {
            AddressFamily::IPV4 => listen.is_ipv4(),
            _ => listen.is_ipv6(),
        };
        let refusal = if !same_family {
            Some(SocketAllocateError::AddressFamilyNotSupported)
        } else if allocation_transport != TransportType::Udp
            || self.relayed.len() + self.pending.len() >= self.config.limits.total_allocations
        {
            Some(SocketAllocateError::InsufficientCapacity)
        } else {
            None
        };
        let id = match (refusal, self.fresh_id()) {
            (None, Some(id)) => id,
            (refusal, _) => {
                let error = refusal.unwrap_or(SocketAllocateError::InsufficientCapacity);
                let at = self.turn_now(now);
                self.server(side).allocated_socket(
                    transport,
                    listen,
                    client,
                    allocation_transport,
                    family,
                    Err(error),
                    at,
                );
                return;
            }
        };
        let user = self
            .client_user
            .get(&(side, client))
            .cloned()
            .unwrap_or_default();
        self.pending.insert(
            id,
            PendingSocket {
                side,
                client,
                family,
                user,
                tries: 0,
            },
        );
        self.ask_port(id);
    }

    /// Asks for socket `id` on the next port of the range.
    fn ask_port(&mut self, id: SocketId) {
        let port = self.config.policy.ports.nth(self.next_port);
        self.next_port = self.next_port.wrapping_add(1);
        let at = SocketAddr::new(self.config.listen.ip(), port);
        self.binds.push_back((id, Bind::At(at)));
    }

    /// Tells the crate how socket `id` turned out.
    fn allocated(&mut self, now: Instant, id: SocketId, local: Result<SocketAddr, ()>) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        let at = self.turn_now(now);
        let listen = self.config.listen;
        let result = local.map_err(|()| SocketAllocateError::InsufficientCapacity);
        if let Ok(local) = result {
            self.stats.allocations += 1;
            let limits = self.config.limits;
            self.users
                .entry(p.user.name.clone())
                .or_insert_with(|| User {
                    allocations: 0,
                    bandwidth: Bucket::new(limits.user_bandwidth),
                })
                .allocations += 1;
            self.relayed_at.insert(local, id);
            self.relayed_addr.insert(id, local);
            self.relayed.insert(
                id,
                Relayed {
                    side: p.side,
                    client: p.client,
                    user: p.user,
                    born: now,
                },
            );
        }
        self.server(p.side).allocated_socket(
            p.side.transport(),
            listen,
            p.client,
            TransportType::Udp,
            p.family,
            result,
            at,
        );
        self.drain(now);
    }

    /// The crate is done with the relayed address `addr`.
    fn release(&mut self, addr: SocketAddr) {
        let Some(id) = self.relayed_at.remove(&addr) else {
            return;
        };
        self.relayed_addr.remove(&id);
        if let Some(r) = self.relayed.remove(&id)
            && let Some(u) = self.users.get_mut(&r.user.name)
        {
            u.allocations = u.allocations.saturating_sub(1);
            if u.allocations == 0 {
                self.users.remove(&r.user.name);
            }
        }
        self.closes.push_back(id);
    }
}

/// An error answer signed with the requester's key (RFC 8489 §9.2.4), as
/// the crate signs its own.
fn signed_error(
    msg: &Message<'_>,
    code: u16,
    key: &MessageIntegrityCredentials,
    algorithm: IntegrityAlgorithm,
) -> Vec<u8> {
    let mut out = Message::builder_error(msg, MessageWriteVec::new());
    if let Ok(error) = ErrorCode::builder(code).build() {
        let _ = out.add_attribute(&error);
    }
    let _ = out.add_message_integrity(key, algorithm);
    let _ = out.add_fingerprint();
    out.finish()
}

impl Machine for Relay {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        match self.asked {
            0 => {
                self.asked = 1;
                Some((LISTEN_UDP, Bind::At(self.config.listen)))
            }
            1 => {
                self.asked = 2;
                Some((LISTEN_TCP, Bind::Listen(self.config.listen)))
            }
            _ => self.binds.pop_front(),
        }
    }

    fn handle_bound(&mut self, now: Instant, socket: SocketId, local: SocketAddr) {
        if self.pending.contains_key(&socket) {
            self.allocated(now, socket, Ok(local));
        }
    }

    fn handle_bind_failed(&mut self, now: Instant, socket: SocketId) {
        let Some(p) = self.pending.get_mut(&socket) else {
            return;
        };
        p.tries += 1;
        if p.tries < PORT_TRIES.min(self.config.policy.ports.len()) {
            self.ask_port(socket);
        } else {
            self.stats.quota_hits += 1;
            self.allocated(now, socket, Err(()));
        }
    }

    fn poll_close(&mut self) -> Option<SocketId> {
        self.closes.pop_front()
    }

    fn handle_accept(
        &mut self,
        _now: Instant,
        listener: SocketId,
        remote: SocketAddr,
    ) -> Option<SocketId> {
        if listener != LISTEN_TCP
            || self.connections.len() >= self.config.limits.total_allocations
            || self.connection_of.contains_key(&remote)
        {
            self.stats.refused += 1;
            return None;
        }
        let id = self.fresh_id()?;
        self.connections.insert(
            id,
            Connection {
                remote,
                framing: Framer::default(),
            },
        );
        self.connection_of.insert(remote, id);
        Some(id)
    }

    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        if socket == LISTEN_UDP {
            self.handle_client(now, Side::Udp, from, bytes);
        } else if self.connections.contains_key(&socket) {
            self.handle_connection(now, socket, bytes);
        } else if self.relayed.contains_key(&socket) {
            self.handle_peer(now, socket, from, bytes);
        }
    }

    fn handle_closed(&mut self, now: Instant, socket: SocketId) {
        self.forget_connection(now, socket);
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.drain(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.wake
    }

    fn is_done(&self) -> bool {
        false
    }
}

/// A Binding success answer naming `client` in XOR-MAPPED-ADDRESS, and
/// `other` in OTHER-ADDRESS when given.
fn binding_success(msg: &Message<'_>, client: SocketAddr, other: Option<SocketAddr>) -> Vec<u8> {
    let mut out = Message::builder_success(msg, MessageWriteVec::new());
    let _ = out.add_attribute(&XorMappedAddress::new(client, msg.transaction_id()));
    if let Some(other) = other {
        let _ = out.add_attribute(&crate::proto::stun::OtherAddress::new(other));
    }
    let _ = out.add_fingerprint();
    out.finish()
}
