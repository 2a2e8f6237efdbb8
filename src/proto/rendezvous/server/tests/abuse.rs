//! The per-source limits: what one address can do to the server, and that
//! everyone else is untouched by it.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use super::*;
use crate::proto::rendezvous::SourceLimits;
use crate::proto::session::CODE_LIFETIME;

impl Bench {
    /// A new connection at `secs` from `ip`.
    fn connect_from(&mut self, secs: u64, ip: [u8; 4]) -> ConnId {
        let id = ConnId(self.next);
        self.next += 1;
        let port = 1024 + u16::try_from(id.0 % 60_000).expect("in range");
        self.server
            .connect(self.at(secs), id, SocketAddr::new(IpAddr::from(ip), port));
        id
    }

    /// A Hello from a new connection from `ip`: what the server answered.
    fn hello_from(&mut self, secs: u64, ip: [u8; 4], code: Option<Code>) -> Vec<Output> {
        let id = self.connect_from(secs, ip);
        let mut out = self.drain();
        out.extend(self.message(secs, id, hello(code)));
        out
    }
}

const GUESSER: [u8; 4] = [198, 51, 100, 7];
const NOVICE: [u8; 4] = [203, 0, 113, 50];

/// The answer to a novice's Hello that joined `helper`'s room.
fn assert_joined(out: &[Output], helper: ConnId) {
    assert!(
        matches!(
            out,
            [
                Output::Send(_, ServerMessage::Welcome { role: Role::Novice, .. }),
                Output::Send(h, ServerMessage::PeerJoined),
            ] if *h == helper
        ),
        "{out:?}"
    );
}

fn too_many(out: &[Output]) -> bool {
    matches!(
        out.first(),
        Some(Output::Send(
            _,
            ServerMessage::Error {
                error: RendezvousError::TooManyRequests
            }
        ))
    )
}

#[test]
fn one_source_holds_a_bounded_number_of_connections_others_still_get_in() {
    let limit = SourceLimits::default().connections;
    let mut bench = Bench::new();
    let held: Vec<ConnId> = (0..limit).map(|_| bench.connect_from(0, GUESSER)).collect();
    assert!(bench.drain().is_empty(), "all {limit} admitted");
    let extra = bench.connect_from(0, GUESSER);
    assert_eq!(
        bench.drain(),
        error_and_close(extra, RendezvousError::TooManyRequests)
    );
    assert_eq!(bench.server.connections(), limit);
    assert!(!too_many(&bench.hello_from(0, NOVICE, None)));
    // One of the held connections goes: its place is free again.
    bench.server.handle_disconnect(bench.at(1), held[0]);
    bench.connect_from(1, GUESSER);
    assert!(bench.drain().is_empty());
    assert_eq!(bench.server.stats().rate_limited, 1);
}

#[test]
fn silent_connections_from_one_source_are_closed_and_free_their_places() {
    let limit = SourceLimits::default().connections;
    let mut bench = Bench::new();
    for _ in 0..limit {
        bench.connect_from(0, GUESSER);
    }
    bench.server.handle_timeout(bench.at(10));
    let closed = bench.drain();
    assert_eq!(closed.len(), limit, "each silent one closed: {closed:?}");
    assert_eq!(bench.server.connections(), 0);
    bench.connect_from(10, GUESSER);
    assert!(bench.drain().is_empty());
}

