//! Every rule of the rendezvous, on virtual time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::proto::rendezvous::lcg;

mod abuse;
mod sharing;

/// The server, its clock, and the connections' addresses.
struct Bench {
    server: Rendezvous,
    start: Instant,
    next: u64,
}

impl Bench {
    fn new() -> Self {
        Self::with(RendezvousConfig::default())
    }

    fn with(config: RendezvousConfig) -> Self {
        Self {
            server: Rendezvous::new(config, lcg(1)),
            start: Instant::now(),
            next: 1,
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.start + Duration::from_secs(secs)
    }

    /// A new connection at `secs`, from a distinct address.
    fn connect(&mut self, secs: u64) -> ConnId {
        let id = ConnId(self.next);
        self.next += 1;
        self.server.connect(self.at(secs), id, peer_addr(id));
        id
    }

    fn message(&mut self, secs: u64, id: ConnId, message: ClientMessage) -> Vec<Output> {
        self.server.handle_message(self.at(secs), id, message);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.server.poll_output()).collect()
    }

    /// A helper that created a room at `secs`: its id and the code.
    fn create(&mut self, secs: u64) -> (ConnId, Code) {
        let helper = self.connect(secs);
        let out = self.message(secs, helper, hello(None));
        match out.as_slice() {
            [
                Output::Send(
                    to,
                    ServerMessage::Welcome {
                        code,
                        role: Role::Helper,
                        ..
                    },
                ),
            ] if *to == helper => (helper, *code),
            other => panic!("expected a Welcome for the helper, got {other:?}"),
        }
    }

    /// A paired room: (helper, novice, code).
    fn pair(&mut self, secs: u64) -> (ConnId, ConnId, Code) {
        let (helper, code) = self.create(secs);
        let novice = self.connect(secs);
        let out = self.message(secs, novice, hello(Some(code)));
        assert!(
            matches!(
                out.as_slice(),
                [
                    Output::Send(n, ServerMessage::Welcome { role: Role::Novice, .. }),
                    Output::Send(h, ServerMessage::PeerJoined),
                ] if *n == novice && *h == helper
            ),
            "{out:?}"
        );
        (helper, novice, code)
    }

    /// A paired room whose members both sent their PAKE message.
    fn paked(&mut self, secs: u64) -> (ConnId, ConnId, Code) {
        let (helper, novice, code) = self.pair(secs);
        assert_eq!(self.message(secs, helper, pake('h')).len(), 1);
        assert_eq!(self.message(secs, novice, pake('n')).len(), 1);
        (helper, novice, code)
    }
}

fn peer_addr(id: ConnId) -> SocketAddr {
    let n = u16::try_from(id.0).expect("few connections in a test");
    SocketAddr::from(([192, 0, 2, 1], 40_000 + n))
}

fn hello(code: Option<Code>) -> ClientMessage {
    ClientMessage::Hello {
        version: PROTOCOL_VERSION,
        code,
        lifetime_secs: None,
    }
}

fn pake(tag: char) -> ClientMessage {
    ClientMessage::Pake {
        message: Blob(vec![tag as u8; 33]),
    }
}

fn sealed(tag: &str, last: bool) -> ClientMessage {
    ClientMessage::Sealed {
        sealed: Blob(tag.as_bytes().to_vec()),
        last,
    }
}

fn peer_sealed(tag: &str, last: bool) -> ServerMessage {
    ServerMessage::PeerSealed {
        sealed: Blob(tag.as_bytes().to_vec()),
        last,
    }
}

fn error_and_close(id: ConnId, error: RendezvousError) -> Vec<Output> {
    vec![
        Output::Send(id, ServerMessage::Error { error }),
        Output::Close(id),
    ]
}

/// Every output addressed to `id`.
fn to(outputs: &[Output], id: ConnId) -> Vec<&Output> {
    outputs
        .iter()
        .filter(|o| matches!(o, Output::Send(c, _) | Output::Close(c) if *c == id))
        .collect()
}

#[test]
fn a_hello_without_code_creates_a_room_for_ten_minutes() {
    let mut bench = Bench::new();
    let helper = bench.connect(0);
    let out = bench.message(0, helper, hello(None));
    let [
        Output::Send(
            id,
            ServerMessage::Welcome {
                code,
                role,
                expires_in_secs,
            },
        ),
    ] = out.as_slice()
    else {
        panic!("{out:?}");
    };
    assert_eq!((*id, *role, *expires_in_secs), (helper, Role::Helper, 600));
    assert_eq!(code.to_string().len(), 3);
    assert_eq!(bench.server.rooms(), 1);
    assert_eq!(bench.server.stats().rooms_created, 1);
}

