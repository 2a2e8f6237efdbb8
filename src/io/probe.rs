//! Runs [`Discovery`] machines over real UDP sockets, one per server, all at
//! once, and the [`Lifetime`] measurement.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::driver::{BindError, Driver};
use crate::proto::machine::Machine;
use crate::proto::nat::{
    Discovery, DiscoveryConfig, Lifetime, LifetimeConfig, LifetimeEvent, LifetimeResult,
    Observation, TcpAnswer, TcpMapping, TcpMappingConfig, TcpMappingOutcome, classify,
};

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

fn drive_error(server: SocketAddr, e: BindError) -> DriveError {
    match e {
        BindError::NoRoute { source, .. } => DriveError::NoRoute { server, source },
        BindError::Socket { source, .. }
        | BindError::Connect { source, .. }
        | BindError::Listen { source, .. } => DriveError::Socket(source),
    }
}

async fn drive(machine: Discovery, deadline: Instant) -> Result<Observation, DriveError> {
    let server = machine.server();
    let mut driver = Driver::bind(machine)
        .await
        .map_err(|e| drive_error(server, e))?;
    driver.run(Some(deadline)).await;
    driver
        .machine()
        .observation()
        .cloned()
        .ok_or_else(|| DriveError::Socket(io::Error::other("the discovery stalled")))
}

/// Measures the binding lifetime (RFC 5780 §4.6) against `config.server`,
/// telling `on_event` of each round; bounded by
/// [`LifetimeConfig::worst_case`].
pub async fn measure_lifetime(
    config: LifetimeConfig,
    mut on_event: impl FnMut(LifetimeEvent),
) -> Result<LifetimeResult, DriveError> {
    let server = config.server;
    let limit = Instant::now() + config.worst_case();
    let mut driver = Driver::bind(Lifetime::new(config, rand::random()))
        .await
        .map_err(|e| drive_error(server, e))?;
    loop {
        let heard = driver.run_until(Lifetime::has_event, Some(limit)).await;
        while let Some(event) = driver.machine_mut().poll_event() {
            on_event(event);
        }
        if !heard {
            break;
        }
    }
    driver
        .machine()
        .result()
        .cloned()
        .ok_or_else(|| DriveError::Socket(io::Error::other("the measurement stalled")))
}

/// Runs the TCP mapping tests ([`TcpMapping`]) within their bound; a first
/// connection that fails (nothing listens, or no SYN-ACK) is an outcome
/// too.
pub async fn measure_tcp(config: TcpMappingConfig) -> TcpMappingOutcome {
    let limit = Instant::now() + config.bound;
    let unreached = || {
        let answers = vec![TcpAnswer::NoConnection {
            server: config.server,
        }];
        classify(None, answers, config.alternate_hint)
    };
    let bound = tokio::time::timeout(
        config.bound,
        Driver::bind(TcpMapping::new(config, rand::random())),
    );
    let mut driver = match bound.await {
        Ok(Ok(driver)) => driver,
        Ok(Err(_)) | Err(_) => return unreached(),
    };
    // A connection the driver is still making (a SYN nobody answers) is
    // given up at the bound too.
    let left = limit.saturating_duration_since(Instant::now());
    let _ = tokio::time::timeout(left, driver.run(Some(limit))).await;
    driver.machine_mut().cut_short();
    let outcome = driver.machine().outcome().cloned();
    driver.close_streams().await;
    outcome.unwrap_or_else(unreached)
}
