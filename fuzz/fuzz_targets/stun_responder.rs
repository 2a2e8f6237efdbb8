//! The STUN responder of `ranat serve` (RFC 5780, RFC 3489) fed arbitrary
//! datagrams on its four endpoints: it never panics, answers at most once
//! per datagram, and only ever to the requester's address (no reflection,
//! no amplification by count).
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use ranat::proto::stun::{Responder, ResponderConfig};
use ranat_fuzz::{Step, drive};

fuzz_target!(|steps: Vec<Step>| {
    let primary: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let alternate: SocketAddr = "192.0.2.2:3479".parse().unwrap();
    let config = ResponderConfig::new(primary, Some(alternate)).unwrap();
    let mut responder = Responder::new(config);
    let clients: [SocketAddr; 3] = [
        "198.51.100.7:40000".parse().unwrap(),
        "198.51.100.8:1".parse().unwrap(),
        "[2001:db8::9]:5000".parse().unwrap(),
    ];
    drive(&mut responder, &clients, &steps, |transmit, from, sent| {
        assert_eq!(sent, 1, "more than one answer to one datagram");
        let from = from.expect("an answer without a request");
        assert_eq!(
            transmit.destination.ip(),
            from.ip(),
            "an answer to another address"
        );
    });
});
