//! Frames on the session's QUIC stream: a 4-byte big-endian body length,
//! then the body, one kind byte and the message's payload.
//!
//! | kind | message          | payload                                          |
//! |------|------------------|--------------------------------------------------|
//! | 1    | `Hello`          | version (u16 BE), role (1 novice, 2 expert), name |
//! | 2    | `Approval`       | allowed (one byte, 0 or 1)                       |
//! | 3    | `Screen`         | rows (u16 BE), cols (u16 BE), full (0 or 1), bytes |
//! | 4    | `Chat`           | the text (UTF-8)                                 |
//! | 5    | `ControlRequest` | none                                             |
//! | 6    | `ControlGrant`   | none                                             |
//! | 7    | `ControlDeny`    | by policy (one byte, 0 or 1)                     |
//! | 8    | `ControlRevoke`  | none                                             |
//! | 9    | `ControlRelease` | none                                             |
//! | 10   | `Keys`           | the keystroke bytes                              |
//! | 11   | `Pause`          | none                                             |
//! | 12   | `Continue`       | none                                             |
//! | 13   | `Bye`            | the reason (UTF-8)                               |
//!
//! The Hello's version comes first so that every later version can still
//! read it, and tell an older peer what it speaks.

use super::message::{MAX_CHAT, MAX_KEYS, MAX_NAME, MAX_REASON, Message};
use crate::proto::rendezvous::Role;
use crate::proto::screen::ScreenUpdate;

/// The Hello's role byte for the novice, and for the expert.
const ROLE_NOVICE: u8 = 1;
const ROLE_EXPERT: u8 = 2;

/// The largest frame body either side accepts: 1 MiB.
pub const MAX_FRAME: usize = 1024 * 1024;

/// The most screen bytes one `Screen` message carries: what is left of
/// [`MAX_FRAME`] after the kind, the size and the full flag.
pub const MAX_SCREEN: usize = MAX_FRAME - 1 - SCREEN_HEAD;

/// The length prefix.
const HEADER: usize = 4;

/// A `Screen` payload's fixed part: rows, cols, full.
const SCREEN_HEAD: usize = 5;

/// The kind bytes.
mod kind {
    pub const HELLO: u8 = 1;
    pub const APPROVAL: u8 = 2;
    pub const SCREEN: u8 = 3;
    pub const CHAT: u8 = 4;
    pub const CONTROL_REQUEST: u8 = 5;
    pub const CONTROL_GRANT: u8 = 6;
    pub const CONTROL_DENY: u8 = 7;
    pub const CONTROL_REVOKE: u8 = 8;
    pub const CONTROL_RELEASE: u8 = 9;
    pub const KEYS: u8 = 10;
    pub const PAUSE: u8 = 11;
    pub const CONTINUE: u8 = 12;
    pub const BYE: u8 = 13;
}

