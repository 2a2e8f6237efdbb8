//! What client and server say to each other, one JSON object per frame,
//! told apart by its `type` field.

use std::fmt;
use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::code::Code;

/// The protocol version a client announces in its Hello. Version 2 pairs
/// by the code's public part and carries a PAKE and sealed messages; the
/// server reads none of what the two sides tell each other.
pub const PROTOCOL_VERSION: u32 = 2;

/// Bytes in a message, as standard base64 in the JSON.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD
            .decode(text)
            .map(Blob)
            .map_err(serde::de::Error::custom)
    }
}

/// A client's message to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first message: without a code, create a room; with one (the
    /// invitation's public part), join it.
    Hello {
        version: u32,
        code: Option<Code>,
        /// How long the room this Hello creates should live (an invitation
        /// file's `DtLength`); the server grants at most its own limit and
        /// says what it granted in its Welcome. Without it, the server's
        /// default (a spoken code's ten minutes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lifetime_secs: Option<u64>,
    },
    /// This side's PAKE message, once per pairing, after it.
    Pake { message: Blob },
    /// A message sealed for the other side, after this side's PAKE
    /// message; `last` marks this side's last one.
    Sealed { sealed: Blob, last: bool },
    /// The other side's first sealed message did not open: the two codes
    /// differ. The pairing ends; the helper may wait for another try.
    ConfirmationFailed,
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
    /// Sent to the helper: a novice has joined.
    PeerJoined,
    /// The other member's PAKE message.
    PeerPake {
        message: Blob,
        /// The other member's TCP source address as the server saw it:
        /// informational, and not a candidate (it is a TCP mapping).
        observed: SocketAddr,
        /// The help desk's TURN relay and credentials for this member,
        /// when the server offers one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        relay: Option<RelayGrant>,
    },
    /// A message the other member sealed; the server closes the room once
    /// both sent their last.
    PeerSealed { sealed: Blob, last: bool },
    /// Sent to the helper: the novice's code was wrong (a failed key
    /// confirmation); the room waits for another try while any are left.
    PeerFailed { attempts_left: u32 },
    /// The request failed; the server closes the connection.
    Error { error: RendezvousError },
}

/// A TURN relay (RFC 8656) a member may allocate on, with time-limited
/// credentials for it (the TURN REST API's: username `EXPIRY:NAME`,
/// password from a secret the server shares with the relay). It reaches
/// both UDP and TCP at `address`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayGrant {
    pub address: SocketAddr,
    pub username: String,
    pub password: String,
    /// How long the credentials stay valid.
    pub expires_in_secs: u64,
}

impl fmt::Debug for RelayGrant {
    /// The password stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayGrant")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("expires_in_secs", &self.expires_in_secs)
            .finish_non_exhaustive()
    }
}

/// Which side of the session a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The help desk: it creates the room and reads the code out.
    Helper,
    /// The user being helped: joins with the code.
    Novice,
}

impl Role {
    /// The other side's role.
    pub fn other(self) -> Role {
        match self {
            Role::Helper => Role::Novice,
            Role::Novice => Role::Helper,
        }
    }

    /// The role's name, as the protocol's messages spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Helper => "helper",
            Role::Novice => "novice",
        }
    }
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
    #[error("the two sides speak different versions of the rendezvous protocol; upgrade ranat")]
    UnsupportedVersion,
    #[error("a message came out of order")]
    OutOfOrder,
    #[error("a message could not be read")]
    Malformed,
    #[error("a message was over the 64 KiB limit")]
    TooLarge,
    #[error("the code is wrong: its secret part does not match the other side's")]
    WrongCode,
    #[error("too many wrong codes for this room: it is closed; make a new code")]
    TooManyAttempts,
    #[error("too many requests from this address; wait a minute and try again")]
    TooManyRequests,
    #[error("this side took too long to confirm the code; try again")]
    TooSlow,
    #[error(
        "the rendezvous server cannot reach its room store, so it opens no rooms now; try again in a minute"
    )]
    StoreUnavailable,
}

impl ServerMessage {
    /// The message's `type`, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Welcome { .. } => "welcome",
            Self::PeerJoined => "peer_joined",
            Self::PeerPake { .. } => "peer_pake",
            Self::PeerSealed { .. } => "peer_sealed",
            Self::PeerFailed { .. } => "peer_failed",
            Self::Error { .. } => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_a_snake_case_type_tag() {
        let hello = ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            code: Some("K7Q".parse().expect("code")),
            lifetime_secs: None,
        };
        let json = serde_json::to_value(&hello).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"type": "hello", "version": 2, "code": "K7Q"})
        );
        let create: ClientMessage =
            serde_json::from_str(r#"{"type":"hello","version":2,"code":null}"#).expect("parse");
        assert_eq!(
            create,
            ClientMessage::Hello {
                version: 2,
                code: None,
                lifetime_secs: None
            }
        );
        let sealed = ClientMessage::Sealed {
            sealed: Blob(vec![0, 1, 2, 255]),
            last: false,
        };
        assert_eq!(
            serde_json::to_value(&sealed).expect("serialize"),
            serde_json::json!({"type": "sealed", "sealed": "AAEC/w==", "last": false})
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
        let client = [
            ClientMessage::Hello {
                version: 2,
                code: None,
                lifetime_secs: None,
            },
            ClientMessage::Pake {
                message: Blob(vec![0x41; 33]),
            },
            ClientMessage::Sealed {
                sealed: Blob(b"opaque".to_vec()),
                last: true,
            },
            ClientMessage::ConfirmationFailed,
        ];
        for m in client {
            let json = serde_json::to_vec(&m).expect("serialize");
            assert_eq!(serde_json::from_slice::<ClientMessage>(&json).ok(), Some(m));
        }
        let server = [
            ServerMessage::Welcome {
                code: "ZZ2".parse().expect("code"),
                role: Role::Novice,
                expires_in_secs: 600,
            },
            ServerMessage::PeerJoined,
            ServerMessage::PeerPake {
                message: Blob(vec![0x42; 33]),
                observed: "[2001:db8::1]:5000".parse().expect("addr"),
                relay: None,
            },
            ServerMessage::PeerSealed {
                sealed: Blob(Vec::new()),
                last: false,
            },
            ServerMessage::PeerFailed { attempts_left: 2 },
            ServerMessage::Error {
                error: RendezvousError::TooManyAttempts,
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
            r#"{"version":2}"#,
            r#"{"type":"hello","version":"one"}"#,
            r#"{"type":"hello","version":2,"code":"AB0"}"#,
            r#"{"type":"pake","message":"not base64!"}"#,
            r#"{"type":"sealed","sealed":"AAAA"}"#,
            r#"{"type":"report","report":{}}"#,
            r#"[]"#,
        ] {
            assert!(serde_json::from_str::<ClientMessage>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_read_as_plain_words() {
        assert_eq!(RendezvousError::PeerLeft.to_string(), "the other side left");
        assert!(RendezvousError::Expired.to_string().contains("expired"));
        assert!(
            RendezvousError::UnsupportedVersion
                .to_string()
                .contains("upgrade")
        );
    }
}
