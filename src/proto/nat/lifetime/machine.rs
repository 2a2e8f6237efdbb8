//! The binding-lifetime measurement as every driver runs it.

use std::net::SocketAddr;
use std::time::Instant;

use super::*;

impl Machine for Lifetime {
    /// Y first, then the X sockets of the calibration and of each round, a
    /// fresh port toward the server each.
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        self.binds.pop_front()
    }

    /// A bound socket sends its Binding request at once.
    fn handle_bound(&mut self, now: Instant, socket: SocketId, _local: SocketAddr) {
        let schedule = self.schedule();
        if socket == QUERY {
            self.query = Some(self.request(None, self.config.initial, now));
        } else if let Some(i) = self.probes.iter().position(|p| p.socket == socket) {
            if self.probes[i].state == State::Running {
                let transaction = self.request(None, schedule, now);
                self.probes[i].mapping = Some(transaction);
            } else {
                self.closes.push_back(socket);
            }
        }
        self.advance(now);
    }

    /// An X socket that cannot be bound gives no verdict.
    fn handle_bind_failed(&mut self, now: Instant, socket: SocketId) {
        if let Some(i) = self
            .probes
            .iter()
            .position(|p| p.socket == socket && p.state == State::Running)
        {
            self.set_state(i, State::Failed);
        }
        self.advance(now);
    }

    fn poll_close(&mut self) -> Option<SocketId> {
        self.closes.pop_front()
    }

    fn handle_input(&mut self, now: Instant, socket: SocketId, from: SocketAddr, bytes: &[u8]) {
        if self.result.is_some() {
            return;
        }
        let Ok(datagram) = Datagram::parse(bytes) else {
            return;
        };
        if !datagram.is_response() {
            return;
        }
        if socket == QUERY {
            self.query_input(now, from, &datagram);
        } else {
            self.probe_input(now, socket, from, &datagram);
        }
        self.advance(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        for t in [self.query.as_mut(), self.control.as_mut()]
            .into_iter()
            .flatten()
        {
            t.handle_timeout(now);
        }
        for p in self.probes.iter_mut().filter(|p| p.state == State::Running) {
            if let Some(t) = p.mapping.as_mut() {
                t.handle_timeout(now);
            }
            if let Some(t) = p.test.as_mut() {
                t.transaction.handle_timeout(now);
            }
        }
        self.advance(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.result.is_some() {
            return None;
        }
        let query = [self.query.as_ref(), self.control.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(ClientTransaction::poll_timeout);
        let probes = self
            .probes
            .iter()
            .filter(|p| p.state == State::Running)
            .filter_map(|p| match (&p.test, p.mapped) {
                (Some(test), _) => test.transaction.poll_timeout(),
                (None, Some((_, heard))) if self.query_mapped.is_some() => Some(heard + p.wait),
                (None, _) => p.mapping.as_ref().and_then(ClientTransaction::poll_timeout),
            });
        query.chain(probes).min()
    }

    fn is_done(&self) -> bool {
        self.result.is_some()
    }

    /// Ends the measurement now (the caller's time limit): the bracket
    /// measured so far is the result, with a note.
    fn cut_short(&mut self) {
        if self.result.is_some() {
            return;
        }
        if self.phase == Phase::Calibrating {
            return self.not_measured(format!(
                "the time limit came before {} answered the first tests",
                self.config.server
            ));
        }
        self.conclude();
        if let Some(result) = self.result.as_mut() {
            result.notes.push(
                "the time limit ended the measurement early: the bracket is wider than sought, \
                 or the lifetime longer than the longest wait tested"
                    .into(),
            );
        }
    }
}
