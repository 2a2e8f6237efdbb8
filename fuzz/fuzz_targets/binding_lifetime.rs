//! The binding-lifetime measurement (RFC 5780 §4.6) fed arbitrary answers
//! from the server and strangers, on any of its sockets, at any time.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ranat::proto::nat::{Lifetime, LifetimeConfig};
use ranat_fuzz::{Step, drive};

fuzz_target!(|input: (u64, u8, Vec<Step>)| {
    let (seed, bound, steps) = input;
    let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let bound = Duration::from_secs(u64::from(bound).clamp(2, 60));
    let mut lifetime = Lifetime::new(LifetimeConfig::new(server, bound), seed);
    let peers: [SocketAddr; 3] = [
        server,
        "192.0.2.2:3479".parse().unwrap(),
        "203.0.113.66:9".parse().unwrap(),
    ];
    drive(&mut lifetime, &peers, &steps, |_, _, _| {});
});