#[test]
fn a_creator_may_ask_for_a_longer_room_within_the_servers_limit() {
    let mut bench = Bench::new();
    for (n, (asked, granted)) in [(6 * 3600, 6 * 3600), (48 * 3600, 24 * 3600), (30, 30)]
        .into_iter()
        .enumerate()
    {
        let n = u64::try_from(n).expect("three");
        let creator = bench.connect(n);
        let hello = ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            code: None,
            lifetime_secs: Some(asked),
        };
        let out = bench.message(n, creator, hello);
        let [
            Output::Send(
                _,
                ServerMessage::Welcome {
                    expires_in_secs, ..
                },
            ),
        ] = out.as_slice()
        else {
            panic!("{out:?}");
        };
        assert_eq!(*expires_in_secs, granted, "asked {asked} s");
    }
}

#[test]
fn joining_tells_the_novice_its_role_and_the_time_left_and_the_helper_that_it_joined() {
    let mut bench = Bench::new();
    let (helper, code) = bench.create(0);
    let novice = bench.connect(100);
    let out = bench.message(100, novice, hello(Some(code)));
    assert_eq!(
        out,
        vec![
            Output::Send(
                novice,
                ServerMessage::Welcome {
                    code,
                    role: Role::Novice,
                    expires_in_secs: 500,
                }
            ),
            Output::Send(helper, ServerMessage::PeerJoined),
        ]
    );
    assert_eq!(bench.server.stats().rooms_paired, 1);
}

#[test]
fn a_full_exchange_passes_on_pake_and_sealed_messages_and_forgets_the_room() {
    let mut bench = Bench::new();
    let (helper, novice, code) = bench.pair(0);

    assert_eq!(
        bench.message(1, novice, pake('n')),
        vec![Output::Send(
            helper,
            ServerMessage::PeerPake {
                message: Blob(vec![b'n'; 33]),
                observed: peer_addr(novice),
                relay: None,
            }
        )]
    );
    assert_eq!(
        bench.message(1, helper, pake('h')),
        vec![Output::Send(
            novice,
            ServerMessage::PeerPake {
                message: Blob(vec![b'h'; 33]),
                observed: peer_addr(helper),
                relay: None,
            }
        )]
    );
    // Sealed messages go straight through, in order, to the other member.
    for (tag, last) in [("intro", false), ("report", false)] {
        assert_eq!(
            bench.message(2, helper, sealed(&format!("h {tag}"), last)),
            vec![Output::Send(novice, peer_sealed(&format!("h {tag}"), last))]
        );
        assert_eq!(
            bench.message(2, novice, sealed(&format!("n {tag}"), last)),
            vec![Output::Send(helper, peer_sealed(&format!("n {tag}"), last))]
        );
    }
    assert_eq!(
        bench.message(3, helper, sealed("h candidates", true)),
        vec![Output::Send(novice, peer_sealed("h candidates", true))]
    );
    assert_eq!(bench.server.rooms(), 1, "the novice has not sent its last");
    assert_eq!(
        bench.message(4, novice, sealed("n candidates", true)),
        vec![
            Output::Send(helper, peer_sealed("n candidates", true)),
            Output::Close(novice),
            Output::Close(helper),
        ]
    );
    assert_eq!((bench.server.rooms(), bench.server.connections()), (0, 0));
    assert_eq!(bench.server.poll_timeout(), None);
    let stats = bench.server.stats();
    assert_eq!(
        (
            stats.rooms_created,
            stats.rooms_paired,
            stats.rooms_completed
        ),
        (1, 1, 1)
    );

    // Single use: the code is gone, and the closed connections are ignored.
    let late = bench.connect(5);
    assert_eq!(
        bench.message(5, late, hello(Some(code))),
        error_and_close(late, RendezvousError::UnknownCode)
    );
    assert_eq!(bench.message(5, helper, sealed("again", false)), vec![]);
}

