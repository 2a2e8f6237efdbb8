//! Runs `ranat serve`'s STUN service on real sockets: the responder's UDP
//! endpoints on worker threads, each with its own socket on every endpoint
//! (SO_REUSEPORT, see [`socket`]) and its own responder; and, with a relay,
//! the [`Service`] on a [`Driver`] in the caller's runtime, for the relay's
//! TCP listener and relayed sockets, the TURN datagrams the workers hand
//! over, and its answers, sent from the first worker's primary socket.

mod outbox;
mod socket;
mod worker;

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::driver::{BindError, Driver};
use crate::proto::machine::SocketId;
use crate::proto::relay::server::{Relay, RelayConfig, RelayStats};
use crate::proto::serve::Service;
use crate::proto::stun::{Responder, ResponderConfig, ResponderStats, StreamResponder};
use worker::Worker;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} (is the address assigned to this host?)")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot start the serving threads")]
    Threads(#[source] io::Error),
}

/// Binds every endpoint of `config` (and the relay's, when given) for one
/// worker thread; returns the server ready to run.
pub async fn bind(
    config: ResponderConfig,
    relay: Option<RelayConfig>,
) -> Result<Server, ServeError> {
    bind_threads(config, relay, NonZeroUsize::MIN).await
}

/// Like [`bind`], with `threads` workers answering STUN.
pub async fn bind_threads(
    config: ResponderConfig,
    relay: Option<RelayConfig>,
    threads: NonZeroUsize,
) -> Result<Server, ServeError> {
    let groups = socket::bind_groups(&config.endpoints(), threads.get())
        .map_err(|(addr, source)| ServeError::Bind { addr, source })?;
    let first = groups.first().map(Vec::as_slice).unwrap_or_default();
    let endpoints = first
        .iter()
        .map(std::net::UdpSocket::local_addr)
        .collect::<io::Result<Vec<_>>>()
        .map_err(ServeError::Threads)?;
    let has_relay = relay.is_some();
    let (driver, inlet) = match relay {
        None => (None, None),
        Some(relay) => {
            let shared = first
                .iter()
                .zip(0..)
                .map(|(s, i)| Ok((SocketId(i), s.try_clone()?)))
                .collect::<io::Result<Vec<_>>>()
                .map_err(ServeError::Threads)?;
            let relay = Relay::new(relay).with_other_address(config.alternate);
            let machine = Service::new(Responder::new(config), Some(relay));
            let (driver, inlet) = Driver::bind_sharing(machine, shared)
                .await
                .map_err(bind_error)?;
            (Some(driver), Some(inlet))
        }
    };
    let (stop, stopped) = watch::channel(false);
    let stream = serve_streams(config, has_relay, stopped.clone()).await?;
    let mut finished = Vec::with_capacity(groups.len());
    for (k, sockets) in groups.into_iter().enumerate() {
        let worker = Worker::new(sockets, Responder::new(config), inlet.clone())
            .map_err(ServeError::Threads)?;
        let (done, stats) = oneshot::channel();
        let stopped = stopped.clone();
        std::thread::Builder::new()
            .name(format!("ranat-serve-{k}"))
            .spawn(move || {
                let _ = done.send(worker.run(stopped));
            })
            .map_err(ServeError::Threads)?;
        finished.push(stats);
    }
    Ok(Server {
        endpoints,
        stream_endpoints: stream.0,
        driver,
        stop,
        finished,
        stream: stream.1,
    })
}

/// Listens for STUN over TCP on every endpoint but the primary when the
/// relay's TCP listener holds it (the relay answers Binding there too),
/// and answers on a task of its own until `stopped`; returns the
/// endpoints and the task, whose end gives the answers' counts.
async fn serve_streams(
    config: ResponderConfig,
    has_relay: bool,
    mut stopped: watch::Receiver<bool>,
) -> Result<(Vec<SocketAddr>, JoinHandle<ResponderStats>), ServeError> {
    let listeners: Vec<SocketAddr> = config
        .endpoints()
        .into_iter()
        .skip(usize::from(has_relay))
        .collect();
    let machine = StreamResponder::new(config, listeners.clone());
    let mut driver = Driver::bind(machine).await.map_err(bind_error)?;
    let task = tokio::spawn(async move {
        driver
            .serve(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await;
        driver.machine().stats()
    });
    Ok((listeners, task))
}

fn bind_error(e: BindError) -> ServeError {
    match e {
        BindError::Socket { at, source }
        | BindError::Listen { at, source }
        | BindError::Connect { server: at, source } => ServeError::Bind { addr: at, source },
        BindError::NoRoute { toward, source } => ServeError::Bind {
            addr: toward,
            source,
        },
    }
}

/// A bound server, its workers already answering; dropping it stops them.
pub struct Server {
    endpoints: Vec<SocketAddr>,
    /// The relay's, when one runs.
    driver: Option<Driver<Service>>,
    /// Tells the workers to stop (so does dropping it).
    stop: watch::Sender<bool>,
    /// Each worker's counts, when it has stopped.
    finished: Vec<oneshot::Receiver<ResponderStats>>,
    /// Where STUN over TCP is answered, by the task below.
    stream_endpoints: Vec<SocketAddr>,
    stream: JoinHandle<ResponderStats>,
}

impl Server {
    /// The UDP endpoints of the responder.
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        self.endpoints.clone()
    }

    /// The endpoints answering STUN over TCP (the relay answers on the
    /// primary's when it runs).
    pub fn stream_endpoints(&self) -> Vec<SocketAddr> {
        self.stream_endpoints.clone()
    }

    /// Serves until `shutdown` completes; returns what it saw, the workers'
    /// counts summed.
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> (ResponderStats, Option<RelayStats>) {
        match self.driver.as_mut() {
            Some(driver) => driver.serve(shutdown).await,
            None => shutdown.await,
        }
        let _ = self.stop.send(true);
        let mut stats = self.stream.await.unwrap_or_default();
        for finished in self.finished {
            // A worker that died (a panic) has no counts to give.
            if let Ok(counts) = finished.await {
                stats += counts;
            }
        }
        // The driver's own responder is never fed: every Binding request
        // is a worker's.
        let relay = self
            .driver
            .as_ref()
            .and_then(|d| d.machine().relay().map(Relay::stats));
        (stats, relay)
    }
}
