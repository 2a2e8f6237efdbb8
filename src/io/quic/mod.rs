//! The session's channel: QUIC (quinn, RFC 9000) over the very socket the
//! punch proved, each side proving the key the PAKE vouched for.
//!
//! No certificate authority is involved. Each side makes a self-signed
//! certificate for the session; the SHA-256 of it travels in the sealed
//! introduction, where only the holder of the same invitation code could
//! have put it; and each side's TLS 1.3 handshake accepts exactly that
//! certificate from the other (client authentication included), and
//! checks the handshake signatures with it. The novice's side is the QUIC
//! server, the helper's the client.
//!
//! QUIC-bit greasing (RFC 9287) stays off, so that a QUIC short header
//! keeps its first byte in 64–127 and never looks like STUN (0–3) on the
//! shared socket (RFC 9443). Keep-alives go out every 10 s, well inside
//! the 30 s many NATs keep an idle UDP mapping.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{ClientConfig, Connection, Endpoint, EndpointConfig, ServerConfig, TransportConfig};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};

/// The name both certificates carry and the client asks for; it proves
/// nothing by itself: the pinned hash does.
const SERVER_NAME: &str = "ranat-session";

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

/// SHA-256 of a certificate, as the introduction carries it.
pub type Fingerprint = [u8; 32];

/// This side's certificate and key for one session.
pub struct Identity {
    certificate: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    /// A fresh self-signed certificate (a new key pair per session).
    pub fn generate() -> Result<Self, QuicError> {
        let certified = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_string()])
            .map_err(|e| QuicError::Certificate(e.to_string()))?;
        Ok(Self {
            certificate: certified.cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()),
        })
    }

    /// What the other side must pin.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint(&self.certificate)
    }

    fn chain(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (
            vec![self.certificate.clone()],
            PrivateKeyDer::Pkcs8(self.key.clone_key()),
        )
    }
}

fn fingerprint(certificate: &CertificateDer<'_>) -> Fingerprint {
    Sha256::digest(certificate.as_ref()).into()
}

/// Accepts exactly one certificate: the pinned one.
#[derive(Debug)]
struct Pinned {
    fingerprint: Fingerprint,
    provider: Arc<CryptoProvider>,
}