#[test]
fn a_wrong_code_sends_the_novice_away_and_the_room_waits_for_another_try() {
    let mut bench = Bench::new();
    let (helper, novice, code) = bench.paked(0);
    assert_eq!(bench.message(1, novice, sealed("intro", false)).len(), 1);
    let mut expected = error_and_close(novice, RendezvousError::WrongCode);
    expected.push(Output::Send(
        helper,
        ServerMessage::PeerFailed { attempts_left: 2 },
    ));
    assert_eq!(
        bench.message(1, novice, ClientMessage::ConfirmationFailed),
        expected
    );
    // The helper's own report of the same failure counts nothing more.
    assert_eq!(
        bench.message(1, helper, ClientMessage::ConfirmationFailed),
        vec![]
    );
    assert_eq!(bench.server.rooms(), 1);
    assert_eq!(bench.server.stats().wrong_codes, 1);
    // The next novice joins the same room; the helper runs a new PAKE.
    let second = bench.connect(2);
    assert_eq!(bench.message(2, second, hello(Some(code))).len(), 2);
    assert_eq!(
        bench.message(2, helper, pake('h')),
        vec![Output::Send(
            second,
            ServerMessage::PeerPake {
                message: Blob(vec![b'h'; 33]),
                observed: peer_addr(helper),
                relay: None,
            }
        )]
    );
    // The first novice is gone for good.
    assert_eq!(bench.message(2, novice, pake('n')), vec![]);
}

#[test]
fn three_wrong_codes_close_the_room() {
    let mut bench = Bench::new();
    let (helper, code) = bench.create(0);
    for attempt in 1..=3u32 {
        let novice = bench.connect(attempt.into());
        assert_eq!(
            bench
                .message(attempt.into(), novice, hello(Some(code)))
                .len(),
            2
        );
        // The second time it is the helper that notices, after its PAKE.
        let failer = if attempt == 2 {
            assert_eq!(bench.message(attempt.into(), helper, pake('h')).len(), 1);
            helper
        } else {
            assert_eq!(bench.message(attempt.into(), novice, pake('n')).len(), 1);
            novice
        };
        let out = bench.message(attempt.into(), failer, ClientMessage::ConfirmationFailed);
        let mut expected = error_and_close(novice, RendezvousError::WrongCode);
        if attempt < 3 {
            expected.push(Output::Send(
                helper,
                ServerMessage::PeerFailed {
                    attempts_left: 3 - attempt,
                },
            ));
        } else {
            expected.extend(error_and_close(helper, RendezvousError::TooManyAttempts));
        }
        assert_eq!(out, expected, "attempt {attempt}");
    }
    assert_eq!((bench.server.rooms(), bench.server.connections()), (0, 0));
    let stats = bench.server.stats();
    assert_eq!(
        (stats.wrong_codes, stats.rooms_closed_after_wrong_codes),
        (3, 1)
    );
    let late = bench.connect(5);
    assert_eq!(
        bench.message(5, late, hello(Some(code))),
        error_and_close(late, RendezvousError::UnknownCode)
    );
}

#[test]
fn an_unknown_code_is_refused() {
    let mut bench = Bench::new();
    let _room = bench.create(0);
    let stranger = bench.connect(0);
    let code: Code = "222".parse().expect("code");
    assert_eq!(
        bench.message(0, stranger, hello(Some(code))),
        error_and_close(stranger, RendezvousError::UnknownCode)
    );
    assert_eq!(bench.server.stats().refused, 1);
    assert_eq!(bench.server.connections(), 1, "only the helper is left");
}

#[test]
fn a_third_connection_with_the_code_is_refused_and_sees_nothing_of_the_room() {
    let mut bench = Bench::new();
    let (helper, novice, code) = bench.pair(0);
    let third = bench.connect(1);
    assert_eq!(
        bench.message(1, third, hello(Some(code))),
        error_and_close(third, RendezvousError::CodeInUse)
    );
    // The third party's later messages are ignored, and the exchange goes
    // on between the two members only.
    let mut all = Vec::new();
    all.extend(bench.message(2, third, sealed("intruder", false)));
    all.extend(bench.message(2, helper, pake('h')));
    all.extend(bench.message(2, third, pake('x')));
    all.extend(bench.message(2, novice, pake('n')));
    all.extend(bench.message(3, helper, sealed("h", true)));
    all.extend(bench.message(3, novice, sealed("n", true)));
    assert!(to(&all, third).is_empty(), "{all:?}");
    assert!(
        !format!("{all:?}").contains("intruder") && !format!("{all:?}").contains("120, 120"),
        "{all:?}"
    );
    assert_eq!(to(&all, helper).len(), 3, "{all:?}");
    assert_eq!(to(&all, novice).len(), 3, "{all:?}");
    assert_eq!(bench.server.stats().rooms_completed, 1);
}

