//! The port-mapping check: UPnP IGD and PCP / NAT-PMP side by side, each
//! bounded to about 2 s when nothing answers; and a session's own mapping,
//! made with the method the check found working.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::gateway::{default_gateway, route_source};
use super::undo::UndoLog;
use super::{pcp, upnp};
use crate::report::{
    MappingStatus, PortControlProtocol, PortControlReport, PortMappingReport, UpnpReport,
};

/// How long UPnP discovery waits for a gateway.
const SSDP_WAIT: Duration = Duration::from_secs(2);
/// How long one UPnP SOAP request may take.
const SOAP_WAIT: Duration = Duration::from_secs(2);
/// The lease asked for a test mapping: long enough for the test, short
/// enough that a mapping left behind by a crash expires soon.
const LEASE: Duration = Duration::from_secs(60);

/// Checks the gateway (`gateway`, else the default route's) with every
/// method at once. `stun` tests the mappings from outside.
pub async fn check(
    gateway: Option<Ipv4Addr>,
    stun: Option<SocketAddr>,
    undo: &UndoLog,
) -> PortMappingReport {
    let explicit = gateway.is_some();
    let Some(gateway) = gateway.or_else(default_gateway) else {
        return PortMappingReport::skipped("no IPv4 default route, so no gateway to ask");
    };
    let local = match route_source(SocketAddr::from((gateway, pcp::SERVER_PORT))).await {
        Ok(IpAddr::V4(local)) => local,
        Ok(IpAddr::V6(_)) | Err(_) => {
            return PortMappingReport {
                gateway: Some(gateway.into()),
                ..PortMappingReport::skipped("no local IPv4 address routes to the gateway")
            };
        }
    };
    let upnp_config = upnp::UpnpConfig {
        local: local.into(),
        ssdp_target: if explicit {
            SocketAddr::from((gateway, upnp::SSDP_PORT))
        } else {
            upnp::SSDP_MULTICAST
        },
        search_timeout: SSDP_WAIT,
        request_timeout: SOAP_WAIT,
        lease: LEASE,
        stun_server: stun,
    };
    let pcp_config = pcp::PcpConfig {
        gateway,
        local,
        lease: LEASE,
        stun_server: stun,
    };
    let (upnp, pcp): (UpnpReport, PortControlReport) =
        tokio::join!(upnp::check(upnp_config, undo), pcp::check(pcp_config, undo));
    PortMappingReport {
        gateway: Some(gateway.into()),
        upnp,
        pcp,
    }
}

/// How long a session's mapping may take to make, whatever the method.
const SESSION_MAP_WAIT: Duration = Duration::from_millis(2500);

/// A UDP mapping made on the gateway for a session's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionMapping {
    /// "PCP", "NAT-PMP" or "UPnP".
    pub method: &'static str,
    /// Where the Internet reaches the socket.
    pub external: SocketAddr,
}

/// Maps the UDP socket bound to `local` on `gateway` for `lease`, within
/// about 2 s: by PCP (RFC 6887, with NAT-PMP, RFC 6886, as its fallback)
/// or by UPnP IGD (WANIPConnection AddPortMapping, and
/// GetExternalIPAddress for the external address). The deletion is
/// registered in `undo` before the mapping is asked for; the caller runs
/// it when the session ends ([`UndoLog::run_all`]), also when this fails,
/// since a request cut off by the time limit may still have been carried
/// out.
pub async fn map_session_port(
    gateway: SessionGateway,
    local: SocketAddr,
    lease: Duration,
    undo: &UndoLog,
) -> Result<SessionMapping, String> {
    let mapping = async {
        match gateway {
            SessionGateway::PortControl { gateway, protocol } => {
                let client = match local.ip() {
                    IpAddr::V4(ip) if !ip.is_unspecified() => ip,
                    _ => match route_source(SocketAddr::from((gateway, pcp::SERVER_PORT))).await {
                        Ok(IpAddr::V4(ip)) => ip,
                        Ok(IpAddr::V6(_)) | Err(_) => {
                            return Err("no local IPv4 address routes to the gateway".into());
                        }
                    },
                };
                let mapping = pcp::map_port(gateway, client, local.port(), lease, undo).await?;
                Ok(SessionMapping {
                    method: protocol.name(),
                    external: mapping.external.into(),
                })
            }
            SessionGateway::Upnp { device } => {
                let config = upnp::UpnpConfig {
                    local: local.ip(),
                    ssdp_target: SocketAddr::new(device, upnp::SSDP_PORT),
                    search_timeout: SESSION_MAP_WAIT / 2,
                    request_timeout: SESSION_MAP_WAIT / 2,
                    lease,
                    stun_server: None,
                };
                let external = upnp::map_port(&config, local, undo).await?;
                Ok(SessionMapping {
                    method: "UPnP",
                    external,
                })
            }
        }
    };
    tokio::time::timeout(SESSION_MAP_WAIT, mapping)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "the gateway did not map the port within {:.1} s",
                SESSION_MAP_WAIT.as_secs_f64()
            ))
        })
}

/// Where and how to ask for a session's mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionGateway {
    /// PCP, or NAT-PMP, at the gateway's port 5351.
    PortControl {
        gateway: Ipv4Addr,
        protocol: PortControlProtocol,
    },
    /// UPnP IGD, searched for again by unicast SSDP at the device the
    /// check found.
    Upnp { device: IpAddr },
}

impl SessionGateway {
    /// The method the probe's check (`found`) showed working: one whose
    /// test mapping was made and not found unreachable (another NAT beyond
    /// the gateway makes a mapping useless), PCP / NAT-PMP before UPnP.
    pub fn from_report(found: &PortMappingReport) -> Option<Self> {
        let usable = |status| matches!(status, MappingStatus::Works | MappingStatus::Unverified);
        if usable(found.pcp.status)
            && let (Some(IpAddr::V4(gateway)), Some(protocol)) = (found.gateway, found.pcp.protocol)
        {
            return Some(Self::PortControl { gateway, protocol });
        }
        if usable(found.upnp.status)
            && let Some(device) = &found.upnp.device
        {
            return Some(Self::Upnp {
                device: device.address.ip(),
            });
        }
        None
    }
}
