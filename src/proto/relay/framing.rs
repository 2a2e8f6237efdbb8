//! TURN over a stream (RFC 8656 §12.5): STUN messages and ChannelData back
//! to back, each ChannelData padded to a multiple of four bytes. The crates'
//! own buffer forgets that padding (turn-types 0.7 reads a ChannelData as
//! exactly its length), which leaves a compliant peer's padding to be read
//! as the next frame; so ranat cuts the stream itself, hands the crates
//! whole frames without padding, and pads what it sends.

/// The most a frame can take: a STUN header and a 16-bit length.
pub const MAX_FRAME: usize = 20 + 65_535 + 3;

/// The stream does not carry TURN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the stream carries something other than STUN messages and ChannelData")]
pub struct NotTurn;

/// Cuts a stream into frames.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, without its padding; `None` until one is in.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, NotTurn> {
        let Some(&first) = self.buf.first() else {
            return Ok(None);
        };
        if self.buf.len() < 4 {
            return match first {
                0..=3 | 64..=127 => Ok(None),
                _ => Err(NotTurn),
            };
        }
        let length = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
        let (frame, taken) = match first {
            // RFC 8489 §5: the length of a STUN message is a multiple of 4.
            0..=3 if length % 4 == 0 => (20 + length, 20 + length),
            64..=127 => (4 + length, (4 + length).next_multiple_of(4)),
            _ => return Err(NotTurn),
        };
        if self.buf.len() < taken {
            return Ok(None);
        }
        let out = self.buf[..frame].to_vec();
        self.buf.drain(..taken);
        Ok(Some(out))
    }
}

impl Framer {
    /// The next whole STUN message of a stream that carries STUN only
    /// (RFC 8489 §6.2.2: messages back to back); ChannelData or anything
    /// else is an error.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, NotTurn> {
        match self.buf.first() {
            Some(64..=127) => Err(NotTurn),
            _ => self.next_frame(),
        }
    }
}

/// Pads a ChannelData to a multiple of four bytes for a stream; anything
/// else is left as it is.
pub fn pad_for_stream(mut frame: Vec<u8>) -> Vec<u8> {
    if matches!(frame.first(), Some(64..=127)) {
        frame.resize(frame.len().next_multiple_of(4), 0);
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_however_the_stream_splits_them_and_padding_is_dropped() {
        let mut stun = vec![0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42];
        stun.extend_from_slice(&[7; 12]);
        stun.extend_from_slice(&[1, 2, 3, 4]);
        let channel = vec![0x40, 0x00, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o'];
        let mut stream = stun.clone();
        stream.extend_from_slice(&pad_for_stream(channel.clone()));
        stream.extend_from_slice(&stun);
        assert_eq!(pad_for_stream(channel.clone()).len(), 12);
        for cut in 1..stream.len() {
            let mut f = Framer::default();
            let mut frames = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                f.push(part);
                while let Some(frame) = f.next_frame().unwrap() {
                    frames.push(frame);
                }
            }
            assert_eq!(
                frames,
                vec![stun.clone(), channel.clone(), stun.clone()],
                "{cut}"
            );
        }
    }

    #[test]
    fn what_is_not_turn_is_refused_at_once() {
        // A TLS ClientHello to the plain port, and other first bytes.
        for junk in [
            &[0x16, 0x03, 0x01, 0x02, 0x00][..],
            &[0x80, 0, 0, 0],
            &[0xff],
        ] {
            let mut f = Framer::default();
            f.push(junk);
            assert_eq!(f.next_frame(), Err(NotTurn), "{junk:?}");
        }
        // A STUN length that is not a multiple of four.
        let mut f = Framer::default();
        f.push(&[0x00, 0x01, 0x00, 0x05]);
        assert_eq!(f.next_frame(), Err(NotTurn));
        // Truncated: waits.
        let mut f = Framer::default();
        f.push(&[0x40, 0x00]);
        assert_eq!(f.next_frame(), Ok(None));
    }
}
