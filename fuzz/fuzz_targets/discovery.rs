//! NAT behaviour discovery (RFC 5780 §4) fed arbitrary answers from the
//! server, its alternate and strangers.
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use ranat::proto::nat::{Discovery, DiscoveryConfig};
use ranat_fuzz::{Step, drive};

fuzz_target!(|input: (u64, Vec<Step>)| {
    let (seed, steps) = input;
    let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let mut discovery = Discovery::new(DiscoveryConfig::new(server), seed);
    let peers: [SocketAddr; 3] = [
        server,
        "192.0.2.2:3479".parse().unwrap(),
        "203.0.113.66:9".parse().unwrap(),
    ];
    drive(&mut discovery, &peers, &steps, |_, _, _| {});
});
