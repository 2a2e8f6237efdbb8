//! The rendezvous server's side of the room directory: putting each Hello
//! to it, and doing what its answers say.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{
    CANDIDATES, CODE_ATTEMPTS, ConnId, ConnState, Hello, Output, Rendezvous, RendezvousError,
};
use crate::proto::rendezvous::admission::Source;
use crate::proto::rendezvous::code::Code;
use crate::proto::rendezvous::directory::{Answer, Question};

impl Rendezvous {
    /// Connection `id`, before its Hello, proved to come from another host
    /// of the deployment on behalf of the client at `source`: it is that
    /// client's from now on, already admitted by the directory.
    pub fn handle_forwarded(&mut self, _now: Instant, id: ConnId, source: SocketAddr) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if matches!(conn.state, ConnState::AwaitingHello { .. }) {
            conn.peer = source;
            conn.forwarded = true;
        } else {
            self.violation(id, RendezvousError::OutOfOrder);
        }
    }

    /// The directory's answer to the question asked for connection `id`.
    pub fn handle_answer(&mut self, now: Instant, id: ConnId, answer: Answer) {
        let hello = match self.conns.get(&id).map(|c| &c.state) {
            Some(ConnState::Asking(hello)) => *hello,
            _ => {
                // The connection is gone: a code claimed for it is free.
                if let Answer::Created(code) = answer {
                    self.release(code);
                }
                return;
            }
        };
        match (hello, answer) {
            (Hello::Create { lifetime }, Answer::Created(code)) => {
                self.create(now, id, code, lifetime);
            }
            (Hello::Join { code }, Answer::Here) => self.join(now, id, code),
            (Hello::Join { .. }, Answer::Elsewhere(host)) => {
                self.conns.remove(&id);
                self.stats.forwarded += 1;
                self.outputs.push_back(Output::Forward(id, host));
            }
            (_, Answer::Refused(error)) => {
                match error {
                    RendezvousError::TooManyRequests => self.stats.rate_limited += 1,
                    RendezvousError::StoreUnavailable => self.stats.store_unavailable += 1,
                    _ => {}
                }
                self.refuse(id, error);
            }
            (Hello::Create { .. }, Answer::Here | Answer::Elsewhere(_))
            | (Hello::Join { .. }, Answer::Created(_)) => {
                if let Answer::Created(code) = answer {
                    self.release(code);
                }
                self.refuse(id, RendezvousError::StoreUnavailable);
            }
        }
    }

    /// Puts connection `id`'s Hello to the directory: the own one answers
    /// at once, a shared one through the driver.
    pub(super) fn ask(&mut self, now: Instant, id: ConnId, hello: Hello, question: Question) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.state = ConnState::Asking(hello);
        match self.directory.as_mut() {
            Some(directory) => {
                let answer = directory.answer(now, &question);
                self.handle_answer(now, id, answer);
            }
            None => self.outputs.push_back(Output::Ask(id, question)),
        }
    }

    /// Frees `code` in the directory.
    pub(super) fn release(&mut self, code: Code) {
        match self.directory.as_mut() {
            Some(directory) => directory.release(code),
            None => self.outputs.push_back(Output::Release(code)),
        }
    }

    /// A Hello without a code: codes this host does not use are offered to
    /// the directory, for a room living as long as the helper asked,
    /// within the server's limit.
    pub(super) fn ask_create(&mut self, now: Instant, id: ConnId, lifetime: Option<Duration>) {
        let Some(source) = self.conns.get(&id).map(|c| Source::of(c.peer.ip())) else {
            return;
        };
        if self.rooms.len() >= self.config.max_rooms {
            self.refuse(id, RendezvousError::ServerFull);
            return;
        }
        let mut candidates: Vec<Code> = Vec::with_capacity(CANDIDATES);
        for _ in 0..CODE_ATTEMPTS {
            let code = Code::generate(&mut self.random);
            if !self.rooms.contains_key(&code) && !candidates.contains(&code) {
                candidates.push(code);
                if candidates.len() == CANDIDATES {
                    break;
                }
            }
        }
        if candidates.is_empty() {
            self.refuse(id, RendezvousError::ServerFull);
            return;
        }
        let lifetime = lifetime.map_or(self.config.room_lifetime, |asked| {
            asked.min(self.config.max_room_lifetime)
        });
        let question = Question::Create {
            source,
            candidates,
            lifetime,
        };
        self.ask(now, id, Hello::Create { lifetime }, question);
    }
}
