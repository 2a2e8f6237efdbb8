//! `ranat serve` with several threads is still one RFC 5780 server: every
//! worker answers on every endpoint, from the endpoint a CHANGE-REQUEST
//! names, and the counts printed at the end are the workers' summed. And
//! the responder answers in place without allocating.
//!
//! Addresses: this file uses 127.0.13.0/24.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::*;
use ranat::proto::machine::SocketId;
use ranat::proto::stun::{MAX_ANSWER, Responder, ResponderConfig};

/// Counts the allocations of the thread that makes them.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's guarantees are the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const WAIT: Duration = Duration::from_secs(2);

/// Client sockets: the kernel spreads them over the server's threads by a
/// hash of their addresses, so that with this many every thread almost
/// surely gets some on every endpoint (one of 4 threads misses one of the 4
/// endpoints' share with a chance below 16 × (3/4)^32, about 1 in 600).
const CLIENTS: usize = 32;

/// The endpoint a request arriving on `local` is answered from when it asks
/// to change the IP and/or the port (RFC 5780 §6.1).
fn moved(
    local: SocketAddr,
    primary: SocketAddr,
    alternate: SocketAddr,
    ip: bool,
    port: bool,
) -> SocketAddr {
    let other_ip = if local.ip() == primary.ip() {
        alternate.ip()
    } else {
        primary.ip()
    };
    let other_port = if local.port() == primary.port() {
        alternate.port()
    } else {
        primary.port()
    };
    SocketAddr::new(
        if ip { other_ip } else { local.ip() },
        if port { other_port } else { local.port() },
    )
}

#[test]
fn every_thread_answers_from_every_endpoint_and_the_counts_add_up() {
    let server = RanatServer::start_with(lo4(13, 1), Some(lo4(13, 2)), &["--threads", "4"]);
    let (primary, alternate) = (server.primary, server.alternate.expect("full mode"));
    let endpoints = [
        primary,
        SocketAddr::new(primary.ip(), alternate.port()),
        SocketAddr::new(alternate.ip(), primary.port()),
        alternate,
    ];
    let mut asked = 0;
    for _ in 0..CLIENTS {
        let client = UdpSocket::bind((lo4(13, 9), 0)).expect("bind a client socket");
        let me = client.local_addr().expect("local address");
        for local in endpoints {
            for (ip, port) in [(false, false), (false, true), (true, false), (true, true)] {
                let flags = (u32::from(ip) << 2) | (u32::from(port) << 1);
                let id = txid();
                let request = encode(
                    BINDING_REQUEST,
                    COOKIE,
                    &id,
                    &[(CHANGE_REQUEST, flags.to_be_bytes().to_vec())],
                );
                assert_loopback(local);
                client.send_to(&request, local).expect("send");
                asked += 1;
                let answer = recv_matching(&client, &id, WAIT)
                    .unwrap_or_else(|| panic!("no answer on {local} to {me} ({ip}, {port})"));
                let source = moved(local, primary, alternate, ip, port);
                assert_eq!(answer.mtype, BINDING_SUCCESS);
                assert_eq!(answer.xor_mapped(), Some(me));
                assert_eq!(answer.addr(RESPONSE_ORIGIN), Some(source), "on {local}");
                assert_eq!(
                    answer.addr(OTHER_ADDRESS),
                    Some(moved(local, primary, alternate, true, true)),
                    "on {local}"
                );
            }
        }
    }
    let (status, stderr) = server.daemon.terminate();
    assert!(status.is_some_and(|s| s.success()), "{stderr}");
    assert!(stderr.contains("4 threads"), "{stderr}");
    let stopped = stderr
        .lines()
        .find(|l| l.contains("stopped;"))
        .unwrap_or_else(|| panic!("no stats line:\n{stderr}"));
    // The start-up check's pings count too: at least every request here.
    let requests: u64 = stopped
        .split_once("stopped; ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in: {stopped}"));
    assert!(requests >= asked, "{stopped}");
    assert!(
        stopped.contains(&format!("{requests} answers")),
        "{stopped}"
    );
}

#[test]
fn zero_threads_is_refused_with_a_reason() {
    let out = run(
        std::process::Command::new(RANAT).args([
            "serve",
            "--primary",
            "127.0.13.20",
            "--threads",
            "0",
        ]),
        Duration::from_secs(10),
    );
    out.assert_no_panic();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("--threads"), "{out}");
    assert!(out.stderr.contains("0 is not in 1..=1024"), "{out}");
}

#[test]
fn answering_in_place_allocates_nothing() {
    let primary: SocketAddr = "198.51.100.1:3478".parse().unwrap();
    let alternate: SocketAddr = "198.51.100.2:3479".parse().unwrap();
    let mut responder = Responder::new(ResponderConfig::new(primary, Some(alternate)).unwrap());
    let client: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let id = txid();
    let requests = [
        encode(BINDING_REQUEST, COOKIE, &id, &[]),
        encode(
            BINDING_REQUEST,
            COOKIE,
            &id,
            &[(CHANGE_REQUEST, vec![0, 0, 0, 6])],
        ),
        encode(
            BINDING_REQUEST,
            COOKIE,
            &id,
            &[(RESPONSE_PORT, vec![0x13, 0x88, 0, 0])],
        ),
        encode(BINDING_REQUEST, COOKIE, &id, &[(PADDING, vec![0; 400])]),
    ];
    let mut out = [0; MAX_ANSWER];
    let before = allocations();
    let mut answered = 0;
    for _ in 0..100 {
        for request in &requests {
            answered += responder
                .answer_into(SocketId(0), client, request, &mut out)
                .map_or(0, |r| r.len);
        }
    }
    let during = allocations() - before;
    assert!(answered > 400 * 20, "every request is answered");
    assert_eq!(during, 0, "allocations while answering 400 requests");
}
