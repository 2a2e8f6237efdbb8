//! The rendezvous client (`Member`, helper and novice) against a hostile
//! server: raw bytes on its stream, and well-formed server messages in any
//! order with arbitrary contents. It never panics, sends only to its
//! server, and ends instead of looping.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ranat::proto::machine::{Bind, Machine};
use ranat::proto::rendezvous::{
    Blob, Code, Introduction, Member, RelayGrant, RendezvousError, Role, STREAM, ServerMessage,
    Symbols, encode,
};

#[derive(Debug, Arbitrary)]
enum Step {
    Bytes(Vec<u8>),
    Welcome {
        helper: bool,
        expires_in_secs: u64,
    },
    PeerJoined,
    PeerPake {
        message: Vec<u8>,
        port: u16,
        relay: bool,
    },
    PeerSealed {
        sealed: Vec<u8>,
        last: bool,
    },
    PeerFailed {
        attempts_left: u32,
    },
    Error {
        wrong_code: bool,
    },
    Closed,
    Wait {
        millis: u32,
    },
}

fuzz_target!(|input: (bool, [u8; 32], Vec<Step>)| {
    let (helper, seed, steps) = input;
    let server: SocketAddr = "192.0.2.1:3480".parse().unwrap();
    let room: Code = "K7Q".parse().unwrap();
    let secret: Symbols<6> = "4MX2TB".parse().unwrap();
    let mut now = Instant::now();
    let intro = Introduction::new("fuzz");
    let mut member = if helper {
        Member::helper(server, secret, intro, seed, now)
    } else {
        Member::joining(server, room, secret, intro, seed, now)
    };
    while let Some((id, how)) = member.poll_bind() {
        assert!(matches!(how, Bind::Connect(to) if to == server), "{how:?}");
        member.handle_bound(now, id, "10.0.0.2:40000".parse().unwrap());
    }
    for step in steps.into_iter().take(64) {
        let message = match step {
            Step::Bytes(bytes) => {
                member.handle_input(now, STREAM, server, &bytes);
                None
            }
            Step::Welcome {
                helper,
                expires_in_secs,
            } => Some(ServerMessage::Welcome {
                code: room,
                role: if helper { Role::Helper } else { Role::Novice },
                expires_in_secs,
            }),
            Step::PeerJoined => Some(ServerMessage::PeerJoined),
            Step::PeerPake {
                message,
                port,
                relay,
            } => Some(ServerMessage::PeerPake {
                message: Blob(message),
                observed: SocketAddr::from(([198, 51, 100, 7], port)),
                relay: relay.then(|| RelayGrant {
                    address: server,
                    username: "1:x".into(),
                    password: "p".into(),
                    expires_in_secs: 600,
                }),
            }),
            Step::PeerSealed { sealed, last } => Some(ServerMessage::PeerSealed {
                sealed: Blob(sealed),
                last,
            }),
            Step::PeerFailed { attempts_left } => Some(ServerMessage::PeerFailed { attempts_left }),
            Step::Error { wrong_code } => Some(ServerMessage::Error {
                error: if wrong_code {
                    RendezvousError::WrongCode
                } else {
                    RendezvousError::TooSlow
                },
            }),
            Step::Closed => {
                member.handle_closed(now, STREAM);
                None
            }
            Step::Wait { millis } => {
                now += Duration::from_millis(u64::from(millis));
                if member.poll_timeout().is_some_and(|t| t <= now) {
                    member.handle_timeout(now);
                }
                None
            }
        };
        if let Some(message) = message {
            member.handle_input(now, STREAM, server, &encode(&message));
        }
        let mut sent = 0;
        while let Some(transmit) = member.poll_transmit() {
            assert_eq!(transmit.socket, STREAM, "a transmit on another socket");
            assert_eq!(transmit.destination, server, "a transmit to someone else");
            sent += 1;
            assert!(sent < 1000, "a member that never stops sending");
        }
        while member.poll_event().is_some() {}
    }
});
