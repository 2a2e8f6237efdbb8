//! The relay against TURN parts nobody here wrote, on loopback: coturn's
//! `turnutils_uclient` allocates and relays through `ranat serve` (UDP and
//! TCP to the server), and ranat's TURN client allocates and relays through
//! coturn's `turnserver` started with `--use-auth-secret`.
//!
//! A missing tool prints "SKIPPED: <tool> not installed" and the test
//! returns; scripts/test.sh installs coturn on CI.
//!
//! Addresses: this file uses 127.0.70.0/24, a few addresses per test.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use ranat::io::driver::Driver;
use ranat::proto::relay::client::{RelayClient, RelayEvent, RelayTransport};
use ranat::proto::relay::credentials::Secret;
use tokio::net::UdpSocket;

const SECRET: &str = "north";
const TOOL_LIMIT: Duration = Duration::from_secs(30);

/// `ranat serve` with the relay on `ip`, relaying only to 127.0.70.0/24;
/// with three threads, whose workers hand the TURN datagrams they receive
/// to the one relay.
fn start_ranat(ip: IpAddr) -> (Daemon, SocketAddr) {
    let mut last = String::new();
    for _ in 0..5 {
        let (port, _) = free_ports(&[ip]);
        let mut cmd = Command::new(RANAT);
        cmd.args(["serve", "--primary", &ip.to_string()])
            .args(["--port", &port.to_string(), "--no-rendezvous"])
            .args(["--relay-secret", SECRET])
            .args(["--relay-allow", "127.0.70.0/24"])
            .args(["--relay-ports", "50000-59999"])
            .args(["--threads", "3"]);
        let mut daemon = Daemon::spawn("ranat serve", &mut cmd);
        let server = SocketAddr::new(ip, port);
        match daemon.wait_until_answers(server, Duration::from_secs(10)) {
            Ok(()) => return (daemon, server),
            Err(e) => last = e,
        }
    }
    panic!("ranat serve never came up: {last}");
}

/// Runs `turnutils_uclient` against `server` with `secret`; its output.
fn uclient(server: SocketAddr, peer: SocketAddr, secret: &str, extra: &[&str]) -> Output {
    assert_loopback(peer);
    let mut cmd = Command::new(tool_path("turnutils_uclient"));
    cmd.args(["-W", secret, "-u", "helpdesk"])
        .args(["-e", &peer.ip().to_string(), "-r", &peer.port().to_string()])
        .args(["-p", &server.port().to_string(), "-n", "10", "-m", "1"])
        .args(extra)
        .arg(server.ip().to_string());
    run(&mut cmd, TOOL_LIMIT)
}

