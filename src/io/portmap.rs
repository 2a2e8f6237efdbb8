//! The port-mapping check: UPnP IGD and PCP / NAT-PMP side by side, each
//! bounded to about 2 s when nothing answers, and over at once when the
//! gateway answers "port unreachable"; and a session's own mapping, made
//! with the method the check found working.

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
        gateway: (!explicit).then(|| SocketAddr::from((gateway, upnp::SSDP_PORT))),
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
        // The address the gateway knows this host by (PCP's client field,
        // UPnP's NewInternalClient): the socket's own, unless it is bound
        // to every address.
        let toward = match gateway {
            SessionGateway::PortControl { gateway, .. } => {
                SocketAddr::from((gateway, pcp::SERVER_PORT))
            }
            SessionGateway::Upnp { device } => SocketAddr::new(device, upnp::SSDP_PORT),
        };
        let client = match local.ip() {
            IpAddr::V4(ip) if !ip.is_unspecified() => ip,
            _ => match route_source(toward).await {
                Ok(IpAddr::V4(ip)) => ip,
                Ok(IpAddr::V6(_)) | Err(_) => {
                    return Err("no local IPv4 address routes to the gateway".into());
                }
            },
        };
        match gateway {
            SessionGateway::PortControl { gateway, protocol } => {
                let mapping = pcp::map_port(gateway, client, local.port(), lease, undo).await?;
                Ok(SessionMapping {
                    method: protocol.name(),
                    external: mapping.external.into(),
                })
            }
            SessionGateway::Upnp { device } => {
                let config = upnp::UpnpConfig {
                    local: client.into(),
                    ssdp_target: SocketAddr::new(device, upnp::SSDP_PORT),
                    gateway: None,
                    search_timeout: SESSION_MAP_WAIT / 2,
                    request_timeout: SESSION_MAP_WAIT / 2,
                    lease,
                    stun_server: None,
                };
                let internal = SocketAddr::from((client, local.port()));
                let external = upnp::map_port(&config, internal, undo).await?;
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

#[cfg(test)]
mod tests {
    //! Addresses: these tests use 127.0.94.0/24.

    use std::net::SocketAddrV4;

    use tokio::net::UdpSocket;

    use super::*;
    use crate::proto::portmap::testing::pcp_answer;
    use crate::report::{IgdDevice, TestMapping, Verification};

    /// Answers PCP MAP requests at `gateway`:5351 with `external` and the
    /// lifetime asked for, until `count` came or 5 s passed; returns them.
    async fn fake_pcp(
        gateway: Ipv4Addr,
        external: SocketAddrV4,
        count: usize,
    ) -> tokio::task::JoinHandle<Vec<Vec<u8>>> {
        let server = UdpSocket::bind((gateway, pcp::SERVER_PORT))
            .await
            .expect("bind the fake PCP server");
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut buf = [0u8; 1100];
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while seen.len() < count {
                let Ok(Ok((n, from))) =
                    tokio::time::timeout_at(deadline, server.recv_from(&mut buf)).await
                else {
                    break;
                };
                let request = buf[..n].to_vec();
                let lifetime = u32::from_be_bytes([request[4], request[5], request[6], request[7]]);
                let answer = pcp_answer(&request, 0, lifetime, external);
                let _ = server.send_to(&answer, from).await;
                seen.push(request);
            }
            seen
        })
    }

    /// The fields of a PCP MAP request (RFC 6887 §7.1, §11.1): requested
    /// lifetime, mapping nonce, internal port.
    fn map_fields(request: &[u8]) -> (u32, &[u8], u16) {
        assert_eq!(request[1], 1, "a MAP request: {request:?}");
        let lifetime = u32::from_be_bytes([request[4], request[5], request[6], request[7]]);
        let port = u16::from_be_bytes([request[40], request[41]]);
        (lifetime, &request[24..36], port)
    }

    #[tokio::test]
    async fn a_session_mapping_asks_for_the_sockets_port_and_the_undo_log_deletes_it() {
        let gateway = Ipv4Addr::new(127, 0, 94, 1);
        let external = SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 9), 40_123);
        let seen = fake_pcp(gateway, external, 2).await;
        let socket = UdpSocket::bind((Ipv4Addr::new(127, 0, 94, 2), 0))
            .await
            .expect("bind the session's socket");
        let local = socket.local_addr().expect("local address");
        let undo = UndoLog::default();
        let via = SessionGateway::PortControl {
            gateway,
            protocol: PortControlProtocol::Pcp,
        };
        let mapping = map_session_port(via, local, Duration::from_secs(300), &undo)
            .await
            .expect("mapped");
        assert_eq!(
            mapping,
            SessionMapping {
                method: "PCP",
                external: external.into(),
            }
        );
        let undone = undo.run_all().await;
        assert_eq!(undone.len(), 1, "{undone:?}");
        assert!(
            undone[0].0.contains(&local.port().to_string()),
            "{undone:?}"
        );
        assert_eq!(undone[0].1, Ok(()));
        let requests = seen.await.expect("the fake ran");
        assert_eq!(requests.len(), 2, "the mapping, then its deletion");
        let (lifetime, nonce, port) = map_fields(&requests[0]);
        assert_eq!((lifetime, port), (300, local.port()));
        let (deleted, delete_nonce, delete_port) = map_fields(&requests[1]);
        assert_eq!((deleted, delete_port), (0, local.port()));
        assert_eq!(nonce, delete_nonce, "RFC 6887 §15: the same nonce deletes");
    }

    #[tokio::test]
    async fn a_gateway_that_never_answers_fails_the_session_mapping_within_its_bound() {
        // Nothing listens at this gateway's port 5351.
        let via = SessionGateway::PortControl {
            gateway: Ipv4Addr::new(127, 0, 94, 3),
            protocol: PortControlProtocol::Pcp,
        };
        let local = SocketAddr::from((Ipv4Addr::new(127, 0, 94, 4), 40_000));
        let undo = UndoLog::default();
        let started = std::time::Instant::now();
        let mapped = map_session_port(via, local, Duration::from_secs(300), &undo).await;
        assert!(mapped.is_err(), "{mapped:?}");
        assert!(started.elapsed() < SESSION_MAP_WAIT + Duration::from_millis(500));
        // Nothing answered, so nothing was made and nothing is left to undo.
        assert!(undo.run_all().await.is_empty());
    }

    fn made(status: MappingStatus) -> Option<TestMapping> {
        status.mapped().then(|| TestMapping {
            internal: SocketAddr::from(([10, 0, 1, 2], 40_000)),
            external: SocketAddr::from(([203, 0, 113, 7], 40_000)),
            lease_seconds: 60,
            conflicts: 0,
            verification: Verification::NoServer,
            deleted: true,
            delete_error: None,
        })
    }

    fn found(pcp: MappingStatus, upnp: MappingStatus) -> PortMappingReport {
        let mut report = PortMappingReport::skipped("");
        report.gateway = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)));
        report.pcp.status = pcp;
        report.pcp.protocol = pcp.mapped().then_some(PortControlProtocol::NatPmp);
        report.pcp.mapping = made(pcp);
        report.upnp.status = upnp;
        report.upnp.device = Some(IgdDevice {
            address: SocketAddr::from(([10, 0, 1, 1], 5000)),
            description_path: "/rootDesc.xml".into(),
            service: "WANIPConnection:1".into(),
        });
        report.upnp.mapping = made(upnp);
        report
    }

    #[test]
    fn the_session_uses_pcp_or_nat_pmp_first_then_upnp_and_never_an_unreachable_mapping() {
        use MappingStatus::*;
        let port_control = Some(SessionGateway::PortControl {
            gateway: Ipv4Addr::new(10, 0, 1, 1),
            protocol: PortControlProtocol::NatPmp,
        });
        let upnp = Some(SessionGateway::Upnp {
            device: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
        });
        for (pcp_status, upnp_status, expected) in [
            (Works, Works, port_control),
            (Unverified, Works, port_control),
            (Unreachable, Works, upnp),
            (NotFound, Unverified, upnp),
            (Refused, Unreachable, None),
            (Skipped, Skipped, None),
        ] {
            assert_eq!(
                SessionGateway::from_report(&found(pcp_status, upnp_status)),
                expected,
                "PCP {pcp_status:?}, UPnP {upnp_status:?}"
            );
        }
    }
}
