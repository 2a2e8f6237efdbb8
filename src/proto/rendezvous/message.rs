//! What client and server say to each other, one JSON object per frame,
//! told apart by its `type` field.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::code::Code;
use crate::proto::punch::{Candidate, Credentials};

/// The protocol version a client announces in its Hello.
pub const PROTOCOL_VERSION: u32 = 1;

/// A client's message to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first message: without a code, create a room; with one, join it.
    Hello { version: u32, code: Option<Code> },
    /// This side's probe report. The server passes it on without reading
    /// it; the receiving client checks it.
    Report { report: serde_json::Value },
    /// Where this side can be reached, and the credentials of its checks.
    Candidates {
        credentials: Credentials,
        candidates: Vec<Candidate>,
    },
}

/// The server's message to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The Hello is accepted: the room's code, this side's role, and how
    /// long the room has left.
    Welcome {
        code: Code,
        role: Role,
        expires_in_secs: u64,
    },
    /// Sent to the helper: the novice has joined.
    PeerJoined,
    /// The other member's report, once both are in.
    PeerReport { report: serde_json::Value },
    /// The other member's candidates, once both are in; the server then
    /// closes the connection.
    PeerCandidates {
        credentials: Credentials,
        candidates: Vec<Candidate>,
        /// The other member's TCP source address as the server saw it:
        /// informational, and not a candidate (it is a TCP mapping).
        observed: SocketAddr,
    },
    /// The request failed; the server closes the connection.
    Error { error: RendezvousError },
}

/// Which side of the session a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The help desk: it creates the room and reads the code out.
    Helper,
    /// The user being helped: joins with the code.
    Novice,
}

/// Why the server refused a request or ended a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum RendezvousError {
    #[error("no session has this code (check it, or ask for a new one)")]
    UnknownCode,
    #[error("this code is already used by two people")]
    CodeInUse,
    #[error("this code has expired; ask for a new one")]
    Expired,
    #[error("the rendezvous server is full; try again in a few minutes")]
    ServerFull,
    #[error("the other side left")]
    PeerLeft,
    #[error("the rendezvous server speaks another protocol version")]
    UnsupportedVersion,
    #[error("a message came out of order")]
    OutOfOrder,
    #[error("a message could not be read")]
    Malformed,
    #[error("a message was over the 64 KiB limit")]
    TooLarge,
    #[error("more candidates than the rendezvous server accepts")]
    TooManyCandidates,
    #[error("the credentials are not valid ICE credentials (RFC 8839 §5.4)")]
    BadCredentials,
}

impl ServerMessage {
    /// The message's `type`, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Welcome { .. } => "welcome",
            Self::PeerJoined => "peer_joined",
            Self::PeerReport { .. } => "peer_report",
            Self::PeerCandidates { .. } => "peer_candidates",
            Self::Error { .. } => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::punch::CandidateKind;

    #[test]
    fn messages_carry_a_snake_case_type_tag() {
        let hello = ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            code: Some("ABC-DEF".parse().expect("code")),
        };
        let json = serde_json::to_value(&hello).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"type": "hello", "version": 1, "code": "ABC-DEF"})
        );
        let create: ClientMessage =
            serde_json::from_str(r#"{"type":"hello","version":1,"code":null}"#).expect("parse");
        assert_eq!(
            create,
            ClientMessage::Hello {
                version: 1,
                code: None
            }
        );
        let error = ServerMessage::Error {
            error: RendezvousError::CodeInUse,
        };
        assert_eq!(
            serde_json::to_value(&error).expect("serialize"),
            serde_json::json!({"type": "error", "error": "code_in_use"})
        );
        assert_eq!(
            serde_json::to_value(ServerMessage::PeerJoined).expect("serialize"),
            serde_json::json!({"type": "peer_joined"})
        );
    }

    #[test]
    fn every_message_round_trips() {
        let credentials = Credentials {
            ufrag: "abcd".into(),
            pwd: "0123456789012345678901".into(),
        };
        let candidates = vec![Candidate {
            address: "192.0.2.7:4000".parse().expect("addr"),
            kind: CandidateKind::ServerReflexive,
        }];
        let client = [
            ClientMessage::Hello {
                version: 1,
                code: None,
            },
            ClientMessage::Report {
                report: serde_json::json!({"schema_version": 2, "x": [1, 2]}),
            },
            ClientMessage::Candidates {
                credentials: credentials.clone(),
                candidates: candidates.clone(),
            },
        ];
        for m in client {
            let json = serde_json::to_vec(&m).expect("serialize");
            assert_eq!(serde_json::from_slice::<ClientMessage>(&json).ok(), Some(m));
        }
        let server = [
            ServerMessage::Welcome {
                code: "222-ZZZ".parse().expect("code"),
                role: Role::Novice,
                expires_in_secs: 600,
            },
            ServerMessage::PeerJoined,
            ServerMessage::PeerReport {
                report: serde_json::json!(null),
            },
            ServerMessage::PeerCandidates {
                credentials,
                candidates,
                observed: "[2001:db8::1]:5000".parse().expect("addr"),
            },
            ServerMessage::Error {
                error: RendezvousError::BadCredentials,
            },
        ];
        for m in server {
            let json = serde_json::to_vec(&m).expect("serialize");
            assert_eq!(serde_json::from_slice::<ServerMessage>(&json).ok(), Some(m));
        }
    }

    #[test]
    fn unknown_types_and_bad_fields_are_refused() {
        for bad in [
            r#"{"type":"relay","to":"1.2.3.4:5"}"#,
            r#"{"version":1}"#,
            r#"{"type":"hello","version":"one"}"#,
            r#"{"type":"hello","version":1,"code":"ABC-DE0"}"#,
            r#"{"type":"candidates","credentials":{"ufrag":"a"},"candidates":[]}"#,
            r#"{"type":"candidates","credentials":{"ufrag":"abcd","pwd":"x"},"candidates":[{"address":"nowhere","kind":"host"}]}"#,
            r#"[]"#,
        ] {
            assert!(serde_json::from_str::<ClientMessage>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_read_as_plain_words() {
        assert_eq!(RendezvousError::PeerLeft.to_string(), "the other side left");
        assert!(RendezvousError::Expired.to_string().contains("expired"));
    }
}