#[test]
fn two_rooms_at_once_never_see_each_others_messages() {
    let mut bench = Bench::new();
    let (h1, n1, c1) = bench.pair(0);
    let (h2, n2, c2) = bench.pair(0);
    assert_ne!(c1, c2);
    let mut all = Vec::new();
    for (id, tag) in [(h1, 'a'), (h2, 'b'), (n2, 'c'), (n1, 'd')] {
        all.extend(bench.message(1, id, pake(tag)));
    }
    for (id, tag) in [(h1, "h1"), (h2, "h2"), (n2, "n2"), (n1, "n1")] {
        all.extend(bench.message(1, id, sealed(tag, false)));
    }
    let sealed_to = |id: ConnId| -> Vec<Vec<u8>> {
        all.iter()
            .filter_map(|o| match o {
                Output::Send(c, ServerMessage::PeerSealed { sealed, .. }) if *c == id => {
                    Some(sealed.0.clone())
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(sealed_to(h1), vec![b"n1".to_vec()]);
    assert_eq!(sealed_to(n1), vec![b"h1".to_vec()]);
    assert_eq!(sealed_to(h2), vec![b"n2".to_vec()]);
    assert_eq!(sealed_to(n2), vec![b"h2".to_vec()]);
}

/// Brings a paired room's helper to some state; returns its next message.
type Setup = fn(&mut Bench, ConnId) -> ClientMessage;

#[test]
fn messages_out_of_order_end_the_connection_and_the_room() {
    // A PAKE message, a sealed one, a failure report before the Hello.
    let mut bench = Bench::new();
    for message in [
        pake('e'),
        sealed("early", false),
        ClientMessage::ConfirmationFailed,
    ] {
        let early = bench.connect(0);
        assert_eq!(
            bench.message(0, early, message),
            error_and_close(early, RendezvousError::OutOfOrder)
        );
    }

    // The helper's PAKE message before anyone joined: the room ends.
    let (helper, code) = bench.create(0);
    assert_eq!(
        bench.message(0, helper, pake('h')),
        error_and_close(helper, RendezvousError::OutOfOrder)
    );
    let late = bench.connect(0);
    assert_eq!(
        bench.message(0, late, hello(Some(code))),
        error_and_close(late, RendezvousError::UnknownCode)
    );

    // A second Hello; a second PAKE message; a sealed message before the
    // PAKE; one after the last; one more than allowed: each ends the room,
    // the other member hears PeerLeft.
    let cases: [(&str, Setup); 5] = [
        ("second hello", |_, _| hello(None)),
        ("second pake", |bench, helper| {
            assert_eq!(bench.message(0, helper, pake('h')).len(), 1);
            pake('h')
        }),
        ("sealed before pake", |_, _| sealed("early", false)),
        ("sealed after the last", |bench, helper| {
            assert_eq!(bench.message(0, helper, pake('h')).len(), 1);
            assert_eq!(bench.message(0, helper, sealed("last", true)).len(), 1);
            sealed("more", false)
        }),
        ("too many sealed", |bench, helper| {
            assert_eq!(bench.message(0, helper, pake('h')).len(), 1);
            for _ in 0..MAX_SEALED {
                assert_eq!(bench.message(0, helper, sealed("x", false)).len(), 1);
            }
            sealed("one too many", false)
        }),
    ];
    for (what, setup) in cases {
        let (helper, novice, _) = bench.pair(0);
        let message = setup(&mut bench, helper);
        let out = bench.message(0, helper, message);
        let mut expected = error_and_close(novice, RendezvousError::PeerLeft);
        expected.extend(error_and_close(helper, RendezvousError::OutOfOrder));
        let sorted = |mut v: Vec<Output>| {
            v.sort_by_key(|o| format!("{o:?}"));
            v
        };
        assert_eq!(sorted(out), sorted(expected), "{what}");
    }
    assert_eq!(bench.server.rooms(), 0);
    assert_eq!(bench.server.connections(), 0);
    assert_eq!(bench.server.stats().protocol_errors, 9);
}

#[test]
fn another_protocol_version_is_refused() {
    let mut bench = Bench::new();
    let id = bench.connect(0);
    let out = bench.message(
        0,
        id,
        ClientMessage::Hello {
            version: 1,
            code: None,
            lifetime_secs: None,
        },
    );
    assert_eq!(
        out,
        error_and_close(id, RendezvousError::UnsupportedVersion)
    );
    assert_eq!(bench.server.rooms(), 0);
}

#[test]
fn a_pake_message_over_256_bytes_is_malformed() {
    let mut bench = Bench::new();
    let (helper, novice, _) = bench.pair(0);
    let out = bench.message(
        0,
        helper,
        ClientMessage::Pake {
            message: Blob(vec![0; MAX_PAKE + 1]),
        },
    );
    let mut expected = error_and_close(novice, RendezvousError::PeerLeft);
    expected.extend(error_and_close(helper, RendezvousError::Malformed));
    assert_eq!(out, expected);
    assert_eq!(bench.server.rooms(), 0);
}

#[test]
fn a_malformed_or_oversize_frame_ends_the_connection_and_the_peer_hears_peer_left() {
    let mut bench = Bench::new();
    let lone = bench.connect(0);
    bench
        .server
        .handle_malformed(bench.at(0), lone, RendezvousError::Malformed);
    assert_eq!(
        bench.drain(),
        error_and_close(lone, RendezvousError::Malformed)
    );

    let (helper, novice, _) = bench.pair(0);
    bench
        .server
        .handle_malformed(bench.at(1), novice, RendezvousError::TooLarge);
    let mut expected = error_and_close(helper, RendezvousError::PeerLeft);
    expected.extend(error_and_close(novice, RendezvousError::TooLarge));
    assert_eq!(bench.drain(), expected);
    assert_eq!((bench.server.rooms(), bench.server.connections()), (0, 0));
    assert_eq!(bench.server.stats().protocol_errors, 2);
}

#[test]
fn a_member_that_disconnects_ends_the_room() {
    let mut bench = Bench::new();
    let (helper, novice, code) = bench.pair(0);
    bench.server.handle_disconnect(bench.at(1), helper);
    assert_eq!(
        bench.drain(),
        error_and_close(novice, RendezvousError::PeerLeft)
    );
    assert_eq!((bench.server.rooms(), bench.server.connections()), (0, 0));
    let again = bench.connect(2);
    assert_eq!(
        bench.message(2, again, hello(Some(code))),
        error_and_close(again, RendezvousError::UnknownCode)
    );

    // A helper that leaves before anyone joined takes its room along,
    // silently.
    let (helper, code) = bench.create(3);
    bench.server.handle_disconnect(bench.at(3), helper);
    assert_eq!(bench.drain(), vec![]);
    let late = bench.connect(4);
    assert_eq!(
        bench.message(4, late, hello(Some(code))),
        error_and_close(late, RendezvousError::UnknownCode)
    );

    // A disconnect the machine already forgot changes nothing.
    bench.server.handle_disconnect(bench.at(5), helper);
    bench.server.handle_disconnect(bench.at(5), ConnId(999));
    assert_eq!(bench.drain(), vec![]);
}

#[test]
fn rooms_expire_ten_minutes_after_creation_paired_or_not() {
    let mut bench = Bench::new();
    let (lonely, _) = bench.create(0);
    let (helper, novice, _) = bench.paked(60);
    assert_eq!(bench.message(60, novice, sealed("n1", false)).len(), 1);
    assert_eq!(bench.server.poll_timeout(), Some(bench.at(600)));

    bench.server.handle_timeout(bench.at(599));
    assert_eq!(bench.drain(), vec![]);
    bench.server.handle_timeout(bench.at(600));
    assert_eq!(
        bench.drain(),
        error_and_close(lonely, RendezvousError::Expired)
    );
    assert_eq!(bench.server.poll_timeout(), Some(bench.at(660)));

    bench.server.handle_timeout(bench.at(700));
    let mut expected = error_and_close(helper, RendezvousError::Expired);
    expected.extend(error_and_close(novice, RendezvousError::Expired));
    assert_eq!(bench.drain(), expected);
    assert_eq!(bench.server.stats().rooms_expired, 2);
    assert_eq!((bench.server.rooms(), bench.server.connections()), (0, 0));
    assert_eq!(bench.server.poll_timeout(), None);
}

#[test]
fn joining_a_room_past_its_lifetime_says_expired_before_the_timer_runs() {
    let mut bench = Bench::new();
    let (helper, code) = bench.create(0);
    let late = bench.connect(600);
    let out = bench.message(600, late, hello(Some(code)));
    let mut expected = error_and_close(late, RendezvousError::Expired);
    expected.extend(error_and_close(helper, RendezvousError::Expired));
    assert_eq!(out, expected);
    assert_eq!(bench.server.rooms(), 0);
}

#[test]
fn a_connection_without_hello_is_closed_after_ten_seconds() {
    let mut bench = Bench::new();
    let silent = bench.connect(0);
    let (_helper, _) = bench.create(0);
    assert_eq!(bench.server.poll_timeout(), Some(bench.at(10)));
    bench.server.handle_timeout(bench.at(9));
    assert_eq!(bench.drain(), vec![]);
    bench.server.handle_timeout(bench.at(10));
    assert_eq!(bench.drain(), vec![Output::Close(silent)]);
    assert_eq!(bench.server.stats().idle_closed, 1);
    // The helper that did say Hello stays, until its room expires.
    assert_eq!(bench.server.connections(), 1);
    assert_eq!(bench.server.poll_timeout(), Some(bench.at(600)));
    assert_eq!(bench.message(11, silent, hello(None)), vec![]);
}

#[test]
fn the_room_limit_refuses_new_rooms_but_not_joins() {
    let mut bench = Bench::with(RendezvousConfig {
        max_rooms: 2,
        ..RendezvousConfig::default()
    });
    let (first, _) = bench.create(0);
    let (_, code) = bench.create(0);
    let extra = bench.connect(0);
    assert_eq!(
        bench.message(0, extra, hello(None)),
        error_and_close(extra, RendezvousError::ServerFull)
    );
    let novice = bench.connect(0);
    assert_eq!(bench.message(0, novice, hello(Some(code))).len(), 2);
    bench.server.handle_disconnect(bench.at(1), first);
    let _ = bench.drain();
    let (_, _) = bench.create(1);
    assert_eq!(bench.server.stats().refused, 1);
}

#[test]
fn the_connection_limit_refuses_extra_connections_at_once() {
    let mut bench = Bench::with(RendezvousConfig {
        max_connections: 2,
        ..RendezvousConfig::default()
    });
    let _a = bench.connect(0);
    let _b = bench.connect(0);
    let extra = bench.connect(0);
    assert_eq!(
        bench.drain(),
        error_and_close(extra, RendezvousError::ServerFull)
    );
    assert_eq!(bench.server.connections(), 2);
    assert_eq!(bench.message(0, extra, hello(None)), vec![]);
}

#[test]
fn a_code_already_in_use_is_never_handed_out_twice() {
    // The source repeats the first code's draws, then gives another, over
    // and over: the second room's candidates skip the first's code.
    let mut draws = [0u32, 1, 2, 0, 1, 2, 3, 4, 5].into_iter().cycle();
    let mut server = Rendezvous::new(RendezvousConfig::default(), move || {
        draws.next().unwrap_or(0)
    });
    let now = Instant::now();
    let mut codes = Vec::new();
    for n in 1..=2 {
        server.connect(now, ConnId(n), peer_addr(ConnId(n)));
        server.handle_message(now, ConnId(n), hello(None));
        match server.poll_output() {
            Some(Output::Send(_, ServerMessage::Welcome { code, .. })) => codes.push(code),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(codes[0].as_str(), "234");
    assert_eq!(codes[1].as_str(), "567");
}

#[test]
fn a_random_source_stuck_on_one_value_gives_server_full_not_a_hang() {
    let mut server = Rendezvous::new(RendezvousConfig::default(), || 7);
    let now = Instant::now();
    for n in 1..=2 {
        server.connect(now, ConnId(n), peer_addr(ConnId(n)));
        server.handle_message(now, ConnId(n), hello(None));
    }
    let out: Vec<Output> = std::iter::from_fn(|| server.poll_output()).collect();
    assert!(matches!(
        out[0],
        Output::Send(_, ServerMessage::Welcome { .. })
    ));
    assert_eq!(
        out[1..],
        error_and_close(ConnId(2), RendezvousError::ServerFull)
    );
}
