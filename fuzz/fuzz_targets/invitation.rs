//! ranat's own invitation files (`ranat assist FILE`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ranat::proto::session::Invitation;

fuzz_target!(|bytes: &[u8]| {
    let _ = Invitation::from_bytes(bytes);
});
