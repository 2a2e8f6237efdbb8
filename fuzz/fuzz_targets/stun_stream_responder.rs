//! ranat serve's STUN over TCP fed arbitrary connections and stream bytes:
//! it never panics, answers only on the connection a request came on, to
//! that connection's client, and holds no more connections than its
//! limit.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use ranat::proto::machine::{Bind, Machine, SocketId};
use ranat::proto::stun::{MAX_CONNECTIONS, ResponderConfig, StreamResponder};
use ranat_fuzz::{MAX_STEPS, Step};

fuzz_target!(|steps: Vec<Step>| {
    let config = ResponderConfig::new(
        "192.0.2.1:3478".parse().unwrap(),
        Some("192.0.2.2:3479".parse().unwrap()),
    )
    .unwrap();
    let listeners = config.endpoints();
    let mut r = StreamResponder::new(config, listeners.clone());
    let mut now = Instant::now();
    while let Some((socket, bind)) = r.poll_bind() {
        let Bind::Listen(at) = bind else {
            panic!("a listener was expected: {bind:?}")
        };
        r.handle_bound(now, socket, at);
    }
    let mut open: HashMap<SocketId, SocketAddr> = HashMap::new();
    for (k, step) in steps.iter().take(MAX_STEPS).enumerate() {
        now += Duration::from_millis(u64::from(step.after_ms) * 16);
        if r.poll_timeout().is_some_and(|t| t <= now) {
            r.handle_timeout(now);
        }
        // Even sockets open a connection, odd ones feed bytes to one.
        if step.socket % 2 == 0 || open.is_empty() {
            let listener = SocketId(u16::from(step.from) % 4);
            let client = SocketAddr::from(([203, 0, 113, step.from], 1024 + k as u16));
            if let Some(id) = r.handle_accept(now, listener, client) {
                assert!(!open.contains_key(&id), "an id given twice");
                assert!(usize::from(id.0) >= listeners.len(), "a listener's id reused");
                open.insert(id, client);
            }
        } else {
            let ids: Vec<SocketId> = open.keys().copied().collect();
            let id = ids[usize::from(step.socket) % ids.len()];
            r.handle_input(now, id, open[&id], &step.bytes);
        }
        while let Some(t) = r.poll_transmit() {
            assert_eq!(open.get(&t.socket), Some(&t.destination), "an answer elsewhere");
        }
        while let Some(closed) = r.poll_close() {
            assert!(open.remove(&closed).is_some(), "closed what was not open");
        }
        assert!(open.len() <= MAX_CONNECTIONS);
        assert_eq!(open.len(), r.connections());
    }
});
