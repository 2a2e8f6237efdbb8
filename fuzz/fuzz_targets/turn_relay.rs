//! The TURN relay of `ranat serve` (RFC 8656) fed arbitrary datagrams from
//! clients and peers: it never panics and never relays to an address its
//! policy refuses.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use ranat::proto::relay::credentials::{Secret, UnixClock};
use ranat::proto::relay::policy::{Limits, PeerPolicy, PortRange};
use ranat::proto::relay::server::{Relay, RelayConfig};
use ranat_fuzz::{Step, drive};

fuzz_target!(|steps: Vec<Step>| {
    let listen: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let config = RelayConfig {
        listen,
        realm: "ranat.test".into(),
        secret: Secret::new("north").unwrap(),
        clock: UnixClock::new(Instant::now(), Duration::from_secs(1_700_000_000)),
        policy: PeerPolicy::new(
            &[],
            &[],
            &[listen.ip()],
            &[listen],
            "50000-50099".parse::<PortRange>().unwrap(),
        ),
        limits: Limits::default(),
    };
    let mut relay = Relay::new(config);
    let peers: [SocketAddr; 3] = [
        "198.51.100.7:40000".parse().unwrap(),
        "203.0.113.9:5000".parse().unwrap(),
        listen,
    ];
    drive(&mut relay, &peers, &steps, |transmit, _, _| {
        assert_ne!(transmit.destination, listen, "the relay sent to itself");
    });
});
