//! Runs the [`Responder`] on real sockets: one per local endpoint.

use std::io;
use std::net::SocketAddr;

use super::driver::{BindError, Driver};
use crate::proto::machine::SocketId;
use crate::proto::stun::{Responder, ResponderConfig, ResponderStats};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} (is the address assigned to this host?)")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// Binds every endpoint of `config`; returns the server ready to run.
pub async fn bind(config: ResponderConfig) -> Result<Server, ServeError> {
    let driver = Driver::bind(Responder::new(config))
        .await
        .map_err(|e| match e {
            BindError::Socket { at, source }
            | BindError::Listen { at, source }
            | BindError::Connect { server: at, source } => ServeError::Bind { addr: at, source },
            BindError::NoRoute { toward, source } => ServeError::Bind {
                addr: toward,
                source,
            },
        })?;
    Ok(Server { driver })
}

/// A bound server.
pub struct Server {
    driver: Driver<Responder>,
}

impl Server {
    /// The endpoints it listens on.
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        (0..=u16::MAX)
            .map(SocketId)
            .map_while(|id| self.driver.local_addr(id))
            .collect()
    }

    /// Serves until `shutdown` completes; returns what it saw.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) -> ResponderStats {
        self.driver.serve(shutdown).await;
        self.driver.machine().stats()
    }
}
