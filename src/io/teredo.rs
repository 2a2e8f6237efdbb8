//! Runs the Teredo [`Qualification`] over two real UDP sockets, and finds a
//! Teredo interface the host may already have.

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::driver::{BindError, Driver};
use super::interfaces;
use super::resolve::{self, ServerSpec};
use crate::proto::teredo::{Qualification, QualificationConfig, QualificationOutcome, TEREDO_PORT};
use crate::report::ExistingInterface;

/// Windows' default Teredo server (Windows 10 and later).
pub const DEFAULT_SERVER: &str = "win10.ipv6.microsoft.com";

/// The whole qualification gives up after this long, whatever the schedule.
const DEADLINE: Duration = Duration::from_secs(5);

/// Why the qualification could not run.
#[derive(Debug, thiserror::Error)]
pub enum TeredoError {
    #[error("Teredo server '{0}': {1}")]
    Spec(String, resolve::SpecError),
    #[error("could not resolve the Teredo server {0}: {1}")]
    Resolve(String, String),
    #[error("the Teredo server {0} has no IPv4 address")]
    NoIpv4(String),
    #[error("no route to the Teredo server {0}: {1}")]
    NoRoute(SocketAddrV4, std::io::Error),
    #[error("could not open a UDP socket: {0}")]
    Socket(std::io::Error),
}

/// Resolves `server` (HOST[:PORT], port 3544 by default) to its primary
/// IPv4 endpoint; the name comes back for the report.
pub async fn server_address(server: &str) -> Result<(SocketAddrV4, Option<String>), TeredoError> {
    let spec: ServerSpec = server
        .parse()
        .map_err(|e| TeredoError::Spec(server.to_string(), e))?;
    let port = spec.port.unwrap_or(TEREDO_PORT);
    if let Ok(ip) = spec.host.parse::<Ipv4Addr>() {
        return Ok((SocketAddrV4::new(ip, port), None));
    }
    let ips = resolve::lookup_host(&spec.host)
        .await
        .map_err(|e| TeredoError::Resolve(spec.host.clone(), e))?;
    let ip = ips
        .into_iter()
        .find_map(|ip| match ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| TeredoError::NoIpv4(spec.host.clone()))?;
    Ok((SocketAddrV4::new(ip, port), Some(spec.host)))
}

/// Qualifies against `primary` and its next address.
pub async fn qualify(primary: SocketAddrV4) -> Result<QualificationOutcome, TeredoError> {
    let machine = Qualification::from_seed(QualificationConfig::new(primary), rand::random());
    let mut driver = Driver::bind(machine).await.map_err(|e| match e {
        BindError::NoRoute { source, .. } => TeredoError::NoRoute(primary, source),
        BindError::Socket { source, .. }
        | BindError::Connect { source, .. }
        | BindError::Listen { source, .. } => TeredoError::Socket(source),
    })?;
    driver.run(Some(Instant::now() + DEADLINE)).await;
    driver
        .machine()
        .outcome()
        .cloned()
        .ok_or_else(|| TeredoError::Socket(std::io::Error::other("the qualification stalled")))
}

/// A Teredo (2001:0::/32) address on one of this host's interfaces, among
/// those worth advertising ([`interfaces::advertised_ipv6`]).
pub fn existing_interface() -> Option<ExistingInterface> {
    interfaces::advertised_ipv6()
        .into_iter()
        .find(|host| host.teredo)
        .map(|host| ExistingInterface {
            name: host.interface,
            address: host.address,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_literal_server_needs_no_dns_and_gets_port_3544() {
        let (addr, name) = server_address("198.51.100.40").await.unwrap();
        assert_eq!(addr, "198.51.100.40:3544".parse().unwrap());
        assert_eq!(name, None);
        let (addr, _) = server_address("198.51.100.40:4000").await.unwrap();
        assert_eq!(addr.port(), 4000);
        assert!(server_address("").await.is_err());
        assert!(server_address("198.51.100.40:0").await.is_err());
    }
}
