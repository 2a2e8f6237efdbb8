//! A TURN client (RFC 8656) as a [`Machine`]: the sans-IO
//! `turn-client-proto` client on one socket toward the server, UDP or a TCP
//! connection. It allocates a relayed address at once and keeps the
//! allocation, its permissions and channels refreshed (the crate's timers);
//! the caller asks for permissions and channels and sends to peers, and
//! hears what happens as [`RelayEvent`]s.

use schemars::JsonSchema;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use stun_types::TransportType;
use stun_types::attribute::{AttributeStaticType, ErrorCode, MessageIntegrity};
use stun_types::message::{Message, MessageClass, TransactionId};
use turn_client_proto::api::{TurnConfig, TurnEvent, TurnPollRet, TurnRecvRet};
use turn_client_proto::client::TurnClient;
use turn_client_proto::prelude::*;
use turn_client_proto::stun::agent::Transmit as TurnTransmit;
use turn_client_proto::tcp::TurnClientTcp;
use turn_client_proto::types::message::ALLOCATE;
use turn_client_proto::types::{Instant as TurnInstant, TurnCredentials};
use turn_client_proto::udp::TurnClientUdp;

use super::credentials::Credentials;
use super::framing::{Framer, pad_for_stream};
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};

/// The one socket, toward the server.
pub const SERVER: SocketId = SocketId(0);

/// How the client reaches the TURN server (`udp`, `tcp` in documents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RelayTransport {
    Udp,
    /// TURN over TCP (RFC 8656 §3.1), for networks that block UDP.
    Tcp,
}

/// What the client hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEvent {
    /// The server allocated this relayed address.
    Allocated(SocketAddr),
    /// The server refused the allocation, or never answered.
    AllocationFailed,
    PermissionCreated(IpAddr),
    PermissionFailed(IpAddr),
    ChannelBound(SocketAddr),
    ChannelFailed(SocketAddr),
    /// A peer sent this through the relay.
    Data {
        peer: SocketAddr,
        bytes: Vec<u8>,
    },
    /// The connection to the server is gone (a TCP close), or the
    /// allocation is over.
    Closed,
}

/// Why a request could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayClientError {
    #[error("the relay has not allocated an address yet")]
    NotAllocated,
    #[error("the relay refused or cannot take this request: {0}")]
    Refused(String),
}

/// The client; see the module documentation.
#[derive(Debug)]
pub struct RelayClient {
    server: SocketAddr,
    transport: RelayTransport,
    credentials: Credentials,
    asked: bool,
    /// The crate's client, once the socket is bound.
    client: Option<TurnClient>,
    local: Option<SocketAddr>,
    /// The anchor of the crate's clock.
    origin: Instant,
    relayed: Option<SocketAddr>,
    /// Cuts the TCP stream from the server into frames.
    framing: Framer,
    events: VecDeque<RelayEvent>,
    transmits: VecDeque<Transmit>,
    wake: Option<Instant>,
    done: bool,
    /// The Allocate requests sent with credentials (the last few).
    signed_allocates: VecDeque<TransactionId>,
    /// 401 answers to those: see [`Self::credentials_refused`].
    unauthorized: u8,
    /// The last Allocate error code.
    refusal: Option<u16>,
}

impl RelayClient {
    /// A client that allocates on `server` with `credentials` once bound.
    pub fn new(
        server: SocketAddr,
        transport: RelayTransport,
        credentials: Credentials,
        now: Instant,
    ) -> Self {
        Self {
            server,
            transport,
            credentials,
            asked: false,
            client: None,
            local: None,
            origin: now,
            relayed: None,
            framing: Framer::default(),
            events: VecDeque::new(),
            transmits: VecDeque::new(),
            wake: None,
            done: false,
            signed_allocates: VecDeque::new(),
            unauthorized: 0,
            refusal: None,
        }
    }

    /// Whether the server refused the credentials: a second 401 to an
    /// Allocate that carried them (RFC 8489 §9.2.5). One may come with
    /// good credentials, when the server takes back what its nonce offered
    /// (ranat serve refuses the USERHASH that turn-server-proto's nonce
    /// invites, and the crate retries with USERNAME).
    pub fn credentials_refused(&self) -> bool {
        self.unauthorized >= 2
    }

    /// The error code of the last Allocate error response, if any (RFC
    /// 8656 §7.3: 437 means another allocation holds this 5-tuple).
    pub fn allocate_refusal(&self) -> Option<u16> {
        self.refusal
    }