impl Pinned {
    fn check(&self, certificate: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if fingerprint(certificate) == self.fingerprint {
            Ok(())
        } else {
            Err(rustls::Error::General(
                "the other side's certificate is not the one its sealed introduction named".into(),
            ))
        }
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The client's certificate is held to the same pin, and its signatures
/// are checked the same way as the server's.
impl ClientCertVerifier for Pinned {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        ServerCertVerifier::verify_tls12_signature(self, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        ServerCertVerifier::verify_tls13_signature(self, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        ServerCertVerifier::supported_verify_schemes(self)
    }
}

fn pinned(peer: Fingerprint) -> (Arc<Pinned>, Arc<CryptoProvider>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Pinned {
        fingerprint: peer,
        provider: Arc::clone(&provider),
    });
    (verifier, provider)
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

/// An endpoint config with QUIC-bit greasing off (see the module
/// documentation).
fn endpoint_config() -> EndpointConfig {
    let mut config = EndpointConfig::default();
    config.grease_quic_bit(false);
    config
}

/// The novice's side: serves QUIC on `socket` and accepts the one
/// connection whose certificate is `peer`'s.
pub async fn accept(
    socket: std::net::UdpSocket,
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
    socket.set_nonblocking(true)?;
    let runtime = quinn::default_runtime().ok_or(QuicError::Config("no async runtime".into()))?;
    let endpoint = Endpoint::new(endpoint_config(), Some(server), socket, runtime)?;
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

/// The helper's side: connects over `socket` to `remote`, accepting only
/// `peer`'s certificate.
pub async fn connect(
    socket: std::net::UdpSocket,
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
    socket.set_nonblocking(true)?;
    let runtime = quinn::default_runtime().ok_or(QuicError::Config("no async runtime".into()))?;
    let mut endpoint = Endpoint::new(endpoint_config(), None, socket, runtime)?;
    endpoint.set_default_client_config(client);
    let connecting = endpoint
        .connect(remote, SERVER_NAME)
        .map_err(|e| QuicError::Handshake(e.to_string()))?;
    let connection = connecting
        .await
        .map_err(|e| QuicError::Handshake(e.to_string()))?;
    Ok((endpoint, connection))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pair() -> (std::net::UdpSocket, std::net::UdpSocket, SocketAddr) {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = a.local_addr().unwrap();
        (a, b, server)
    }

    #[tokio::test]
    async fn the_two_pinned_sides_connect_and_talk() {
        let (server_socket, client_socket, server) = pair().await;
        let (novice, helper) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let (nf, hf) = (novice.fingerprint(), helper.fingerprint());
        let accepting = tokio::spawn(async move {
            let (_endpoint, connection) =
                accept(server_socket, &novice, hf, None, Duration::from_secs(5)).await?;
            let (mut send, mut recv) = connection
                .accept_bi()
                .await
                .map_err(|e| QuicError::Handshake(e.to_string()))?;
            let got = recv.read_to_end(64).await.unwrap();
            send.write_all(&got).await.unwrap();
            send.finish().unwrap();
            connection.closed().await;
            Ok::<_, QuicError>(got)
        });
        let (_endpoint, connection) = connect(
            client_socket,
            &helper,
            server,
            nf,
            Some(Duration::from_millis(1)),
        )
        .await
        .unwrap();
        let (mut send, mut recv) = connection.open_bi().await.unwrap();
        send.write_all(b"hello novice").await.unwrap();
        send.finish().unwrap();
        let echo = recv.read_to_end(64).await.unwrap();
        assert_eq!(echo, b"hello novice");
        connection.close(0u32.into(), b"done");
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(5), accepting)
                .await
                .unwrap()
                .unwrap()
                .unwrap(),
            b"hello novice"
        );
    }

    #[tokio::test]
    async fn a_certificate_that_is_not_the_pinned_one_is_refused_on_both_ends() {
        let (server_socket, client_socket, server) = pair().await;
        let (novice, helper) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let impostor = Identity::generate().unwrap();
        let hf = helper.fingerprint();
        let accepting = tokio::spawn(async move {
            accept(server_socket, &novice, hf, None, Duration::from_secs(3)).await
        });
        // The helper expects the impostor's certificate, not the novice's.
        let result = connect(client_socket, &helper, server, impostor.fingerprint(), None).await;
        assert!(
            matches!(result, Err(QuicError::Handshake(_))),
            "{:?}",
            result.err()
        );
        let served = tokio::time::timeout(Duration::from_secs(5), accepting)
            .await
            .unwrap()
            .unwrap();
        assert!(served.is_err(), "the novice's side got no connection");

        // The other way round: the novice pins someone else's certificate.
        let (server_socket, client_socket, server) = pair().await;
        let (novice, helper) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let nf = novice.fingerprint();
        let other = Identity::generate().unwrap().fingerprint();
        let accepting = tokio::spawn(async move {
            accept(server_socket, &novice, other, None, Duration::from_secs(3)).await
        });
        let result = connect(client_socket, &helper, server, nf, None).await;
        let served = tokio::time::timeout(Duration::from_secs(5), accepting)
            .await
            .unwrap()
            .unwrap();
        assert!(
            served.is_err(),
            "the novice refused the helper's certificate"
        );
        if let Ok((_, connection)) = result {
            // TLS 1.3 lets the client finish before the server's verdict;
            // the server's refusal then closes the connection.
            let closed = tokio::time::timeout(Duration::from_secs(5), connection.closed())
                .await
                .unwrap();
            assert!(
                matches!(
                    closed,
                    quinn::ConnectionError::ConnectionClosed(_)
                        | quinn::ConnectionError::TransportError(_)
                ),
                "{closed:?}"
            );
        }
    }

    /// The whole hand-over on loopback: two real punches through a STUN
    /// server, then QUIC over the very sockets that won.
    #[tokio::test]
    async fn quic_takes_over_the_sockets_a_punch_proved() {
        use crate::io::punch::{Punched, gather};
        use crate::proto::punch::{Credentials, Punch, PunchConfig};
        use crate::proto::stun::ResponderConfig;

        let stun = crate::io::serve::bind(
            ResponderConfig::new("127.0.0.1:0".parse().unwrap(), None).unwrap(),
            None,
        )
        .await
        .unwrap();
        let server = stun.endpoints()[0];
        tokio::spawn(stun.run(std::future::pending()));
        let creds = [0u8, 1].map(|k| {
            let mut n = k;
            Credentials::generate(move || {
                n = n.wrapping_mul(31).wrapping_add(7);
                n
            })
        });
        let mut sides = Vec::new();
        for (i, c) in creds.iter().enumerate() {
            let punch = Punch::new(PunchConfig::new(c.clone(), Some(server)), i as u64);
            sides.push(gather(punch).await.unwrap());
        }
        let candidates = [sides[0].candidates(), sides[1].candidates()];
        let b = sides.pop().unwrap();
        let a = sides.pop().unwrap();
        let (pa, pb) = tokio::join!(
            a.punch(creds[1].clone(), &candidates[1]),
            b.punch(creds[0].clone(), &candidates[0])
        );
        let (Punched::Connected(wa), Punched::Connected(wb)) = (pa, pb) else {
            panic!("the punch connected on loopback")
        };
        let (novice, helper) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let (nf, hf) = (novice.fingerprint(), helper.fingerprint());
        let rtt = Some(wb.path.rtt);
        let remote = wb.path.remote;
        let socket_a = wa.socket.into_std().unwrap();
        let socket_b = wb.socket.into_std().unwrap();
        let serving = tokio::spawn(async move {
            let (_e, connection) =
                accept(socket_a, &novice, hf, rtt, Duration::from_secs(5)).await?;
            let mut recv = connection
                .accept_uni()
                .await
                .map_err(|e| QuicError::Handshake(e.to_string()))?;
            Ok::<_, QuicError>(recv.read_to_end(64).await.unwrap())
        });
        let (_e, connection) = connect(socket_b, &helper, remote, nf, rtt).await.unwrap();
        let mut send = connection.open_uni().await.unwrap();
        send.write_all(b"over the punched path").await.unwrap();
        send.finish().unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), serving)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(got, b"over the punched path");
    }
}
