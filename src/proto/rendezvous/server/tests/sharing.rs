//! A server of a deployment whose hosts share one directory: it asks, and
//! does what the answers say.

use super::*;
use crate::proto::rendezvous::directory::{Answer, Question};

fn sharing() -> Rendezvous {
    Rendezvous::sharing(RendezvousConfig::default(), lcg(1))
}

fn drain(server: &mut Rendezvous) -> Vec<Output> {
    std::iter::from_fn(|| server.poll_output()).collect()
}

/// The question asked for `id`, the only output.
fn asked(server: &mut Rendezvous, id: ConnId) -> Question {
    match drain(server).as_slice() {
        [Output::Ask(to, question)] if *to == id => question.clone(),
        other => panic!("expected one question for {id:?}, got {other:?}"),
    }
}

/// A helper (connection 1) says Hello without a code; the question its
/// Hello raises.
fn helper_asks(server: &mut Rendezvous, now: Instant) -> (ConnId, Question) {
    let helper = ConnId(1);
    server.connect(now, helper, peer_addr(helper));
    server.handle_message(now, helper, hello(None));
    (helper, asked(server, helper))
}

#[test]
fn a_creation_is_asked_with_fresh_candidates_and_the_ended_room_released() {
    let mut server = sharing();
    let now = Instant::now();
    let (helper, question) = helper_asks(&mut server, now);
    let Question::Create {
        source,
        candidates,
        lifetime,
    } = question
    else {
        panic!("a creation");
    };
    assert_eq!(source, Source::of(peer_addr(helper).ip()));
    assert_eq!(lifetime, CODE_LIFETIME);
    assert_eq!(candidates.len(), CANDIDATES);
    let code = candidates[3];
    server.handle_answer(now, helper, Answer::Created(code));
    assert!(matches!(
        drain(&mut server).as_slice(),
        [Output::Send(to, ServerMessage::Welcome { code: c, role: Role::Helper, .. })]
            if *to == helper && *c == code
    ));
    server.handle_disconnect(now, helper);
    assert_eq!(drain(&mut server), vec![Output::Release(code)]);
    assert_eq!(server.rooms(), 0);
}

#[test]
fn a_novice_whose_room_is_elsewhere_is_forwarded_and_forgotten() {
    let mut server = sharing();
    let now = Instant::now();
    let novice = ConnId(1);
    let code: Code = "K7Q".parse().expect("code");
    server.connect(now, novice, peer_addr(novice));
    server.handle_message(now, novice, hello(Some(code)));
    assert_eq!(
        asked(&mut server, novice),
        Question::Join {
            source: Source::of(peer_addr(novice).ip()),
            code
        }
    );
    let host: SocketAddr = "127.0.0.2:3480".parse().expect("addr");
    server.handle_answer(now, novice, Answer::Elsewhere(host));
    assert_eq!(drain(&mut server), vec![Output::Forward(novice, host)]);
    assert_eq!(server.connections(), 0);
    assert_eq!(server.stats().forwarded, 1);
    server.handle_message(now, novice, pake('n'));
    assert_eq!(
        drain(&mut server),
        vec![],
        "the connection is another host's now"
    );
}

#[test]
fn a_store_that_cannot_be_reached_turns_the_hello_away_and_says_why() {
    let mut server = sharing();
    let now = Instant::now();
    let (helper, _) = helper_asks(&mut server, now);
    server.handle_answer(
        now,
        helper,
        Answer::Refused(RendezvousError::StoreUnavailable),
    );
    assert_eq!(
        drain(&mut server),
        error_and_close(helper, RendezvousError::StoreUnavailable)
    );
    let stats = server.stats();
    assert_eq!((stats.refused, stats.store_unavailable), (1, 1));
}

#[test]
fn a_code_claimed_for_a_connection_gone_meanwhile_is_released() {
    let mut server = sharing();
    let now = Instant::now();
    let (helper, question) = helper_asks(&mut server, now);
    let Question::Create { candidates, .. } = question else {
        panic!("a creation");
    };
    server.handle_disconnect(now, helper);
    server.handle_answer(now, helper, Answer::Created(candidates[0]));
    assert_eq!(drain(&mut server), vec![Output::Release(candidates[0])]);
    assert_eq!(server.rooms(), 0);
}

#[test]
fn a_carried_novice_joins_without_asking_and_is_seen_at_its_own_address() {
    let mut server = sharing();
    let now = Instant::now();
    let (helper, question) = helper_asks(&mut server, now);
    let Question::Create { candidates, .. } = question else {
        panic!("a creation");
    };
    let code = candidates[0];
    server.handle_answer(now, helper, Answer::Created(code));
    drain(&mut server);
    // The other host's connection, carrying the novice at `client`.
    let carrier = ConnId(2);
    let client: SocketAddr = "198.51.100.9:50000".parse().expect("addr");
    server.connect(now, carrier, "127.0.0.2:41000".parse().expect("addr"));
    server.handle_forwarded(now, carrier, client);
    server.handle_message(now, carrier, hello(Some(code)));
    let out = drain(&mut server);
    assert!(
        matches!(
            out.as_slice(),
            [
                Output::Send(n, ServerMessage::Welcome { role: Role::Novice, .. }),
                Output::Send(h, ServerMessage::PeerJoined),
            ] if *n == carrier && *h == helper
        ),
        "{out:?}"
    );
    server.handle_message(now, carrier, pake('n'));
    assert!(matches!(
        drain(&mut server).as_slice(),
        [Output::Send(h, ServerMessage::PeerPake { observed, .. })]
            if *h == helper && *observed == client
    ));
    // A preamble after the Hello is out of order.
    server.handle_forwarded(now, carrier, client);
    let out = drain(&mut server);
    assert!(out.contains(&Output::Release(code)), "{out:?}");
    assert_eq!(server.connections(), 0);
}
