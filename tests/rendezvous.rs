//! The rendezvous end to end: clients of the library pair through a real
//! `ranat serve`, and the client meets scripted hostile servers.
//!
//! Addresses: this file uses 127.0.60.0/24, one address per test.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use ranat::io::rendezvous::{
    PeerCandidates, ProtocolViolation, RendezvousClient, RendezvousClientError,
};
use ranat::proto::punch::{Candidate, CandidateKind, Credentials};
use ranat::proto::rendezvous::{Code, MAX_FRAME, RendezvousError, Role};
use serde_json::{Value, json};

/// Runs a future on a fresh single-threaded runtime, as `ranat` does.
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

/// Bounds a whole client conversation, so a hang fails the test.
async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("the rendezvous finished within 20 s")
}

fn credentials(c: char) -> Credentials {
    Credentials {
        ufrag: c.to_string().repeat(8),
        pwd: c.to_string().repeat(24),
    }
}

fn candidates(port: u16) -> Vec<Candidate> {
    vec![
        Candidate {
            address: SocketAddr::from(([127, 0, 60, 200], port)),
            kind: CandidateKind::Host,
        },
        Candidate {
            address: SocketAddr::from(([127, 0, 60, 201], port + 1)),
            kind: CandidateKind::ServerReflexive,
        },
    ]
}

/// One side's whole rendezvous; returns the peer's report and candidates.
async fn run_side(
    mut client: RendezvousClient,
    tag: char,
    port: u16,
) -> Result<(Value, PeerCandidates), RendezvousClientError> {
    client.wait_peer_joined().await?;
    let report = client.exchange_reports(json!({ "side": tag })).await?;
    let peer = client
        .exchange_candidates(credentials(tag), candidates(port))
        .await?;
    Ok((report, peer))
}