/// Why the stream cannot be read as messages. Any of them ends the
/// session: after a bad frame nothing that follows can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a frame declares {declared} bytes, over the {MAX_FRAME}-byte limit")]
    TooLarge { declared: u64 },
    #[error("a frame declares a length of 0, leaving no room for its kind")]
    Empty,
    #[error("a frame of unknown kind {0}")]
    UnknownKind(u8),
    #[error("a {message} frame carries {len} bytes after its kind, the wrong length for it")]
    BadLength { message: &'static str, len: usize },
    #[error("a {message} frame's flag is {value}, neither 0 nor 1")]
    BadFlag { message: &'static str, value: u8 },
    #[error("a {message} frame's {field} is not valid UTF-8")]
    BadUtf8 {
        message: &'static str,
        field: &'static str,
    },
    #[error("a {message} frame's {field} is {len} bytes, over its {max}-byte limit")]
    FieldTooLong {
        message: &'static str,
        field: &'static str,
        len: usize,
        max: usize,
    },
}

/// One frame carrying `message`. Nothing is checked: a message over the
/// limits makes a frame the peer refuses, and the session machine never
/// sends one.
pub fn encode(message: &Message) -> Vec<u8> {
    let mut frame = vec![0; HEADER];
    match message {
        Message::Hello {
            name,
            version,
            role,
        } => {
            frame.push(kind::HELLO);
            frame.extend_from_slice(&version.to_be_bytes());
            frame.push(match role {
                Role::Novice => ROLE_NOVICE,
                Role::Helper => ROLE_EXPERT,
            });
            frame.extend_from_slice(name.as_bytes());
        }
        Message::Approval { allowed } => {
            frame.extend_from_slice(&[kind::APPROVAL, (*allowed).into()])
        }
        Message::Screen(update) => {
            frame.push(kind::SCREEN);
            frame.extend_from_slice(&update.rows.to_be_bytes());
            frame.extend_from_slice(&update.cols.to_be_bytes());
            frame.push(update.full.into());
            frame.extend_from_slice(&update.bytes);
        }
        Message::Chat { text } => {
            frame.push(kind::CHAT);
            frame.extend_from_slice(text.as_bytes());
        }
        Message::ControlRequest => frame.push(kind::CONTROL_REQUEST),
        Message::ControlGrant => frame.push(kind::CONTROL_GRANT),
        Message::ControlDeny { by_policy } => {
            frame.extend_from_slice(&[kind::CONTROL_DENY, (*by_policy).into()]);
        }
        Message::ControlRevoke => frame.push(kind::CONTROL_REVOKE),
        Message::ControlRelease => frame.push(kind::CONTROL_RELEASE),
        Message::Keys { bytes } => {
            frame.push(kind::KEYS);
            frame.extend_from_slice(bytes);
        }
        Message::Pause => frame.push(kind::PAUSE),
        Message::Continue => frame.push(kind::CONTINUE),
        Message::Bye { reason } => {
            frame.push(kind::BYE);
            frame.extend_from_slice(reason.as_bytes());
        }
    }
    let len = u32::try_from(frame.len() - HEADER).unwrap_or(u32::MAX);
    frame[..HEADER].copy_from_slice(&len.to_be_bytes());
    frame
}

/// Reads messages out of the stream's bytes, however they arrive.
///
/// As an iterator, `None` means no whole frame is in yet: push more and
/// ask again. The first bad frame is yielded as an error once; the decoder
/// then stays failed, keeps nothing pushed and yields nothing more.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    failed: bool,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes read from the stream. Nothing is kept once the stream has
    /// failed.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// How many bytes are waiting for the rest of their frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The next frame's body: `Ok(None)` until it is all in. A bad length
    /// is an error as soon as its four bytes are in.
    fn next_body(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let Some(header) = self.buffer.first_chunk::<HEADER>() else {
            return Ok(None);
        };
        let declared = u32::from_be_bytes(*header);
        let len = match usize::try_from(declared) {
            Ok(0) => return Err(FrameError::Empty),
            Ok(len) if len <= MAX_FRAME => len,
            _ => {
                let declared = u64::from(declared);
                return Err(FrameError::TooLarge { declared });
            }
        };
        if self.buffer.len() < HEADER + len {
            return Ok(None);
        }
        let body = self.buffer[HEADER..HEADER + len].to_vec();
        self.buffer.drain(..HEADER + len);
        Ok(Some(body))
    }
}

impl Iterator for FrameDecoder {
    type Item = Result<Message, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let parsed = match self.next_body() {
            Ok(None) => return None,
            Ok(Some(body)) => parse(&body),
            Err(error) => Err(error),
        };
        if parsed.is_err() {
            self.failed = true;
            self.buffer = Vec::new();
        }
        Some(parsed)
    }
}

