//! The TURN client (RFC 8656) that reaches the help desk's relay, fed
//! arbitrary datagrams from the relay and from strangers, over UDP and TCP:
//! it never panics and sends only to its relay.
#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use ranat::proto::relay::client::{RelayClient, RelayTransport};
use ranat::proto::relay::credentials::Credentials;
use ranat_fuzz::{Step, drive};

fuzz_target!(|input: (bool, Vec<Step>)| {
    let (tcp, steps) = input;
    let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
    let transport = if tcp {
        RelayTransport::Tcp
    } else {
        RelayTransport::Udp
    };
    let credentials = Credentials {
        username: "4102444800:helpdesk".into(),
        password: "secret".into(),
    };
    let mut client = RelayClient::new(server, transport, credentials, Instant::now());
    let peers: [SocketAddr; 2] = [server, "203.0.113.66:3478".parse().unwrap()];
    drive(&mut client, &peers, &steps, |transmit, _, _| {
        assert_eq!(transmit.destination, server, "a datagram to someone else");
    });
});
