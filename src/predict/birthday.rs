//! The maths of birthday-paradox punching against random port allocators.
//!
//! # Model
//!
//! The side behind a random allocator opens `k` mappings toward its peer;
//! their external ports are `k` distinct ports drawn uniformly from the
//! `N` = [`PORT_SPACE`] ports 1024–65535. The prober sends `m` probes to `m`
//! distinct random ports of that side's address. A probe succeeds if it
//! lands on an open mapping. The first `t` probes are a uniform random
//! `t`-subset of the `N` ports, so the chance that none of them hits is the
//! hypergeometric
//!
//! ```text
//! S(t) = C(N-k, t) / C(N, t) = Π_{i=0}^{t-1} (N-k-i) / (N-i)
//! ```
//!
//! and with `d` independent directions (both sides random and each able to
//! find the other, probing in parallel at the same rate) no hit by probe
//! `t` has chance `S(t)^d`. Hence
//!
//! ```text
//! P(success within m probes) = 1 - S(m)^d            (≈ 1 - e^(-d·k·m/N))
//! E[T | T ≤ m] = Σ_{t=1}^{m} t · (S(t-1)^d - S(t)^d) / P
//! ```
//!
//! where `T` is the index of the first successful probe. With `d = 1` and an
//! unbounded budget (`m = N - k + 1`, so `P = 1`) this is the classic
//! `E[T] = (N+1)/(k+1)`, which the tests check.
//!
//! The expected time is the time to open the `k` mappings at the send rate
//! plus `E[T | T ≤ m]` probes at that rate.

use serde::{Deserialize, Serialize};

/// The ports a NAT allocates from: 1024–65535.
pub const PORT_SPACE: u32 = 64512;
/// Mappings the side behind a random allocator opens toward its peer.
pub const OPEN_PORTS: u32 = 256;
/// Probes a prober sends to random ports of the peer's address.
pub const PROBES: u32 = 256;
/// Probes (and mapping-opening packets) each side sends per second.
pub const PROBES_PER_SECOND: f64 = 100.0;

/// The chance of success within the budget and the expected time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BirthdayEstimate {
    pub success_probability: f64,
    /// `None` when success is impossible.
    pub expected_seconds: Option<f64>,
}

/// `S(t)` for t = 0..=m: the chance that none of the first `t` probes hits.
fn survival(n: u32, k: u32, m: u32) -> Vec<f64> {
    let mut out = Vec::with_capacity(m as usize + 1);
    let mut s = 1.0_f64;
    out.push(s);
    for i in 0..m {
        let misses = f64::from(n.saturating_sub(k)) - f64::from(i);
        let left = f64::from(n) - f64::from(i);
        s = if misses <= 0.0 || left <= 0.0 {
            0.0
        } else {
            s * misses / left
        };
        out.push(s);
    }
    out
}

/// `1 - S(m)^d`: the chance that at least one of `d` directions, each with
/// `m` probes against `k` open ports among `n`, hits.
pub fn success_probability(n: u32, k: u32, m: u32, directions: u8) -> f64 {
    let m = m.min(n);
    let s = survival(n, k, m).last().copied().unwrap_or(1.0);
    1.0 - s.powi(i32::from(directions))
}

/// `E[T | T ≤ m]`: the expected index of the first successful probe,
/// given that one of the `m` succeeds; `None` if none can.
pub fn expected_probes(n: u32, k: u32, m: u32, directions: u8) -> Option<f64> {
    let m = m.min(n);
    let d = i32::from(directions);
    let s = survival(n, k, m);
    let p = 1.0 - s.last().copied().unwrap_or(1.0).powi(d);
    if directions == 0 || p <= 0.0 {
        return None;
    }
    let weighted: f64 = s
        .windows(2)
        .enumerate()
        .map(|(i, w)| (i as f64 + 1.0) * (w[0].powi(d) - w[1].powi(d)))
        .sum();
    Some(weighted / p)
}

/// The estimate for the stated budget ([`OPEN_PORTS`], [`PROBES`],
/// [`PROBES_PER_SECOND`]) over [`PORT_SPACE`], with `d` directions.
pub fn estimate(directions: u8) -> BirthdayEstimate {
    let p = success_probability(PORT_SPACE, OPEN_PORTS, PROBES, directions);
    let expected_seconds = expected_probes(PORT_SPACE, OPEN_PORTS, PROBES, directions)
        .map(|t| (f64::from(OPEN_PORTS) + t) / PROBES_PER_SECOND);
    BirthdayEstimate {
        success_probability: p,
        expected_seconds,
    }
}