/// The number before `label` in the rendezvous stats line.
fn stat(stderr: &str, label: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("ranat serve: rendezvous: "))
        .unwrap_or_else(|| panic!("no rendezvous stats in:\n{stderr}"));
    line.trim_start_matches("ranat serve: rendezvous: ")
        .split([';', ','])
        .map(str::trim)
        .find_map(|part| {
            let (n, rest) = part.split_once(' ')?;
            (rest == label).then(|| n.parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("no '{label}' count in: {line}"))
}

/// Stops the server cleanly and returns its stderr.
fn stop(server: RanatServer) -> String {
    let (status, stderr) = server.daemon.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "ranat serve did not stop cleanly ({status:?}):\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// A code other than `code` (its last symbol changed).
fn another_code(code: Code) -> Code {
    let mut text = code.as_str().to_string();
    let last = if text.ends_with('2') { "3" } else { "2" };
    text.replace_range(5.., last);
    text.parse().expect("a valid code")
}

#[test]
fn two_clients_pair_through_ranat_serve_and_swap_reports_and_candidates() {
    let server = RanatServer::start(lo4(60, 1), None);
    let addr = server.rendezvous;
    block_on(bounded(async {
        let (helper, welcome) = RendezvousClient::connect(addr, None)
            .await
            .expect("the helper creates a room");
        assert_eq!(welcome.role, Role::Helper);
        assert_eq!(welcome.expires_in_secs, 600);
        assert_eq!(helper.role(), Role::Helper);

        // The novice types the code as read out: lower case, a space.
        let typed = welcome.code.to_string().to_lowercase().replace('-', " ");
        let code: Code = typed.parse().expect("the typed code parses");
        let (novice, joined) = RendezvousClient::connect(addr, Some(code))
            .await
            .expect("the novice joins");
        assert_eq!((joined.code, joined.role), (welcome.code, Role::Novice));
        assert!((599..=600).contains(&joined.expires_in_secs), "{joined:?}");

        let (helper_side, novice_side) =
            tokio::join!(run_side(helper, 'h', 5000), run_side(novice, 'n', 6000));
        let (report, peer) = helper_side.expect("the helper's rendezvous");
        assert_eq!(report, json!({"side": "n"}));
        assert_eq!(peer.credentials, credentials('n'));
        assert_eq!(peer.candidates, candidates(6000));
        assert!(peer.observed.ip().is_loopback(), "{peer:?}");
        let (report, peer) = novice_side.expect("the novice's rendezvous");
        assert_eq!(report, json!({"side": "h"}));
        assert_eq!(peer.credentials, credentials('h'));
        assert_eq!(peer.candidates, candidates(5000));

        // Single use: the code is forgotten once the exchange is done.
        let again = RendezvousClient::connect(addr, Some(code)).await;
        assert!(
            matches!(
                again,
                Err(RendezvousClientError::Server(RendezvousError::UnknownCode))
            ),
            "{again:?}"
        );
    }));
    let stderr = stop(server);
    assert_eq!(stat(&stderr, "rooms created"), 1, "{stderr}");
    assert_eq!(stat(&stderr, "paired"), 1, "{stderr}");
    assert_eq!(stat(&stderr, "completed"), 1, "{stderr}");
    assert_eq!(stat(&stderr, "refused"), 1, "{stderr}");
}

#[test]
fn a_third_client_and_a_wrong_code_are_refused_and_the_pair_is_unharmed() {
    let server = RanatServer::start(lo4(60, 2), None);
    let addr = server.rendezvous;
    block_on(bounded(async {
        let (helper, welcome) = RendezvousClient::connect(addr, None)
            .await
            .expect("the helper creates a room");
        let wrong = RendezvousClient::connect(addr, Some(another_code(welcome.code))).await;
        let err = wrong.expect_err("a wrong code is refused");
        assert!(
            matches!(
                err,
                RendezvousClientError::Server(RendezvousError::UnknownCode)
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("no session has this code"),
            "{err}"
        );

        let (novice, _) = RendezvousClient::connect(addr, Some(welcome.code))
            .await
            .expect("the novice joins");
        let third = RendezvousClient::connect(addr, Some(welcome.code)).await;
        let err = third.expect_err("a third client is refused");
        assert!(
            matches!(
                err,
                RendezvousClientError::Server(RendezvousError::CodeInUse)
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("already used by two"), "{err}");

        let (h, n) = tokio::join!(run_side(helper, 'h', 5000), run_side(novice, 'n', 6000));
        assert_eq!(h.expect("helper").0, json!({"side": "n"}));
        assert_eq!(n.expect("novice").0, json!({"side": "h"}));
    }));
    let stderr = stop(server);
    assert_eq!(stat(&stderr, "refused"), 2, "{stderr}");
    assert_eq!(stat(&stderr, "completed"), 1, "{stderr}");
}

#[test]
fn when_one_side_leaves_the_other_hears_so() {
    let server = RanatServer::start(lo4(60, 3), None);
    let addr = server.rendezvous;
    block_on(bounded(async {
        let (mut helper, welcome) = RendezvousClient::connect(addr, None)
            .await
            .expect("the helper creates a room");
        let (novice, _) = RendezvousClient::connect(addr, Some(welcome.code))
            .await
            .expect("the novice joins");
        helper.wait_peer_joined().await.expect("joined");
        drop(novice);
        let err = helper
            .exchange_reports(json!({"side": "h"}))
            .await
            .expect_err("the novice left");
        assert!(
            matches!(
                err,
                RendezvousClientError::Server(RendezvousError::PeerLeft)
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the rendezvous server said: the other side left"
        );
    }));
    stop(server);
}

/// Reads one frame's JSON from a raw connection, or `None` at its end.
fn read_frame(stream: &mut TcpStream) -> Option<Value> {
    let mut header = [0; 4];
    stream.read_exact(&mut header).ok()?;
    let len = u32::from_be_bytes(header) as usize;
    assert!(len <= MAX_FRAME, "the server sent a {len}-byte frame");
    let mut body = vec![0; len];
    stream.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).expect("the server sends JSON"))
}

fn raw_connection(addr: SocketAddr) -> TcpStream {
    assert_loopback(addr);
    let stream = TcpStream::connect(addr).expect("connect to the rendezvous");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("read timeout");
    stream
}

/// Whether the server closed the connection (EOF, or a reset after it).
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut rest = [0; 64];
    match stream.read(&mut rest) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn an_oversize_or_garbage_frame_is_refused_and_the_server_keeps_serving() {
    let server = RanatServer::start(lo4(60, 4), None);
    let addr = server.rendezvous;

    // A length over the limit, then the start of a body that never ends.
    let mut stream = raw_connection(addr);
    let over = u32::try_from(MAX_FRAME + 1).expect("fits");
    stream.write_all(&over.to_be_bytes()).expect("write");
    stream.write_all(&[b'{'; 1000]).expect("write");
    assert_eq!(
        read_frame(&mut stream),
        Some(json!({"type": "error", "error": "too_large"}))
    );
    assert!(closed_by_server(&mut stream));

    // A frame that is not JSON, and a message of an unknown type.
    for body in [
        &b"\x00\xffnot json"[..],
        br#"{"type":"relay","to":"127.0.0.1:9"}"#,
    ] {
        let mut stream = raw_connection(addr);
        let len = u32::try_from(body.len()).expect("fits");
        stream.write_all(&len.to_be_bytes()).expect("write");
        stream.write_all(body).expect("write");
        assert_eq!(
            read_frame(&mut stream),
            Some(json!({"type": "error", "error": "malformed"}))
        );
        assert!(closed_by_server(&mut stream));
    }

    // The server still pairs clients.
    block_on(bounded(async {
        let (helper, welcome) = RendezvousClient::connect(addr, None)
            .await
            .expect("still serving");
        let (novice, _) = RendezvousClient::connect(addr, Some(welcome.code))
            .await
            .expect("the novice joins");
        let (h, n) = tokio::join!(run_side(helper, 'h', 5000), run_side(novice, 'n', 6000));
        assert!(h.is_ok() && n.is_ok(), "{h:?} {n:?}");
    }));
    let stderr = stop(server);
    assert_eq!(stat(&stderr, "protocol errors"), 3, "{stderr}");
    assert_eq!(stat(&stderr, "completed"), 1, "{stderr}");
}

#[test]
fn a_connection_that_never_says_hello_is_closed_after_ten_seconds() {
    let server = RanatServer::start(lo4(60, 5), None);
    let mut stream = raw_connection(server.rendezvous);
    let started = Instant::now();
    // Half a length prefix, then silence.
    stream.write_all(&[0, 0]).expect("write");
    assert!(closed_by_server(&mut stream));
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(14)).contains(&waited),
        "closed after {waited:?}"
    );
    let stderr = stop(server);
    assert_eq!(stat(&stderr, "idle connections closed"), 1, "{stderr}");
}

#[test]
fn serve_without_rendezvous_opens_no_tcp_port() {
    let ip = lo4(60, 6);
    let (port, _) = free_ports(&[ip]);
    let rendezvous_port = std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("a free TCP port")
        .port();
    let mut cmd = std::process::Command::new(RANAT);
    cmd.args(["serve", "--primary", &ip.to_string()]).args([
        "--port",
        &port.to_string(),
        "--no-rendezvous",
    ]);
    let mut daemon = Daemon::spawn("ranat serve --no-rendezvous", &mut cmd);
    daemon
        .wait_until_answers(SocketAddr::new(ip, port), Duration::from_secs(10))
        .expect("STUN answers");
    assert!(
        TcpStream::connect((ip, 3480)).is_err(),
        "something listens on the default rendezvous port"
    );
    let (status, stderr) = daemon.terminate();
    assert!(status.is_some_and(|s| s.success()), "{stderr}");
    assert!(!stderr.contains("rendezvous"), "{stderr}");

    // The flag and a port together make no sense.
    let out = run(
        std::process::Command::new(RANAT)
            .args(["serve", "--primary", &ip.to_string(), "--no-rendezvous"])
            .args(["--rendezvous-port", &rendezvous_port.to_string()]),
        Duration::from_secs(10),
    );
    out.assert_no_panic();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("cannot be used with"), "{out}");
}

