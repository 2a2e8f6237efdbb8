//! The room directory, sans IO: what the rendezvous servers of one
//! deployment must agree on so that any number of them behind one name
//! work as one. A room lives on the host whose helper created it; the
//! directory says which host that is, hands out each public code to one
//! room at a time, and counts each source's creations and joins
//! whichever host it reaches.
//!
//! The machine asks ([`Question`]) and is answered ([`Answer`]), in its own
//! time: [`MemoryDirectory`] answers at once, for one host; a shared store
//! (Redis, in `io/`) answers when its reply comes.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::admission::{Action, Admission, Source, SourceLimits};
use super::code::Code;
use super::message::RendezvousError;

/// How often the memory directory forgets the sources whose limits have
/// run out.
const SWEEP: Duration = Duration::from_secs(1);

/// What the machine asks the directory about a connection's Hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// Take one creation from `source`'s bucket, then claim for this host
    /// the first of `candidates` no room uses, for `lifetime`.
    Create {
        source: Source,
        candidates: Vec<Code>,
        lifetime: Duration,
    },
    /// Take one join from `source`'s bucket, then say where the room
    /// `code` lives.
    Join { source: Source, code: Code },
}

/// The directory's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The code is this host's until it is released (or its lifetime and
    /// a grace period are over).
    Created(Code),
    /// The room lives on this host.
    Here,
    /// The room lives on the host whose rendezvous listens at this address.
    Elsewhere(SocketAddr),
    /// The Hello is turned away: `TooManyRequests` from the per-source
    /// limits, `UnknownCode` for a room nobody holds, `ServerFull` when
    /// every candidate is taken, `StoreUnavailable` when the directory
    /// cannot be reached.
    Refused(RendezvousError),
}

/// The directory of one host alone: every room is here.
#[derive(Debug)]
pub struct MemoryDirectory {
    admission: Admission,
    codes: BTreeSet<Code>,
    swept: Option<Instant>,
}

impl MemoryDirectory {
    pub fn new(limits: SourceLimits) -> Self {
        Self {
            admission: Admission::new(limits),
            codes: BTreeSet::new(),
            swept: None,
        }
    }

    /// Answers `question` at `now`.
    pub fn answer(&mut self, now: Instant, question: &Question) -> Answer {
        if self
            .swept
            .is_none_or(|at| now.saturating_duration_since(at) >= SWEEP)
        {
            self.admission.forget_idle(now);
            self.swept = Some(now);
        }
        match question {
            Question::Create {
                source, candidates, ..
            } => {
                if !self.admission.take(now, *source, Action::Create) {
                    return Answer::Refused(RendezvousError::TooManyRequests);
                }
                match candidates.iter().find(|c| !self.codes.contains(c)) {
                    Some(code) => {
                        self.codes.insert(*code);
                        Answer::Created(*code)
                    }
                    None => Answer::Refused(RendezvousError::ServerFull),
                }
            }
            Question::Join { source, code } => {
                if !self.admission.take(now, *source, Action::Join) {
                    Answer::Refused(RendezvousError::TooManyRequests)
                } else if self.codes.contains(code) {
                    Answer::Here
                } else {
                    Answer::Refused(RendezvousError::UnknownCode)
                }
            }
        }
    }

    /// Holds `code` for a room this host has, if it is free.
    pub fn claim(&mut self, code: Code) {
        self.codes.insert(code);
    }

    /// The room `code` has ended: the code is free again.
    pub fn release(&mut self, code: Code) {
        self.codes.remove(&code);
    }

    /// Codes held now.
    pub fn codes(&self) -> usize {
        self.codes.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::proto::rendezvous::lcg;

    fn source(last: u8) -> Source {
        Source::of(IpAddr::from([198, 51, 100, last]))
    }

    fn create(candidates: Vec<Code>, last: u8) -> Question {
        Question::Create {
            source: source(last),
            candidates,
            lifetime: Duration::from_secs(600),
        }
    }

    #[test]
    fn a_code_is_held_by_one_room_until_released() {
        let mut directory = MemoryDirectory::new(SourceLimits::default());
        let now = Instant::now();
        let code = Code::generate(lcg(3));
        let other = Code::generate(lcg(4));
        assert_eq!(
            directory.answer(now, &create(vec![code], 1)),
            Answer::Created(code)
        );
        assert_eq!(
            directory.answer(now, &create(vec![code], 2)),
            Answer::Refused(RendezvousError::ServerFull)
        );
        assert_eq!(
            directory.answer(now, &create(vec![code, other], 2)),
            Answer::Created(other)
        );
        let join = Question::Join {
            source: source(3),
            code,
        };
        assert_eq!(directory.answer(now, &join), Answer::Here);
        directory.release(code);
        assert_eq!(
            directory.answer(now, &join),
            Answer::Refused(RendezvousError::UnknownCode)
        );
        assert_eq!(directory.codes(), 1);
    }

    #[test]
    fn the_per_source_limits_count_every_question() {
        let limits = SourceLimits::default();
        let mut directory = MemoryDirectory::new(limits);
        let now = Instant::now();
        let code = Code::generate(lcg(5));
        let join = Question::Join {
            source: source(9),
            code,
        };
        for _ in 0..limits.joins.burst {
            assert_eq!(
                directory.answer(now, &join),
                Answer::Refused(RendezvousError::UnknownCode)
            );
        }
        assert_eq!(
            directory.answer(now, &join),
            Answer::Refused(RendezvousError::TooManyRequests)
        );
    }
}
