//! Runs [`Discovery`] machines over real UDP sockets, one per server, all at
//! once.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::proto::nat::{Discovery, DiscoveryConfig, Observation, SocketId};

/// Room for any datagram, so that an oversize one is seen whole and refused.
const RECV_BUFFER: usize = 65_536;

/// Why one server's discovery could not run.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// This host has no route to the server's family or network.
    #[error("no route from this host to {server}: {source}")]
    NoRoute {
        server: SocketAddr,
        source: io::Error,
    },
    #[error("could not open a UDP socket: {0}")]
    Socket(io::Error),
}

/// Runs one discovery per config, concurrently; results come back in the
/// order of `configs`.
pub async fn discover_all(
    configs: Vec<DiscoveryConfig>,
    deadline: Duration,
) -> Vec<Result<Observation, DriveError>> {
    let mut set = JoinSet::new();
    let n = configs.len();
    for (i, config) in configs.into_iter().enumerate() {
        set.spawn(async move {
            let seed = rand::random();
            let result = drive(Discovery::new(config, seed), Instant::now() + deadline).await;
            (i, result)
        });
    }
    let mut results: Vec<Option<Result<Observation, DriveError>>> = (0..n).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, result)) = joined {
            results[i] = Some(result);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(DriveError::Socket(io::Error::other("task failed")))))
        .collect()
}

/// The local address the kernel would use toward `server`: a connected UDP
/// socket learns it without sending anything.
async fn route_source(server: SocketAddr) -> Result<IpAddr, DriveError> {
    let unspecified: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let no_route = |source| DriveError::NoRoute { server, source };
    let probe = UdpSocket::bind(unspecified).await.map_err(no_route)?;
    probe.connect(server).await.map_err(no_route)?;
    Ok(probe.local_addr().map_err(no_route)?.ip())
}

async fn drive(mut machine: Discovery, deadline: Instant) -> Result<Observation, DriveError> {
    let local_ip = route_source(machine.server()).await?;
    let mut sockets = Vec::new();
    while let Some(id) = machine.poll_bind() {
        let socket = UdpSocket::bind(SocketAddr::new(local_ip, 0))
            .await
            .map_err(DriveError::Socket)?;
        let local = socket.local_addr().map_err(DriveError::Socket)?;
        sockets.push(Arc::new(socket));
        machine.handle_bound(Instant::now(), id, local);
    }
    let (tx, mut rx) = mpsc::channel::<(SocketId, SocketAddr, Vec<u8>)>(256);
    let mut receivers = JoinSet::new();
    for (i, socket) in sockets.iter().enumerate() {
        let socket = Arc::clone(socket);
        let tx = tx.clone();
        let id = SocketId(i as u8);
        receivers.spawn(async move {
            let mut buf = vec![0; RECV_BUFFER];
            loop {
                // A receive error (an ICMP report) is a lost packet, not the
                // end of the socket.
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                if tx.send((id, from, buf[..n].to_vec())).await.is_err() {
                    break;
                }
            }
        });
    }
    loop {
        while let Some(t) = machine.poll_transmit() {
            if let Some(socket) = sockets.get(usize::from(t.socket.0)) {
                // A failed send is a lost packet: the schedule retransmits.
                let _ = socket.send_to(&t.payload, t.destination).await;
            }
        }
        if let Some(observation) = machine.observation() {
            return Ok(observation.clone());
        }
        let wake = machine
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(1));
        tokio::select! {
            Some((id, from, bytes)) = rx.recv() => {
                machine.handle_input(Instant::now(), id, from, &bytes);
            }
            () = tokio::time::sleep_until(wake) => machine.handle_timeout(Instant::now()),
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                machine.cut_short();
            }
        }
    }
}
