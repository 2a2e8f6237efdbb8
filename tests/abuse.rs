//! What `ranat serve` gives an attacker, measured: bytes out per byte in
//! for every kind of request its STUN service and TURN relay answer (no
//! answer is larger than the attributes the RFCs ask for, and none goes
//! anywhere but to the requester), and a bounded flood of valid and of
//! garbage datagrams while a real `ranat probe` runs against the server.
//!
//! Each test writes its figures as a Markdown table to
//! `$CARGO_TARGET_TMPDIR/abuse-*.md`, which `scripts/bench-abuse.sh`
//! gathers for the README.
//!
//! Addresses: this file uses 127.0.21.0/24.

mod common;

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;

/// How long the answers to one request are gathered: the server answers at
/// once on loopback; this only bounds the wait.
const GATHER: Duration = Duration::from_millis(300);

const SECRET: &str = "amplification";

const ALLOCATE: u16 = 0x0003;
const REFRESH: u16 = 0x0004;
const SEND_INDICATION: u16 = 0x0016;
const CREATE_PERMISSION: u16 = 0x0008;
const CHANNEL_BIND: u16 = 0x0009;
const USERNAME: u16 = 0x0006;
const MESSAGE_INTEGRITY: u16 = 0x0008;
const REALM: u16 = 0x0014;
const NONCE: u16 = 0x0015;
const REQUESTED_TRANSPORT: u16 = 0x0019;
const XOR_PEER_ADDRESS: u16 = 0x0012;
const CHANNEL_NUMBER: u16 = 0x000c;
const DATA: u16 = 0x0013;

/// Everything that came back for one request.
struct Answer {
    bytes: usize,
    datagrams: usize,
    /// Whether every datagram came from one of the server's endpoints.
    from_server: bool,
}

/// Sends `request` to `to` from `socket` and gathers every datagram that
/// comes back within [`GATHER`].
fn answer_to(socket: &UdpSocket, to: SocketAddr, request: &[u8], server: &[SocketAddr]) -> Answer {
    assert_loopback(to);
    socket.send_to(request, to).expect("send");
    let deadline = Instant::now() + GATHER;
    let mut answer = Answer {
        bytes: 0,
        datagrams: 0,
        from_server: true,
    };
    let mut buf = [0; 65_536];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("timeout");
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            break;
        };
        answer.bytes += n;
        answer.datagrams += 1;
        answer.from_server &= server.contains(&from);
    }
    answer
}

/// One kind of request, the size of the answer the RFCs ask for, and why.
struct Kind {
    name: &'static str,
    request: Vec<u8>,
    to: SocketAddr,
    /// The largest answer the RFCs call for, in bytes (0: none).
    required: usize,
    why: &'static str,
    /// Bytes ranat adds beyond that by choice (0: none).
    beyond: usize,
}

/// What ranat adds to a Binding answer beyond RFC 5780's attributes.
const MAPPED_WHY: &str = "MAPPED-ADDRESS beside XOR-MAPPED-ADDRESS (RFC 8489 §14.1 keeps it for \
    old clients): a NAT ALG that rewrites addresses in payloads shows as a difference";

fn port_value(port: u16) -> Vec<u8> {
    let mut v = port.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 0]);
    v
}

fn turn_allocate(attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut all = vec![(REQUESTED_TRANSPORT, vec![17, 0, 0, 0])];
    all.extend_from_slice(attrs);
    encode(ALLOCATE, COOKIE, &txid(), &all)
}

/// Size of an attribute of `len` value bytes, padded (RFC 8489 §14).
fn attr(len: usize) -> usize {
    4 + len.next_multiple_of(4)
}

/// An ERROR-CODE attribute with a reason phrase of `reason` bytes.
fn error_code(reason: usize) -> usize {
    attr(4 + reason)
}

