//! Consent freshness on the selected path (RFC 7675): after the punch, the
//! side keeps checking that the peer still wants its traffic, and keeps
//! answering the peer's own checks, on the socket the path runs through.
//!
//! Every check is the punch's own STUN Binding request with short-term
//! credentials (the punch's `check` module, RFC 8445 §7.2.2), each with a new
//! transaction id and never retransmitted as such (RFC 7675 §5.1). The
//! first check goes at once; until the first answer arrives a new one
//! follows every 500 ms, so that a check lost while the peer was still
//! punching costs little; from then on one goes every 5 s, randomised to 0.8–1.2 times that (RFC 7675 §5.1). An
//! answer counts when it is authenticated with the peer's password,
//! answers a transaction still pending, and comes from the very address
//! the checks go to (RFC 8445 §7.2.5.2.1). Consent expires when
//! 30 s pass without one, counted from creation (RFC 7675 §5.1);
//! expiry is final: the machine sends no more checks and ignores later
//! answers, and the application must stop sending on the path.
//!
//! The peer's checks, authenticated with this side's password, are
//! answered to their source whatever the state (RFC 8445 §7.3): they are
//! how the peer keeps its own consent, and how its punch completes when
//! this side has stopped punching first.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stun_types::message::TransactionId;

use super::Credentials;
use super::check::{self, Incoming};

/// The basic period between consent checks (RFC 7675 §5.1).
const INTERVAL: Duration = Duration::from_secs(5);

/// The gap between checks until the first answer arrives.
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// Consent expires after this long without an answer (RFC 7675 §5.1).
const EXPIRY: Duration = Duration::from_secs(30);

/// Transactions remembered for their answers; beyond this the oldest is
/// forgotten.
const MAX_PENDING: usize = 16;

/// Datagrams waiting for the driver; beyond this a new answer is dropped,
/// as a full socket buffer drops a datagram.
const MAX_QUEUED: usize = 64;

/// Whether the peer still consents to this side's traffic on the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentState {
    /// An authenticated answer arrived within the last 30 s (or the
    /// machine is younger than that).
    Fresh,
    /// 30 s passed without an answer: stop sending (RFC 7675 §5.1).
    Expired,
}

/// Consent freshness for one path; see the module documentation.
#[derive(Debug)]
pub struct Consent {
    own: Credentials,
    peer: Credentials,
    remote: SocketAddr,
    rng: StdRng,
    /// The last authenticated answer, or the creation.
    fresh_since: Instant,
    /// Whether any check has been answered yet.
    answered: bool,
    /// [`Consent::handle_timeout`] saw consent expire: nothing more to do.
    expired: bool,
    next_check: Instant,
    pending: VecDeque<TransactionId>,
    transmits: VecDeque<(SocketAddr, Vec<u8>)>,
}

impl Consent {
    /// Consent for the path to `remote`, between the side holding `own`
    /// and the peer holding `peer`; `seed` drives transaction ids and the
    /// randomised intervals. The first check is due at `now`.
    pub fn new(
        own: Credentials,
        peer: Credentials,
        remote: SocketAddr,
        now: Instant,
        seed: u64,
    ) -> Self {
        Self {
            own,
            peer,
            remote,
            rng: StdRng::seed_from_u64(seed),
            fresh_since: now,
            answered: false,
            expired: false,
            next_check: now,
            pending: VecDeque::new(),
            transmits: VecDeque::new(),
        }
    }

    /// The address consent is checked with.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Whether consent holds at `now`.
    pub fn state(&self, now: Instant) -> ConsentState {
        if now >= self.fresh_since + EXPIRY {
            ConsentState::Expired
        } else {
            ConsentState::Fresh
        }
    }

    /// A STUN datagram arrived from `from`: a check from the peer is
    /// answered, an answer to a pending consent check refreshes consent,
    /// anything else is dropped.
    pub fn handle_stun(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        match check::classify(bytes, from, &self.own, &self.peer) {
            Incoming::Check { answer } => self.queue(from, answer),
            Incoming::Answer { id, .. } => {
                if from != self.remote || self.state(now) == ConsentState::Expired {
                    return;
                }
                let Some(index) = self.pending.iter().position(|p| *p == id) else {
                    return;
                };
                self.pending.remove(index);
                self.fresh_since = self.fresh_since.max(now);
                if !self.answered {
                    self.answered = true;
                    self.next_check = now + self.interval();
                }
            }
            Incoming::Stranger => {}
        }
    }

