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
    pub fn show_live(&mut self, event: LiveEvent) {
        let command = self.command;
        match event {
            LiveEvent::CodeAllocated { code, expires_in } => eprintln!(
                "{command}: your code is {code} (valid {}). On the other machine run:\n    {}",
                minutes(expires_in),
                (self.join_hint)(&code.to_string()),
            ),
            LiveEvent::PeerJoined => {
                eprintln!("{command}: someone joined; checking their code")
            }
            LiveEvent::AttemptFailed { attempts_left } => eprintln!(
                "{command}: they had a wrong code; waiting for another try ({attempts_left} left)"
            ),
            LiveEvent::RoomMade { room, expires_in } => eprintln!(
                "{command}: waiting in room {room} (valid {})",
                minutes(expires_in)
            ),
            LiveEvent::Joined { room } => {
                eprintln!("{command}: joined {room}; checking the code")
            }
            LiveEvent::Confirmed { peer_name } => {
                eprintln!("{command}: the code matches ({peer_name} is on the other side); probing")
            }
            LiveEvent::Probe(event) => self.progress.show(event),
            LiveEvent::Predicted { expected } => {
                eprintln!("{command}: predicted: {}", expectation(expected))
            }
            LiveEvent::Punching => eprintln!("{command}: punching"),
        }
    }

    /// Shows one step of the connection.
    pub fn show(&mut self, event: ConnectEvent) {
        let command = self.command;
        match event {
            ConnectEvent::Live(event) => self.show_live(event),
            ConnectEvent::Relay(Ok(relayed)) => {
                eprintln!("{command}: relayed address {relayed} on the help desk's relay")
            }
            ConnectEvent::Relay(Err(why)) => eprintln!("{command}: no relayed address: {why}"),
            ConnectEvent::Mapped(Ok(mapping)) => eprintln!(
                "{command}: mapped address {} on the gateway ({})",
                mapping.external, mapping.method
            ),
            ConnectEvent::Mapped(Err(why)) => eprintln!("{command}: no mapped address: {why}"),
            ConnectEvent::Gathered { candidates } => {
                eprintln!("{command}: {candidates} candidates gathered")
            }
            ConnectEvent::Punched {
                connected,
                peer_connected,
            } => eprintln!(
                "{command}: the punch {} here, {} there",
                connected_word(connected),
                connected_word(peer_connected)
            ),
            ConnectEvent::Channel(path) => eprintln!(
                "{command}: channel up over the {} path to {}",
                path.kind, path.remote
            ),
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
