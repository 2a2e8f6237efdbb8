//! Frames on the rendezvous TCP stream: a 4-byte big-endian length, then
//! that many bytes of JSON.

use serde::Serialize;

use super::message::{ClientMessage, RendezvousError};

/// The largest frame body either side accepts: 64 KiB.
pub const MAX_FRAME: usize = 64 * 1024;

/// The length prefix.
const HEADER: usize = 4;

/// Why the stream cannot be read as frames. Either ends the connection:
/// after a bad length there is no telling where the next frame starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a frame declares {declared} bytes, over the {MAX_FRAME}-byte limit")]
    TooLarge { declared: u64 },
    #[error("a frame declares a length of 0")]
    Empty,
}

/// One frame carrying `message` as JSON.
///
/// # Panics
///
/// If `message` cannot be serialized as JSON (a map with non-string keys):
/// a programming error, never a matter of input. The protocol's messages
/// always serialize.
pub fn encode(message: &impl Serialize) -> Vec<u8> {
    let mut frame = vec![0; HEADER];
    serde_json::to_writer(&mut frame, message)
        .expect("the rendezvous messages always serialize to JSON");
    let len = u32::try_from(frame.len() - HEADER).unwrap_or(u32::MAX);
    frame[..HEADER].copy_from_slice(&len.to_be_bytes());
    frame
}

/// Splits a byte stream into frame bodies, however the bytes arrive.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    failed: Option<FrameError>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes read from the stream. Nothing is kept once the stream has
    /// failed.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// The next complete frame body, `None` until one has fully arrived.
    /// A bad length is an error as soon as its four bytes are in, before
    /// any of the body is awaited; the decoder then stays failed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let Some(header) = self.buffer.first_chunk::<HEADER>() else {
            return Ok(None);
        };
        let declared = u32::from_be_bytes(*header);
        let len = match usize::try_from(declared) {
            Ok(0) => return Err(self.fail(FrameError::Empty)),
            Ok(len) if len <= MAX_FRAME => len,
            _ => {
                let declared = u64::from(declared);
                return Err(self.fail(FrameError::TooLarge { declared }));
            }
        };
        if self.buffer.len() < HEADER + len {
            return Ok(None);
        }
        let body = self.buffer[HEADER..HEADER + len].to_vec();
        self.buffer.drain(..HEADER + len);
        Ok(Some(body))
    }

    /// How many bytes are waiting for the rest of their frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The bytes read but not yet returned as frames, as they came: for a
    /// stream handed on to someone else to read.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buffer)
    }

    fn fail(&mut self, error: FrameError) -> FrameError {
        self.failed = Some(error);
        self.buffer = Vec::new();
        error
    }
}

/// A Hello of another protocol version, whose code may not even parse as
/// this version's: read as a Hello of that version, so that the client is
/// told to upgrade rather than that its message was malformed.
fn other_version(body: &[u8]) -> Result<ClientMessage, RendezvousError> {
    #[derive(serde::Deserialize)]
    struct AnyHello {
        r#type: String,
        version: u32,
    }
    match serde_json::from_slice::<AnyHello>(body) {
        Ok(h) if h.r#type == "hello" && h.version != super::PROTOCOL_VERSION => {
            Ok(ClientMessage::Hello {
                version: h.version,
                code: None,
                lifetime_secs: None,
            })
        }
        _ => Err(RendezvousError::Malformed),
    }
}

/// A frame body as the server reads it: a client message, or the error to
/// answer with.
pub fn client_message(body: &[u8]) -> Result<ClientMessage, RendezvousError> {
    serde_json::from_slice(body).or_else(|_| other_version(body))
}

