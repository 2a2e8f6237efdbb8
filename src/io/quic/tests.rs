//! The channel on loopback: two pinned sides over plain sockets, a punch
//! handing its sockets over, and QUIC between two TURN relayed addresses.

use std::time::{SystemTime, UNIX_EPOCH};

use super::relayed::{RelayedError, allocate};
use super::*;
use crate::io::driver::Driver;
use crate::proto::relay::client::RelayTransport;
use crate::proto::relay::credentials::{Credentials, Secret, UnixClock};
use crate::proto::relay::policy::{Cidr, Limits, PeerPolicy, PortRange};
use crate::proto::relay::server::{LISTEN_UDP, Relay, RelayConfig};

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
    use crate::proto::punch::{Punch, PunchConfig};
    use crate::proto::stun::ResponderConfig;

    let stun = crate::io::serve::bind(
        ResponderConfig::new("127.0.0.1:0".parse().unwrap(), None).unwrap(),
        None,
    )
    .await
    .unwrap();
    let server = stun.endpoints()[0];
    tokio::spawn(stun.run(std::future::pending()));
    let creds = [0u8, 1].map(crate::proto::punch::testing::credentials);
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
        let (_e, connection) = accept(socket_a, &novice, hf, rtt, Duration::from_secs(5)).await?;
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

/// A ranat relay on 127.0.0.1, in this process: it relays between its own
/// relayed ports (and to 127.0.0.1/32, the only peers these tests have).
struct LoopbackRelay {
    server: SocketAddr,
    secret: Secret,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Driver<Relay>>,
}

impl LoopbackRelay {
    async fn start() -> Self {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let secret = Secret::new("north").unwrap();
        let mut last = None;
        // The TCP listener takes the UDP endpoint's port, which another
        // program may hold: a few tries.
        for _ in 0..5 {
            let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let listen = udp.local_addr().unwrap();
            let config = RelayConfig {
                listen,
                realm: "ranat.test".to_string(),
                secret: secret.clone(),
                clock: UnixClock::new(std::time::Instant::now(), unix),
                policy: PeerPolicy::new(
                    &[],
                    &["127.0.0.1/32".parse::<Cidr>().unwrap()],
                    &[listen.ip()],
                    &[listen],
                    "50000-59999".parse::<PortRange>().unwrap(),
                ),
                // Room for the bulk transfer: the default is 1 MB/s a user.
                limits: Limits {
                    user_bandwidth: 100_000_000,
                    total_bandwidth: 100_000_000,
                    ..Limits::default()
                },
            };
            match Driver::bind_with(Relay::new(config), vec![(LISTEN_UDP, Arc::new(udp))]).await {
                Ok(mut driver) => {
                    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                    let serving = tokio::spawn(async move {
                        driver
                            .serve(async {
                                let _ = stopped.await;
                            })
                            .await;
                        driver
                    });
                    return Self {
                        server: listen,
                        secret,
                        stop,
                        serving,
                    };
                }
                Err(e) => last = Some(e),
            }
        }
        panic!("the relay never came up: {last:?}");
    }

    fn credentials(&self, name: &str) -> Credentials {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        self.secret.issue(name, unix.as_secs() + 600).unwrap()
    }

    /// Stops serving; the relay's driver, to look into and run on.
    async fn stop(self) -> Driver<Relay> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.serving)
            .await
            .expect("the relay stops")
            .unwrap()
    }
}

/// Bytes that show where they went astray.
fn pattern(len: usize, step: usize) -> Vec<u8> {
    (0..len).map(|i| (i * step % 251) as u8).collect()
}

/// Both sides of a bidirectional stream at once: writes `out`, finishes,
/// reads the other side's bytes to their end.
async fn exchange(mut send: quinn::SendStream, mut recv: quinn::RecvStream, out: &[u8]) -> Vec<u8> {
    let writing = async {
        send.write_all(out).await.unwrap();
        send.finish().unwrap();
        // Everything acknowledged: a close now loses nothing.
        assert_eq!(send.stopped().await.unwrap(), None);
    };
    let (got, ()) = tokio::join!(recv.read_to_end(1 << 20), writing);
    got.unwrap()
}

