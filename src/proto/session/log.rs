//! The session log. Remote Assistance keeps one per session on each side,
//! `Remote Assistance Logs\YYYYMMDDHHMMSS.xml` (24-hour clock): who
//! connected, the chat, pauses, control changes, the session's start and
//! end, and never what was done on the desktop (session.md §1). ranat
//! keeps the same log, in the same place under its data directory.
//!
//! RA's own log schema is not published (nothing reliable was found), so
//! the document is ranat's, in RA's style: a `<SESSION>` root and one
//! element per event, each with its local time:
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <SESSION PROTOCOL="ranat/2">
//!   <INVITATION_CREATED TIME="2024-05-01T14:03:09" SESSIONID="00112233445566778899aabbccddeeff" RENDEZVOUS="help.example.org:3479" ROLE="novice"/>
//!   <PEER_CONNECTED TIME="2024-05-01T14:05:40" NAME="Help desk"/>
//!   <PATH TIME="2024-05-01T14:05:41" KIND="srflx" SUMMARY="direct, 198.51.100.7:50123, RTT 23 ms"/>
//!   <APPROVAL TIME="2024-05-01T14:05:52" ANSWER="allowed"/>
//!   <CHAT TIME="2024-05-01T14:06:03" FROM="helper">Hello!</CHAT>
//!   <CONTROL_REQUESTED TIME="2024-05-01T14:07:00"/>
//!   <CONTROL_DENIED TIME="2024-05-01T14:07:02" BY="policy"/>
//!   <DISCONNECTED TIME="2024-05-01T14:20:11" BY="novice" REASON="ended by the user"/>
//! </SESSION>
//! ```
//!
//! The log is sans-IO: the caller supplies the local time of each entry
//! and writes the document where it belongs.

use super::invitation::{PROTOCOL, SessionId};
use super::xml_text::escape;
use crate::proto::rendezvous::Role;

/// A wall-clock time on this computer, as its user reads it (local time
/// zone, 24-hour clock), supplied by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl LocalTime {
    /// The log's file name for a session that starts at this time:
    /// `YYYYMMDDHHMMSS.xml`, as Remote Assistance names its logs
    /// (session.md §1).
    pub fn log_file_name(&self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}.xml",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// ISO 8601 without a zone: `2024-05-01T14:03:09`.
impl std::fmt::Display for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Something that happened in a session.
///
/// By construction no field holds a password, a code, a key or screen
/// contents: there is no field of those types, and the text fields hold
/// only names, addresses, summaries and the chat people typed to each
/// other (which RA logs too). A session is named by its [`SessionId`],
/// which is no secret, and never by its code or room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// This side made an invitation (a file or a code), as `role`.
    InvitationCreated {
        session: SessionId,
        rendezvous: String,
        role: Role,
    },
    /// This side opened the other side's invitation, as `role`.
    InvitationOpened {
        session: SessionId,
        rendezvous: String,
        role: Role,
    },
    /// The other side is connected, under the name it gave.
    PeerConnected {
        name: String,
    },
    /// The path the session runs on: its kind (`host`, `srflx`, `relay`,
    /// …) and a summary in words.
    Path {
        kind: String,
        summary: String,
    },
    /// The novice's answer to "allow NAME to connect?" (a refusal is RA's
    /// HELPEESAIDNO).
    Approval {
        allowed: bool,
    },
    /// A chat message, from one side.
    Chat {
        from: Role,
        text: String,
    },
    /// The helper asked for control.
    ControlRequested,
    /// The novice granted control (RA's ACCEPTRC).
    ControlGranted,
    /// Control was refused: by the novice (REJECTRC) or by policy
    /// (DENIEDRC).
    ControlDenied {
        by_policy: bool,
    },
    /// Control was taken back (RA's TAKECONTROL).
    ControlRevoked {
        by: Role,
    },
    /// The helper gave control back (RA's REMOTECTRLEND).
    ControlReleased,
    /// The screen is hidden until the session continues.
    Paused,
    Continued,
    /// A message from the peer that came out of sequence, ignored
    /// ([MS-RA] §3.4.5): its kind and the session's state then, never its
    /// contents.
    Ignored {
        message: &'static str,
        state: String,
    },
    /// The session ended: why, and which side ended it (`None` when
    /// neither chose to, as when the network failed).
    Disconnected {
        reason: String,
        by: Option<Role>,
    },
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub at: LocalTime,
    pub event: LogEvent,
}

/// A session's log, in the order things happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionLog {
    entries: Vec<LogEntry>,
}

impl SessionLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry at the end.
    pub fn record(&mut self, entry: LogEntry) {
        self.entries.push(entry);
    }

    /// The entries so far.
    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }

    /// The whole log as an XML document (see the module documentation);
    /// well-formed whatever the names and the chat hold.
    pub fn to_xml(&self) -> String {
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SESSION PROTOCOL=\"{PROTOCOL}\">\n"
        );
        for entry in &self.entries {
            write_entry(&mut xml, entry);
        }
        xml.push_str("</SESSION>\n");
        xml
    }
}