#[test]
fn no_answer_is_larger_than_the_rfcs_ask_and_none_goes_elsewhere() {
    let ip = lo4(21, 1);
    let server = RanatServer::start_with(
        ip,
        Some(lo4(21, 2)),
        &["--relay-secret", SECRET, "--relay-allow", "127.0.21.0/24"],
    );
    let primary = server.primary;
    let alternate = server.alternate.expect("full mode");
    let endpoints = [
        primary,
        alternate,
        SocketAddr::new(primary.ip(), alternate.port()),
        SocketAddr::new(alternate.ip(), primary.port()),
    ];
    let s = UdpSocket::bind((lo4(21, 10), 0)).expect("bind");
    let me = s.local_addr().expect("local");
    // A bystander on the requester's address: anything it gets was aimed.
    let bystander = UdpSocket::bind((lo4(21, 10), 0)).expect("bind");
    let aim = bystander.local_addr().expect("local");
    let v4 = attr(8);

    // The realm and nonce of an unauthenticated Allocate's 401, for the
    // requests that carry (wrong) credentials.
    let first = turn_allocate(&[]);
    s.send_to(&first, primary).expect("send");
    let challenge = recv_matching(&s, first[8..20].try_into().expect("id"), GATHER * 3)
        .expect("a 401 to an Allocate without credentials");
    assert_eq!(challenge.error_code(), Some(401));
    let realm = challenge.attr(REALM).expect("REALM").to_vec();
    let nonce = challenge.attr(NONCE).expect("NONCE").to_vec();
    let forged = |method: u16, extra: &[(u16, Vec<u8>)]| {
        let mut attrs = extra.to_vec();
        attrs.extend([
            (USERNAME, b"4102444800:mallory".to_vec()),
            (REALM, realm.clone()),
            (NONCE, nonce.clone()),
            (MESSAGE_INTEGRITY, vec![0; 20]),
        ]);
        encode(method, COOKIE, &txid(), &attrs)
    };
    // PASSWORD-ALGORITHMS: MD5 and SHA-256, 4 bytes each, announced by the
    // nonce cookie's feature bits (RFC 8489 §9.2.4, §14.11).
    let challenge_size = 20 + error_code(12) + attr(realm.len()) + attr(nonce.len()) + attr(2 * 4);
    let peer = xor_addr_value(aim, &[0; 12]);

    let binding = 20 + 3 * v4;
    let kinds = vec![
        Kind {
            name: "Binding (RFC 8489)",
            request: encode(BINDING_REQUEST, COOKIE, &txid(), &[]),
            to: primary,
            required: binding,
            why: "XOR-MAPPED-ADDRESS (RFC 8489 §14.2), RESPONSE-ORIGIN and OTHER-ADDRESS (RFC 5780 §6.1)",
            beyond: v4,
        },
        Kind {
            name: "Binding, RFC 3489 (no magic cookie)",
            request: {
                let mut b = encode(BINDING_REQUEST, COOKIE, &txid(), &[]);
                b[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
                b
            },
            to: primary,
            required: 20 + 3 * v4,
            why: "MAPPED-ADDRESS, SOURCE-ADDRESS and CHANGED-ADDRESS (RFC 3489 §11.2)",
            beyond: 0,
        },
        Kind {
            name: "Binding, CHANGE-REQUEST ip and port",
            request: encode(
                BINDING_REQUEST,
                COOKIE,
                &txid(),
                &[(CHANGE_REQUEST, vec![0, 0, 0, 6])],
            ),
            to: primary,
            required: binding,
            why: "as Binding, sent from the other endpoint (RFC 5780 §6.1)",
            beyond: v4,
        },
        Kind {
            name: "Binding, CHANGE-REQUEST port",
            request: encode(
                BINDING_REQUEST,
                COOKIE,
                &txid(),
                &[(CHANGE_REQUEST, vec![0, 0, 0, 2])],
            ),
            to: alternate,
            required: binding,
            why: "as Binding, sent from the other port (RFC 5780 §6.1)",
            beyond: v4,
        },
        Kind {
            name: "Binding, RESPONSE-PORT (own port)",
            request: encode(
                BINDING_REQUEST,
                COOKIE,
                &txid(),
                &[(RESPONSE_PORT, port_value(me.port()))],
            ),
            to: primary,
            required: binding,
            why: "as Binding (RFC 5780 §7.5)",
            beyond: v4,
        },
        Kind {
            name: "Binding, PADDING 400 bytes",
            request: encode(BINDING_REQUEST, COOKIE, &txid(), &[(PADDING, vec![0; 400])]),
            to: primary,
            required: binding + attr(400),
            why: "as Binding, padded to the request's PADDING (RFC 5780 §7.6)",
            beyond: v4,
        },
        Kind {
            name: "Binding, unknown comprehension-required attribute",
            request: encode(BINDING_REQUEST, COOKIE, &txid(), &[(0x7ff0, vec![0; 4])]),
            to: primary,
            required: 20 + error_code(20) + attr(2),
            why: "420 with ERROR-CODE and UNKNOWN-ATTRIBUTES (RFC 8489 §7.3.1)",
            beyond: 0,
        },
        Kind {
            name: "Binding, RESPONSE-ADDRESS at a bystander",
            request: encode(
                BINDING_REQUEST,
                COOKIE,
                &txid(),
                &[(RESPONSE_ADDRESS, addr_value(aim))],
            ),
            to: primary,
            required: 20 + error_code(20) + attr(2),
            why: "420 to the sender, never to the bystander (RFC 5780 §6.1, RFC 8489 §7.3.1)",
            beyond: 0,
        },
        Kind {
            name: "Binding, RESPONSE-PORT and PADDING",
            request: encode(
                BINDING_REQUEST,
                COOKIE,
                &txid(),
                &[
                    (RESPONSE_PORT, port_value(aim.port())),
                    (PADDING, vec![0; 500]),
                ],
            ),
            to: primary,
            required: 20 + error_code(40),
            why: "400 to the sender (RFC 5780 §6.1)",
            beyond: 0,
        },
        Kind {
            name: "Binding success (a response, not a request)",
            request: encode(BINDING_SUCCESS, COOKIE, &txid(), &[]),
            to: primary,
            required: 0,
            why: "not a request: dropped (RFC 8489 §6.3.3)",
            beyond: 0,
        },
        Kind {
            name: "Garbage (64 bytes of 0xff)",
            request: vec![0xff; 64],
            to: primary,
            required: 0,
            why: "not STUN: dropped",
            beyond: 0,
        },
        Kind {
            name: "TURN Allocate without credentials",
            request: turn_allocate(&[]),
            to: primary,
            required: challenge_size,
            why: "401 with ERROR-CODE, REALM, NONCE and PASSWORD-ALGORITHMS (RFC 8656 §7.2, RFC 8489 §9.2.4)",
            beyond: 0,
        },
        Kind {
            name: "TURN Allocate with wrong credentials",
            request: forged(ALLOCATE, &[(REQUESTED_TRANSPORT, vec![17, 0, 0, 0])]),
            to: primary,
            required: challenge_size,
            why: "401 with ERROR-CODE, REALM, NONCE and PASSWORD-ALGORITHMS (RFC 8489 §9.2.4)",
            beyond: 0,
        },
        Kind {
            name: "TURN Refresh with wrong credentials",
            request: forged(REFRESH, &[]),
            to: primary,
            required: challenge_size,
            why: "401 with ERROR-CODE, REALM, NONCE and PASSWORD-ALGORITHMS (RFC 8489 §9.2.4)",
            beyond: 0,
        },
        Kind {
            name: "TURN CreatePermission with wrong credentials",
            request: forged(CREATE_PERMISSION, &[(XOR_PEER_ADDRESS, peer.clone())]),
            to: primary,
            required: challenge_size,
            why: "401 with ERROR-CODE, REALM, NONCE and PASSWORD-ALGORITHMS (RFC 8489 §9.2.4)",
            beyond: 0,
        },
        Kind {
            name: "TURN ChannelBind with wrong credentials",
            request: forged(
                CHANNEL_BIND,
                &[
                    (CHANNEL_NUMBER, vec![0x40, 0, 0, 0]),
                    (XOR_PEER_ADDRESS, peer.clone()),
                ],
            ),
            to: primary,
            required: challenge_size,
            why: "401 with ERROR-CODE, REALM, NONCE and PASSWORD-ALGORITHMS (RFC 8489 §9.2.4)",
            beyond: 0,
        },
        Kind {
            name: "TURN Send indication without an allocation",
            request: encode(
                SEND_INDICATION,
                COOKIE,
                &txid(),
                &[(XOR_PEER_ADDRESS, peer.clone()), (DATA, vec![0; 200])],
            ),
            to: primary,
            required: 0,
            why: "an indication is never answered (RFC 8656 §11.2)",
            beyond: 0,
        },
        Kind {
            name: "TURN ChannelData without an allocation",
            request: {
                let mut b = vec![0x40, 0x00, 0x00, 0xc8];
                b.extend_from_slice(&[0; 200]);
                b
            },
            to: primary,
            required: 0,
            why: "no channel: dropped (RFC 8656 §12.5)",
            beyond: 0,
        },
    ];

    let mut table = String::from(
        "| request | bytes in | bytes out | out ÷ in | RFC minimum | beyond it | answered to |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut worst: f64 = 0.0;
    for kind in &kinds {
        let got = answer_to(&s, kind.to, &kind.request, &endpoints);
        let ratio = got.bytes as f64 / kind.request.len() as f64;
        worst = worst.max(ratio);
        writeln!(
            table,
            "| {} | {} | {} | {:.2} | {} | {} | {} |",
            kind.name,
            kind.request.len(),
            got.bytes,
            ratio,
            kind.required,
            kind.beyond,
            if got.datagrams == 0 {
                "nobody".to_string()
            } else {
                format!("the requester ({} datagram)", got.datagrams)
            }
        )
        .expect("write");
        assert!(got.from_server, "{}: an answer from elsewhere", kind.name);
        assert!(
            got.datagrams <= 1,
            "{}: {} answers to one request",
            kind.name,
            got.datagrams
        );
        assert!(
            got.bytes <= kind.required + kind.beyond,
            "{}: {} bytes out for {} in, the RFCs ask for at most {} ({}), and ranat adds {}",
            kind.name,
            got.bytes,
            kind.request.len(),
            kind.required,
            kind.why,
            kind.beyond
        );
    }
    assert_eq!(
        anything_arrives(&bystander, GATHER),
        None,
        "a request aimed an answer at a bystander"
    );
    writeln!(table, "\nBeyond the RFC minimum: {MAPPED_WHY}.").expect("write");
    println!("{table}");
    write_figures("abuse-amplification.md", &table);
    assert!(worst < 4.0, "the worst ratio is {worst:.2}");
    let (status, stderr) = server.daemon.terminate();
    assert!(status.is_some_and(|s| s.success()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Peak and current resident memory of a process, in KiB (VmHWM, VmRSS).
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// How many datagrams the flood sends in all (five seconds at its pace),
/// and its longest run.
const FLOOD_DATAGRAMS: u64 = 100_000;
const FLOOD_LIMIT: Duration = Duration::from_secs(12);
/// The flood's pace, datagrams per second: half of them valid requests
/// (plain and CHANGE-REQUEST) the server answers, half garbage it must read
/// and drop. Unpaced, a sender on the same two cores outruns a debug build,
/// and the kernel drops whatever comes from the full socket buffer, the
/// probe's requests among them: the figure says what rate was held.
const FLOOD_RATE: u64 = 20_000;
/// Probes run during the flood, at least; they go on until it ends.
const PROBES: usize = 4;

#[test]
fn a_flood_leaves_a_real_client_its_answers_and_memory_bounded() {
    let server = RanatServer::start(lo4(21, 3), Some(lo4(21, 4)));
    let primary = server.primary;
    let alternate = server.alternate.expect("full mode");
    let pid = server.daemon.pid();
    let (_, rss_before) = memory_kib(pid);

    let flooder = {
        std::thread::spawn(move || {
            let sockets: Vec<UdpSocket> = (0..8)
                .map(|_| UdpSocket::bind((lo4(21, 20), 0)).expect("bind"))
                .collect();
            let valid = encode(BINDING_REQUEST, COOKIE, &txid(), &[]);
            let changed = encode(
                BINDING_REQUEST,
                COOKIE,
                &txid(),
                &[(CHANGE_REQUEST, vec![0, 0, 0, 6])],
            );
            let started = Instant::now();
            let mut sent = 0u64;
            while sent < FLOOD_DATAGRAMS && started.elapsed() < FLOOD_LIMIT {
                let socket = &sockets[(sent % 8) as usize];
                let to = if sent.is_multiple_of(3) {
                    alternate
                } else {
                    primary
                };
                let bytes: Vec<u8> = match sent % 4 {
                    0 => valid.clone(),
                    1 => changed.clone(),
                    2 => vec![(sent % 251) as u8; (sent % 120) as usize],
                    _ => {
                        let mut b = valid.clone();
                        b[3] = 200;
                        b
                    }
                };
                assert_loopback(to);
                // A full socket buffer drops the datagram, as a real
                // flood's would be.
                let _ = socket.send_to(&bytes, to);
                sent += 1;
                if sent.is_multiple_of(200) {
                    let due = Duration::from_secs_f64(sent as f64 / FLOOD_RATE as f64);
                    if let Some(ahead) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(ahead);
                    }
                }
            }
            (sent, started.elapsed())
        })
    };

    let server_arg = format!("{primary}");
    let mut correct = 0;
    let mut outputs = Vec::new();
    while outputs.len() < PROBES || !flooder.is_finished() {
        let out = probe(
            &["-4", "--json", "--server", &server_arg],
            Duration::from_secs(30),
        );
        out.assert_no_panic();
        let report = out.json();
        let server_report = &report["ipv4"]["servers"][0];
        let mapped = server_report["mapped_address"].as_str().unwrap_or_default();
        let ok = report["ipv4"]["status"] == "ok"
            && mapped
                .parse::<SocketAddr>()
                .is_ok_and(|m| m.ip() == IpAddr::from([127, 0, 0, 1]));
        if ok {
            correct += 1;
        }
        outputs.push(out);
    }
    let (sent, took) = flooder.join().expect("the flooder");
    let (peak, rss_after) = memory_kib(pid);

    let (status, stderr) = server.daemon.terminate();
    assert!(status.is_some_and(|s| s.success()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let rate = sent as f64 / took.as_secs_f64();
    let table = format!(
        "| flood | datagrams sent | rate | probes correct | server memory (RSS before → after, peak) |\n\
         |---|---|---|---|---|\n\
         | valid, CHANGE-REQUEST, garbage and truncated, from 8 sockets | {sent} | {:.0} /s | {correct} of {} | {} → {} KiB, peak {} KiB |\n",
        rate,
        outputs.len(),
        rss_before,
        rss_after,
        peak
    );
    println!("{table}");
    write_figures("abuse-flood.md", &table);
    assert_eq!(
        correct,
        outputs.len(),
        "probes under the flood:\n{}",
        outputs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        peak < rss_before + 32 * 1024,
        "the server grew from {rss_before} KiB to a peak of {peak} KiB under the flood"
    );
}

/// Writes `text` where `scripts/bench-abuse.sh` gathers it.
fn write_figures(name: &str, text: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).expect("target tmp dir");
    std::fs::write(dir.join(name), text).expect("write the figures");
}
