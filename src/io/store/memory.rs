//! The room store of a host alone: a [`MemoryDirectory`] behind a lock.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::RoomStore;
use crate::proto::rendezvous::{Answer, Code, ForwardKey, MemoryDirectory, Question, SourceLimits};

/// Rooms and per-source counts in this process.
#[derive(Debug)]
pub struct MemoryStore {
    directory: Mutex<MemoryDirectory>,
}

impl MemoryStore {
    pub fn new(limits: SourceLimits) -> Self {
        Self {
            directory: Mutex::new(MemoryDirectory::new(limits)),
        }
    }
}

impl RoomStore for MemoryStore {
    async fn answer(&self, question: Question) -> Answer {
        // A poisoned lock only means another answer panicked midway; the
        // directory's state is still whole (each answer is one update).
        let mut directory = self.directory.lock().unwrap_or_else(|e| e.into_inner());
        directory.answer(Instant::now(), &question)
    }

    async fn release(&self, codes: Vec<Code>) {
        let mut directory = self.directory.lock().unwrap_or_else(|e| e.into_inner());
        for code in codes {
            directory.release(code);
        }
    }

    async fn reclaim(&self, rooms: Vec<(Code, Duration)>) {
        let mut directory = self.directory.lock().unwrap_or_else(|e| e.into_inner());
        for (code, _) in rooms {
            directory.claim(code);
        }
    }

    async fn forward_key(&self) -> Option<ForwardKey> {
        None
    }
}
