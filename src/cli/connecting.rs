//! The connection's progress as the session's commands show it on stderr
//! (`ranat trial`, `ranat invite`, `ranat assist`).

use super::probe::Progress;
use crate::flow::LiveEvent;
use crate::flow::connect::ConnectEvent;
use crate::predict::PunchExpectation;
use crate::proto::rendezvous::Code;
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
    pub fn show(&mut self, event: ConnectEvent) {
        let command = self.command;
        match event {
            ConnectEvent::Live(LiveEvent::CodeAllocated { code, expires_in }) => eprintln!(
                "{command}: your code is {code} (valid {}). On the other machine run:\n    {}",
                minutes(expires_in),
                (self.join_hint)(&code.to_string()),
            ),
            ConnectEvent::Live(LiveEvent::PeerJoined) => {
                eprintln!("{command}: someone joined; checking their code")
            }
            ConnectEvent::Live(LiveEvent::AttemptFailed { attempts_left }) => eprintln!(
                "{command}: they had a wrong code; waiting for another try ({attempts_left} left)"
            ),
            ConnectEvent::Live(LiveEvent::Joined { code }) => {
                eprintln!("{command}: joined {}; checking the code", room(code.room))
            }
            ConnectEvent::Live(LiveEvent::Confirmed { peer_name }) => {
                eprintln!("{command}: the code matches ({peer_name} is on the other side); probing")
            }
            ConnectEvent::Live(LiveEvent::Probe(event)) => self.progress.show(event),
            ConnectEvent::Live(LiveEvent::Predicted { expected }) => {
                eprintln!("{command}: predicted: {}", expectation(expected))
            }
            ConnectEvent::Live(LiveEvent::Punching) => eprintln!("{command}: punching"),
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

fn room(code: Code) -> String {
    code.to_string()
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