#[test]
fn a_rendezvous_port_already_taken_fails_clearly() {
    let ip = lo4(60, 7);
    let taken = std::net::TcpListener::bind((ip, 0)).expect("hold a TCP port");
    let port = taken.local_addr().expect("addr").port();
    let (stun_port, _) = free_ports(&[ip]);
    let out = run(
        std::process::Command::new(RANAT)
            .args(["serve", "--primary", &ip.to_string()])
            .args(["--port", &stun_port.to_string()])
            .args(["--rendezvous-port", &port.to_string()]),
        Duration::from_secs(10),
    );
    out.assert_no_panic();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "cannot listen for the rendezvous on TCP {ip}:{port}"
        )),
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// Hostile servers: a listener in the test plays a scripted server.

/// A frame carrying `body` as is.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = u32::try_from(body.len())
        .expect("small")
        .to_be_bytes()
        .to_vec();
    f.extend_from_slice(body);
    f
}

fn json_frame(value: Value) -> Vec<u8> {
    frame(&serde_json::to_vec(&value).expect("json"))
}

/// A fake server on `ip` that sends `script` to its first client, then
/// reads until the client leaves (so its replies are never cut off by a
/// reset); `None` sends nothing at all.
async fn fake_server(ip: std::net::IpAddr, script: Option<Vec<u8>>) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind((ip, 0))
        .await
        .expect("bind the fake server");
    let addr = listener.local_addr().expect("addr");
    assert_loopback(addr);
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        if let Some(script) = script {
            let _ = stream.write_all(&script).await;
        }
        let mut sink = [0; 1024];
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    });
    addr
}

