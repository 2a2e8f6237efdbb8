//! One direction of the relay: frames read from one interface are written out
//! of the other after a delay, unless the loss draw drops them.

use std::io;
use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};
use std::thread;
use std::time::{Duration, Instant};

use crate::checksum::fix_transport_checksum;
use crate::socket::PacketSocket;

/// Large enough for any frame a veth hands over, offloaded segments included.
const FRAME_BUFFER_LEN: usize = 65_536 + 14;

/// What the relay does to each frame, in each direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// One-way delay.
    pub delay: Duration,
    /// Each frame's delay is drawn uniformly from `delay ± jitter`.
    pub jitter: Duration,
    /// Share of frames dropped, in percent.
    pub loss_percent: f64,
}

impl Impairment {
    fn drops(&self, rng: &mut Rng) -> bool {
        self.loss_percent > 0.0 && rng.unit() * 100.0 < self.loss_percent
    }

    /// When a frame that arrived at `now` is due. Never before the previous
    /// frame's due time: jitter varies the delay but does not reorder frames.
    fn due(&self, now: Instant, previous: Option<Instant>, rng: &mut Rng) -> Instant {
        let spread = self.jitter.as_secs_f64() * (2.0 * rng.unit() - 1.0);
        let delay = (self.delay.as_secs_f64() + spread).max(0.0);
        let due = now + Duration::from_secs_f64(delay);
        previous.map_or(due, |previous| due.max(previous))
    }
}

/// Starts the two threads of one direction: a reader that stamps each frame
/// with its due time, and a writer that sends it then. The first fatal error
/// of either thread goes to `errors`, with `label` naming the direction.
pub fn spawn(
    label: String,
    from: Arc<PacketSocket>,
    to: Arc<PacketSocket>,
    impairment: Impairment,
    seed: u64,
    errors: Sender<(String, io::Error)>,
) {
    let (frames, queue) = channel::<(Instant, Vec<u8>)>();

    let reader_errors = errors.clone();
    let reader_label = label.clone();
    thread::spawn(move || {
        let mut rng = Rng::new(seed);
        let mut buf = vec![0u8; FRAME_BUFFER_LEN];
        let mut previous = None;
        let error = loop {
            let len = match from.recv(&mut buf) {
                Ok(len) => len,
                Err(error) => break error,
            };
            if impairment.drops(&mut rng) {
                continue;
            }
            let mut frame = buf[..len].to_vec();
            fix_transport_checksum(&mut frame);
            let due = impairment.due(Instant::now(), previous, &mut rng);
            previous = Some(due);
            if frames.send((due, frame)).is_err() {
                return; // the writer has already reported its error
            }
        };
        let _ = reader_errors.send((format!("{reader_label}: receive"), error));
    });

    thread::spawn(move || {
        for (due, frame) in queue {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            match to.send(&frame) {
                Ok(()) => {}
                // A frame larger than the link MTU (an offloaded TCP segment)
                // or a full queue: lose this frame, as a wire would.
                Err(error)
                    if matches!(error.raw_os_error(), Some(libc::EMSGSIZE | libc::ENOBUFS)) =>
                {
                    eprintln!(
                        "testnet-relay: {label}: dropped a {}-byte frame: {error}",
                        frame.len()
                    );
                }
                Err(error) => {
                    let _ = errors.send((format!("{label}: send"), error));
                    return;
                }
            }
        }
    });
}

/// xorshift64*: small, fast and good enough for loss and jitter draws.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // The state must never be zero.
        Self(seed | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniform draw from [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn loss_rate_follows_the_setting() {
        let impairment = Impairment {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss_percent: 5.0,
        };
        let mut rng = Rng::new(42);
        let dropped = (0..100_000).filter(|_| impairment.drops(&mut rng)).count();
        assert!(
            (4_500..5_500).contains(&dropped),
            "{dropped} of 100000 dropped"
        );

        let lossless = Impairment {
            loss_percent: 0.0,
            ..impairment
        };
        assert!(!(0..10_000).any(|_| lossless.drops(&mut rng)));
    }

    #[test]
    fn jitter_stays_in_bounds_and_never_reorders() {
        let impairment = Impairment {
            delay: 25 * MS,
            jitter: 10 * MS,
            loss_percent: 0.0,
        };
        let mut rng = Rng::new(7);
        let start = Instant::now();
        let mut previous = None;
        for i in 0..1_000u32 {
            let now = start + i * MS / 10;
            let due = impairment.due(now, previous, &mut rng);
            if let Some(previous) = previous {
                assert!(due >= previous);
            }
            assert!(due >= now + 15 * MS);
            assert!(due <= now + 35 * MS + MS);
            previous = Some(due);
        }
    }

    #[test]
    fn fixed_delay_without_jitter() {
        let impairment = Impairment {
            delay: 25 * MS,
            jitter: Duration::ZERO,
            loss_percent: 0.0,
        };
        let now = Instant::now();
        assert_eq!(impairment.due(now, None, &mut Rng::new(1)), now + 25 * MS);
    }
}
