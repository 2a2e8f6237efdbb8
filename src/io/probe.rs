//! Runs [`Discovery`] machines over real UDP sockets, one per server, all at
//! once.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::gateway::route_source;
use super::sockets::SocketSet;
use crate::proto::nat::{Discovery, DiscoveryConfig, Observation};

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

async fn drive(mut machine: Discovery, deadline: Instant) -> Result<Observation, DriveError> {
    let server = machine.server();
    let local_ip = route_source(server)
        .await
        .map_err(|source| DriveError::NoRoute { server, source })?;
    let mut sockets = SocketSet::bind(local_ip, &mut machine)
        .await
        .map_err(DriveError::Socket)?;
    let deadline = tokio::time::Instant::from_std(deadline);
    loop {
        sockets.send_queued(&mut machine).await;
        if let Some(observation) = machine.observation() {
            return Ok(observation.clone());
        }
        if !sockets.wait(&mut machine, Some(deadline)).await {
            machine.cut_short();
        }
    }
}
