//! Per-source limits of the rendezvous server: how many connections one
//! source may hold open, and how fast it may create rooms and try codes.
//!
//! A source is an IPv4 address or an IPv6 /64, the smallest block one
//! subscriber is given (RFC 6177 §2), so that a host cannot escape the
//! limits by walking its own prefix. Rates are kept with the generic cell
//! rate algorithm (ITU-T I.371): one instant per limit and source, the
//! time at which its bucket would be full again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A rate: `burst` at once, then one more every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

impl Rate {
    /// How many a source can do in `span`, starting with a full bucket.
    pub fn within(&self, span: Duration) -> u64 {
        let refills = if self.every.is_zero() {
            u64::MAX
        } else {
            (span.as_nanos() / self.every.as_nanos()).min(u128::from(u64::MAX)) as u64
        };
        u64::from(self.burst).saturating_add(refills)
    }
}

/// What one source may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLimits {
    /// Connections one source may hold open at once (waiting for their
    /// Hello, or in a room).
    pub connections: usize,
    /// Hellos that create a room.
    pub creations: Rate,
    /// Hellos that join a room by its code, whether the code is right or
    /// not: each is one look for a live room, and one guess at a secret.
    pub joins: Rate,
    /// Sources remembered at once; past it, the quietest are forgotten
    /// first, so memory stays bounded whatever the number of sources.
    pub max_sources: usize,
}

impl Default for SourceLimits {
    /// A help desk behind one NAT opens a room per call, and a novice joins
    /// one: 20 at once and one every 3 s after that is far beyond either,
    /// while a guesser from one source sees at most 220 of the 27 000 rooms
    /// in a code's ten-minute lifetime.
    fn default() -> Self {
        Self {
            connections: 32,
            creations: Rate {
                burst: 20,
                every: Duration::from_secs(3),
            },
            joins: Rate {
                burst: 20,
                every: Duration::from_secs(3),
            },
            max_sources: 16 * 1024,
        }
    }
}

/// Who a limit counts against: an IPv4 address, or the upper 64 bits of an
/// IPv6 address (an IPv4-mapped address counts as its IPv4 address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    V4(u32),
    V6(u64),
}

impl Source {
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(v4.to_bits()),
            IpAddr::V6(v6) => Self::V6((v6.to_bits() >> 64) as u64),
        }
    }
}

/// The two rate-limited things a source does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Join,
}

/// When each of a source's buckets is full again (the theoretical arrival
/// time of the generic cell rate algorithm).
#[derive(Debug, Clone, Copy)]
struct Buckets {
    create: Instant,
    join: Instant,
}

/// The rate limits of every source seen lately.
#[derive(Debug)]
pub struct Admission {
    limits: SourceLimits,
    sources: HashMap<Source, Buckets>,
}

impl Admission {
    pub fn new(limits: SourceLimits) -> Self {
        Self {
            limits,
            sources: HashMap::new(),
        }
    }

    /// Takes one `action` from `source`'s bucket; false (and nothing
    /// taken) when the bucket is empty.
    pub fn take(&mut self, now: Instant, source: Source, action: Action) -> bool {
        if !self.sources.contains_key(&source) && self.sources.len() >= self.limits.max_sources {
            self.make_room(now);
        }
        let buckets = self.sources.entry(source).or_insert(Buckets {
            create: now,
            join: now,
        });
        let (full_at, rate) = match action {
            Action::Create => (&mut buckets.create, self.limits.creations),
            Action::Join => (&mut buckets.join, self.limits.joins),
        };
        let start = (*full_at).max(now);
        // The burst is spent when the bucket is full again only more than
        // `burst - 1` intervals from now.
        let Some(spare) = rate.burst.checked_sub(1) else {
            return false;
        };
        if start.saturating_duration_since(now) > rate.every.saturating_mul(spare) {
            return false;
        }
        *full_at = start.checked_add(rate.every).unwrap_or(start);
        true
    }

    /// Sources remembered now.
    #[cfg(test)]
    fn sources(&self) -> usize {
        self.sources.len()
    }

    /// Forgets every source whose buckets are full again: it has nothing
    /// left to remember.
    pub fn forget_idle(&mut self, now: Instant) {
        self.sources.retain(|_, b| b.create > now || b.join > now);
    }

