//! The rendezvous's frames as a raw test client writes and reads them
//! (a 4-byte big-endian length, then the body), and how the server ends a
//! connection it refuses.

use std::io::{Read, Write};
use std::net::TcpStream;

use ranat::proto::rendezvous::MAX_FRAME;
use serde_json::{Value, json};

/// `body` behind its length.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = u32::try_from(body.len())
        .expect("small")
        .to_be_bytes()
        .to_vec();
    f.extend_from_slice(body);
    f
}

/// `value` as a JSON frame.
pub fn json_frame(value: Value) -> Vec<u8> {
    frame(&serde_json::to_vec(&value).expect("json"))
}

pub fn send_frame(stream: &mut TcpStream, message: Value) {
    stream.write_all(&json_frame(message)).expect("write");
}

/// The server's next frame, as JSON; `None` once the connection ends.
pub fn read_frame(stream: &mut TcpStream) -> Option<Value> {
    let mut header = [0; 4];
    stream.read_exact(&mut header).ok()?;
    let len = u32::from_be_bytes(header) as usize;
    assert!(len <= MAX_FRAME, "the server sent a {len}-byte frame");
    let mut body = vec![0; len];
    stream.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).expect("the server sends JSON"))
}

/// Whether the server closed the connection (EOF, or a reset after it).
pub fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut rest = [0; 64];
    match stream.read(&mut rest) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

/// The server's answer to a client that broke the protocol: an error,
/// then the end of the connection.
pub fn assert_refused(stream: &mut TcpStream, error: &str) {
    assert_eq!(
        read_frame(stream),
        Some(json!({"type": "error", "error": error}))
    );
    assert!(closed_by_server(stream), "still open after {error}");
}