#[test]
fn guessing_codes_from_one_source_sees_few_rooms_in_a_codes_lifetime() {
    let mut bench = Bench::new();
    let (helper, code) = bench.create(0);
    // One join a second, for the code's whole lifetime, each with a code
    // that is not the room's: the first twenty get an answer, then one
    // every three seconds.
    let wrong = Code::from_str("ZZZ").expect("a code");
    assert_ne!(code, wrong);
    let mut answered = 0;
    for secs in 0..CODE_LIFETIME.as_secs() {
        let out = bench.hello_from(secs, GUESSER, Some(wrong));
        if !too_many(&out) {
            assert_eq!(
                out[0],
                Output::Send(
                    ConnId(bench.next - 1),
                    ServerMessage::Error {
                        error: RendezvousError::UnknownCode
                    }
                )
            );
            answered += 1;
        }
    }
    let bound = SourceLimits::default().joins.within(CODE_LIFETIME);
    assert!(answered <= bound, "{answered} answers, over {bound}");
    assert!(
        answered >= bound - 1,
        "{answered} answers: the limit is too tight"
    );
    assert!(
        bound * 100 < 27_000,
        "one source sees under 1 % of the rooms in a lifetime"
    );
    // The real novice, from elsewhere, is not slowed down.
    let out = bench.hello_from(CODE_LIFETIME.as_secs() - 1, NOVICE, Some(code));
    assert_joined(&out, helper);
}

#[test]
fn room_creation_from_one_source_is_rate_limited() {
    let rate = SourceLimits::default().creations;
    let mut bench = Bench::new();
    for n in 0..rate.burst {
        let out = bench.hello_from(0, GUESSER, None);
        assert!(
            matches!(
                out.as_slice(),
                [Output::Send(_, ServerMessage::Welcome { .. })]
            ),
            "room {n}: {out:?}"
        );
    }
    assert!(too_many(&bench.hello_from(0, GUESSER, None)));
    assert_eq!(bench.server.rooms(), rate.burst as usize);
    // Others are not held back, and the guesser gets one more per interval.
    assert!(!too_many(&bench.hello_from(0, NOVICE, None)));
    let next = rate.every.as_secs();
    assert!(!too_many(&bench.hello_from(next, GUESSER, None)));
    assert!(too_many(&bench.hello_from(next, GUESSER, None)));
}

#[test]
fn a_refused_join_changes_nothing_in_the_room() {
    let mut bench = Bench::with(RendezvousConfig {
        per_source: SourceLimits {
            joins: crate::proto::rendezvous::Rate {
                burst: 1,
                every: Duration::from_secs(60),
            },
            ..SourceLimits::default()
        },
        ..RendezvousConfig::default()
    });
    let (_, code) = bench.create(0);
    let wrong = Code::from_str("ZZZ").expect("a code");
    assert!(!too_many(&bench.hello_from(0, GUESSER, Some(wrong))));
    // Refused before the room is looked at: no novice joins.
    assert!(too_many(&bench.hello_from(0, GUESSER, Some(code))));
    assert!(!too_many(&bench.hello_from(0, NOVICE, Some(code))));
}

#[test]
fn a_silent_novice_is_sent_away_and_the_room_waits_for_the_true_one() {
    let mut bench = Bench::new();
    let (helper, squatter, code) = bench.pair(0);
    let timeout = RendezvousConfig::default().pairing_timeout;
    assert_eq!(
        bench.server.poll_timeout(),
        Some(bench.start + timeout),
        "the novice's deadline comes before the room's expiry"
    );
    bench.server.handle_timeout(bench.start + timeout);
    let out = bench.drain();
    let mut expected = error_and_close(squatter, RendezvousError::TooSlow);
    expected.push(Output::Send(
        helper,
        ServerMessage::PeerFailed {
            attempts_left: MAX_ATTEMPTS - 1,
        },
    ));
    assert_eq!(out, expected);
    assert_eq!(bench.server.stats().slow_novices, 1);
    let late = timeout.as_secs() + 1;
    let out = bench.hello_from(late, NOVICE, Some(code));
    assert_joined(&out, helper);
}

#[test]
fn a_novice_that_confirms_in_time_is_not_hurried() {
    let mut bench = Bench::new();
    let (helper, novice, _) = bench.paked(0);
    assert_eq!(bench.message(29, novice, sealed("n1", false)).len(), 1);
    assert_eq!(bench.message(29, helper, sealed("h1", false)).len(), 1);
    bench.server.handle_timeout(bench.at(120));
    assert_eq!(bench.drain(), vec![], "the pairing goes on at its own pace");
    assert_eq!(bench.server.stats().slow_novices, 0);
}
