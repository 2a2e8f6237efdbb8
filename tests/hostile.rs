//! Hostile input both ways: malformed and abusive datagrams against a
//! running `ranat serve`, and lying or broken servers against `ranat probe`.
//!
//! Addresses: this file uses 127.0.20.0/24, one set per test.

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use common::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(2);
/// How long a negative ("nothing arrives") check listens. The server handles
/// datagrams in order, so by the time a later request is answered an answer
/// to an earlier one would already have been sent; this is only a margin.
const QUIET: Duration = Duration::from_millis(200);

fn client() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind a client socket")
}

/// Sends a request and returns the first datagram that comes back, whatever
/// it is, with its source.
fn exchange(socket: &UdpSocket, server: SocketAddr, bytes: &[u8]) -> Option<(Stun, SocketAddr)> {
    assert_loopback(server);
    socket.send_to(bytes, server).expect("send");
    socket.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = [0; 65_536];
    let (n, from) = socket.recv_from(&mut buf).ok()?;
    Some((
        Stun::decode(&buf[..n]).unwrap_or_else(|| panic!("undecodable answer {:?}", &buf[..n])),
        from,
    ))
}

/// The number before `label` in the server's "stopped; …" line.
fn stat(stderr: &str, label: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("stopped;"))
        .unwrap_or_else(|| panic!("no stats line in:\n{stderr}"));
    line.split([';', ','])
        .map(str::trim)
        .find_map(|part| {
            let (n, rest) = part.split_once(' ')?;
            (rest == label).then(|| n.parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("no '{label}' count in: {line}"))
}

#[test]
fn serve_survives_hostile_datagrams_answers_only_the_sender_and_counts_them() {
    let server = RanatServer::start(lo4(20, 1), Some(lo4(20, 2)));
    let primary = server.primary;
    let alternate = server.alternate.expect("full mode");
    let s = client();
    let me = s.local_addr().expect("local");
    // A bystander: a third-party endpoint a request tries to aim answers at.
    let victim = client();
    let victim_addr = victim.local_addr().expect("local");

    let id = txid();
    let valid = encode(BINDING_REQUEST, COOKIE, &id, &[]);
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        ("3 bytes", vec![0x00, 0x01, 0x00]),
        ("19 bytes of a request", valid[..19].to_vec()),
        ("header promising 8 more bytes", {
            let mut b = valid.clone();
            b[3] = 8;
            b
        }),
        ("attribute running past the end", {
            let mut b = encode(
                BINDING_REQUEST,
                COOKIE,
                &txid(),
                &[(0x8022, vec![1, 2, 3, 4])],
            );
            b[22..24].copy_from_slice(&100u16.to_be_bytes());
            b
        }),
        ("0xff garbage", vec![0xff; 100]),
        ("wrong magic cookie and garbage attributes", {
            let mut b = vec![0x00, 0x01, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef];
            b.extend_from_slice(&[7; 12]);
            b.extend_from_slice(&[0xff; 8]);
            b
        }),
        (
            "a 4000-byte padded request (an amplification attempt)",
            encode(
                BINDING_REQUEST,
                COOKIE,
                &txid(),
                &[(PADDING, vec![0; 4000 - 24])],
            ),
        ),
    ];
    for (what, bytes) in &malformed {
        if what.starts_with("a 4000") {
            assert_eq!(bytes.len(), 4000);
        }
        s.send_to(bytes, primary).expect("send");
    }
    // A response is not a request: dropped.
    let response = encode(BINDING_SUCCESS, COOKIE, &txid(), &[]);
    s.send_to(&response, primary).expect("send");
    // Nothing of the above was answered: the next datagram is the answer to
    // a valid request sent after them.
    let (answer, from) = exchange(&s, primary, &valid).expect("the server still answers");
    assert_eq!(answer.txid, id, "an earlier hostile datagram was answered");
    assert_eq!(answer.mtype, BINDING_SUCCESS);
    assert_eq!(from, primary);

    // An unknown comprehension-required attribute: 420 listing it (RFC 8489 §7.3.1).
    let id = txid();
    let req = encode(BINDING_REQUEST, COOKIE, &id, &[(0x7ff0, vec![0; 4])]);
    let (answer, from) = exchange(&s, primary, &req).expect("an answer");
    assert_eq!(answer.txid, id);
    assert_eq!(answer.mtype, BINDING_ERROR);
    assert_eq!(answer.error_code(), Some(420));
    assert_eq!(answer.unknown_attributes(), vec![0x7ff0]);
    assert_eq!(from, primary);

    // An unknown comprehension-optional attribute is ignored.
    let id = txid();
    let req = encode(BINDING_REQUEST, COOKIE, &id, &[(0xc0de, vec![1; 8])]);
    let (answer, _) = exchange(&s, primary, &req).expect("an answer");
    assert_eq!((answer.txid, answer.mtype), (id, BINDING_SUCCESS));

    // RFC 3489 RESPONSE-ADDRESS aimed at a bystander: never honoured; 420
    // goes to the sender and nothing reaches the bystander.
    let id = txid();
    let req = encode(
        BINDING_REQUEST,
        COOKIE,
        &id,
        &[(RESPONSE_ADDRESS, addr_value(victim_addr))],
    );
    let (answer, from) = exchange(&s, primary, &req).expect("an answer to the sender");
    assert_eq!((answer.txid, answer.mtype), (id, BINDING_ERROR));
    assert_eq!(answer.error_code(), Some(420));
    assert_eq!(answer.unknown_attributes(), vec![RESPONSE_ADDRESS]);
    assert_eq!(from, primary);

    // PADDING with RESPONSE-PORT: 400 to the sender's own port (RFC 5780 §6.1).
    let id = txid();
    let req = encode(
        BINDING_REQUEST,
        COOKIE,
        &id,
        &[
            (RESPONSE_PORT, {
                let mut v = victim_addr.port().to_be_bytes().to_vec();
                v.extend_from_slice(&[0, 0]);
                v
            }),
            (PADDING, vec![0; 500]),
        ],
    );
    let (answer, _) = exchange(&s, primary, &req).expect("an answer to the sender");
    assert_eq!((answer.txid, answer.mtype), (id, BINDING_ERROR));
    assert_eq!(answer.error_code(), Some(400));
    assert_eq!(
        anything_arrives(&victim, QUIET),
        None,
        "the server sent something to a third party"
    );

    // RESPONSE-PORT alone is legitimate, but may only change the port: the
    // answer goes to the sender's IP at that port (here the bystander, which
    // shares the sender's IP), and not to the sender.
    let id = txid();
    let mut port = victim_addr.port().to_be_bytes().to_vec();
    port.extend_from_slice(&[0, 0]);
    let req = encode(BINDING_REQUEST, COOKIE, &id, &[(RESPONSE_PORT, port)]);
    s.send_to(&req, primary).expect("send");
    let got = recv_matching(&victim, &id, WAIT).expect("RESPONSE-PORT honoured");
    assert_eq!(got.mtype, BINDING_SUCCESS);
    assert_eq!(
        got.xor_mapped(),
        Some(me),
        "mapped address is the requester's"
    );

    // CHANGE-REQUEST is answered from the alternate address and port, and
    // RESPONSE-ORIGIN says so; OTHER-ADDRESS is still the alternate of the
    // primary, where the request arrived (RFC 5780 §7.4).
    let id = txid();
    let req = encode(
        BINDING_REQUEST,
        COOKIE,
        &id,
        &[(CHANGE_REQUEST, vec![0, 0, 0, 6])],
    );
    let (answer, from) = exchange(&s, primary, &req).expect("an answer");
    assert_eq!((answer.txid, answer.mtype), (id, BINDING_SUCCESS));
    assert_eq!(from, alternate);
    assert_eq!(answer.addr(RESPONSE_ORIGIN), Some(alternate));
    assert_eq!(answer.addr(OTHER_ADDRESS), Some(alternate));

    // A well-formed message with another cookie is an RFC 3489 request: a
    // classic answer that echoes the whole 128-bit id.
    let mut classic = valid.clone();
    classic[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let mut classic_id = [0; 12];
    classic_id.copy_from_slice(&classic[8..20]);
    s.send_to(&classic, primary).expect("send");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = [0; 2048];
    let (n, _) = s.recv_from(&mut buf).expect("a classic answer");
    assert_eq!(&buf[4..20], &classic[4..20], "the RFC 3489 id is echoed");
    let answer = Stun::decode(&buf[..n]).expect("decodable");
    assert_eq!(answer.mtype, BINDING_SUCCESS);
    assert_eq!(answer.addr(MAPPED_ADDRESS), Some(me));
    assert!(answer.attr(XOR_MAPPED_ADDRESS).is_none());

    let id = txid();
    let (answer, from) =
        exchange(&s, primary, &encode(BINDING_REQUEST, COOKIE, &id, &[])).expect("an answer");
    assert_eq!(
        (answer.txid, answer.mtype, from),
        (id, BINDING_SUCCESS, primary)
    );
    assert_eq!(answer.xor_mapped(), Some(me));
    assert_eq!(answer.addr(MAPPED_ADDRESS), Some(me));

    assert_eq!(
        anything_arrives(&victim, QUIET),
        None,
        "the bystander got more than the one RESPONSE-PORT answer"
    );

    let (status, stderr) = server.daemon.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "ranat serve did not stop cleanly on SIGTERM ({status:?}):\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stat(&stderr, "malformed"),
        malformed.len() as u64,
        "{stderr}"
    );
    assert_eq!(stat(&stderr, "ignored"), 1, "{stderr}");
    assert_eq!(stat(&stderr, "error answers"), 3, "{stderr}");
    // Readiness pings plus the 6 good requests above.
    assert!(stat(&stderr, "answers") >= 6, "{stderr}");
    assert_eq!(
        stat(&stderr, "requests"),
        stat(&stderr, "answers") + stat(&stderr, "error answers"),
        "{stderr}"
    );
}

