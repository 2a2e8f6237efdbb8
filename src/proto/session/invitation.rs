//! ranat's invitation file, shaped like Windows Remote Assistance's
//! `.msrcincident` ([MS-RAI] §6, session.md §6): an `UPLOADINFO` of type
//! `Escalated` around one `UPLOADDATA`, with RA's own attributes
//! (`USERNAME`, `DtStart` in Unix seconds, `DtLength` in minutes) and
//! ranat's (`PROTOCOL`, `RENDEZVOUS`, `ROOM`, `SESSIONID`, `INVITER`)
//! where RA puts its ticket:
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <UPLOADINFO TYPE="Escalated">
//!   <UPLOADDATA
//!     USERNAME="Alice"
//!     DtStart="1700000000"
//!     DtLength="360"
//!     PROTOCOL="ranat/2"
//!     RENDEZVOUS="help.example.org:3479"
//!     ROOM="K7Q"
//!     SESSIONID="00112233445566778899aabbccddeeff"
//!     INVITER="novice"/>
//! </UPLOADINFO>
//! ```
//!
//! The file holds no secret: the password goes by another channel and
//! keys the PAKE, so a stolen file is worth nothing without it (unlike
//! RA's, whose ticket can be guessed offline, session.md §6). Reading is
//! bounded: a size cap, no DTD (hence no entity expansion), a depth cap,
//! and a streaming parser, so hostile files are refused without running
//! out of stack or memory.

use std::fmt;
use std::time::Duration;

use super::xml_text::escape;
use crate::proto::rendezvous::{Code, Role};
use crate::proto::ticket::document::{self, DocumentError, Limits, decimal, shown};

/// The protocol tag of the invitations this ranat makes and reads.
pub const PROTOCOL: &str = "ranat/2";

/// How long an invitation file is valid unless said otherwise (RA's
/// default, 6 hours).
pub const FILE_LIFETIME: Duration = Duration::from_secs(6 * 60 * 60);

/// The largest invitation read, in bytes (a real one is under 1 KiB).
pub const MAX_INVITATION_SIZE: usize = 64 * 1024;

/// How far in the future an invitation may say it was made: the two
/// computers' clocks may differ by this much.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// How deep elements may nest (an invitation has two levels).
const MAX_DEPTH: usize = 8;

/// The caps an invitation is read under.
const LIMITS: Limits = Limits {
    size: MAX_INVITATION_SIZE,
    depth: MAX_DEPTH,
    elements: 64,
};

/// The longest `USERNAME`, in characters.
const MAX_NAME: usize = 64;

/// The longest `RENDEZVOUS`: a DNS name (253) with a port, or a
/// bracketed IPv6 address with a port.
const MAX_RENDEZVOUS: usize = 261;

/// The attributes only Windows Remote Assistance's invitations carry.
const WINDOWS_TICKET: [&str; 3] = ["RCTICKET", "LHTICKET", "PassStub"];

/// A session's identifier: 16 random bytes, shown as 32 hex digits. It
/// names the session in both sides' logs; it is no secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// The identifier made of `bytes`, which the caller draws at random.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Exactly 32 hex digits, in either case.
    fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// An invitation: who invites, through which rendezvous and room, and
/// until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// `USERNAME`: the inviting person's name, as the other side sees it.
    pub username: String,
    /// `DtStart`: when the invitation was made, in Unix seconds.
    pub created_at: u64,
    /// `DtLength`: how long it is valid (written in whole minutes, rounded
    /// up).
    pub lifetime: Duration,
    /// `RENDEZVOUS`: the rendezvous server as the user gave it, `host:port`
    /// or a name.
    pub rendezvous: String,
    /// `ROOM`: the room's public part; the password is the secret part.
    pub room: Code,
    /// `SESSIONID`.
    pub session_id: SessionId,
    /// `INVITER`: the side that made the invitation, the novice asking for
    /// help or (the reverse flow) the help desk offering it.
    pub inviter: Role,
}

