//! The session's channel: QUIC (quinn, RFC 9000) over the very socket the
//! punch proved, or between two TURN relayed addresses when no direct path
//! exists ([`relayed`]), each side proving the key the PAKE vouched for.
//!
//! No certificate authority is involved. Each side makes a self-signed
//! certificate for the session; the SHA-256 of it travels in the sealed
//! introduction, where only the holder of the same invitation code could
//! have put it; and each side's TLS 1.3 handshake accepts exactly that
//! certificate from the other (client authentication included), and
//! checks the handshake signatures with it ([`pinned`]). The novice's side
//! is the QUIC server, the helper's the client.
//!
//! QUIC-bit greasing (RFC 9287) stays off, so that a QUIC short header
//! keeps its first byte in 64–127 and never looks like STUN (0–3) on the
//! shared socket (RFC 9443). Keep-alives go out every 10 s, well inside
//! the 30 s many NATs keep an idle UDP mapping.

pub mod direct;
mod pinned;
pub mod relayed;

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::udp::RecvMeta;
use quinn::{
    AsyncUdpSocket, ClientConfig, Connection, Endpoint, EndpointConfig, ServerConfig,
    TransportConfig,
};

pub use pinned::{Fingerprint, Identity};
use pinned::{SERVER_NAME, pinned};
use tokio::sync::mpsc;

/// Keep-alives, below common NAT mapping timeouts.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// A connection silent for this long is gone.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the channel could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    #[error("could not make this session's certificate: {0}")]
    Certificate(String),
    #[error("could not configure QUIC: {0}")]
    Config(String),
    #[error("could not use the socket for QUIC: {0}")]
    Socket(#[from] std::io::Error),
    #[error("the QUIC handshake failed: {0}")]
    Handshake(String),
    #[error("the other side did not connect")]
    NoConnection,
}

/// What carries the QUIC datagrams.
#[derive(Debug)]
pub enum Carrier {
    /// A plain UDP socket: the one the punch proved.
    Udp(std::net::UdpSocket),
    /// A socket quinn drives through its trait: a TURN allocation
    /// ([`relayed::Relayed::socket`]) or the punched socket shared with
    /// consent freshness ([`direct::Direct::socket`]).
    Abstract(Arc<dyn AsyncUdpSocket>),
}

impl From<std::net::UdpSocket> for Carrier {
    fn from(socket: std::net::UdpSocket) -> Self {
        Self::Udp(socket)
    }
}

impl From<Arc<dyn AsyncUdpSocket>> for Carrier {
    fn from(socket: Arc<dyn AsyncUdpSocket>) -> Self {
        Self::Abstract(socket)
    }
}

impl Carrier {
    /// An endpoint on this carrier, with QUIC-bit greasing off (see the
    /// module documentation); a server when `server` is given.
    fn endpoint(self, server: Option<ServerConfig>) -> Result<Endpoint, QuicError> {
        let runtime =
            quinn::default_runtime().ok_or(QuicError::Config("no async runtime".into()))?;
        let socket = match self {
            Carrier::Udp(socket) => {
                socket.set_nonblocking(true)?;
                runtime.wrap_udp_socket(socket)?
            }
            Carrier::Abstract(socket) => socket,
        };
        let mut config = EndpointConfig::default();
        config.grease_quic_bit(false);
        Ok(Endpoint::new_with_abstract_socket(
            config, server, socket, runtime,
        )?)
    }
}

fn transport(initial_rtt: Option<Duration>) -> Arc<TransportConfig> {
    let mut transport = TransportConfig::default();
    transport.keep_alive_interval(Some(KEEP_ALIVE));
    // 30 s fits in a VarInt.
    if let Ok(idle) = IDLE_TIMEOUT.try_into() {
        transport.max_idle_timeout(Some(idle));
    }
    if let Some(rtt) = initial_rtt {
        transport.initial_rtt(rtt);
    }
    Arc::new(transport)
}

/// The novice's side: serves QUIC on `carrier` (a UDP socket or a relayed
/// one) and accepts the one connection whose certificate is `peer`'s.
pub async fn accept(
    carrier: impl Into<Carrier>,
    me: &Identity,
    peer: Fingerprint,
    initial_rtt: Option<Duration>,
    wait: Duration,
) -> Result<(Endpoint, Connection), QuicError> {
    let (verifier, provider) = pinned(peer);
    let (chain, key) = me.chain();
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| QuicError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| QuicError::Config(e.to_string()))?;
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| QuicError::Config(e.to_string()))?;
    let mut server = ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(transport(initial_rtt));
    let endpoint = carrier.into().endpoint(Some(server))?;
    let incoming = tokio::time::timeout(wait, endpoint.accept())
        .await
        .ok()
        .flatten()
        .ok_or(QuicError::NoConnection)?;
    let connection = incoming
        .await
        .map_err(|e| QuicError::Handshake(e.to_string()))?;
    Ok((endpoint, connection))
}

/// The helper's side: connects over `carrier` (a UDP socket or a relayed
/// one) to `remote`, accepting only `peer`'s certificate.
pub async fn connect(
    carrier: impl Into<Carrier>,
    me: &Identity,
    remote: SocketAddr,
    peer: Fingerprint,
    initial_rtt: Option<Duration>,
) -> Result<(Endpoint, Connection), QuicError> {
    let (verifier, provider) = pinned(peer);
    let (chain, key) = me.chain();
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| QuicError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(chain, key)
        .map_err(|e| QuicError::Config(e.to_string()))?;
    let crypto = QuicClientConfig::try_from(tls).map_err(|e| QuicError::Config(e.to_string()))?;
    let mut client = ClientConfig::new(Arc::new(crypto));
    client.transport_config(transport(initial_rtt));
    let mut endpoint = carrier.into().endpoint(None)?;
    endpoint.set_default_client_config(client);
    let connecting = endpoint
        .connect(remote, SERVER_NAME)
        .map_err(|e| QuicError::Handshake(e.to_string()))?;
    let connection = connecting
        .await
        .map_err(|e| QuicError::Handshake(e.to_string()))?;
    Ok((endpoint, connection))
}

/// Fills quinn's receive buffers from a queue of datagrams (one per
/// buffer, so `max_receive_segments` is 1): waits for the first, takes
/// whatever else is queued at once. A datagram larger than its buffer is
/// dropped whole; a closed queue is the error `closed` makes.
fn poll_queued(
    inbound: &mut mpsc::Receiver<(SocketAddr, Vec<u8>)>,
    closed: fn() -> io::Error,
    cx: &mut Context,
    bufs: &mut [IoSliceMut<'_>],
    meta: &mut [RecvMeta],
) -> Poll<io::Result<usize>> {
    let mut filled = 0;
    for (buf, meta) in bufs.iter_mut().zip(meta.iter_mut()) {
        let next = loop {
            let next = if filled == 0 {
                match inbound.poll_recv(cx) {
                    Poll::Ready(Some(datagram)) => Some(datagram),
                    Poll::Ready(None) => return Poll::Ready(Err(closed())),
                    Poll::Pending => return Poll::Pending,
                }
            } else {
                inbound.try_recv().ok()
            };
            match next {
                Some((_, bytes)) if bytes.len() > buf.len() => {}
                other => break other,
            }
        };
        let Some((peer, bytes)) = next else {
            break;
        };
        buf[..bytes.len()].copy_from_slice(&bytes);
        *meta = RecvMeta {
            addr: peer,
            len: bytes.len(),
            stride: bytes.len(),
            ecn: None,
            dst_ip: None,
        };
        filled += 1;
    }
    Poll::Ready(Ok(filled))
}

#[cfg(test)]
mod tests;
