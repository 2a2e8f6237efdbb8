//! The session's one QUIC stream: messages out as frames, frames in as
//! messages, each way in a task of its own so that the session's loop
//! never waits on the network.

use quinn::{Connection, RecvStream, SendStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::proto::assist::{AssistSession, FrameDecoder, FrameError, Message, encode};

/// Messages queued for the peer before the loop waits for the writer: a
/// busy screen must not grow the queue without bound.
const OUTGOING: usize = 64;

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
    pub outgoing: mpsc::Sender<Message>,
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
    /// it any more is the peer gone.
    pub async fn flush(&self, machine: &mut AssistSession) {
        while let Some(message) = machine.poll_send() {
            if self.outgoing.send(message).await.is_err() {
                machine.handle_peer_closed();
            }
        }
    }

    /// Sends what is queued, finishes the stream and stops reading.
    pub async fn close(self) {
        drop(self.outgoing);
        let _ = self.writer.await;
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