/// A frame body as a message.
fn parse(body: &[u8]) -> Result<Message, FrameError> {
    let (&kind, payload) = body.split_first().ok_or(FrameError::Empty)?;
    let bad_length = |message| FrameError::BadLength {
        message,
        len: payload.len(),
    };
    match kind {
        kind::HELLO => {
            let (version, rest) = payload
                .split_first_chunk::<2>()
                .ok_or_else(|| bad_length("Hello"))?;
            let (&role, name) = rest.split_first().ok_or_else(|| bad_length("Hello"))?;
            let role = match role {
                ROLE_NOVICE => Role::Novice,
                ROLE_EXPERT => Role::Helper,
                value => {
                    return Err(FrameError::BadFlag {
                        message: "Hello",
                        value,
                    });
                }
            };
            Ok(Message::Hello {
                name: text("Hello", "name", name, MAX_NAME)?,
                version: u16::from_be_bytes(*version),
                role,
            })
        }
        kind::APPROVAL => Ok(Message::Approval {
            allowed: flag("Approval", payload)?,
        }),
        kind::SCREEN => {
            let (head, bytes) = payload
                .split_first_chunk::<SCREEN_HEAD>()
                .ok_or_else(|| bad_length("Screen"))?;
            let [r0, r1, c0, c1, full] = *head;
            Ok(Message::Screen(ScreenUpdate {
                rows: u16::from_be_bytes([r0, r1]),
                cols: u16::from_be_bytes([c0, c1]),
                full: flag("Screen", &[full])?,
                bytes: bytes.to_vec(),
            }))
        }
        kind::CHAT => Ok(Message::Chat {
            text: text("Chat", "text", payload, MAX_CHAT)?,
        }),
        kind::CONTROL_REQUEST => bare(Message::ControlRequest, payload),
        kind::CONTROL_GRANT => bare(Message::ControlGrant, payload),
        kind::CONTROL_DENY => Ok(Message::ControlDeny {
            by_policy: flag("ControlDeny", payload)?,
        }),
        kind::CONTROL_REVOKE => bare(Message::ControlRevoke, payload),
        kind::CONTROL_RELEASE => bare(Message::ControlRelease, payload),
        kind::KEYS => {
            within("Keys", "keystrokes", payload.len(), MAX_KEYS)?;
            Ok(Message::Keys {
                bytes: payload.to_vec(),
            })
        }
        kind::PAUSE => bare(Message::Pause, payload),
        kind::CONTINUE => bare(Message::Continue, payload),
        kind::BYE => Ok(Message::Bye {
            reason: text("Bye", "reason", payload, MAX_REASON)?,
        }),
        other => Err(FrameError::UnknownKind(other)),
    }
}

/// A message without a payload, if there is none.
fn bare(message: Message, payload: &[u8]) -> Result<Message, FrameError> {
    if payload.is_empty() {
        Ok(message)
    } else {
        Err(FrameError::BadLength {
            message: message.name(),
            len: payload.len(),
        })
    }
}

/// A payload of one byte, 0 or 1.
fn flag(message: &'static str, payload: &[u8]) -> Result<bool, FrameError> {
    match payload {
        [0] => Ok(false),
        [1] => Ok(true),
        &[value] => Err(FrameError::BadFlag { message, value }),
        _ => Err(FrameError::BadLength {
            message,
            len: payload.len(),
        }),
    }
}

/// A UTF-8 text of at most `max` bytes.
fn text(
    message: &'static str,
    field: &'static str,
    bytes: &[u8],
    max: usize,
) -> Result<String, FrameError> {
    within(message, field, bytes.len(), max)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| FrameError::BadUtf8 { message, field })
}

