//! Windows Remote Assistance invitations ([MS-RAI] §2.2; session.md §6):
//! the `.msrcincident` file a novice sends a help desk, or the bare
//! connection string 2 that Offer Remote Assistance delivers.
//!
//! ```xml
//! <?xml version="1.0" encoding="Unicode" ?>
//! <UPLOADINFO TYPE="Escalated">
//!   <UPLOADDATA USERNAME="awake" RCTICKET="65538,1,192.168.1.200:49230;…"
//!     RCTICKETENCRYPTED="1" PassStub="WB^6HsrIaFmEpi" DtStart="1403972263"
//!     DtLength="14400" L="0" LHTICKET="20FCC407…"/>
//! </UPLOADINFO>
//! ```
//!
//! [`Ticket::parse`] reads what the file shows to anyone; with the
//! password, [`Ticket::unlock`] decrypts LHTICKET (connection string 2:
//! every address and port the novice listens on) and computes the
//! PassStub proof the expert would send.

mod address;
mod crypto;
pub mod document;
#[cfg(test)]
mod properties;
mod string1;
mod string2;
#[cfg(test)]
mod tests;

pub use address::{AddressKind, parse as parse_address};
pub use crypto::{decrypt_lh_ticket, lh_ticket_key, pass_stub_proof};
pub use string1::{ConnectionString1, HostPort, String1Error};
pub use string2::{ConnectionString2, Listener, String2Error, Transport};

use document::{DocumentError, Element, Limits, decimal, shown};
use schemars::JsonSchema;

/// The caps a ticket file is read under: a real one is 1 to 6 KiB
/// (LHTICKET grows with the number of addresses).
pub const LIMITS: Limits = Limits {
    size: 256 * 1024,
    depth: 8,
    elements: 256,
};

/// What the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketShape {
    /// `<UPLOADINFO TYPE="Escalated">`: an invitation file.
    Invitation,
    /// `<E>…</E>`: a bare connection string 2 (Offer Remote Assistance).
    ConnectionString2,
}

/// A Windows Remote Assistance ticket as read from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub shape: TicketShape,
    /// `USERNAME`: who asks for help.
    pub username: Option<String>,
    /// `RCTICKET`: connection string 1, in clear.
    pub connection1: Option<ConnectionString1>,
    /// `RCTICKETENCRYPTED`.
    pub rc_ticket_encrypted: Option<bool>,
    /// `PassStub`: what the expert encrypts with the password.
    pub pass_stub: Option<String>,
    /// `DtStart`: when the invitation was made, Unix seconds.
    pub created_at: Option<u64>,
    /// `DtLength`: how long it is valid, minutes.
    pub lifetime_minutes: Option<u64>,
    /// `L`: the novice asked for a low-speed connection.
    pub low_speed: Option<bool>,
    /// `LHTICKET`, hex-decoded: connection string 2, encrypted.
    pub lh_ticket: Option<Vec<u8>>,
    /// Connection string 2 in clear (a bare `<E>` only).
    pub connection2: Option<ConnectionString2>,
}

/// What the password opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlocked {
    /// LHTICKET decrypted, when the ticket has one.
    pub connection2: Option<ConnectionString2>,
    /// The encrypted PassStub the expert sends, when the ticket has a
    /// PassStub.
    pub pass_stub_proof: Option<Vec<u8>>,
}

/// Why a file is not a ticket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("this is not a Remote Assistance ticket: {0}")]
    Document(#[from] DocumentError),
    #[error(
        "this is not a Remote Assistance ticket: its root element is <{0}>, neither <UPLOADINFO> (an invitation file) nor <E> (a connection string)"
    )]
    Root(String),
    #[error(
        "the invitation's UPLOADINFO has no TYPE; a Remote Assistance invitation says TYPE=\"Escalated\""
    )]
    NoType,
    #[error(
        "the invitation's TYPE is {0:?}; a Remote Assistance invitation says TYPE=\"Escalated\""
    )]
    Type(String),
    #[error("the invitation has no UPLOADDATA element")]
    NoUploadData,
    #[error("the invitation has more than one UPLOADDATA element")]
    TwoUploadData,
    #[error("this is a ranat invitation, not a Windows one: join it with `ranat assist FILE`")]
    RanatInvitation,
    #[error("the invitation has neither RCTICKET nor LHTICKET: it says nowhere to connect")]
    NoTicket,
    #[error("the invitation's RCTICKET is not a connection string 1: {0}")]
    Rcticket(#[from] String1Error),
    #[error("the connection string is not valid: {0}")]
    String2(#[from] String2Error),
    #[error("the invitation's {attribute} should be {expected}, not {value:?}")]
    Garbled {
        attribute: &'static str,
        expected: &'static str,
        value: String,
    },
    #[error(
        "the invitation's LHTICKET has an odd number of hex digits ({0}): it was cut or edited"
    )]
    OddHex(usize),
    #[error("the invitation's LHTICKET is not hexadecimal: {0:?} at position {1}")]
    NotHex(char, usize),
    #[error(
        "the invitation's LHTICKET is {0} bytes, not a whole number of 16-byte AES blocks: it was cut or edited"
    )]
    Blocks(usize),
}

/// Why the password does not open the ticket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    /// The usual case: the padding, the UTF-16 text or the XML inside is
    /// wrong, which is all a wrong password (or an altered LHTICKET) can
    /// show.
    #[error("wrong password: LHTICKET does not decrypt with it ({0})")]
    WrongPassword(&'static str),
}

