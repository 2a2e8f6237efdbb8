//! The PCP (RFC 6887) and NAT-PMP (RFC 6886) client fed arbitrary answers
//! from the gateway and strangers.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};

use libfuzzer_sys::fuzz_target;
use ranat::proto::portmap::{PortMapConfig, PortMapper};
use ranat_fuzz::{Step, drive};

fuzz_target!(|input: ([u8; 12], Vec<Step>)| {
    let (nonce, steps) = input;
    let gateway = Ipv4Addr::new(192, 168, 1, 1);
    let config = PortMapConfig::new(gateway, Ipv4Addr::new(192, 168, 1, 20), 40_000, nonce);
    let Ok(mut mapper) = PortMapper::new(config, std::time::Instant::now()) else {
        return;
    };
    let peers: [SocketAddr; 2] = [config.server(), "192.168.1.66:5351".parse().unwrap()];
    drive(&mut mapper, &peers, &steps, |transmit, _, _| {
        assert_eq!(
            transmit.destination,
            config.server(),
            "a request to someone else"
        );
    });
});