/// The messages uclient says it sent and received in all.
fn sent_and_received(out: &Output) -> (u64, u64) {
    let line = out
        .stdout
        .lines()
        .chain(out.stderr.lines())
        .find(|l| l.contains("start_mclient: tot_send_msgs="))
        .unwrap_or_else(|| panic!("no totals line:\n{out}"));
    let number = |key: &str| -> u64 {
        let (_, rest) = line.split_once(key).unwrap_or_default();
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (number("tot_send_msgs="), number("tot_recv_msgs="))
}

#[test]
fn coturn_uclient_relays_through_ranat_serve_over_udp_and_tcp() {
    if !have_tool("turnutils_uclient") || !have_tool("turnutils_peer") {
        return;
    }
    let (ranat, server) = start_ranat(lo4(70, 1));
    let peer_ip = lo4(70, 2);
    let (peer_port, _) = free_ports(&[peer_ip]);
    let peer = SocketAddr::new(peer_ip, peer_port);
    let _peer = Daemon::spawn(
        "turnutils_peer",
        Command::new(tool_path("turnutils_peer")).args([
            "-L",
            &peer_ip.to_string(),
            "-p",
            &peer_port.to_string(),
        ]),
    );
    std::thread::sleep(Duration::from_millis(300));

    // UDP to the server: data to the echoing peer and back, on channels.
    let out = uclient(server, peer, SECRET, &[]);
    let (sent, received) = sent_and_received(&out);
    assert!(sent >= 10 && received == sent, "{out}");
    // Between two of its clients' relayed addresses (-y), Send and Data
    // indications (-s).
    let out = uclient(server, peer, SECRET, &["-y", "-s"]);
    let (sent, received) = sent_and_received(&out);
    assert!(sent >= 10 && received == sent, "{out}");
    // TCP to the server, with messages of a length that ChannelData pads
    // on a stream (RFC 8656 §12.5).
    let out = uclient(server, peer, SECRET, &["-t", "-l", "101"]);
    let (sent, received) = sent_and_received(&out);
    assert!(sent >= 10 && received == sent, "{out}");
    // The wrong secret: no allocation, nothing relayed.
    let out = uclient(server, peer, "south", &[]);
    let totals = out
        .stdout
        .lines()
        .chain(out.stderr.lines())
        .any(|l| l.contains("tot_recv_msgs=") && !l.contains("tot_recv_msgs=0"));
    assert!(!totals, "a wrong secret relayed something:\n{out}");

    let (status, stderr) = ranat.terminate();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{stderr}");
    let relay = stderr
        .lines()
        .find(|l| l.contains("ranat serve: relay:"))
        .unwrap_or_else(|| panic!("no relay counters:\n{stderr}"));
    let count = |word: &str| -> u64 {
        relay
            .split(", ")
            .chain(relay.split(": "))
            .find_map(|part| part.trim().strip_suffix(word))
            .and_then(|n| n.trim().rsplit(' ').next().and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    };
    assert!(count(" allocations") >= 4, "{relay}");
    assert!(count(" refused") >= 1, "{relay}");
    assert!(count(" bytes relayed") >= 3000, "{relay}");
}

/// coturn as a TURN server with REST API credentials on `ip`.
fn start_coturn(dir: &TempDir, ip: IpAddr) -> (Daemon, SocketAddr) {
    let mut last = String::new();
    for _ in 0..3 {
        let (port, _) = free_ports(&[ip]);
        let path = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
        let mut cmd = Command::new(tool_path("turnserver"));
        cmd.args(["-n", "--use-auth-secret"])
            .arg(format!("--static-auth-secret={SECRET}"))
            .args(["--realm", "ranat.test"])
            .args(["--listening-ip", &ip.to_string()])
            .args(["--relay-ip", &ip.to_string()])
            .args(["-p", &port.to_string()])
            .args(["--min-port", "60000", "--max-port", "60999"])
            .args([
                "--allow-loopback-peers",
                "--no-tls",
                "--no-dtls",
                "--no-cli",
            ])
            .args(["--pidfile", &path("turnserver.pid")])
            .args(["--log-file", &path("turnserver.log")])
            .args(["--userdb", &path("turndb")])
            .args(["--simple-log", "--no-stdout-log"]);
        let mut daemon = Daemon::spawn("turnserver", &mut cmd);
        let server = SocketAddr::new(ip, port);
        match daemon.wait_until_answers(server, Duration::from_secs(10)) {
            Ok(()) => return (daemon, server),
            Err(e) => {
                let log = std::fs::read_to_string(dir.path().join("turnserver.log"));
                last = format!("{e}\n{}", log.unwrap_or_default());
            }
        }
    }
    panic!("turnserver never came up: {last}");
}

/// Drives `driver` until its client says something, within `limit`.
async fn next_event(driver: &mut Driver<RelayClient>, limit: Instant) -> Option<RelayEvent> {
    loop {
        if let Some(event) = driver.machine_mut().poll_event() {
            return Some(event);
        }
        if !driver.step(Some(limit)).await {
            return None;
        }
    }
}

/// ranat's client over `transport` allocates on coturn, lets a peer in,
/// and the two exchange a datagram each way through the relay.
async fn relay_through(server: SocketAddr, peer_ip: IpAddr, transport: RelayTransport) {
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let credentials = Secret::new(SECRET)
        .unwrap()
        .issue("novice", unix.as_secs() + 600)
        .unwrap();
    let client = RelayClient::new(server, transport, credentials, Instant::now());
    let mut driver = Driver::bind(client).await.expect("bind the client");
    let limit = Instant::now() + Duration::from_secs(10);
    let Some(RelayEvent::Allocated(relayed)) = next_event(&mut driver, limit).await else {
        panic!("no allocation from coturn over {transport:?}")
    };
    assert_loopback(relayed);

    let peer = UdpSocket::bind((peer_ip, 0)).await.unwrap();
    let peer_at = peer.local_addr().unwrap();
    driver
        .machine_mut()
        .bind_channel(Instant::now(), peer_at)
        .unwrap();
    // A channel brings its permission (RFC 8656 §12.1).
    let mut event = next_event(&mut driver, limit).await;
    if event == Some(RelayEvent::PermissionCreated(peer_ip)) {
        event = next_event(&mut driver, limit).await;
    }
    assert_eq!(
        event,
        Some(RelayEvent::ChannelBound(peer_at)),
        "{transport:?}"
    );
    driver
        .machine_mut()
        .send(Instant::now(), peer_at, b"from the novice")
        .unwrap();
    driver.flush().await;
    let mut buf = [0; 1500];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), peer.recv_from(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("the peer hears the novice over {transport:?}"))
        .unwrap();
    assert_eq!(&buf[..n], b"from the novice");
    assert_eq!(from, relayed, "it came from the relayed address");
    peer.send_to(b"from the peer", relayed).await.unwrap();
    assert_eq!(
        next_event(&mut driver, limit).await,
        Some(RelayEvent::Data {
            peer: peer_at,
            bytes: b"from the peer".to_vec()
        }),
        "{transport:?}"
    );
}

#[tokio::test]
async fn ranat_client_relays_through_coturn_over_udp_and_tcp() {
    if !have_tool("turnserver") {
        return;
    }
    let dir = TempDir::new("relay-coturn");
    let (coturn, server) = start_coturn(&dir, lo4(70, 5));
    relay_through(server, lo4(70, 6), RelayTransport::Udp).await;
    relay_through(server, lo4(70, 7), RelayTransport::Tcp).await;
    drop(coturn);
}

/// `ranat relay-test` with `args` against `server`; its output.
fn relay_test(server: SocketAddr, secret_file: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(RANAT);
    cmd.args(["relay-test", "--relay", &server.to_string()])
        .arg("--secret-file")
        .arg(secret_file)
        .args(args);
    run(&mut cmd, TOOL_LIMIT)
}

#[test]
fn relay_test_command_allocates_and_exchanges_through_ranat_serve() {
    let dir = TempDir::new("relay-test-cmd");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let (ranat, server) = start_ranat(lo4(70, 9));

    // Allocate only: the relayed address, exit 0.
    let out = relay_test(server, &secret, &["--timeout", "5"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("relayed address 127.0.70.9:"), "{out}");

    // The wrong secret: no allocation, exit 30.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "south\n").unwrap();
    let out = relay_test(server, &wrong, &["--timeout", "2"]);
    assert_eq!(out.code, Some(30), "{out}");

    // Two sides, one over TCP, one over UDP, each finding the other's
    // relayed address in a file: pings both ways, nothing lost.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let common = ["--count", "10", "--interval-ms", "5", "--timeout", "15"];
    let mut tcp = Command::new(RANAT);
    tcp.args(["relay-test", "--relay", &server.to_string(), "--tcp"])
        .arg("--secret-file")
        .arg(&secret)
        .args(common)
        .args(["--write-relayed", a, "--peer-file", b]);
    let tcp = std::thread::spawn(move || run(&mut tcp, TOOL_LIMIT));
    let udp = relay_test(
        server,
        &secret,
        &[&common[..], &["--write-relayed", b, "--peer-file", a]].concat(),
    );
    let tcp = tcp.join().unwrap();
    for out in [&tcp, &udp] {
        assert_eq!(out.code, Some(0), "{out}");
        assert!(
            out.stdout.contains("10 sent, 10 answered, 0.0% loss"),
            "{out}"
        );
        assert!(
            out.stdout.contains("answered 10 of the peer's pings"),
            "{out}"
        );
    }
    drop(ranat);
}
