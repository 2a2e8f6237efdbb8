//! The session's one QUIC stream: messages out as frames, frames in as
//! messages, each way in a task of its own so that the session's loop
//! never waits on the network.

use std::time::Duration;

use quinn::{Connection, RecvStream, SendStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::proto::assist::{AssistSession, FrameDecoder, FrameError, Message, encode};

/// Messages queued for the peer before the loop waits for the writer: a
/// busy screen must not grow the queue without bound.
const OUTGOING: usize = 64;

/// How long the loop waits for room in a full queue, and the end for the
/// last messages to go out: a peer that stops reading (QUIC flow control
/// holds the writer) is a peer gone, never a session that hangs.
const SEND_WAIT: Duration = Duration::from_secs(10);
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// What the reader hands the session.
#[derive(Debug)]
pub enum Incoming {
    Message(Message),
    /// The peer's bytes are not frames (or a frame is over its limit).
    Malformed(FrameError),
    /// The stream or the connection ended.
    Closed,
}

/// The stream, split in its two directions.
pub struct Wire {
    outgoing: mpsc::Sender<Message>,
    pub incoming: mpsc::Receiver<Incoming>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Wire {
    /// Opens the session's stream (`opener`: the QUIC client, which opens
    /// it and says its first message at once, so that the other side's
    /// accept sees it) or accepts it.
    pub async fn open(
        connection: &Connection,
        opener: bool,
    ) -> Result<Self, quinn::ConnectionError> {
        let (send, recv) = if opener {
            connection.open_bi().await?
        } else {
            connection.accept_bi().await?
        };
        let (outgoing, to_send) = mpsc::channel(OUTGOING);
        let (received, incoming) = mpsc::channel(OUTGOING);
        Ok(Self {
            outgoing,
            incoming,
            reader: tokio::spawn(read(recv, received)),
            writer: tokio::spawn(write(send, to_send)),
        })
    }

    /// Sends what the session has for the peer; a stream that cannot take
    /// it any more, or not within [`SEND_WAIT`], is the peer gone.
    pub async fn flush(&self, machine: &mut AssistSession) {
        while let Some(message) = machine.poll_send() {
            let sent = tokio::time::timeout(SEND_WAIT, self.outgoing.send(message)).await;
            if !matches!(sent, Ok(Ok(()))) {
                machine.handle_peer_closed();
            }
        }
    }

    /// Sends what is queued, finishes the stream and stops reading.
    pub async fn close(self) {
        drop(self.outgoing);
        let mut writer = self.writer;
        if tokio::time::timeout(CLOSE_WAIT, &mut writer).await.is_err() {
            writer.abort();
        }
        self.reader.abort();
    }
}

/// Hands what the reader got to the session.
pub fn deliver(machine: &mut AssistSession, incoming: Option<Incoming>) {
    match incoming {
        Some(Incoming::Message(message)) => machine.handle_peer(message),
        Some(Incoming::Malformed(error)) => machine.handle_malformed(error),
        Some(Incoming::Closed) | None => machine.handle_peer_closed(),
    }
}

async fn read(mut recv: RecvStream, received: mpsc::Sender<Incoming>) {
    let mut decoder = FrameDecoder::new();
    let mut buffer = vec![0; 16 * 1024];
    loop {
        match recv.read(&mut buffer).await {
            Ok(Some(n)) => decoder.push(&buffer[..n]),
            Ok(None) | Err(_) => {
                let _ = received.send(Incoming::Closed).await;
                return;
            }
        }
        for message in decoder.by_ref() {
            let incoming = match message {
                Ok(message) => Incoming::Message(message),
                Err(error) => Incoming::Malformed(error),
            };
            let stop = matches!(incoming, Incoming::Malformed(_));
            if received.send(incoming).await.is_err() || stop {
                return;
            }
        }
    }
}

async fn write(mut send: SendStream, mut to_send: mpsc::Receiver<Message>) {
    while let Some(message) = to_send.recv().await {
        if send.write_all(&encode(&message)).await.is_err() {
            return;
        }
    }
    let _ = send.finish();
    let _ = send.stopped().await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::io::quic::{self, Identity};
    use crate::proto::assist::{Event, Policy};
    use crate::proto::rendezvous::Role;

    /// A QUIC connection on loopback: the novice's side (accepting) and
    /// the peer's (connecting).
    async fn connected() -> (quinn::Connection, quinn::Connection, [quinn::Endpoint; 2]) {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let address = server.local_addr().expect("address");
        let (novice, peer) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let (nf, pf) = (novice.fingerprint(), peer.fingerprint());
        let accepting = tokio::spawn(async move {
            quic::accept(server, &novice, pf, None, Duration::from_secs(5)).await
        });
        let (client_endpoint, to_novice) = quic::connect(client, &peer, address, nf, None)
            .await
            .expect("connect");
        let (server_endpoint, to_peer) = accepting.await.expect("join").expect("accept");
        (to_peer, to_novice, [server_endpoint, client_endpoint])
    }

    /// The novice's session over the wire, until it ends; its end's reason.
    async fn novice_until_end(connection: &quinn::Connection) -> String {
        let mut wire = Wire::open(connection, false).await.expect("the stream");
        let policy = Policy {
            allow_control: true,
        };
        let mut machine = AssistSession::new(Role::Novice, policy, "Nina".into());
        loop {
            wire.flush(&mut machine).await;
            while let Some(event) = machine.poll_event() {
                if let Event::Ended { reason, .. } = event {
                    wire.flush(&mut machine).await;
                    wire.close().await;
                    return reason;
                }
            }
            let incoming = wire.incoming.recv().await;
            deliver(&mut machine, incoming);
        }
    }

    #[tokio::test]
    async fn a_malformed_frame_ends_the_session_with_the_reason_sent_back() {
        let (to_peer, to_novice, _endpoints) = connected().await;
        let hostile = async {
            let (mut send, mut recv) = to_novice.open_bi().await.expect("open");
            // A Hello, then a frame of an unknown kind.
            let hello = encode(&Message::Hello {
                name: "Mallory".into(),
                version: crate::proto::assist::ASSIST_VERSION,
                role: Role::Helper,
            });
            send.write_all(&hello).await.expect("hello");
            send.write_all(&[0, 0, 0, 1, 99]).await.expect("garbage");
            let mut decoder = FrameDecoder::new();
            let mut heard = Vec::new();
            while let Ok(Some(chunk)) = recv.read_chunk(64 * 1024, true).await {
                decoder.push(&chunk.bytes);
                heard.extend(decoder.by_ref().filter_map(Result::ok));
            }
            heard
        };
        let (reason, heard) = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(novice_until_end(&to_peer), hostile)
        })
        .await
        .expect("bounded");
        assert!(reason.contains("malformed"), "{reason}");
        assert!(
            heard
                .iter()
                .any(|m| matches!(m, Message::Bye { reason } if reason.contains("malformed"))),
            "{heard:?}"
        );
    }

    #[tokio::test]
    async fn an_oversized_frame_ends_the_session_before_it_is_read() {
        let (to_peer, to_novice, _endpoints) = connected().await;
        let hostile = async {
            let (mut send, _recv) = to_novice.open_bi().await.expect("open");
            // A length over the 1 MiB limit: refused from its four bytes.
            send.write_all(&[0x7f, 0xff, 0xff, 0xff, 1])
                .await
                .expect("garbage");
            send
        };
        let (reason, _send) = tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(novice_until_end(&to_peer), hostile)
        })
        .await
        .expect("bounded");
        assert!(reason.contains("malformed"), "{reason}");
    }
}
