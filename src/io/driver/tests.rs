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

/// Sends one datagram to `to` from a client socket and waits to hear
/// what came of it.
struct Knock {
    to: SocketAddr,
    hears: bool,
    asked: bool,
    sent: bool,
    unreachable: Vec<(SocketId, SocketAddr)>,
}

impl crate::proto::machine::Machine for Knock {
    fn poll_bind(&mut self) -> Option<(SocketId, Bind)> {
        (!std::mem::replace(&mut self.asked, true)).then_some((SocketId(0), Bind::Toward(self.to)))
    }
    fn handle_bound(&mut self, _: Instant, _: SocketId, _: SocketAddr) {}
    fn handle_input(&mut self, _: Instant, _: SocketId, _: SocketAddr, _: &[u8]) {}
    fn hears_unreachable(&self) -> bool {
        self.hears
    }
    fn handle_unreachable(&mut self, _: Instant, socket: SocketId, destination: SocketAddr) {
        self.unreachable.push((socket, destination));
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self) -> Option<crate::proto::machine::Transmit> {
        (!std::mem::replace(&mut self.sent, true)).then(|| crate::proto::machine::Transmit {
            socket: SocketId(0),
            destination: self.to,
            payload: b"anyone?".to_vec(),
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn is_done(&self) -> bool {
        !self.unreachable.is_empty()
    }
}

/// A port that was just free: nothing listens on it.
fn closed_port() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test]
async fn a_machine_that_does_not_ask_hears_of_no_closed_port() {
    let knock = Knock {
        to: closed_port(),
        hears: false,
        asked: false,
        sent: false,
        unreachable: Vec::new(),
    };
    let mut driver = Driver::bind(knock).await.unwrap();
    driver
        .run(Some(Instant::now() + Duration::from_millis(300)))
        .await;
    assert!(driver.machine().unreachable.is_empty());
}

#[tokio::test]
async fn a_closed_port_is_reported_to_the_machine_and_the_socket_handed_back_stays_quiet() {
    let closed = closed_port();
    let knock = Knock {
        to: closed,
        hears: true,
        asked: false,
        sent: false,
        unreachable: Vec::new(),
    };
    let mut driver = Driver::bind(knock).await.unwrap();
    driver
        .run(Some(Instant::now() + Duration::from_secs(5)))
        .await;
    assert_eq!(driver.machine().unreachable, vec![(SocketId(0), closed)]);

    // Handed on, the socket reports nothing more: another knock's refusal
    // does not fail the new owner's receive.
    let (_, mut sockets) = driver.into_parts().await;
    let (_, socket) = sockets.pop().unwrap();
    socket.send_to(b"again?", closed).await.unwrap();
    let echo = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    echo.send_to(b"hello", socket.local_addr().unwrap())
        .await
        .unwrap();
    let mut buf = [0; 16];
    let got = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .expect("within 5 s");
    let (n, _) = got.expect("a datagram, not an ICMP error");
    assert_eq!(&buf[..n], b"hello");
}
