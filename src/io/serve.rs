//! Runs the [`Responder`] on real sockets: one per local endpoint.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::proto::stun::{MAX_DATAGRAM, Responder, ResponderConfig, ResponderStats};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} (is the address assigned to this host?)")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// Binds every endpoint of `config`; returns the server ready to run.
pub async fn bind(config: ResponderConfig) -> Result<Server, ServeError> {
    let mut sockets = Vec::new();
    for addr in config.endpoints() {
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        sockets.push((addr, Arc::new(socket)));
    }
    Ok(Server {
        responder: Responder::new(config),
        sockets,
    })
}

/// A bound server.
pub struct Server {
    responder: Responder,
    sockets: Vec<(SocketAddr, Arc<UdpSocket>)>,
}

impl Server {
    /// The endpoints it listens on.
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        self.sockets.iter().map(|(a, _)| *a).collect()
    }

    /// Serves until `shutdown` completes; returns what it saw.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) -> ResponderStats {
        let (tx, mut rx) = mpsc::channel::<(SocketAddr, SocketAddr, Vec<u8>)>(1024);
        let mut receivers = JoinSet::new();
        for (local, socket) in &self.sockets {
            let (local, socket, tx) = (*local, Arc::clone(socket), tx.clone());
            receivers.spawn(async move {
                // One byte more than the largest accepted datagram, so an
                // oversize one is seen as such rather than cut to fit.
                let mut buf = vec![0; MAX_DATAGRAM + 1];
                loop {
                    match socket.recv_from(&mut buf).await {
                        Ok((n, from)) => {
                            if tx.send((local, from, buf[..n].to_vec())).await.is_err() {
                                break;
                            }
                        }
                        // ICMP errors reported on the socket: keep serving.
                        Err(_) => continue,
                    }
                }
            });
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                Some((local, from, bytes)) = rx.recv() => {
                    self.responder.handle_input(local, from, &bytes);
                    while let Some(t) = self.responder.poll_transmit() {
                        if let Some((_, socket)) = self.sockets.iter().find(|(a, _)| *a == t.source) {
                            let _ = socket.send_to(&t.payload, t.destination).await;
                        }
                    }
                }
                () = &mut shutdown => break,
            }
        }
        self.responder.stats()
    }
}