fn within(
    message: &'static str,
    field: &'static str,
    len: usize,
    max: usize,
) -> Result<(), FrameError> {
    if len <= max {
        Ok(())
    } else {
        Err(FrameError::FieldTooLong {
            message,
            field,
            len,
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One message of every kind, the variable fields at their limits
    /// where they have one.
    fn every_message() -> Vec<Message> {
        vec![
            Message::Hello {
                name: "Ada Lovelace".to_owned(),
                version: 1,
                role: Role::Novice,
            },
            Message::Hello {
                name: "é".repeat(MAX_NAME / 2),
                version: u16::MAX,
                role: Role::Helper,
            },
            Message::Approval { allowed: true },
            Message::Approval { allowed: false },
            Message::Screen(ScreenUpdate {
                rows: 24,
                cols: 80,
                full: true,
                bytes: b"\x1b[2J$ ls".to_vec(),
            }),
            Message::Screen(ScreenUpdate {
                rows: 0,
                cols: u16::MAX,
                full: false,
                bytes: Vec::new(),
            }),
            Message::Chat {
                text: "which printer?".to_owned(),
            },
            Message::Chat {
                text: "x".repeat(MAX_CHAT),
            },
            Message::ControlRequest,
            Message::ControlGrant,
            Message::ControlDeny { by_policy: true },
            Message::ControlDeny { by_policy: false },
            Message::ControlRevoke,
            Message::ControlRelease,
            Message::Keys {
                bytes: vec![0xff; MAX_KEYS],
            },
            Message::Keys { bytes: Vec::new() },
            Message::Pause,
            Message::Continue,
            Message::Bye {
                reason: "r".repeat(MAX_REASON),
            },
            Message::Bye {
                reason: String::new(),
            },
        ]
    }

    fn decode_all(stream: &[u8]) -> Vec<Result<Message, FrameError>> {
        let mut decoder = FrameDecoder::new();
        decoder.push(stream);
        decoder.collect()
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = u32::try_from(body.len())
            .expect("test body")
            .to_be_bytes()
            .to_vec();
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn every_message_comes_back_as_it_went() {
        for message in every_message() {
            assert_eq!(decode_all(&encode(&message)), vec![Ok(message)]);
        }
    }

    #[test]
    fn the_layout_is_length_kind_payload() {
        let hello = Message::Hello {
            name: "Bo".to_owned(),
            version: 1,
            role: Role::Helper,
        };
        assert_eq!(encode(&hello), [0, 0, 0, 6, 1, 0, 1, 2, b'B', b'o']);
        let screen = Message::Screen(ScreenUpdate {
            rows: 24,
            cols: 80,
            full: true,
            bytes: b"hi".to_vec(),
        });
        assert_eq!(
            encode(&screen),
            [0, 0, 0, 8, 3, 0, 24, 0, 80, 1, b'h', b'i']
        );
        assert_eq!(encode(&Message::Pause), [0, 0, 0, 1, 11]);
        assert_eq!(
            encode(&Message::ControlDeny { by_policy: true }),
            [0, 0, 0, 2, 7, 1]
        );
    }

    #[test]
    fn a_stream_split_byte_by_byte_comes_out_whole() {
        let messages = every_message();
        let stream: Vec<u8> = messages.iter().flat_map(encode).collect();
        let mut decoder = FrameDecoder::new();
        let mut out = Vec::new();
        for byte in &stream {
            decoder.push(std::slice::from_ref(byte));
            out.extend(decoder.by_ref().map(|m| m.expect("valid stream")));
        }
        assert_eq!(out, messages);
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn a_frame_of_exactly_the_limit_is_accepted() {
        let update = ScreenUpdate {
            rows: 1,
            cols: 1,
            full: true,
            bytes: vec![b' '; MAX_SCREEN],
        };
        let bytes = encode(&Message::Screen(update.clone()));
        assert_eq!(bytes.len(), 4 + MAX_FRAME);
        assert_eq!(decode_all(&bytes), vec![Ok(Message::Screen(update))]);
    }

    #[test]
    fn an_oversize_length_fails_at_once_and_the_decoder_stays_failed() {
        let over = u32::try_from(MAX_FRAME + 1).expect("fits");
        let mut decoder = FrameDecoder::new();
        decoder.push(&over.to_be_bytes()[..3]);
        assert_eq!(decoder.next(), None, "three bytes say nothing yet");
        decoder.push(&over.to_be_bytes()[3..]);
        let error = FrameError::TooLarge {
            declared: u64::from(over),
        };
        assert_eq!(decoder.next(), Some(Err(error)));
        decoder.push(&encode(&Message::Pause));
        assert_eq!(decoder.next(), None, "nothing after the failure");
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn messages_before_a_bad_frame_come_out_and_none_after_it() {
        let stream = [
            encode(&Message::ControlGrant),
            frame(&[0x63]),
            encode(&Message::Pause),
        ]
        .concat();
        assert_eq!(
            decode_all(&stream),
            vec![
                Ok(Message::ControlGrant),
                Err(FrameError::UnknownKind(0x63))
            ]
        );
    }

    #[test]
    fn each_bad_body_is_its_own_error() {
        let cases: Vec<(Vec<u8>, FrameError)> = vec![
            (Vec::new(), FrameError::Empty),
            (vec![0], FrameError::UnknownKind(0)),
            (vec![14], FrameError::UnknownKind(14)),
            (
                vec![1, 0],
                FrameError::BadLength {
                    message: "Hello",
                    len: 1,
                },
            ),
            (
                vec![1, 0, 1],
                FrameError::BadLength {
                    message: "Hello",
                    len: 2,
                },
            ),
            (
                vec![1, 0, 1, 3, b'x'],
                FrameError::BadFlag {
                    message: "Hello",
                    value: 3,
                },
            ),
            (
                vec![2],
                FrameError::BadLength {
                    message: "Approval",
                    len: 0,
                },
            ),
            (
                vec![2, 1, 1],
                FrameError::BadLength {
                    message: "Approval",
                    len: 2,
                },
            ),
            (
                vec![2, 2],
                FrameError::BadFlag {
                    message: "Approval",
                    value: 2,
                },
            ),
            (
                vec![3, 0, 24, 0, 80],
                FrameError::BadLength {
                    message: "Screen",
                    len: 4,
                },
            ),
            (
                vec![3, 0, 24, 0, 80, 9],
                FrameError::BadFlag {
                    message: "Screen",
                    value: 9,
                },
            ),
            (
                vec![7, 255],
                FrameError::BadFlag {
                    message: "ControlDeny",
                    value: 255,
                },
            ),
            (
                vec![6, 0],
                FrameError::BadLength {
                    message: "ControlGrant",
                    len: 1,
                },
            ),
            (
                vec![11, 1, 2],
                FrameError::BadLength {
                    message: "Pause",
                    len: 2,
                },
            ),
            (
                vec![4, b'o', 0xff, b'k'],
                FrameError::BadUtf8 {
                    message: "Chat",
                    field: "text",
                },
            ),
            (
                vec![1, 0, 1, 1, 0xc3],
                FrameError::BadUtf8 {
                    message: "Hello",
                    field: "name",
                },
            ),
            (
                [&[1, 0, 1, 1][..], &[b'n'; MAX_NAME + 1]].concat(),
                FrameError::FieldTooLong {
                    message: "Hello",
                    field: "name",
                    len: MAX_NAME + 1,
                    max: MAX_NAME,
                },
            ),
            (
                [&[4][..], &[b'c'; MAX_CHAT + 1]].concat(),
                FrameError::FieldTooLong {
                    message: "Chat",
                    field: "text",
                    len: MAX_CHAT + 1,
                    max: MAX_CHAT,
                },
            ),
            (
                [&[10][..], &[0; MAX_KEYS + 1]].concat(),
                FrameError::FieldTooLong {
                    message: "Keys",
                    field: "keystrokes",
                    len: MAX_KEYS + 1,
                    max: MAX_KEYS,
                },
            ),
            (
                [&[13][..], &[b'r'; MAX_REASON + 1]].concat(),
                FrameError::FieldTooLong {
                    message: "Bye",
                    field: "reason",
                    len: MAX_REASON + 1,
                    max: MAX_REASON,
                },
            ),
        ];
        for (body, error) in cases {
            assert_eq!(decode_all(&frame(&body)), vec![Err(error)], "{body:?}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let error = FrameError::FieldTooLong {
            message: "Chat",
            field: "text",
            len: 5000,
            max: MAX_CHAT,
        };
        assert_eq!(
            error.to_string(),
            "a Chat frame's text is 5000 bytes, over its 4096-byte limit"
        );
        assert_eq!(
            FrameError::UnknownKind(99).to_string(),
            "a frame of unknown kind 99"
        );
    }
}
