//! The TCP mapping tests (RFC 5382 over STUN over TCP) fed arbitrary
//! stream bytes from the servers and strangers, cut anywhere, at any time:
//! they never panic, and end within their bound.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ranat::proto::machine::Machine;
use ranat::proto::nat::{TCP_TEST_BOUND, TcpMapping, TcpMappingConfig};
use ranat_fuzz::{Step, drive};

fuzz_target!(|input: (u64, bool, Vec<Step>)| {
    let (seed, hint, steps) = input;
    let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let alternate: SocketAddr = "192.0.2.2:3479".parse().unwrap();
    let config = TcpMappingConfig {
        server,
        alternate_hint: hint.then_some(alternate),
        bound: TCP_TEST_BOUND,
    };
    let mut machine = TcpMapping::new(config, seed);
    let peers: [SocketAddr; 4] = [
        server,
        "192.0.2.2:3478".parse().unwrap(),
        alternate,
        "203.0.113.66:9".parse().unwrap(),
    ];
    drive(&mut machine, &peers, &steps, |_, _, _| {});
    // Time enough: the bound ends every run with an outcome.
    let end = std::time::Instant::now() + Duration::from_secs(3600);
    machine.handle_timeout(end);
    assert!(machine.is_done() || machine.poll_timeout().is_none());
});