    /// The relayed address, once allocated.
    pub fn relayed(&self) -> Option<SocketAddr> {
        self.relayed
    }

    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    fn turn_now(&self, now: Instant) -> TurnInstant {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        TurnInstant::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    fn std_instant(&self, at: TurnInstant) -> Instant {
        self.origin + Duration::from_nanos(u64::try_from(at.as_nanos()).unwrap_or(0))
    }

    fn allocated_client(&mut self) -> Result<&mut TurnClient, RelayClientError> {
        match (&mut self.client, self.relayed) {
            (Some(c), Some(_)) => Ok(c),
            _ => Err(RelayClientError::NotAllocated),
        }
    }

    /// Asks the server to let `peer` send to the relayed address and to be
    /// sent to (RFC 8656 §9).
    pub fn create_permission(
        &mut self,
        now: Instant,
        peer: IpAddr,
    ) -> Result<(), RelayClientError> {
        let at = self.turn_now(now);
        self.allocated_client()?
            .create_permission(TransportType::Udp, peer, at)
            .map_err(|e| RelayClientError::Refused(e.to_string()))?;
        self.drain(now);
        Ok(())
    }

    /// Binds a channel to `peer` (RFC 8656 §12): 4 bytes of overhead a
    /// datagram instead of 36. Creates the permission too.
    pub fn bind_channel(&mut self, now: Instant, peer: SocketAddr) -> Result<(), RelayClientError> {
        let at = self.turn_now(now);
        self.allocated_client()?
            .bind_channel(TransportType::Udp, peer, at)
            .map_err(|e| RelayClientError::Refused(e.to_string()))?;
        self.drain(now);
        Ok(())
    }

    /// Sends `bytes` to `peer` through the relay: on its channel if bound,
    /// else in a Send indication (RFC 8656 §11). Needs a permission.
    pub fn send(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), RelayClientError> {
        let at = self.turn_now(now);
        let out = self
            .allocated_client()?
            .send_to(TransportType::Udp, peer, bytes, at)
            .map_err(|e| RelayClientError::Refused(e.to_string()))?;
        if let Some(out) = out {
            let payload = out.build().data;
            self.queue(payload);
        }
        Ok(())
    }

    /// Deletes the allocation (a Refresh with lifetime 0).
    pub fn delete(&mut self, now: Instant) -> Result<(), RelayClientError> {
        let at = self.turn_now(now);
        self.allocated_client()?
            .delete(at)
            .map_err(|e| RelayClientError::Refused(e.to_string()))?;
        self.drain(now);
        Ok(())
    }

    /// Runs the crate's own work: its timers, transmits and events.
    fn drain(&mut self, now: Instant) {
        let at = self.turn_now(now);
        let Some(client) = self.client.as_mut() else {
            return;
        };
        let mut wake = None;
        let mut closed = false;
        loop {
            match client.poll(at) {
                TurnPollRet::WaitUntil(until) => {
                    wake = Some(until);
                    break;
                }
                TurnPollRet::Closed => {
                    closed = true;
                    break;
                }
                // No TCP allocations here: nothing to connect or close.
                TurnPollRet::AllocateTcpSocket { .. } | TurnPollRet::TcpClose { .. } => {}
            }
        }
        let mut out = Vec::new();
        while let Some(t) = client.poll_transmit(at) {
            out.push(t.data.to_vec());
        }
        let mut events = Vec::new();
        while let Some(event) = client.poll_event() {
            events.push(event);
        }
        while let Some(data) = client.poll_recv(at) {
            self.events.push_back(RelayEvent::Data {
                peer: data.peer,
                bytes: data.data().to_vec(),
            });
        }
        for event in events {
            let event = match event {
                TurnEvent::AllocationCreated(_, relayed) => {
                    self.relayed = Some(relayed);
                    RelayEvent::Allocated(relayed)
                }
                TurnEvent::AllocationCreateFailed(_) => RelayEvent::AllocationFailed,
                TurnEvent::PermissionCreated(_, ip) => RelayEvent::PermissionCreated(ip),
                TurnEvent::PermissionCreateFailed(_, ip) => RelayEvent::PermissionFailed(ip),
                TurnEvent::ChannelCreated(_, peer) => RelayEvent::ChannelBound(peer),
                TurnEvent::ChannelCreateFailed(_, peer) => RelayEvent::ChannelFailed(peer),
                TurnEvent::TcpConnected(_) | TurnEvent::TcpConnectFailed(_) => continue,
            };
            self.events.push_back(event);
        }
        for payload in out {
            self.queue(payload);
        }
        self.wake = wake.map(|w| self.std_instant(w));
        if closed {
            self.close();
        }
    }

    /// Queues bytes for the server, ChannelData padded on a stream.
    fn queue(&mut self, payload: Vec<u8>) {
        if self.relayed.is_none()
            && let Ok(msg) = Message::from_bytes(&payload)
            && msg.method() == ALLOCATE
            && msg.has_class(MessageClass::Request)
            && msg.has_attribute(MessageIntegrity::TYPE)
        {
            if self.signed_allocates.len() >= 8 {
                self.signed_allocates.pop_front();
            }
            self.signed_allocates.push_back(msg.transaction_id());
        }
        let payload = match self.transport {
            RelayTransport::Udp => payload,
            RelayTransport::Tcp => pad_for_stream(payload),
        };
        self.transmits.push_back(Transmit {
            socket: SERVER,
            destination: self.server,
            payload,
        });
    }

    fn handle_frame(&mut self, now: Instant, from: SocketAddr, frame: &[u8]) {
        // The crate answers every 401 that brings a new nonce with another
        // attempt until its own limit; wrong credentials end here instead.
        if self.relayed.is_none()
            && let Ok(msg) = Message::from_bytes(frame)
            && msg.method() == ALLOCATE
            && msg.has_class(MessageClass::Error)
        {
            self.refusal = msg.attribute::<ErrorCode>().ok().map(|e| e.code());
        }
        if self.relayed.is_none()
            && let Ok(msg) = Message::from_bytes(frame)
            && msg.method() == ALLOCATE
            && msg.has_class(MessageClass::Error)
            && self.signed_allocates.contains(&msg.transaction_id())
            && msg
                .attribute::<ErrorCode>()
                .is_ok_and(|e| e.code() == ErrorCode::UNAUTHORIZED)
        {
            self.unauthorized = self.unauthorized.saturating_add(1);
            if self.credentials_refused() {
                self.events.push_back(RelayEvent::AllocationFailed);
                self.close();
                return;
            }
        }
        let at = self.turn_now(now);
        let transport = match self.transport {
            RelayTransport::Udp => TransportType::Udp,
            RelayTransport::Tcp => TransportType::Tcp,
        };
        let (Some(client), Some(local)) = (self.client.as_mut(), self.local) else {
            return;
        };
        let transmit = TurnTransmit::new(frame, transport, from, local);
        if let TurnRecvRet::PeerData(data) = client.recv(transmit, at) {
            self.events.push_back(RelayEvent::Data {
                peer: data.peer,
                bytes: data.data().to_vec(),
            });
        }
    }

    /// The end: a client that never had its allocation says it failed
    /// first.
    fn close(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.wake = None;
        let reported = self.events.contains(&RelayEvent::AllocationFailed);
        if self.relayed.is_none() && !reported {
            self.events.push_back(RelayEvent::AllocationFailed);
        }
        self.events.push_back(RelayEvent::Closed);
    }
}

impl Machine for RelayClient {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        if self.asked {
            return None;
        }
        self.asked = true;
        Some(match self.transport {
            RelayTransport::Udp => (SERVER, Bind::Toward(self.server)),
            RelayTransport::Tcp => (SERVER, Bind::Connect(self.server)),
        })
    }