    /// Frees a place for a new source: the idle ones go, and if none is
    /// idle, the one whose buckets fill soonest (the quietest).
    fn make_room(&mut self, now: Instant) {
        self.forget_idle(now);
        if self.sources.len() < self.limits.max_sources {
            return;
        }
        let quietest = self
            .sources
            .iter()
            .min_by_key(|(_, b)| b.create.max(b.join))
            .map(|(source, _)| *source);
        if let Some(source) = quietest {
            self.sources.remove(&source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(burst: u32, every_secs: u64) -> SourceLimits {
        let rate = Rate {
            burst,
            every: Duration::from_secs(every_secs),
        };
        SourceLimits {
            connections: 4,
            creations: rate,
            joins: rate,
            max_sources: 3,
        }
    }

    fn v4(last: u8) -> Source {
        Source::of(IpAddr::from([198, 51, 100, last]))
    }

    #[test]
    fn a_burst_then_one_per_interval() {
        let mut admission = Admission::new(limits(3, 10));
        let t0 = Instant::now();
        let s = v4(1);
        for _ in 0..3 {
            assert!(admission.take(t0, s, Action::Join));
        }
        assert!(!admission.take(t0, s, Action::Join), "the burst is spent");
        assert!(!admission.take(t0 + Duration::from_secs(9), s, Action::Join));
        assert!(admission.take(t0 + Duration::from_secs(10), s, Action::Join));
        assert!(!admission.take(t0 + Duration::from_secs(10), s, Action::Join));
        assert!(admission.take(t0 + Duration::from_secs(20), s, Action::Join));
    }

    #[test]
    fn refused_attempts_do_not_push_the_window_back() {
        let mut admission = Admission::new(limits(1, 10));
        let t0 = Instant::now();
        let s = v4(1);
        assert!(admission.take(t0, s, Action::Create));
        for i in 1..10 {
            assert!(!admission.take(t0 + Duration::from_secs(i), s, Action::Create));
        }
        assert!(admission.take(t0 + Duration::from_secs(10), s, Action::Create));
    }

    #[test]
    fn sources_and_actions_are_counted_apart() {
        let mut admission = Admission::new(limits(1, 60));
        let t0 = Instant::now();
        assert!(admission.take(t0, v4(1), Action::Create));
        assert!(admission.take(t0, v4(1), Action::Join));
        assert!(admission.take(t0, v4(2), Action::Create));
        assert!(!admission.take(t0, v4(1), Action::Create));
        assert!(!admission.take(t0, v4(2), Action::Create));
    }

    #[test]
    fn an_ipv6_host_cannot_walk_its_own_64() {
        let mut admission = Admission::new(limits(1, 60));
        let t0 = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(admission.take(t0, Source::of(a), Action::Join));
        assert!(!admission.take(t0, Source::of(b), Action::Join));
        assert!(admission.take(t0, Source::of(other), Action::Join));
        let mapped: IpAddr = "::ffff:198.51.100.1".parse().unwrap();
        assert_eq!(Source::of(mapped), v4(1));
    }

    #[test]
    fn memory_stays_bounded_and_idle_sources_go_first() {
        let mut admission = Admission::new(limits(2, 10));
        let t0 = Instant::now();
        assert!(admission.take(t0, v4(1), Action::Join));
        assert!(admission.take(t0, v4(1), Action::Join));
        let later = t0 + Duration::from_secs(15);
        assert!(admission.take(later, v4(2), Action::Join));
        assert!(admission.take(later, v4(3), Action::Join));
        // v4(1)'s bucket is full again at t0 + 20 s, v4(2)'s and v4(3)'s at
        // later + 10 s: v4(1) is the quietest.
        assert!(admission.take(later, v4(4), Action::Join));
        assert_eq!(admission.sources(), 3);
        for last in 5..200 {
            admission.take(later, v4(last), Action::Join);
        }
        assert_eq!(admission.sources(), 3);
        admission.forget_idle(later + Duration::from_secs(10));
        assert_eq!(admission.sources(), 0);
    }

    #[test]
    fn within_counts_the_burst_and_the_refills() {
        let rate = SourceLimits::default().joins;
        assert_eq!(rate.within(Duration::from_secs(600)), 220);
    }
}
