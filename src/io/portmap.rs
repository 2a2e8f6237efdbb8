//! The port-mapping check: UPnP IGD and PCP / NAT-PMP side by side, each
//! bounded to about 2 s when nothing answers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::gateway::{default_gateway, route_source};
use super::undo::UndoLog;
use super::{pcp, upnp};
use crate::report::{PortControlReport, PortMappingReport, UpnpReport};

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
