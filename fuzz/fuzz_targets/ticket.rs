//! Windows Remote Assistance tickets (`ranat ticket inspect`): any file
//! is read or refused, and opening it with a password never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ranat::proto::ticket::Ticket;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(ticket) = Ticket::from_bytes(bytes) {
        let _ = ticket.unlock("48BJQ853X3B4");
    }
});
