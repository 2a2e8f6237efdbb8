//! The trial's measurements over the session's channel: what the helper
//! asks on each QUIC stream it opens, and the limits the novice holds it
//! to.
//!
//! Each request is one header, a kind byte and a big-endian `u64`:
//! - `P n`: `n` pings follow, 8 bytes each, and each is echoed at once;
//! - `U n`: `n` bytes follow; the novice answers with the microseconds
//!   from their first byte to their last (a `u64`);
//! - `D n`: the novice sends `n` bytes;
//! - `S n`: `n` bytes of the helper's summary (JSON) follow; the novice
//!   answers with its own QUIC packet counts, lost and sent (two `u64`),
//!   and the trial is over.
//!
//! A peer is never trusted to be reasonable: every count and size is
//! bounded, and anything else ends the trial with an error.

/// The bytes of a request header.
pub const HEADER: usize = 9;

/// The bytes of one ping, echoed as they came.
pub const PING: usize = 8;

/// The most pings one request may ask for.
pub const MAX_PINGS: u64 = 1000;

/// The most bytes one transfer may move.
pub const MAX_TRANSFER: u64 = 64 * 1024 * 1024;

/// The largest summary taken.
pub const MAX_SUMMARY: u64 = 64 * 1024;

/// What the helper asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Pings(u64),
    Upload(u64),
    Download(u64),
    Summary(u64),
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the peer asked for an unknown measurement ({0:#04x})")]
    Unknown(u8),
    #[error("the peer asked for {asked}, over the limit of {limit}")]
    OverLimit { asked: u64, limit: u64 },
}

impl Request {
    pub fn encode(self) -> [u8; HEADER] {
        let (kind, n) = match self {
            Request::Pings(n) => (b'P', n),
            Request::Upload(n) => (b'U', n),
            Request::Download(n) => (b'D', n),
            Request::Summary(n) => (b'S', n),
        };
        let mut out = [0; HEADER];
        out[0] = kind;
        out[1..].copy_from_slice(&n.to_be_bytes());
        out
    }

    /// A header as the novice reads it, held to the limits.
    pub fn decode(header: [u8; HEADER]) -> Result<Self, RequestError> {
        let mut n = [0; 8];
        n.copy_from_slice(&header[1..]);
        let n = u64::from_be_bytes(n);
        let (request, limit) = match header[0] {
            b'P' => (Request::Pings(n), MAX_PINGS),
            b'U' => (Request::Upload(n), MAX_TRANSFER),
            b'D' => (Request::Download(n), MAX_TRANSFER),
            b'S' => (Request::Summary(n), MAX_SUMMARY),
            other => return Err(RequestError::Unknown(other)),
        };
        if n > limit {
            return Err(RequestError::OverLimit { asked: n, limit });
        }
        Ok(request)
    }
}

/// The `p`-th percentile (0–100) of `samples` by the nearest-rank method;
/// `None` without samples.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_are_held_to_their_limits() {
        for request in [
            Request::Pings(20),
            Request::Upload(1 << 20),
            Request::Download(0),
            Request::Summary(MAX_SUMMARY),
        ] {
            assert_eq!(Request::decode(request.encode()), Ok(request));
        }
        assert_eq!(
            Request::decode(Request::Download(MAX_TRANSFER + 1).encode()),
            Err(RequestError::OverLimit {
                asked: MAX_TRANSFER + 1,
                limit: MAX_TRANSFER
            })
        );
        assert_eq!(
            Request::decode(Request::Pings(u64::MAX).encode()),
            Err(RequestError::OverLimit {
                asked: u64::MAX,
                limit: MAX_PINGS
            })
        );
        let mut unknown = Request::Pings(1).encode();
        unknown[0] = b'X';
        assert_eq!(Request::decode(unknown), Err(RequestError::Unknown(b'X')));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(10.0));
        assert_eq!(percentile(&samples, 95.0), Some(19.0));
        assert_eq!(percentile(&samples, 100.0), Some(20.0));
        assert_eq!(percentile(&samples, 0.0), Some(1.0));
        assert_eq!(percentile(&[3.5], 95.0), Some(3.5));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