/// The next client message on a connection, as the server reads it:
/// `None` until a whole frame is in; a frame that is not a message, or a
/// bad length, is the error to answer with (and the end of reading).
pub fn next_client_message(
    decoder: &mut FrameDecoder,
) -> Option<Result<ClientMessage, RendezvousError>> {
    match decoder.next_frame() {
        Ok(None) => None,
        Ok(Some(body)) => Some(client_message(&body)),
        Err(FrameError::TooLarge { .. }) => Some(Err(RendezvousError::TooLarge)),
        Err(FrameError::Empty) => Some(Err(RendezvousError::Malformed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = u32::try_from(body.len())
            .expect("test body")
            .to_be_bytes()
            .to_vec();
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn encode_prefixes_the_json_with_its_length() {
        let bytes = encode(&serde_json::json!({"type": "peer_joined"}));
        assert_eq!(&bytes[..4], &[0, 0, 0, 22]);
        assert_eq!(&bytes[4..], br#"{"type":"peer_joined"}"#);
        let mut decoder = FrameDecoder::new();
        decoder.push(&bytes);
        assert_eq!(decoder.next_frame(), Ok(Some(bytes[4..].to_vec())));
        assert_eq!(decoder.next_frame(), Ok(None));
    }

    #[test]
    fn frames_split_byte_by_byte_come_out_whole() {
        let stream = [frame(b"first"), frame(b"{}"), frame(&[7; 300])].concat();
        let mut decoder = FrameDecoder::new();
        let mut out = Vec::new();
        for byte in &stream {
            decoder.push(std::slice::from_ref(byte));
            while let Some(body) = decoder.next_frame().expect("valid stream") {
                out.push(body);
            }
        }
        assert_eq!(out, vec![b"first".to_vec(), b"{}".to_vec(), vec![7; 300]]);
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn merged_frames_and_a_trailing_partial_one() {
        let mut stream = [frame(b"a"), frame(b"bc")].concat();
        let partial = frame(b"def");
        stream.extend_from_slice(&partial[..5]);
        let mut decoder = FrameDecoder::new();
        decoder.push(&stream);
        assert_eq!(decoder.next_frame(), Ok(Some(b"a".to_vec())));
        assert_eq!(decoder.next_frame(), Ok(Some(b"bc".to_vec())));
        assert_eq!(decoder.next_frame(), Ok(None));
        assert_eq!(decoder.buffered(), 5);
        decoder.push(&partial[5..]);
        assert_eq!(decoder.next_frame(), Ok(Some(b"def".to_vec())));
    }

    #[test]
    fn a_frame_of_exactly_the_limit_is_accepted() {
        let body = vec![b' '; MAX_FRAME];
        let mut decoder = FrameDecoder::new();
        decoder.push(&frame(&body));
        assert_eq!(
            decoder.next_frame().map(|f| f.map(|b| b.len())),
            Ok(Some(MAX_FRAME))
        );
    }

    #[test]
    fn an_oversize_length_fails_at_once_without_waiting_for_the_body() {
        let mut decoder = FrameDecoder::new();
        let over = u32::try_from(MAX_FRAME + 1).expect("fits");
        decoder.push(&over.to_be_bytes()[..3]);
        assert_eq!(
            decoder.next_frame(),
            Ok(None),
            "three bytes say nothing yet"
        );
        decoder.push(&over.to_be_bytes()[3..]);
        let error = FrameError::TooLarge {
            declared: u64::from(over),
        };
        assert_eq!(decoder.next_frame(), Err(error));
        // It stays failed and keeps nothing of what follows.
        decoder.push(&[0; 1000]);
        assert_eq!(decoder.next_frame(), Err(error));
        assert_eq!(decoder.buffered(), 0);

        let mut decoder = FrameDecoder::new();
        decoder.push(&u32::MAX.to_be_bytes());
        assert_eq!(
            decoder.next_frame(),
            Err(FrameError::TooLarge {
                declared: u64::from(u32::MAX)
            })
        );
    }

    #[test]
    fn a_zero_length_is_an_error_even_after_good_frames() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&[frame(b"ok"), vec![0, 0, 0, 0], frame(b"late")].concat());
        assert_eq!(decoder.next_frame(), Ok(Some(b"ok".to_vec())));
        assert_eq!(decoder.next_frame(), Err(FrameError::Empty));
        assert_eq!(decoder.next_frame(), Err(FrameError::Empty));
    }
}