    /// Sends the check that is due, if one is.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state(now) == ConsentState::Expired {
            self.expired = true;
            self.pending.clear();
            return;
        }
        if now < self.next_check {
            return;
        }
        let id = TransactionId::from(self.rng.random::<u128>() >> 32);
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(id);
        let request = check::request(id, &self.own, &self.peer);
        self.queue(self.remote, request);
        self.next_check = now
            + if self.answered {
                self.interval()
            } else {
                FIRST_RETRY
            };
    }

    /// The next datagram to send, and where.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transmits.pop_front()
    }

    /// When [`Consent::handle_timeout`] is next needed: the next check, or
    /// the moment consent would expire; none once it has.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.expired).then(|| self.next_check.min(self.fresh_since + EXPIRY))
    }

    /// The 5 s period randomised to 0.8–1.2 times itself (RFC 7675 §5.1).
    fn interval(&mut self) -> Duration {
        INTERVAL.mul_f64(self.rng.random_range(0.8..=1.2))
    }

    fn queue(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        if self.transmits.len() < MAX_QUEUED {
            self.transmits.push_back((to, bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::punch::testing::credentials as creds;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const A: &str = "127.0.0.1:40001";
    const B: &str = "127.0.0.1:40002";

    /// A's consent toward B at time zero, and the two sides' credentials.
    fn setup() -> (Consent, Credentials, Credentials, Instant) {
        let (a, b) = (creds(1), creds(2));
        let zero = Instant::now();
        let consent = Consent::new(a.clone(), b.clone(), addr(B), zero, 7);
        (consent, a, b, zero)
    }

    /// Everything `consent` sends, drained.
    fn drain(consent: &mut Consent) -> Vec<(SocketAddr, Vec<u8>)> {
        std::iter::from_fn(|| consent.poll_transmit()).collect()
    }

    /// B's answer to a check A sent, as B (holding `b`, peer `a`) makes it.
    fn answer(check: &[u8], a: &Credentials, b: &Credentials) -> Vec<u8> {
        match check::classify(check, addr(A), b, a) {
            Incoming::Check { answer } => answer,
            other => panic!("B must accept A's consent check: {other:?}"),
        }
    }

    /// Runs A's timers until `until`, B answering every check at once
    /// when `answering`.
    fn run(
        consent: &mut Consent,
        a: &Credentials,
        b: &Credentials,
        until: Instant,
        answering: bool,
    ) -> usize {
        let mut checks = 0;
        while let Some(at) = consent.poll_timeout().filter(|at| *at <= until) {
            consent.handle_timeout(at);
            for (to, check) in drain(consent) {
                assert_eq!(to, addr(B));
                checks += 1;
                if answering {
                    consent.handle_stun(at, addr(B), &answer(&check, a, b));
                }
            }
        }
        checks
    }

    #[test]
    fn checks_from_the_peer_are_answered_to_their_source() {
        let (mut consent, a, b, zero) = setup();
        let id = TransactionId::from(42u128);
        let from = addr("127.0.0.1:40003");
        consent.handle_stun(zero, from, &check::request(id, &b, &a));
        let sent = drain(&mut consent);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, from);
        assert_eq!(
            check::classify(&sent[0].1, from, &b, &a),
            Incoming::Answer {
                id,
                mapped: Some(from)
            }
        );
        // A third party's check, or garbage, is not answered.
        let c = creds(3);
        consent.handle_stun(zero, from, &check::request(id, &c, &a));
        consent.handle_stun(zero, from, &[0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]);
        assert!(drain(&mut consent).is_empty());
    }

    #[test]
    fn the_first_check_goes_at_once_and_is_repeated_until_answered() {
        let (mut consent, a, b, zero) = setup();
        assert_eq!(consent.poll_timeout(), Some(zero));
        assert_eq!(
            run(&mut consent, &a, &b, zero + Duration::from_secs(2), false),
            5
        );
        // Answered, the checks slow down to every 4–6 s.
        let (mut consent, a, b, zero) = setup();
        assert_eq!(run(&mut consent, &a, &b, zero, true), 1);
        let next = consent.poll_timeout().unwrap() - zero;
        assert!(
            next >= Duration::from_secs(4) && next <= Duration::from_secs(6),
            "{next:?}"
        );
    }

    #[test]
    fn consent_expires_after_thirty_seconds_of_silence() {
        let (mut consent, a, b, zero) = setup();
        let checks = run(&mut consent, &a, &b, zero + EXPIRY, false);
        assert!(checks >= 55, "{checks} checks in 30 s");
        assert_eq!(
            consent.state(zero + EXPIRY - Duration::from_millis(1)),
            ConsentState::Fresh
        );
        assert_eq!(consent.state(zero + EXPIRY), ConsentState::Expired);
        // Expired is final: no more checks, no more timers.
        assert_eq!(consent.poll_timeout(), None);
        consent.handle_timeout(zero + EXPIRY * 2);
        assert!(drain(&mut consent).is_empty());
    }

    #[test]
    fn answers_keep_consent_fresh() {
        let (mut consent, a, b, zero) = setup();
        let hour = zero + Duration::from_secs(3600);
        let checks = run(&mut consent, &a, &b, hour, true);
        assert_eq!(consent.state(hour), ConsentState::Fresh);
        // One check every 4–6 s.
        assert!((600..=900).contains(&checks), "{checks} checks in an hour");
        // Then silence: expired 30 s after the last answer.
        let last = consent.fresh_since;
        assert!(hour - last <= Duration::from_secs(6));
        run(&mut consent, &a, &b, last + EXPIRY, false);
        assert_eq!(consent.state(last + EXPIRY), ConsentState::Expired);
        assert_eq!(consent.poll_timeout(), None);
    }

    #[test]
    fn only_authenticated_answers_to_pending_checks_from_the_remote_count() {
        let (mut consent, a, b, zero) = setup();
        consent.handle_timeout(zero);
        let (_, check) = drain(&mut consent).remove(0);
        let later = zero + Duration::from_secs(20);
        // Signed with a third party's password, to the pending id.
        let c = creds(3);
        let id = consent.pending[0];
        let Incoming::Check { answer: forged } =
            check::classify(&check::request(id, &a, &c), addr(A), &c, &a)
        else {
            panic!("C accepts a check made for C");
        };
        consent.handle_stun(later, addr(B), &forged);
        // An id this side never sent.
        let unknown = check::request(TransactionId::from(42u128), &a, &b);
        consent.handle_stun(later, addr(B), &answer(&unknown, &a, &b));
        // From another address.
        let right = answer(&check, &a, &b);
        consent.handle_stun(later, addr("127.0.0.1:40009"), &right);
        // A's own check reflected back.
        consent.handle_stun(later, addr(B), &check);
        assert_eq!(consent.fresh_since, zero);
        assert_eq!(consent.state(zero + EXPIRY), ConsentState::Expired);
        // The right one counts, once.
        consent.handle_stun(later, addr(B), &right);
        assert_eq!(consent.fresh_since, later);
        consent.handle_stun(later + Duration::from_secs(5), addr(B), &right);
        assert_eq!(consent.fresh_since, later);
        assert_eq!(consent.state(zero + EXPIRY), ConsentState::Fresh);
    }

    #[test]
    fn only_the_latest_checks_are_remembered() {
        let (mut consent, a, b, zero) = setup();
        let mut sent = Vec::new();
        let mut now = zero;
        for _ in 0..MAX_PENDING + 4 {
            consent.handle_timeout(now);
            sent.extend(drain(&mut consent).into_iter().map(|(_, c)| c));
            now += FIRST_RETRY;
        }
        assert_eq!(consent.pending.len(), MAX_PENDING);
        consent.handle_stun(now, addr(B), &answer(&sent[0], &a, &b));
        assert_eq!(consent.fresh_since, zero, "the oldest was forgotten");
        consent.handle_stun(now, addr(B), &answer(&sent[sent.len() - 1], &a, &b));
        assert_eq!(consent.fresh_since, now);
    }
}