/// The relayed path end to end: the novice allocates over UDP, the helper
/// over TCP (a network that blocks UDP), each lets the other's relayed
/// address in, and QUIC carries 256 KiB each way between the two relayed
/// addresses; released, the allocations are gone from the relay.
#[tokio::test]
async fn quic_runs_between_two_relayed_addresses_over_udp_and_tcp() {
    const SIZE: usize = 256 * 1024;
    let wait = Duration::from_secs(5);
    let relay = LoopbackRelay::start().await;
    let run = async {
        let novice_side = allocate(
            relay.server,
            RelayTransport::Udp,
            relay.credentials("novice"),
            wait,
        )
        .await
        .unwrap();
        let helper_side = allocate(
            relay.server,
            RelayTransport::Tcp,
            relay.credentials("helper"),
            wait,
        )
        .await
        .unwrap();
        let (novice_at, helper_at) = (novice_side.relayed_address(), helper_side.relayed_address());
        assert!(novice_at.ip().is_loopback() && helper_at.ip().is_loopback());
        assert_ne!(novice_at, helper_at);
        novice_side.permit(helper_at, wait).await.unwrap();
        helper_side.permit(novice_at, wait).await.unwrap();
        // Asking again for a channel already bound is answered at once.
        novice_side.permit(helper_at, wait).await.unwrap();

        let (novice, helper) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let (nf, hf) = (novice.fingerprint(), helper.fingerprint());
        let novice_socket = novice_side.socket();
        assert_eq!(novice_socket.local_addr().unwrap(), novice_at);
        let serving = tokio::spawn(async move {
            let (endpoint, connection) = accept(novice_socket, &novice, hf, None, wait).await?;
            assert_eq!(connection.remote_address(), helper_at);
            let (send, recv) = connection
                .accept_bi()
                .await
                .map_err(|e| QuicError::Handshake(e.to_string()))?;
            let got = exchange(send, recv, &pattern(SIZE, 7)).await;
            connection.closed().await;
            endpoint.wait_idle().await;
            Ok::<_, QuicError>(got)
        });
        let (endpoint, connection) = connect(helper_side.socket(), &helper, novice_at, nf, None)
            .await
            .unwrap();
        let (send, recv) = connection.open_bi().await.unwrap();
        let got = exchange(send, recv, &pattern(SIZE, 3)).await;
        assert!(got == pattern(SIZE, 7), "the novice's bytes arrive intact");
        connection.close(0u32.into(), b"done");
        endpoint.wait_idle().await;
        let served = serving.await.unwrap().unwrap();
        assert!(
            served == pattern(SIZE, 3),
            "the helper's bytes arrive intact"
        );

        novice_side.release().await;
        helper_side.release().await;
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the relayed exchange within 30 s");
    let mut driver = relay.stop().await;
    let stats = driver.machine().stats();
    assert!(stats.allocations >= 2);
    assert!(stats.bytes_relayed >= 2 * SIZE as u64, "{stats:?}");
    let limit = std::time::Instant::now() + Duration::from_secs(2);
    let gone = driver
        .next(
            |relay| (relay.allocations() == 0).then_some(()),
            Some(limit),
        )
        .await;
    assert_eq!(
        gone,
        Some(()),
        "{} allocations left",
        driver.machine().allocations()
    );
}

/// A wrong password: the relay's 401 comes back as the credentials error,
/// at once, over either transport.
#[tokio::test]
async fn a_wrong_password_is_the_credentials_error_promptly() {
    let relay = LoopbackRelay::start().await;
    for transport in [RelayTransport::Udp, RelayTransport::Tcp] {
        let mut credentials = relay.credentials("novice");
        credentials.password = "not the password".to_string();
        let started = std::time::Instant::now();
        let result = allocate(relay.server, transport, credentials, Duration::from_secs(5)).await;
        assert!(
            matches!(result, Err(RelayedError::Unauthorized)),
            "{transport:?}: {:?}",
            result.map(|r| r.relayed_address())
        );
        assert!(started.elapsed() < Duration::from_secs(2), "{transport:?}");
    }
    let driver = relay.stop().await;
    assert_eq!(driver.machine().stats().allocations, 0);
}

/// An allocation dropped without a release stops its task: the socket it
/// gave quinn reports the relay gone.
#[tokio::test]
async fn dropping_an_allocation_stops_its_task() {
    let relay = LoopbackRelay::start().await;
    let relayed = allocate(
        relay.server,
        RelayTransport::Udp,
        relay.credentials("novice"),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let socket = relayed.socket();
    drop(relayed);
    let transmit = quinn::udp::Transmit {
        destination: "127.0.0.1:9".parse().unwrap(),
        ecn: None,
        contents: b"anyone?",
        segment_size: None,
        src_ip: None,
    };
    let limit = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        match socket.try_send(&transmit) {
            Err(e) if e.kind() == std::io::ErrorKind::NotConnected => break,
            _ if std::time::Instant::now() > limit => panic!("the task still runs"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    relay.stop().await;
}
