//! Runs the [`Service`] on real sockets: the responder's endpoints and,
//! with a relay, its TCP listener and relayed sockets.

use std::io;
use std::net::SocketAddr;

use super::driver::{BindError, Driver};
use crate::proto::machine::SocketId;
use crate::proto::relay::server::{Relay, RelayConfig, RelayStats};
use crate::proto::serve::Service;
use crate::proto::stun::{Responder, ResponderConfig, ResponderStats};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} (is the address assigned to this host?)")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// Binds every endpoint of `config` (and the relay's, when given); returns
/// the server ready to run.
pub async fn bind(
    config: ResponderConfig,
    relay: Option<RelayConfig>,
) -> Result<Server, ServeError> {
    let machine = Service::new(Responder::new(config), relay.map(Relay::new));
    let driver = Driver::bind(machine).await.map_err(|e| match e {
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
    driver: Driver<Service>,
}

impl Server {
    /// The UDP endpoints of the responder.
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        (0..4)
            .map(SocketId)
            .map_while(|id| self.driver.local_addr(id))
            .collect()
    }

    /// Serves until `shutdown` completes; returns what it saw.
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> (ResponderStats, Option<RelayStats>) {
        self.driver.serve(shutdown).await;
        let machine = self.driver.machine();
        (
            machine.responder().stats(),
            machine.relay().map(Relay::stats),
        )
    }
}