impl Ticket {
    /// Reads a ticket file's bytes (UTF-8, or UTF-16 as Windows writes it).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TicketError> {
        if bytes.len() > LIMITS.size {
            return Err(DocumentError::TooLarge {
                size: bytes.len(),
                limit: LIMITS.size,
            }
            .into());
        }
        Self::parse(&document::decode(bytes)?)
    }

    /// Reads a ticket's text.
    /// A ticket of `shape` that says nothing yet.
    fn bare(shape: TicketShape) -> Self {
        Self {
            shape,
            username: None,
            connection1: None,
            rc_ticket_encrypted: None,
            pass_stub: None,
            created_at: None,
            lifetime_minutes: None,
            low_speed: None,
            lh_ticket: None,
            connection2: None,
        }
    }

    pub fn parse(text: &str) -> Result<Self, TicketError> {
        let elements = document::elements(text, LIMITS)?;
        match elements.first().map(|e| e.name.as_str()) {
            Some("UPLOADINFO") => Self::invitation(&elements),
            Some("E") => Ok(Self {
                connection2: Some(ConnectionString2::from_elements(&elements)?),
                ..Self::bare(TicketShape::ConnectionString2)
            }),
            other => Err(TicketError::Root(shown(other.unwrap_or("")))),
        }
    }

    fn invitation(elements: &[Element]) -> Result<Self, TicketError> {
        let root = &elements[0];
        match root.get("TYPE") {
            None => return Err(TicketError::NoType),
            Some("Escalated") => {}
            Some(other) => return Err(TicketError::Type(shown(other))),
        }
        let mut data = elements
            .iter()
            .filter(|e| e.parent == Some(0) && e.name == "UPLOADDATA");
        let upload = data.next().ok_or(TicketError::NoUploadData)?;
        if data.next().is_some() {
            return Err(TicketError::TwoUploadData);
        }
        // An empty attribute (`DtStart=""`, as some tools write) is
        // absent.
        let get = |name: &str| upload.get(name).filter(|v| !v.trim().is_empty());
        if get("PROTOCOL").is_some_and(|p| p.starts_with("ranat/")) {
            return Err(TicketError::RanatInvitation);
        }
        let connection1 = get("RCTICKET").map(ConnectionString1::parse).transpose()?;
        let lh_ticket = get("LHTICKET").map(hex).transpose()?;
        if connection1.is_none() && lh_ticket.is_none() {
            return Err(TicketError::NoTicket);
        }
        let number = |name: &'static str, expected: &'static str| {
            get(name)
                .map(|v| {
                    decimal(v.trim()).ok_or_else(|| TicketError::Garbled {
                        attribute: name,
                        expected,
                        value: shown(v),
                    })
                })
                .transpose()
        };
        let flag = |name: &'static str| {
            get(name)
                .map(|v| match v.trim() {
                    "0" => Ok(false),
                    "1" => Ok(true),
                    _ => Err(TicketError::Garbled {
                        attribute: name,
                        expected: "0 or 1",
                        value: shown(v),
                    }),
                })
                .transpose()
        };
        Ok(Self {
            shape: TicketShape::Invitation,
            username: upload.get("USERNAME").map(str::to_string),
            connection1,
            rc_ticket_encrypted: flag("RCTICKETENCRYPTED")?,
            pass_stub: upload.get("PassStub").map(str::to_string),
            created_at: number("DtStart", "a time in Unix seconds")?,
            lifetime_minutes: number("DtLength", "a number of minutes")?,
            low_speed: flag("L")?,
            lh_ticket,
            connection2: None,
        })
    }

    /// When the invitation stops being valid (`DtStart` + `DtLength`
    /// minutes), in Unix seconds; `None` when the file does not say.
    pub fn expires_at(&self) -> Option<u64> {
        let start = self.created_at?;
        Some(start.saturating_add(self.lifetime_minutes?.saturating_mul(60)))
    }

    /// Opens the ticket with its password: decrypts LHTICKET and computes
    /// the PassStub proof. A ticket with neither needs no password, and
    /// the password is not checked.
    pub fn unlock(&self, password: &str) -> Result<Unlocked, UnlockError> {
        let connection2 = match &self.lh_ticket {
            Some(sealed) => Some(open(password, sealed)?),
            None => None,
        };
        Ok(Unlocked {
            connection2,
            pass_stub_proof: self
                .pass_stub
                .as_deref()
                .map(|stub| pass_stub_proof(password, stub)),
        })
    }
}

fn open(password: &str, sealed: &[u8]) -> Result<ConnectionString2, UnlockError> {
    let plain = decrypt_lh_ticket(password, sealed)
        .ok_or(UnlockError::WrongPassword("the padding is wrong"))?;
    let (units, odd) = plain.as_chunks::<2>();
    if !odd.is_empty() {
        return Err(UnlockError::WrongPassword("the text inside is not UTF-16"));
    }
    let text = char::decode_utf16(units.iter().map(|u| u16::from_le_bytes(*u)))
        .collect::<Result<String, _>>()
        .map_err(|_| UnlockError::WrongPassword("the text inside is not UTF-16"))?;
    ConnectionString2::parse(&text)
        .map_err(|_| UnlockError::WrongPassword("the text inside is not a connection string 2"))
}

/// LHTICKET's hex digits as bytes.
fn hex(text: &str) -> Result<Vec<u8>, TicketError> {
    let text = text.trim();
    if let Some((at, c)) = text.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(TicketError::NotHex(c, at));
    }
    if !text.len().is_multiple_of(2) {
        return Err(TicketError::OddHex(text.len()));
    }
    let bytes: Vec<u8> = text
        .as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
            digit(pair[0]) << 4 | digit(pair[1])
        })
        .collect();
    if bytes.is_empty() || !bytes.len().is_multiple_of(crypto::BLOCK) {
        return Err(TicketError::Blocks(bytes.len()));
    }
    Ok(bytes)
}
