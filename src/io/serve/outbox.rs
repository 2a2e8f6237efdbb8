//! The answers of one received batch, written in place side by side and
//! sent together: consecutive answers from one socket to one destination,
//! of one size, leave as one GSO send (the kernel cuts them into datagrams).

use std::net::SocketAddr;

use crate::proto::machine::SocketId;
use crate::proto::stun::{MAX_ANSWER, Reply};

/// Room for the answers of a batch before it must be sent.
const BYTES: usize = 64 * 1024;

/// The most bytes one GSO send may carry: the kernel refuses a UDP payload
/// over 64 KiB in all.
const GSO_BYTES: usize = 60_000;

/// Answers that share a socket, a destination and a size, side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub socket: SocketId,
    pub destination: SocketAddr,
    /// Where the first answer starts in [`Outbox::bytes`].
    pub start: usize,
    /// Each answer's size.
    pub segment: usize,
    pub count: usize,
}

impl Run {
    /// The run's bytes within the outbox.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.start + self.segment * self.count
    }
}

/// Answers waiting to be sent; allocated once per worker.
#[derive(Debug)]
pub struct Outbox {
    bytes: Vec<u8>,
    filled: usize,
    runs: Vec<Run>,
}

impl Outbox {
    pub fn new() -> Self {
        Self {
            bytes: vec![0; BYTES],
            filled: 0,
            // The smallest answer is a STUN header: no more runs than this.
            runs: Vec::with_capacity(BYTES / 20),
        }
    }

    /// The space the next answer is written into, or `None` when the
    /// outbox must be sent first.
    pub fn slot(&mut self) -> Option<&mut [u8; MAX_ANSWER]> {
        let end = self.filled.checked_add(MAX_ANSWER)?;
        self.bytes.get_mut(self.filled..end)?.try_into().ok()
    }

    /// Keeps the answer just written into [`Outbox::slot`]; it joins the
    /// last run when it continues it and the run stays within
    /// `max_segments` (what the socket's GSO allows, 1 without it).
    pub fn commit(&mut self, reply: Reply, max_segments: usize) {
        let start = self.filled;
        self.filled += reply.len;
        if let Some(last) = self.runs.last_mut()
            && last.socket == reply.socket
            && last.destination == reply.destination
            && last.segment == reply.len
            && last.count < max_segments
            && (last.count + 1) * last.segment <= GSO_BYTES
        {
            last.count += 1;
            return;
        }
        self.runs.push(Run {
            socket: reply.socket,
            destination: reply.destination,
            start,
            segment: reply.len,
            count: 1,
        });
    }

    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Forgets what was sent.
    pub fn clear(&mut self) {
        self.filled = 0;
        self.runs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(socket: u16, port: u16, len: usize) -> Reply {
        Reply {
            socket: SocketId(socket),
            destination: SocketAddr::from(([192, 0, 2, 1], port)),
            len,
        }
    }

    /// Writes `len` bytes of `fill` and commits them.
    fn put(outbox: &mut Outbox, r: Reply, fill: u8, max_segments: usize) {
        outbox.slot().expect("room")[..r.len].fill(fill);
        outbox.commit(r, max_segments);
    }

    #[test]
    fn consecutive_answers_to_one_destination_of_one_size_share_a_run() {
        let mut o = Outbox::new();
        put(&mut o, reply(0, 1000, 80), 1, 64);
        put(&mut o, reply(0, 1000, 80), 2, 64);
        put(&mut o, reply(0, 2000, 80), 3, 64);
        put(&mut o, reply(1, 2000, 80), 4, 64);
        put(&mut o, reply(1, 2000, 96), 5, 64);
        put(&mut o, reply(1, 2000, 80), 6, 64);
        let counts: Vec<(usize, usize)> = o.runs().iter().map(|r| (r.count, r.segment)).collect();
        assert_eq!(counts, [(2, 80), (1, 80), (1, 80), (1, 96), (1, 80)]);
        let first = o.runs()[0];
        assert_eq!(&o.bytes()[first.range()][..80], &[1; 80][..]);
        assert_eq!(&o.bytes()[first.range()][80..], &[2; 80][..]);
        let fourth = o.runs()[3];
        assert_eq!(o.bytes()[fourth.range()], [5; 96]);
    }

    #[test]
    fn runs_stop_at_the_segment_limit_and_the_gso_size() {
        let mut o = Outbox::new();
        for _ in 0..5 {
            put(&mut o, reply(0, 1000, 100), 0, 2);
        }
        let counts: Vec<usize> = o.runs().iter().map(|r| r.count).collect();
        assert_eq!(counts, [2, 2, 1]);
        o.clear();
        assert!(o.runs().is_empty());
        for _ in 0..31 {
            put(&mut o, reply(0, 1000, MAX_ANSWER), 0, 64);
        }
        assert!(o.runs().iter().all(|r| r.count * r.segment <= GSO_BYTES));
        assert!(o.runs().len() > 1);
    }

    #[test]
    fn a_full_outbox_asks_to_be_sent_first() {
        let mut o = Outbox::new();
        let mut written = 0;
        while o.slot().is_some() {
            o.commit(reply(0, 1000, MAX_ANSWER), 1);
            written += 1;
        }
        assert_eq!(written, BYTES / MAX_ANSWER);
        o.clear();
        assert!(o.slot().is_some());
    }
}
