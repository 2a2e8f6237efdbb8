//! The session's frames and messages (`proto::assist`) as a peer's
//! arbitrary bytes arrive, in arbitrary pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ranat::proto::assist::FrameDecoder;

fuzz_target!(|pieces: Vec<Vec<u8>>| {
    let mut decoder = FrameDecoder::new();
    for piece in pieces.iter().take(64) {
        decoder.push(piece);
        for item in decoder.by_ref() {
            if item.is_err() {
                return;
            }
        }
    }
});
