//! Teredo qualification (RFC 4380 §5.2) fed arbitrary router
//! advertisements and other datagrams from the server's two addresses and
//! strangers.
#![no_main]

use std::net::{SocketAddr, SocketAddrV4};

use libfuzzer_sys::fuzz_target;
use ranat::proto::teredo::{Qualification, QualificationConfig};
use ranat_fuzz::{Step, drive};

fuzz_target!(|input: (u64, Vec<Step>)| {
    let (seed, steps) = input;
    let primary: SocketAddrV4 = "192.0.2.40:3544".parse().unwrap();
    let config = QualificationConfig::new(primary);
    let peers: [SocketAddr; 3] = [
        SocketAddr::V4(primary),
        SocketAddr::V4(config.secondary),
        "203.0.113.66:3544".parse().unwrap(),
    ];
    let mut qualification = Qualification::from_seed(config, seed);
    drive(&mut qualification, &peers, &steps, |_, _, _| {});
});