/// One entry as an element: its name, the time, its attributes and, for a
/// chat message, its text.
fn write_entry(xml: &mut String, entry: &LogEntry) {
    let side = |role: &Role| role.as_str().to_string();
    let (name, attributes, text): (&str, Vec<(&str, String)>, Option<&str>) = match &entry.event {
        LogEvent::InvitationCreated {
            session,
            rendezvous,
            role,
        } => (
            "INVITATION_CREATED",
            invitation(session, rendezvous, role),
            None,
        ),
        LogEvent::InvitationOpened {
            session,
            rendezvous,
            role,
        } => (
            "INVITATION_OPENED",
            invitation(session, rendezvous, role),
            None,
        ),
        LogEvent::PeerConnected { name } => ("PEER_CONNECTED", vec![("NAME", name.clone())], None),
        LogEvent::Path { kind, summary } => (
            "PATH",
            vec![("KIND", kind.clone()), ("SUMMARY", summary.clone())],
            None,
        ),
        LogEvent::Approval { allowed } => {
            let answer = if *allowed { "allowed" } else { "refused" };
            ("APPROVAL", vec![("ANSWER", answer.to_string())], None)
        }
        LogEvent::Chat { from, text } => ("CHAT", vec![("FROM", side(from))], Some(text.as_str())),
        LogEvent::ControlRequested => ("CONTROL_REQUESTED", vec![], None),
        LogEvent::ControlGranted => ("CONTROL_GRANTED", vec![], None),
        LogEvent::ControlDenied { by_policy } => {
            let by = if *by_policy { "policy" } else { "novice" };
            ("CONTROL_DENIED", vec![("BY", by.to_string())], None)
        }
        LogEvent::ControlRevoked { by } => ("CONTROL_REVOKED", vec![("BY", side(by))], None),
        LogEvent::ControlReleased => ("CONTROL_RELEASED", vec![], None),
        LogEvent::Paused => ("PAUSED", vec![], None),
        LogEvent::Continued => ("CONTINUED", vec![], None),
        LogEvent::Ignored { message, state } => (
            "IGNORED",
            vec![
                ("MESSAGE", (*message).to_string()),
                ("STATE", state.clone()),
            ],
            None,
        ),
        LogEvent::Disconnected { reason, by } => {
            let mut attributes: Vec<_> = by.iter().map(|by| ("BY", side(by))).collect();
            attributes.push(("REASON", reason.clone()));
            ("DISCONNECTED", attributes, None)
        }
    };
    xml.push_str(&format!("  <{name} TIME=\"{}\"", entry.at));
    for (attribute, value) in attributes {
        xml.push_str(&format!(" {attribute}=\"{}\"", escape(&value)));
    }
    match text {
        Some(text) => xml.push_str(&format!(">{}</{name}>\n", escape(text))),
        None => xml.push_str("/>\n"),
    }
}