#[test]
fn serve_keeps_answering_after_a_garbage_flood() {
    let server = RanatServer::start(lo4(20, 3), Some(lo4(20, 4)));
    let primary = server.primary;
    let s = client();
    const FLOOD: u64 = 5000;
    for i in 0..FLOOD {
        let mut junk = vec![0xa5; (i % 64) as usize];
        junk.extend_from_slice(&(i as u16).to_be_bytes());
        s.send_to(&junk, primary).expect("send");
    }
    // The kernel may drop part of a flood (a full socket buffer), the valid
    // request included: retransmit it as any client would.
    let id = txid();
    let req = encode(BINDING_REQUEST, COOKIE, &id, &[]);
    let answer = (0..15).find_map(|_| {
        s.send_to(&req, primary).expect("send");
        recv_matching(&s, &id, Duration::from_millis(200))
    });
    let answer = answer.expect("the server still answers after a flood");
    assert_eq!(answer.mtype, BINDING_SUCCESS);
    assert_eq!(answer.xor_mapped(), s.local_addr().ok());
    let (status, stderr) = server.daemon.terminate();
    assert!(status.is_some_and(|s| s.success()), "{stderr}");
    let malformed = stat(&stderr, "malformed");
    assert!(malformed > 0 && malformed <= FLOOD, "{stderr}");
    assert_eq!(stat(&stderr, "error answers"), 0, "{stderr}");
}

