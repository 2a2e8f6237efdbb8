//! The driver's streams on loopback: a listener names each connection,
//! refuses what it will not take, and what it wrote before closing a
//! connection still arrives.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::*;
use crate::proto::machine::testing::Echo;

/// Reads until `want` bytes came or the stream ended, within 5 s.
async fn read(stream: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0; 64];
    while got.len() < want {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[tokio::test]
async fn a_listener_names_each_connection_refuses_the_extra_one_and_closes_after_writing() {
    let driver = Driver::bind(Echo::new(SocketAddr::from(([127, 0, 0, 1], 0)), 2))
        .await
        .unwrap();
    let at = driver.machine().at;
    assert_ne!(at.port(), 0);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let mut driver = driver;
        driver
            .serve(async {
                let _ = stopped.await;
            })
            .await;
        driver
    });

    let mut first = TcpStream::connect(at).await.unwrap();
    first.write_all(b"hello").await.unwrap();
    assert_eq!(read(&mut first, 5).await, b"HELLO");
    let mut second = TcpStream::connect(at).await.unwrap();
    second.write_all(b"again").await.unwrap();
    assert_eq!(read(&mut second, 5).await, b"AGAIN");
    first.write_all(b" bye").await.unwrap();
    // The answer, then the end of the stream.
    assert_eq!(read(&mut first, 100).await, b" BYE");
    let mut third = TcpStream::connect(at).await.unwrap();
    let _ = third.write_all(b"one too many").await;
    assert_eq!(read(&mut third, 100).await, b"", "refused: closed at once");
    drop(second);

    // The echo hears the second connection close.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = stop.send(());
    let driver = server.await.unwrap();
    let echo = driver.machine();
    assert_eq!(echo.accepted.len(), 2);
    assert_eq!(echo.closed, vec![echo.accepted[1].0]);
}

#[tokio::test]
async fn a_stream_has_room_for_what_its_write_queue_holds() {
    let mut driver = Driver::bind(Echo::new(SocketAddr::from(([127, 0, 0, 1], 0)), 1))
        .await
        .unwrap();
    let _client = TcpStream::connect(driver.machine().at).await.unwrap();
    let limit = Instant::now() + Duration::from_secs(5);
    let accepted = driver
        .next(|echo| echo.accepted.first().map(|(id, _)| *id), Some(limit))
        .await
        .expect("the connection is accepted");
    assert!(driver.has_room(accepted, STREAM_QUEUE));
    assert!(!driver.has_room(accepted, STREAM_QUEUE + 1));
    // Not a stream: a UDP socket's sends wait instead.
    assert!(driver.has_room(SocketId(u16::MAX), usize::MAX));
}
