//! The connection's progress as the session's commands show it on stderr
//! (`ranat trial`, `ranat invite`, `ranat assist`).

use super::probe::Progress;
use crate::flow::LiveEvent;
use crate::flow::connect::ConnectEvent;
use crate::predict::PunchExpectation;
use std::time::Duration;

/// Shows one step of the connection, each line headed by `command`
/// (`ranat trial`). `join_hint` says what the other side runs to join a
/// code this side was given.
pub struct Connecting<'a> {
    pub command: &'a str,
    pub progress: &'a mut Progress,
    pub join_hint: &'a dyn Fn(&str) -> String,
}

impl Connecting<'_> {
    /// Shows one of the steps the connection shares with the live check.
    /// With `--quiet`, only what the user must act on: the code to pass on
    /// and a peer's wrong try.
    pub fn show_live(&mut self, event: LiveEvent) {
        let command = self.command;
        let line = match event {
            LiveEvent::CodeAllocated { code, expires_in } => {
                return eprintln!(
                    "{command}: your code is {code} (valid {}). On the other machine run:\n    {}",
                    minutes(expires_in),
                    (self.join_hint)(&code.to_string()),
                );
            }
            LiveEvent::AttemptFailed { attempts_left } => {
                return eprintln!(
                    "{command}: they had a wrong code; waiting for another try ({attempts_left} left)"
                );
            }
            LiveEvent::Probe(event) => return self.progress.show(event),
            LiveEvent::PeerJoined => "someone joined; checking their code".to_string(),
            LiveEvent::RoomMade { room, expires_in } => {
                format!("waiting in room {room} (valid {})", minutes(expires_in))
            }
            LiveEvent::Joined { room } => format!("joined {room}; checking the code"),
            LiveEvent::Confirmed { peer_name } => {
                format!("the code matches ({peer_name} is on the other side); probing")
            }
            LiveEvent::Predicted { expected } => format!("predicted: {}", expectation(expected)),
            LiveEvent::Punching => "punching".to_string(),
        };
        self.step(&line);
    }

    /// Shows one step of the connection.
    pub fn show(&mut self, event: ConnectEvent) {
        let line = match event {
            ConnectEvent::Live(event) => return self.show_live(event),
            ConnectEvent::Relay(Ok(relayed)) => {
                format!("relayed address {relayed} on the help desk's relay")
            }
            ConnectEvent::Relay(Err(why)) => format!("no relayed address: {why}"),
            ConnectEvent::Mapped(Ok(mapping)) => format!(
                "mapped address {} on the gateway ({})",
                mapping.external, mapping.method
            ),
            ConnectEvent::Mapped(Err(why)) => format!("no mapped address: {why}"),
            ConnectEvent::Gathered { candidates } => format!("{candidates} candidates gathered"),
            ConnectEvent::Punched {
                connected,
                peer_connected,
            } => format!(
                "the punch {} here, {} there",
                connected_word(connected),
                connected_word(peer_connected)
            ),
            ConnectEvent::Channel(path) => {
                format!("channel up over the {} path to {}", path.kind, path.remote)
            }
        };
        self.step(&line);
    }

    /// One step on stderr, headed by the command, unless `--quiet`.
    pub fn step(&self, line: &str) {
        if !self.progress.quiet() {
            eprintln!("{}: {line}", self.command);
        }
    }
}

fn minutes(d: Duration) -> String {
    format!("{} min", d.as_secs() / 60)
}

fn connected_word(connected: bool) -> &'static str {
    if connected { "connected" } else { "failed" }
}

/// What the prediction expects of the punch, in words.
pub fn expectation(expected: PunchExpectation) -> &'static str {
    match expected {
        PunchExpectation::Connects => "a direct path",
        PunchExpectation::Likely => "likely a direct path (by port prediction)",
        PunchExpectation::Fails => "no direct path: the relay",
        PunchExpectation::Unknown => "unknown",
    }
}
