//! The hole punch (RFC 8445-style checks, RFC 5128) fed arbitrary
//! datagrams from its peer's candidates, the STUN server and strangers.
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use ranat::proto::punch::{Candidate, CandidateKind, Credentials, Punch, PunchConfig};
use ranat_fuzz::{Step, drive};

fuzz_target!(|input: (u64, Vec<Step>)| {
    let (seed, steps) = input;
    let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let mut bytes = seed.to_le_bytes().into_iter().cycle();
    let mine = Credentials::generate(|| bytes.next().unwrap_or(0));
    let peer = Credentials::generate(|| bytes.next().unwrap_or(1).wrapping_add(7));
    let candidates = [
        Candidate {
            address: "203.0.113.5:40000".parse().unwrap(),
            kind: CandidateKind::ServerReflexive,
        },
        Candidate {
            address: "10.0.0.9:40000".parse().unwrap(),
            kind: CandidateKind::Host,
        },
    ];
    let mut punch = Punch::new(PunchConfig::new(mine, Some(server)), seed);
    punch.start(std::time::Instant::now(), peer, &candidates);
    let peers: Vec<SocketAddr> = candidates
        .iter()
        .map(|c| c.address)
        .chain([server, "198.51.100.200:1".parse().unwrap()])
        .collect();
    drive(&mut punch, &peers, &steps, |_, _, _| {});
});