/// Why a file is not an invitation ranat can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvitationError {
    #[error(
        "the invitation is {size} bytes long; an invitation is never larger than {MAX_INVITATION_SIZE} bytes"
    )]
    TooLarge { size: usize },
    #[error("the invitation is not text (UTF-8, or UTF-16 as Windows writes it)")]
    NotText,
    #[error("the invitation is not well-formed XML: {0}")]
    Xml(String),
    #[error("the invitation declares a DTD (<!DOCTYPE …>), which invitations never do")]
    Doctype,
    #[error("the invitation nests elements more than {MAX_DEPTH} deep, which invitations never do")]
    TooDeep,
    #[error("this is not an invitation: its root element is <{0}>, not <UPLOADINFO>")]
    NotAnInvitation(String),
    #[error(
        "this is a Windows Remote Assistance invitation, not a ranat one: open it with Windows Remote Assistance (msra.exe)"
    )]
    WindowsInvitation,
    #[error("this invitation is for {0:?}; this ranat reads {PROTOCOL} invitations")]
    UnsupportedProtocol(String),
    #[error("the invitation has no {0}")]
    Missing(&'static str),
    #[error("the invitation has more than one UPLOADDATA")]
    TwoUploadData,
    #[error("the invitation's {attribute} should be {expected}, not {value:?}")]
    Garbled {
        attribute: &'static str,
        expected: &'static str,
        value: String,
    },
    #[error(
        "the invitation expired {} minute(s) ago; ask for a new one",
        (.now.saturating_sub(*.expired_at)).div_ceil(60).max(1)
    )]
    Expired { expired_at: u64, now: u64 },
    #[error(
        "the invitation says it was made {} minute(s) from now; check the clocks of both computers",
        (.created_at.saturating_sub(*.now)).div_ceil(60)
    )]
    FromTheFuture { created_at: u64, now: u64 },
}

impl Invitation {
    /// An invitation valid for [`FILE_LIFETIME`] from `created_at` (Unix
    /// seconds).
    pub fn new(
        username: &str,
        rendezvous: &str,
        room: Code,
        session_id: SessionId,
        inviter: Role,
        created_at: u64,
    ) -> Self {
        Self {
            username: username.to_string(),
            created_at,
            lifetime: FILE_LIFETIME,
            rendezvous: rendezvous.to_string(),
            room,
            session_id,
            inviter,
        }
    }

