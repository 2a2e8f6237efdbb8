//! Reading a probe report back (`ranat check ME.json PEER.json`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = ranat::report::parse(text, std::path::Path::new("fuzz.json"));
});
