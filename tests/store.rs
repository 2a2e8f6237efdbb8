//! The room stores behind `ranat serve --store`: one suite of rules run on
//! the memory store and on two Redis stores (two hosts) sharing a real
//! `redis-server`, then what Redis alone must survive: concurrent claims,
//! a reply of the wrong shape, and being lost and back.
//!
//! Addresses: this file uses 127.0.121.0/24.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ranat::io::store::{MemoryStore, RedisStore, RoomStore, StoreHealth};
use ranat::proto::rendezvous::{
    Answer, Code, Question, Rate, RendezvousError, Source, SourceLimits,
};

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async { tokio::time::timeout(Duration::from_secs(60), future).await })
        .expect("the test finished within a minute")
}

/// Three at once, then one a minute: small enough to reach.
fn limits() -> SourceLimits {
    let rate = Rate {
        burst: 3,
        every: Duration::from_secs(60),
    };
    SourceLimits {
        creations: rate,
        joins: rate,
        ..SourceLimits::default()
    }
}

fn source(last: u8) -> Source {
    Source::of(lo4(121, last))
}

fn code(text: &str) -> Code {
    text.parse().expect("a code")
}

fn create(candidates: &[&str], from: u8) -> Question {
    Question::Create {
        source: source(from),
        candidates: candidates.iter().map(|c| code(c)).collect(),
        lifetime: Duration::from_secs(600),
    }
}

fn join(room: &str, from: u8) -> Question {
    Question::Join {
        source: source(from),
        code: code(room),
    }
}

/// The rules every store keeps, with `a` and `b` two hosts' views of it
/// (the same store for a host alone) and `b_is` what `a` hears of a room
/// `b` holds.
async fn rules<S: RoomStore>(a: &S, b: &S, b_is: Answer) {
    // One room per code: the second claim of K7Q takes the next candidate.
    assert_eq!(
        a.answer(create(&["K7Q"], 1)).await,
        Answer::Created(code("K7Q"))
    );
    assert_eq!(
        b.answer(create(&["K7Q"], 2)).await,
        Answer::Refused(RendezvousError::ServerFull)
    );
    assert_eq!(
        b.answer(create(&["K7Q", "M4X"], 2)).await,
        Answer::Created(code("M4X"))
    );
    assert_eq!(a.answer(join("K7Q", 3)).await, Answer::Here);
    assert_eq!(b.answer(join("M4X", 4)).await, Answer::Here);
    assert_eq!(a.answer(join("M4X", 4)).await, b_is);
    assert_eq!(
        a.answer(join("ZZZ", 5)).await,
        Answer::Refused(RendezvousError::UnknownCode)
    );
    // Single use: a released code is unknown, then free again.
    a.release(vec![code("K7Q")]).await;
    assert_eq!(
        b.answer(join("K7Q", 6)).await,
        Answer::Refused(RendezvousError::UnknownCode)
    );
    assert_eq!(
        b.answer(create(&["K7Q"], 7)).await,
        Answer::Created(code("K7Q"))
    );
    // The per-source limits count every question, whichever host gets it.
    for store in [a, b, a] {
        assert_eq!(
            store.answer(join("ZZY", 8)).await,
            Answer::Refused(RendezvousError::UnknownCode)
        );
    }
    for store in [a, b] {
        assert_eq!(
            store.answer(join("K7Q", 8)).await,
            Answer::Refused(RendezvousError::TooManyRequests)
        );
    }
    assert_eq!(a.answer(join("K7Q", 9)).await, b_is, "another source");
    for (store, n) in [(b, 1), (a, 2)] {
        assert_eq!(
            store.answer(create(&["K7Q"], 10)).await,
            Answer::Refused(RendezvousError::ServerFull),
            "creation {n} of source 10"
        );
    }
    assert_eq!(
        a.answer(create(&["223"], 10)).await,
        Answer::Created(code("223"))
    );
    assert_eq!(
        b.answer(create(&["224"], 10)).await,
        Answer::Refused(RendezvousError::TooManyRequests)
    );
    // A reclaimed code is held again; one another host holds is left alone.
    a.reclaim(vec![(code("Q9Q"), Duration::from_secs(600))])
        .await;
    assert_eq!(
        b.answer(create(&["Q9Q"], 11)).await,
        Answer::Refused(RendezvousError::ServerFull)
    );
    b.reclaim(vec![(code("Q9Q"), Duration::from_secs(600))])
        .await;
    assert_eq!(a.answer(join("Q9Q", 12)).await, Answer::Here);
}

fn host(last: u8) -> SocketAddr {
    SocketAddr::new(lo4(121, last), 3480)
}