    /// When the invitation stops being valid, in Unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.created_at
            .saturating_add(self.lifetime_minutes().saturating_mul(60))
    }

    /// Whether the invitation is valid at `now` (Unix seconds): not
    /// expired, and not made further in the future than the clocks of two
    /// computers differ ([`MAX_CLOCK_SKEW`]).
    pub fn check_fresh(&self, now: u64) -> Result<(), InvitationError> {
        if self.created_at > now.saturating_add(MAX_CLOCK_SKEW.as_secs()) {
            return Err(InvitationError::FromTheFuture {
                created_at: self.created_at,
                now,
            });
        }
        let expired_at = self.expires_at();
        if now >= expired_at {
            return Err(InvitationError::Expired { expired_at, now });
        }
        Ok(())
    }

    /// `DtLength`: the lifetime in whole minutes, rounded up.
    fn lifetime_minutes(&self) -> u64 {
        self.lifetime.as_secs().div_ceil(60)
    }

    /// The invitation file's text.
    pub fn to_xml(&self) -> String {
        let attributes = [
            ("USERNAME", escape(&self.username)),
            ("DtStart", self.created_at.to_string()),
            ("DtLength", self.lifetime_minutes().to_string()),
            ("PROTOCOL", PROTOCOL.to_string()),
            ("RENDEZVOUS", escape(&self.rendezvous)),
            ("ROOM", self.room.to_string()),
            ("SESSIONID", self.session_id.to_string()),
            ("INVITER", self.inviter.as_str().to_string()),
        ];
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<UPLOADINFO TYPE=\"Escalated\">\n  <UPLOADDATA",
        );
        for (name, value) in attributes {
            xml.push_str(&format!("\n    {name}=\"{value}\""));
        }
        xml.push_str("/>\n</UPLOADINFO>\n");
        xml
    }

    /// Reads an invitation file's bytes: UTF-8, or UTF-16 as Windows
    /// writes `.msrcincident` files (with a byte order mark, or starting
    /// with `<` in UTF-16LE).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, InvitationError> {
        if bytes.len() > MAX_INVITATION_SIZE {
            return Err(InvitationError::TooLarge { size: bytes.len() });
        }
        Self::from_xml(&document::decode(bytes)?)
    }

    /// Reads an invitation's text. The XML declaration's encoding is
    /// ignored: the text is already decoded.
    pub fn from_xml(text: &str) -> Result<Self, InvitationError> {
        if text.len() > MAX_INVITATION_SIZE {
            return Err(InvitationError::TooLarge { size: text.len() });
        }
        let data = upload_data(text)?;
        let get = |name: &'static str| {
            data.attributes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let required = |name: &'static str| get(name).ok_or(InvitationError::Missing(name));
        let Some(protocol) = get("PROTOCOL") else {
            if WINDOWS_TICKET.iter().any(|name| get(name).is_some()) {
                return Err(InvitationError::WindowsInvitation);
            }
            return Err(InvitationError::Missing("PROTOCOL"));
        };
        if protocol != PROTOCOL {
            return Err(InvitationError::UnsupportedProtocol(shown(protocol)));
        }
        let kind = data
            .kind
            .as_deref()
            .ok_or(InvitationError::Missing("TYPE"))?;
        if kind != "Escalated" {
            return Err(garbled("TYPE", "Escalated", kind));
        }
        let username = required("USERNAME")?;
        if username.chars().count() > MAX_NAME || username.chars().any(char::is_control) {
            return Err(garbled(
                "USERNAME",
                "a name of at most 64 printable characters",
                username,
            ));
        }
        let rendezvous = required("RENDEZVOUS")?;
        if rendezvous.is_empty()
            || rendezvous.len() > MAX_RENDEZVOUS
            || rendezvous
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(garbled(
                "RENDEZVOUS",
                "a server, as host:port or a name",
                rendezvous,
            ));
        }
        let created_at = required("DtStart")?;
        let created_at = decimal(created_at)
            .ok_or_else(|| garbled("DtStart", "a time in Unix seconds", created_at))?;
        let minutes = required("DtLength")?;
        let minutes = decimal(minutes)
            .and_then(|m| u32::try_from(m).ok())
            .ok_or_else(|| garbled("DtLength", "a number of minutes", minutes))?;
        let room = required("ROOM")?;
        let room = room
            .parse::<Code>()
            .map_err(|_| garbled("ROOM", "a room like K7Q", room))?;
        let session_id = required("SESSIONID")?;
        let session_id = SessionId::from_hex(session_id)
            .ok_or_else(|| garbled("SESSIONID", "32 hexadecimal digits", session_id))?;
        let inviter = match required("INVITER")? {
            "novice" => Role::Novice,
            "helper" => Role::Helper,
            other => return Err(garbled("INVITER", "novice or helper", other)),
        };
        Ok(Self {
            username: username.to_string(),
            created_at,
            lifetime: Duration::from_secs(u64::from(minutes) * 60),
            rendezvous: rendezvous.to_string(),
            room,
            session_id,
            inviter,
        })
    }
}

/// What the parser kept of the document: the root's `TYPE` and the
/// attributes of its one `UPLOADDATA`.
struct UploadData {
    kind: Option<String>,
    attributes: Vec<(String, String)>,
}

/// Reads the whole document (so that it is checked to be well-formed) and
/// keeps the root's `TYPE` and `UPLOADDATA`'s attributes.
fn upload_data(text: &str) -> Result<UploadData, InvitationError> {
    let elements = document::elements(text, LIMITS)?;
    let root = &elements[0];
    if root.name != "UPLOADINFO" {
        return Err(InvitationError::NotAnInvitation(shown(&root.name)));
    }
    let mut data = elements
        .iter()
        .filter(|e| e.parent == Some(0) && e.name == "UPLOADDATA");
    let upload = data.next().ok_or(InvitationError::Missing("UPLOADDATA"))?;
    if data.next().is_some() {
        return Err(InvitationError::TwoUploadData);
    }
    Ok(UploadData {
        kind: root.get("TYPE").map(str::to_string),
        attributes: upload.attributes.clone(),
    })
}

impl From<DocumentError> for InvitationError {
    fn from(error: DocumentError) -> Self {
        match error {
            DocumentError::TooLarge { size, .. } => Self::TooLarge { size },
            DocumentError::NotText => Self::NotText,
            DocumentError::Doctype => Self::Doctype,
            DocumentError::TooDeep(_) => Self::TooDeep,
            DocumentError::Xml(e) => Self::Xml(e),
            other @ (DocumentError::TooManyElements(_)
            | DocumentError::DuplicateAttribute { .. }) => Self::Xml(other.to_string()),
        }
    }
}

fn garbled(attribute: &'static str, expected: &'static str, value: &str) -> InvitationError {
    InvitationError::Garbled {
        attribute,
        expected,
        value: shown(value),
    }
}

#[cfg(test)]
mod tests;
