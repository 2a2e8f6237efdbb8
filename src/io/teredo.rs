//! Runs the Teredo [`Qualification`] over two real UDP sockets, and finds a
//! Teredo interface the host may already have.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::driver::{BindError, Driver};
use super::resolve::{self, ServerSpec};
use crate::proto::teredo::{
    Qualification, QualificationConfig, QualificationOutcome, TEREDO_PORT, TeredoAddress,
};
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

/// A Teredo (2001:0::/32) address on one of this host's interfaces.
pub fn existing_interface() -> Option<ExistingInterface> {
    let table = std::fs::read_to_string("/proc/net/if_inet6").ok()?;
    parse_if_inet6(&table)
}

/// `/proc/net/if_inet6`: 32 hex digits of address, then index, prefix
/// length, scope, flags and the interface name.
fn parse_if_inet6(table: &str) -> Option<ExistingInterface> {
    table.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let hex = fields.next()?;
        let name = fields.nth(4)?;
        let address = Ipv6Addr::from(u128::from_str_radix(hex, 16).ok()?);
        TeredoAddress::parse(address).ok()?;
        Some(ExistingInterface {
            name: name.to_string(),
            address,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_teredo_address_among_the_host_addresses() {
        let table = "00000000000000000000000000000001 01 80 10 80       lo\n\
                     fe800000000000000000000000000001 02 40 20 80     eth0\n\
                     20010000c6336428800063bf3ffffdd2 05 20 00 80   teredo\n";
        let found = parse_if_inet6(table).unwrap();
        assert_eq!(found.name, "teredo");
        assert_eq!(
            found.address,
            "2001:0:c633:6428:8000:63bf:3fff:fdd2"
                .parse::<Ipv6Addr>()
                .unwrap()
        );
    }

    #[test]
    fn hosts_without_teredo_and_broken_tables_have_none() {
        let table = "00000000000000000000000000000001 01 80 10 80       lo\n";
        assert_eq!(parse_if_inet6(table), None);
        assert_eq!(parse_if_inet6("2001zz 01\n\n garbage"), None);
    }

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