    /// Allocates at once (RFC 8656 §7.1).
    fn handle_bound(&mut self, now: Instant, _socket: SocketId, local: SocketAddr) {
        let credentials =
            TurnCredentials::new(&self.credentials.username, &self.credentials.password);
        let config = TurnConfig::new(credentials);
        self.local = Some(local);
        self.client = Some(match self.transport {
            RelayTransport::Udp => TurnClientUdp::allocate(local, self.server, config).into(),
            RelayTransport::Tcp => TurnClientTcp::allocate(local, self.server, config).into(),
        });
        self.drain(now);
    }

    /// A datagram, or bytes of the TCP stream cut into whole frames.
    fn handle_input(&mut self, now: Instant, _socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        let frames = match self.transport {
            RelayTransport::Udp => vec![bytes.to_vec()],
            RelayTransport::Tcp => {
                self.framing.push(bytes);
                let mut frames = Vec::new();
                loop {
                    match self.framing.next_frame() {
                        Ok(Some(frame)) => frames.push(frame),
                        Ok(None) => break,
                        // A server that speaks something else: nothing more
                        // can be read from it.
                        Err(_) => {
                            self.close();
                            return;
                        }
                    }
                }
                frames
            }
        };
        for frame in frames {
            self.handle_frame(now, from, &frame);
        }
        self.drain(now);
    }

    fn handle_closed(&mut self, _now: Instant, _socket: SocketId) {
        self.close();
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

    /// A client lives as long as its allocation: its caller ends it.
    fn is_done(&self) -> bool {
        self.done
    }
}
