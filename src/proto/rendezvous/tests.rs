//! Random garbage and mangled frames through the decoder, the message
//! parser and the server: errors, never a panic.

use std::time::{Duration, Instant};

use super::*;

/// A deterministic pseudo-random byte source.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 32) as u32
    }

    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n.max(1)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Valid frames of every client message, to mangle.
fn valid_frames() -> Vec<Vec<u8>> {
    let hello = ClientMessage::Hello {
        version: PROTOCOL_VERSION,
        code: "K7Q".parse().ok(),
        lifetime_secs: None,
    };
    [
        encode(&hello),
        encode(&ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            code: None,
            lifetime_secs: None,
        }),
        encode(&ClientMessage::Pake {
            message: Blob(vec![0x41; 33]),
        }),
        encode(&ClientMessage::Sealed {
            sealed: Blob(b"sealed bytes the server cannot read".to_vec()),
            last: true,
        }),
        encode(&ClientMessage::ConfirmationFailed),
    ]
    .into()
}

/// Feeds `stream` to a server as one connection's bytes, in random chunks,
/// the way the driver does; returns how the connection ended.
fn drive(server: &mut Rendezvous, now: Instant, id: ConnId, stream: &[u8], noise: &mut Noise) {
    server.connect(now, id, "192.0.2.1:1".parse().expect("addr"));
    let mut decoder = FrameDecoder::new();
    let mut rest = stream;
    'stream: while !rest.is_empty() {
        let n = 1 + noise.below(rest.len().min(64));
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(body)) => match serde_json::from_slice::<ClientMessage>(&body) {
                    Ok(message) => server.handle_message(now, id, message),
                    Err(_) => server.handle_malformed(now, id, RendezvousError::Malformed),
                },
                Ok(None) => break,
                Err(FrameError::TooLarge { .. }) => {
                    server.handle_malformed(now, id, RendezvousError::TooLarge);
                    break 'stream;
                }
                Err(FrameError::Empty) => {
                    server.handle_malformed(now, id, RendezvousError::Malformed);
                    break 'stream;
                }
            }
        }
        let _ = serde_json::from_slice::<ServerMessage>(chunk);
    }
    server.handle_disconnect(now, id);
}

#[test]
fn random_bytes_and_mangled_frames_never_panic_and_leave_nothing_behind() {
    let mut noise = Noise(0x5eed);
    let frames = valid_frames();
    let start = Instant::now();
    let mut server = Rendezvous::new(RendezvousConfig::default(), || 12_345);
    let mut errors = 0;
    for round in 0..3000u64 {
        let now = start + Duration::from_millis(round);
        let stream = match round % 3 {
            // Pure noise, sometimes behind a plausible length.
            0 => {
                let len = noise.below(200);
                let body = noise.bytes(len);
                let mut s = u32::try_from(body.len())
                    .unwrap_or(0)
                    .to_be_bytes()
                    .to_vec();
                if noise.below(2) == 0 {
                    s = noise.bytes(4);
                }
                s.extend(body);
                s
            }
            // Valid frames with a few bytes flipped.
            1 => {
                let mut s: Vec<u8> = (0..1 + noise.below(4))
                    .flat_map(|_| frames[noise.below(frames.len())].clone())
                    .collect();
                for _ in 0..1 + noise.below(3) {
                    let at = noise.below(s.len());
                    s[at] = noise.next() as u8;
                }
                s
            }
            // Valid frames cut short or with junk JSON values.
            _ => {
                let mut s = frames[noise.below(frames.len())].clone();
                s.truncate(noise.below(s.len() + 1));
                let junk = [
                    &br#"{"type":"hello","version":1,"code":"ZZZ-ZZ"}"#[..],
                    br#"{"type":"candidates","credentials":null,"candidates":[]}"#,
                    br#"{"type":"report"}"#,
                    br#"{"type":"report","report":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}"#,
                    br#"{"type":"hello","version":4294967296}"#,
                    b"\xff\xfe{}",
                ][noise.below(6)];
                s.extend(encode(
                    &serde_json::from_slice::<serde_json::Value>(junk).unwrap_or_default(),
                ));
                s.extend(u32::try_from(junk.len()).unwrap_or(0).to_be_bytes());
                s.extend(junk);
                s
            }
        };
        let before = server.stats().protocol_errors;
        drive(&mut server, now, ConnId(round), &stream, &mut noise);
        errors += server.stats().protocol_errors - before;
        while let Some(output) = server.poll_output() {
            let (Output::Send(id, _) | Output::Close(id)) = output else {
                panic!("a server alone answers its own directory: {output:?}");
            };
            assert!(id.0 <= round, "output for a connection never made: {id:?}");
        }
    }
    assert_eq!(server.connections(), 0);
    assert_eq!(
        server.rooms(),
        0,
        "every connection left, so every room ended"
    );
    assert!(
        errors > 1000,
        "the sweep should mostly hit errors, saw {errors}"
    );
}

#[test]
fn deeply_nested_json_is_refused_not_a_stack_overflow() {
    let depth = 100_000;
    let body = format!(
        r#"{{"type":"report","report":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert!(serde_json::from_str::<ClientMessage>(&body).is_err());
    assert!(
        serde_json::from_str::<ServerMessage>(&body.replace("report\",", "peer_report\","))
            .is_err()
    );
}