fn redis_store(redis: &RedisServer, me: SocketAddr) -> RedisStore {
    RedisStore::new(&redis.url(), "test", me, limits()).expect("a store")
}

#[test]
fn the_memory_store_keeps_the_rules() {
    let store = MemoryStore::new(limits());
    block_on(rules(&store, &store, Answer::Here));
    assert!(block_on(store.forward_key()).is_none(), "no other host");
}

#[test]
fn two_hosts_sharing_redis_keep_the_same_rules() {
    let Some(redis) = RedisServer::start(lo4(121, 1)) else {
        return;
    };
    block_on(async {
        let a = redis_store(&redis, host(10));
        let b = redis_store(&redis, host(11));
        rules(&a, &b, Answer::Elsewhere(host(11))).await;
        // A host frees only its own codes.
        a.release(vec![code("M4X"), code("Q9Q")]).await;
        assert_eq!(
            b.answer(join("M4X", 20)).await,
            Answer::Here,
            "a's release left b's room alone"
        );
        assert_eq!(
            b.answer(join("Q9Q", 20)).await,
            Answer::Refused(RendezvousError::UnknownCode),
            "a's own code is free"
        );
        // Both hosts prove carried connections with one key.
        let key = a.forward_key().await.expect("a key");
        assert_eq!(b.forward_key().await, Some(key));
    });
}

#[test]
fn concurrent_claims_of_one_code_from_two_hosts_give_it_once() {
    let Some(redis) = RedisServer::start(lo4(121, 2)) else {
        return;
    };
    block_on(async {
        let hosts = [
            Arc::new(redis_store(&redis, host(10))),
            Arc::new(redis_store(&redis, host(11))),
        ];
        let mut claims = tokio::task::JoinSet::new();
        for k in 0..40u8 {
            let store = Arc::clone(&hosts[usize::from(k % 2)]);
            claims.spawn(async move { store.answer(create(&["XYZ"], 100 + k)).await });
        }
        let answers = claims.join_all().await;
        let won = answers
            .iter()
            .filter(|a| **a == Answer::Created(code("XYZ")))
            .count();
        let lost = answers
            .iter()
            .filter(|a| **a == Answer::Refused(RendezvousError::ServerFull))
            .count();
        assert_eq!((won, lost), (1, 39), "{answers:?}");
    });
}

#[test]
fn a_reply_of_the_wrong_shape_is_an_error_not_a_panic() {
    let Some(redis) = RedisServer::start(lo4(121, 3)) else {
        return;
    };
    block_on(async {
        let store = redis_store(&redis, host(10));
        let mut health = store.health();
        let client = redis::Client::open(redis.url()).expect("a client");
        let mut raw = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        for garbage in ["no-at-sign", "x@not-an-address"] {
            redis::cmd("SET")
                .arg("test:room:K7Q")
                .arg(garbage)
                .query_async::<()>(&mut raw)
                .await
                .expect("SET");
            assert_eq!(
                store.answer(join("K7Q", 1)).await,
                Answer::Refused(RendezvousError::StoreUnavailable)
            );
        }
        assert!(matches!(
            *health.borrow_and_update(),
            StoreHealth::Unreachable(_)
        ));
    });
}

#[test]
fn a_lost_redis_refuses_with_a_reason_and_is_used_again_once_back() {
    let Some(mut redis) = RedisServer::start(lo4(121, 4)) else {
        return;
    };
    block_on(async {
        let store = redis_store(&redis, host(10));
        let mut health = store.health();
        assert_eq!(
            store.answer(create(&["K7Q"], 1)).await,
            Answer::Created(code("K7Q"))
        );
        redis.kill();
        let refused = Answer::Refused(RendezvousError::StoreUnavailable);
        assert_eq!(store.answer(create(&["M4X"], 1)).await, refused);
        assert_eq!(store.answer(join("K7Q", 2)).await, refused);
        assert!(store.forward_key().await.is_none());
        assert!(matches!(
            *health.borrow_and_update(),
            StoreHealth::Unreachable(_)
        ));
        redis.restart();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        // Nothing was saved: the restarted Redis has no rooms.
        loop {
            match store.answer(join("K7Q", 3)).await {
                Answer::Refused(RendezvousError::UnknownCode) => break,
                answer => {
                    assert_eq!(answer, refused);
                    assert!(tokio::time::Instant::now() < deadline, "never reconnected");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        assert_eq!(*health.borrow_and_update(), StoreHealth::Reachable);
        // The host claims its live room's code again.
        store
            .reclaim(vec![(code("K7Q"), Duration::from_secs(600))])
            .await;
        assert_eq!(store.answer(join("K7Q", 4)).await, Answer::Here);
    });
}