/// The attributes of an invitation made or opened.
fn invitation(session: &SessionId, rendezvous: &str, role: &Role) -> Vec<(&'static str, String)> {
    vec![
        ("SESSIONID", session.to_string()),
        ("RENDEZVOUS", rendezvous.to_string()),
        ("ROLE", role.as_str().to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u8, second: u8) -> LocalTime {
        LocalTime {
            year: 2024,
            month: 5,
            day: 1,
            hour: 14,
            minute,
            second,
        }
    }

    fn session() -> SessionId {
        SessionId::from_bytes([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ])
    }

    /// Every kind of event, as one session might log them.
    fn every_event() -> Vec<LogEvent> {
        vec![
            LogEvent::InvitationCreated {
                session: session(),
                rendezvous: "help.example.org:3479".into(),
                role: Role::Novice,
            },
            LogEvent::InvitationOpened {
                session: session(),
                rendezvous: "help.example.org".into(),
                role: Role::Helper,
            },
            LogEvent::PeerConnected {
                name: "Help desk".into(),
            },
            LogEvent::Path {
                kind: "srflx".into(),
                summary: "direct, 198.51.100.7:50123, RTT 23 ms".into(),
            },
            LogEvent::Approval { allowed: true },
            LogEvent::Approval { allowed: false },
            LogEvent::Chat {
                from: Role::Helper,
                text: "Hello!".into(),
            },
            LogEvent::ControlRequested,
            LogEvent::ControlGranted,
            LogEvent::ControlDenied { by_policy: true },
            LogEvent::ControlDenied { by_policy: false },
            LogEvent::ControlRevoked { by: Role::Novice },
            LogEvent::ControlReleased,
            LogEvent::Paused,
            LogEvent::Continued,
            LogEvent::Ignored {
                message: "ControlGrant",
                state: "screen sharing".into(),
            },
            LogEvent::Disconnected {
                reason: "ended by the user".into(),
                by: Some(Role::Novice),
            },
            LogEvent::Disconnected {
                reason: "the network failed".into(),
                by: None,
            },
        ]
    }

    #[test]
    fn the_file_name_is_the_local_time_on_a_24_hour_clock() {
        let time = LocalTime {
            year: 2009,
            month: 9,
            day: 29,
            hour: 21,
            minute: 8,
            second: 4,
        };
        assert_eq!(time.log_file_name(), "20090929210804.xml");
        assert_eq!(time.to_string(), "2009-09-29T21:08:04");
    }

    #[test]
    fn every_event_has_its_element_with_its_time() {
        let mut log = SessionLog::new();
        for (i, event) in every_event().into_iter().enumerate() {
            log.record(LogEntry {
                at: at(3, i as u8),
                event,
            });
        }
        let xml = log.to_xml();
        let expected = [
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<SESSION PROTOCOL="ranat/2">"#,
            r#"  <INVITATION_CREATED TIME="2024-05-01T14:03:00" SESSIONID="00112233445566778899aabbccddeeff" RENDEZVOUS="help.example.org:3479" ROLE="novice"/>"#,
            r#"  <INVITATION_OPENED TIME="2024-05-01T14:03:01" SESSIONID="00112233445566778899aabbccddeeff" RENDEZVOUS="help.example.org" ROLE="helper"/>"#,
            r#"  <PEER_CONNECTED TIME="2024-05-01T14:03:02" NAME="Help desk"/>"#,
            r#"  <PATH TIME="2024-05-01T14:03:03" KIND="srflx" SUMMARY="direct, 198.51.100.7:50123, RTT 23 ms"/>"#,
            r#"  <APPROVAL TIME="2024-05-01T14:03:04" ANSWER="allowed"/>"#,
            r#"  <APPROVAL TIME="2024-05-01T14:03:05" ANSWER="refused"/>"#,
            r#"  <CHAT TIME="2024-05-01T14:03:06" FROM="helper">Hello!</CHAT>"#,
            r#"  <CONTROL_REQUESTED TIME="2024-05-01T14:03:07"/>"#,
            r#"  <CONTROL_GRANTED TIME="2024-05-01T14:03:08"/>"#,
            r#"  <CONTROL_DENIED TIME="2024-05-01T14:03:09" BY="policy"/>"#,
            r#"  <CONTROL_DENIED TIME="2024-05-01T14:03:10" BY="novice"/>"#,
            r#"  <CONTROL_REVOKED TIME="2024-05-01T14:03:11" BY="novice"/>"#,
            r#"  <CONTROL_RELEASED TIME="2024-05-01T14:03:12"/>"#,
            r#"  <PAUSED TIME="2024-05-01T14:03:13"/>"#,
            r#"  <CONTINUED TIME="2024-05-01T14:03:14"/>"#,
            r#"  <IGNORED TIME="2024-05-01T14:03:15" MESSAGE="ControlGrant" STATE="screen sharing"/>"#,
            r#"  <DISCONNECTED TIME="2024-05-01T14:03:16" BY="novice" REASON="ended by the user"/>"#,
            r#"  <DISCONNECTED TIME="2024-05-01T14:03:17" REASON="the network failed"/>"#,
            r#"</SESSION>"#,
        ];
        assert_eq!(xml.lines().collect::<Vec<_>>(), expected);
        assert_eq!(log.entries().len(), every_event().len());
    }

    #[test]
    fn an_empty_log_is_a_complete_document() {
        assert_eq!(
            SessionLog::new().to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SESSION PROTOCOL=\"ranat/2\">\n</SESSION>\n"
        );
    }

    #[test]
    fn hostile_names_and_chat_keep_the_document_well_formed() {
        let mut log = SessionLog::new();
        let nasty = "</CHAT><INJECTED a=\"b\"/>&amp; \u{1b}]0;title\u{7}\nsecond line";
        log.record(LogEntry {
            at: at(0, 0),
            event: LogEvent::PeerConnected { name: nasty.into() },
        });
        log.record(LogEntry {
            at: at(0, 1),
            event: LogEvent::Chat {
                from: Role::Novice,
                text: nasty.into(),
            },
        });
        let xml = log.to_xml();
        assert!(!xml.contains("<INJECTED"), "{xml}");
        assert!(!xml.contains('\u{1b}'), "{xml}");
        // Read back by a real parser: one SESSION, two entries, the text
        // as it was but for the controls XML cannot carry.
        let events: Vec<_> = xml::EventReader::new(xml.as_bytes())
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("well-formed");
        let starts: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                xml::reader::XmlEvent::StartElement { name, .. } => Some(name.local_name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(starts, ["SESSION", "PEER_CONNECTED", "CHAT"]);
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                xml::reader::XmlEvent::Characters(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            text,
            "</CHAT><INJECTED a=\"b\"/>&amp; \u{fffd}]0;title\u{fffd}\nsecond line"
        );
    }
}