/// What a client gets from a fake server, joining with `code` and going
/// as far as the script lets it.
async fn against(
    ip: std::net::IpAddr,
    code: Option<Code>,
    script: Option<Vec<u8>>,
) -> RendezvousClientError {
    let addr = fake_server(ip, script).await;
    let result = async {
        let (client, _) = RendezvousClient::connect(addr, code).await?;
        run_side(client, 'x', 7000).await
    }
    .await;
    result.expect_err("a hostile server never completes a rendezvous")
}

#[test]
fn hostile_servers_give_clear_client_errors() {
    let ip = lo4(60, 8);
    let code: Code = "ABC-DEF".parse().expect("code");
    let welcome = |role: &str, code: &str| {
        json_frame(json!({"type": "welcome", "code": code, "role": role, "expires_in_secs": 600}))
    };
    let novice_welcome = welcome("novice", "ABC-DEF");
    let peer_report = json_frame(json!({"type": "peer_report", "report": {"side": "fake"}}));
    let peer_candidates = |credentials: Value, n: u16| {
        let candidates: Vec<Value> = (0..n)
            .map(|i| json!({"address": format!("127.0.60.9:{}", 1000 + i), "kind": "host"}))
            .collect();
        json_frame(json!({
            "type": "peer_candidates",
            "credentials": credentials,
            "candidates": candidates,
            "observed": "127.0.60.9:1",
        }))
    };
    let good_credentials = json!({"ufrag": "abcd", "pwd": "0123456789012345678901"});

    block_on(bounded(async {
        // Not our protocol at all: "HTTP" read as a length is 1.2 GB.
        let err = against(ip, None, Some(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec())).await;
        assert!(
            matches!(
                err,
                RendezvousClientError::Protocol(ProtocolViolation::TooLarge { .. })
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("over the 65536-byte limit"),
            "{err}"
        );

        // A frame that is not JSON, with a terminal escape in it.
        let err = against(ip, None, Some(frame(b"\x1b[2J{\"type\":\"welc"))).await;
        assert!(
            matches!(
                err,
                RendezvousClientError::Protocol(ProtocolViolation::Malformed(_))
            ),
            "{err:?}"
        );
        assert!(!err.to_string().contains('\x1b'), "{err}");

        // An unknown message type, its name long and full of control codes.
        let name = format!("\x1b]0;{}", "x".repeat(10_000));
        let err = against(ip, None, Some(json_frame(json!({"type": name})))).await;
        let text = err.to_string();
        assert!(text.len() < 400 && !text.contains('\x1b'), "{text}");

        // A zero length.
        let err = against(ip, None, Some(vec![0, 0, 0, 0])).await;
        assert!(
            matches!(
                err,
                RendezvousClientError::Protocol(ProtocolViolation::EmptyFrame)
            ),
            "{err:?}"
        );

        // A message out of place.
        let err = against(ip, None, Some(peer_report.clone())).await;
        assert!(
            matches!(
                err,
                RendezvousClientError::Protocol(ProtocolViolation::Unexpected {
                    expected: "welcome",
                    got: "peer_report"
                })
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the rendezvous server broke the protocol: it sent peer_report while this side waited for welcome"
        );

        // Welcomed into another room, or in the wrong role.
        let err = against(ip, Some(code), Some(welcome("novice", "222-333"))).await;
        assert!(
            matches!(
                err,
                RendezvousClientError::Protocol(ProtocolViolation::WrongRoom { .. })
            ),
            "{err:?}"
        );
        let err = against(ip, Some(code), Some(welcome("helper", "ABC-DEF"))).await;
        assert!(
            matches!(
                err,
                RendezvousClientError::Protocol(ProtocolViolation::WrongRole { got: Role::Helper })
            ),
            "{err:?}"
        );

        // Hostile candidates: too many, or bad credentials.
        let script = [
            novice_welcome.clone(),
            peer_report.clone(),
            peer_candidates(good_credentials.clone(), 17),
        ]
        .concat();
        let err = against(ip, Some(code), Some(script)).await;
        assert!(
            matches!(
                err,
                RendezvousClientError::Protocol(ProtocolViolation::TooManyCandidates(17))
            ),
            "{err:?}"
        );
        let script = [
            novice_welcome.clone(),
            peer_report.clone(),
            peer_candidates(json!({"ufrag": "a:b", "pwd": "0123456789012345678901"}), 1),
        ]
        .concat();
        let err = against(ip, Some(code), Some(script)).await;
        assert!(
            matches!(
                err,
                RendezvousClientError::Protocol(ProtocolViolation::BadCredentials)
            ),
            "{err:?}"
        );

        // The same script with good candidates goes through: the checks
        // above are what failed, not the script.
        let addr = fake_server(
            ip,
            Some(
                [
                    novice_welcome.clone(),
                    peer_report.clone(),
                    peer_candidates(good_credentials.clone(), 16),
                ]
                .concat(),
            ),
        )
        .await;
        let (client, _) = RendezvousClient::connect(addr, Some(code))
            .await
            .expect("welcome");
        let (report, peer) = run_side(client, 'x', 7000).await.expect("a good script");
        assert_eq!(report, json!({"side": "fake"}));
        assert_eq!(peer.candidates.len(), 16);

        // A server that hangs up at once, or says nothing at all.
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            if let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        });
        let err = RendezvousClient::connect(addr, None)
            .await
            .expect_err("closed");
        assert!(
            matches!(
                err,
                RendezvousClientError::Closed | RendezvousClientError::Io(_)
            ),
            "{err:?}"
        );

        let started = Instant::now();
        let err = against(ip, None, None).await;
        assert!(
            matches!(err, RendezvousClientError::Unresponsive { .. }),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(7), "{err}");
        assert!(
            err.to_string().contains("did not respond within 5 s"),
            "{err}"
        );

        // Nothing listening.
        let closed = std::net::TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .expect("a port");
        let err = RendezvousClient::connect(closed, None)
            .await
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            format!("cannot connect to the rendezvous server {closed}")
        );
    }));
}
