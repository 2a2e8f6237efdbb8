//! The rendezvous server's rooms fed arbitrary bytes on four connections
//! from two addresses, split into frames as its TCP loop splits them; a
//! connection the server closes or the client drops is replaced by a new
//! one, as new clients come. The server never panics and never sends to a
//! connection it does not hold.
#![no_main]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ranat::proto::rendezvous::{
    Blob, ClientMessage, Code, ConnId, FrameDecoder, Output, PROTOCOL_VERSION, Rendezvous,
    RendezvousConfig, ServerMessage, next_client_message,
};

#[derive(Debug, Arbitrary)]
enum Step {
    /// Raw bytes on the stream, as a hostile client sends them.
    Bytes {
        conn: u8,
        bytes: Vec<u8>,
    },
    /// Well-formed messages, so that rooms are made, joined and paired.
    Create {
        conn: u8,
        lifetime_secs: Option<u32>,
    },
    Join {
        conn: u8,
        room: u8,
    },
    Pake {
        conn: u8,
        len: u16,
    },
    Sealed {
        conn: u8,
        len: u16,
        last: bool,
    },
    ConfirmationFailed {
        conn: u8,
    },
    Disconnect {
        conn: u8,
    },
    Wait {
        seconds: u16,
    },
}

fuzz_target!(|input: (u32, Vec<Step>)| {
    let (seed, steps) = input;
    let mut state = seed;
    let mut server = Rendezvous::new(RendezvousConfig::default(), move || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        state
    });
    let mut decoders: Vec<FrameDecoder> = (0..4).map(|_| FrameDecoder::new()).collect();
    let mut now = Instant::now();
    let mut slots: Vec<ConnId> = Vec::new();
    let mut open = BTreeSet::new();
    let mut next = 0;
    let mut connect = |server: &mut Rendezvous, now: Instant, open: &mut BTreeSet<ConnId>| {
        let id = ConnId(next);
        let peer = SocketAddr::from(([198, 51, 100, 1 + (next % 2) as u8], 40_000 + next as u16));
        next += 1;
        open.insert(id);
        server.connect(now, id, peer);
        id
    };
    for _ in 0..4 {
        let id = connect(&mut server, now, &mut open);
        slots.push(id);
    }
    // A server that closed every new connection at once would otherwise
    // be reconnected to forever.
    let mut reconnects = 0;
    // The codes of the rooms the server made, for the joins.
    let mut codes: Vec<Code> = Vec::new();
    for step in steps.into_iter().take(64) {
        match step {
            Step::Bytes { conn, bytes } => {
                let slot = usize::from(conn % 4);
                decoders[slot].push(&bytes);
                while let Some(message) = next_client_message(&mut decoders[slot]) {
                    match message {
                        Ok(message) => server.handle_message(now, slots[slot], message),
                        Err(error) => {
                            server.handle_malformed(now, slots[slot], error);
                            decoders[slot] = FrameDecoder::new();
                            break;
                        }
                    }
                }
            }
            Step::Create {
                conn,
                lifetime_secs,
            } => server.handle_message(
                now,
                slots[usize::from(conn % 4)],
                ClientMessage::Hello {
                    version: PROTOCOL_VERSION,
                    code: None,
                    lifetime_secs: lifetime_secs.map(u64::from),
                },
            ),
            Step::Join { conn, room } => {
                let code = codes
                    .get(usize::from(room) % codes.len().max(1))
                    .copied()
                    .unwrap_or_else(|| "ZZZ".parse::<Code>().expect("a code"));
                server.handle_message(
                    now,
                    slots[usize::from(conn % 4)],
                    ClientMessage::Hello {
                        version: PROTOCOL_VERSION,
                        code: Some(code),
                        lifetime_secs: None,
                    },
                );
            }
            Step::Pake { conn, len } => server.handle_message(
                now,
                slots[usize::from(conn % 4)],
                ClientMessage::Pake {
                    message: Blob(vec![7; usize::from(len % 512)]),
                },
            ),
            Step::Sealed { conn, len, last } => server.handle_message(
                now,
                slots[usize::from(conn % 4)],
                ClientMessage::Sealed {
                    sealed: Blob(vec![9; usize::from(len % 2048)]),
                    last,
                },
            ),
            Step::ConfirmationFailed { conn } => server.handle_message(
                now,
                slots[usize::from(conn % 4)],
                ClientMessage::ConfirmationFailed,
            ),
            Step::Disconnect { conn } => {
                let slot = usize::from(conn % 4);
                server.handle_disconnect(now, slots[slot]);
                open.remove(&slots[slot]);
                slots[slot] = connect(&mut server, now, &mut open);
                decoders[slot] = FrameDecoder::new();
            }
            Step::Wait { seconds } => {
                now += Duration::from_secs(u64::from(seconds));
                server.handle_timeout(now);
            }
        }
        while let Some(output) = server.poll_output() {
            if let Output::Send(_, ServerMessage::Welcome { code, .. }) = &output {
                codes.push(*code);
            }
            let (Output::Send(id, _) | Output::Close(id)) = output else {
                panic!("a server alone answers its own directory: {output:?}");
            };
            assert!(
                open.contains(&id),
                "output for a connection never opened or already gone"
            );
            if matches!(output, Output::Close(_)) {
                open.remove(&id);
                if let Some(slot) = slots.iter().position(|s| *s == id) {
                    reconnects += 1;
                    assert!(
                        reconnects < 10_000,
                        "the server closes every new connection"
                    );
                    slots[slot] = connect(&mut server, now, &mut open);
                    decoders[slot] = FrameDecoder::new();
                }
            }
        }
    }
});