// ---------------------------------------------------------------------------
// Hostile servers against `ranat probe`.

#[derive(Clone, Copy, Debug)]
enum Liar {
    /// Answers each request with assorted garbage and nothing valid.
    Garbage,
    /// A well-formed answer with someone else's transaction id.
    WrongTransaction,
    /// The right answer, but from another port (a spoofed source).
    OtherSourcePort,
    /// Garbage, a wrong id and a spoofed answer first, then the right answer
    /// (basic mode: no OTHER-ADDRESS).
    GarbageThenTruth,
    /// Right answers from the right source, but OTHER-ADDRESS names an
    /// endpoint where nothing listens, and CHANGE-REQUEST is answered from
    /// the primary endpoint anyway.
    FakeAlternate,
    /// Answers every request with an error response (500).
    ErrorAnswer,
    /// A success answer from the right source with no address at all.
    NoAddress,
}

/// A small UDP responder run on a thread; stopped and joined on drop.
struct HostileServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl HostileServer {
    fn start(ip: IpAddr, fake_alternate_ip: IpAddr, liar: Liar) -> Self {
        let socket = UdpSocket::bind((ip, 0)).expect("bind hostile server");
        let spoof = UdpSocket::bind((ip, 0)).expect("bind second socket");
        let addr = socket.local_addr().expect("local");
        let other = SocketAddr::new(fake_alternate_ip, closed_port(fake_alternate_ip));
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let (stop2, requests2) = (Arc::clone(&stop), Arc::clone(&requests));
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let thread = std::thread::spawn(move || {
            let mut buf = [0; 65_536];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                assert_loopback(from);
                let Some(req) = Stun::decode(&buf[..n]) else {
                    continue;
                };
                if req.mtype != BINDING_REQUEST {
                    continue;
                }
                requests2.fetch_add(1, Ordering::Relaxed);
                let truth = |with_other: bool| {
                    let mut attrs = vec![
                        (XOR_MAPPED_ADDRESS, xor_addr_value(from, &req.txid)),
                        (MAPPED_ADDRESS, addr_value(from)),
                        (RESPONSE_ORIGIN, addr_value(addr)),
                    ];
                    if with_other {
                        attrs.push((OTHER_ADDRESS, addr_value(other)));
                    }
                    encode(BINDING_SUCCESS, COOKIE, &req.txid, &attrs)
                };
                let mut wrong_id = req.txid;
                wrong_id[11] ^= 0x5a;
                let garbage: Vec<Vec<u8>> = vec![
                    vec![0xff; 64],
                    vec![0x01, 0x01, 0x00],
                    {
                        // A success header for this id promising more than is there.
                        let mut b = encode(BINDING_SUCCESS, COOKIE, &req.txid, &[]);
                        b[3] = 40;
                        b
                    },
                    {
                        // Oversize: a well-formed 4000-byte answer.
                        let mut attrs = vec![(0x8050, vec![0; 4000 - 20 - 4 - 12])];
                        attrs.push((XOR_MAPPED_ADDRESS, xor_addr_value(from, &req.txid)));
                        encode(BINDING_SUCCESS, COOKIE, &req.txid, &attrs)
                    },
                    {
                        // An RFC 3489-style answer (no cookie) to an RFC 8489 request.
                        let mut b = encode(
                            BINDING_SUCCESS,
                            [0, 0, 0, 0],
                            &req.txid,
                            &[(MAPPED_ADDRESS, addr_value(from))],
                        );
                        b[4..8].copy_from_slice(&[9, 9, 9, 9]);
                        b
                    },
                    {
                        // XOR-MAPPED-ADDRESS of an unknown family and odd length.
                        encode(
                            BINDING_SUCCESS,
                            COOKIE,
                            &wrong_id,
                            &[(XOR_MAPPED_ADDRESS, vec![0, 7, 1])],
                        )
                    },
                ];
                let send = |s: &UdpSocket, b: &[u8]| {
                    let _ = s.send_to(b, from);
                };
                match liar {
                    Liar::Garbage => garbage.iter().for_each(|g| send(&socket, g)),
                    Liar::WrongTransaction => {
                        let b = encode(
                            BINDING_SUCCESS,
                            COOKIE,
                            &wrong_id,
                            &[
                                (XOR_MAPPED_ADDRESS, xor_addr_value(from, &wrong_id)),
                                (OTHER_ADDRESS, addr_value(other)),
                            ],
                        );
                        send(&socket, &b);
                    }
                    Liar::OtherSourcePort => send(&spoof, &truth(true)),
                    Liar::GarbageThenTruth => {
                        garbage.iter().for_each(|g| send(&socket, g));
                        send(&spoof, &truth(false));
                        send(&socket, &truth(false));
                    }
                    Liar::FakeAlternate => send(&socket, &truth(true)),
                    Liar::ErrorAnswer => {
                        let code = vec![0, 0, 5, 0];
                        let b = encode(BINDING_ERROR, COOKIE, &req.txid, &[(ERROR_CODE, code)]);
                        send(&socket, &b);
                    }
                    Liar::NoAddress => {
                        send(&socket, &encode(BINDING_SUCCESS, COOKIE, &req.txid, &[]));
                    }
                }
            }
        });
        Self {
            addr,
            stop,
            requests,
            thread: Some(thread),
        }
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Probes a hostile server; checks the probe neither panics nor claims a
/// behaviour; returns the JSON.
fn probe_liar(block_host: u8, liar: Liar, extra: &[&str]) -> (Output, Value) {
    let server = HostileServer::start(lo4(20, block_host), lo4(20, block_host + 1), liar);
    let arg = server.addr.to_string();
    let mut args = vec!["-4", "--json", "--server", &arg];
    args.extend_from_slice(extra);
    let out = probe(&args, Duration::from_secs(20));
    assert!(
        server.requests.load(Ordering::Relaxed) > 0,
        "{liar:?}: the probe never reached the hostile server"
    );
    drop(server);
    out.assert_no_panic();
    assert!(
        out.elapsed < Duration::from_secs(6),
        "{liar:?}: hang guard:\n{out}"
    );
    let j = out.json();
    let v4 = &j["ipv4"];
    assert!(
        matches!(v4["classic"].as_str(), Some("udp_blocked" | "inconclusive")),
        "{liar:?}: claimed a NAT type it did not measure:\n{out}"
    );
    for field in ["mapping", "filtering", "hairpinning"] {
        assert_eq!(v4[field], Value::Null, "{liar:?}: {field}:\n{out}");
    }
    assert_eq!(
        v4["servers"][0]["behavior_capable"], false,
        "{liar:?}:\n{out}"
    );
    assert!(matches!(out.code, Some(11 | 12)), "{liar:?}:\n{out}");
    (out, j)
}

#[test]
fn probe_ignores_a_server_that_answers_garbage() {
    let (out, j) = probe_liar(10, Liar::Garbage, &[]);
    assert_eq!(j["ipv4"]["status"], "udp_blocked", "{out}");
    assert_eq!(j["ipv4"]["servers"][0]["reachable"], false, "{out}");
}

#[test]
fn probe_ignores_answers_with_another_transaction_id() {
    let (out, j) = probe_liar(12, Liar::WrongTransaction, &[]);
    assert_eq!(j["ipv4"]["status"], "udp_blocked", "{out}");
    assert_eq!(j["ipv4"]["mapped_address"], Value::Null, "{out}");
}

#[test]
fn probe_ignores_answers_from_a_spoofed_source_port() {
    let (out, j) = probe_liar(14, Liar::OtherSourcePort, &[]);
    assert_eq!(j["ipv4"]["status"], "udp_blocked", "{out}");
    assert_eq!(j["ipv4"]["mapped_address"], Value::Null, "{out}");
}

#[test]
fn probe_finds_the_true_answer_among_garbage() {
    let (out, j) = probe_liar(16, Liar::GarbageThenTruth, &[]);
    let v4 = &j["ipv4"];
    assert_eq!(v4["status"], "inconclusive", "{out}");
    assert_eq!(out.code, Some(12), "{out}");
    assert_eq!(v4["servers"][0]["reachable"], true, "{out}");
    assert_eq!(v4["mapped_address"], v4["local_address"], "{out}");
}

#[test]
fn probe_does_not_trust_an_alternate_that_never_answers() {
    let (out, j) = probe_liar(18, Liar::FakeAlternate, &[]);
    let v4 = &j["ipv4"];
    assert_eq!(v4["status"], "inconclusive", "{out}");
    assert_eq!(out.code, Some(12), "{out}");
    assert_eq!(v4["servers"][0]["reachable"], true, "{out}");
    let notes = v4["notes"].to_string();
    assert!(notes.contains("did not answer"), "{out}");
    assert!(notes.contains("CHANGE-REQUEST"), "{out}");
}

#[test]
fn probe_timeout_after_an_answer_is_not_reported_as_udp_blocked() {
    // Test I is answered in about a millisecond; the behaviour tests toward
    // the dead alternate take about 160 ms to give up, longer than 0.1 s.
    let (out, j) = probe_liar(20, Liar::FakeAlternate, &["--timeout", "0.1"]);
    assert_ne!(j["ipv4"]["status"], "udp_blocked", "{out}");
    assert_eq!(j["ipv4"]["servers"][0]["reachable"], true, "{out}");
}

#[test]
fn probe_error_answers_are_not_reported_as_udp_blocked() {
    let (out, j) = probe_liar(22, Liar::ErrorAnswer, &[]);
    assert_eq!(j["ipv4"]["servers"][0]["reachable"], true, "{out}");
    assert_ne!(
        j["ipv4"]["status"], "udp_blocked",
        "UDP evidently works:\n{out}"
    );
    assert!(j["ipv4"]["notes"].to_string().contains("500"), "{out}");
}

#[test]
fn probe_answers_without_address_are_not_reported_as_udp_blocked() {
    let (out, j) = probe_liar(24, Liar::NoAddress, &[]);
    assert_eq!(j["ipv4"]["servers"][0]["reachable"], true, "{out}");
    assert_ne!(
        j["ipv4"]["status"], "udp_blocked",
        "UDP evidently works:\n{out}"
    );
}
