//! The UPnP IGD check, over igd-next: find the gateway by SSDP, read its
//! external address and connection status, map a fresh UDP port for a
//! minute, prove the mapping end to end, and delete it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use igd_next::aio::Provider;
use igd_next::aio::tokio::{Tokio, search_gateway};
use igd_next::{
    AddPortError, GetExternalIpError, PortMappingProtocol, RemovePortError, RequestError,
    SearchError, SearchOptions,
};
use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::reach;
use super::undo::UndoLog;
use crate::report::{IgdDevice, MappingStatus, TestMapping, UpnpReport};

type Gateway = igd_next::aio::Gateway<Tokio>;

/// Where and how long to look.
#[derive(Debug, Clone, Copy)]
pub struct UpnpConfig {
    /// The local address to search from and to map to.
    pub local: IpAddr,
    /// Where the M-SEARCH goes: the SSDP multicast group, or one gateway.
    pub ssdp_target: SocketAddr,
    /// The default gateway's SSDP port, searched directly beside the
    /// search at `ssdp_target` (the multicast group): it answers at once
    /// where a multicast answer may wait a random part of MX seconds (UPnP
    /// Device Architecture 1.1 §1.3.3), and a "port unreachable" from it
    /// ends the search.
    pub gateway: Option<SocketAddr>,
    /// How long to wait for a gateway to answer the search.
    pub search_timeout: Duration,
    /// How long one SOAP request may take.
    pub request_timeout: Duration,
    /// The lease asked for a mapping.
    pub lease: Duration,
    /// The STUN server that tests the check's mapping from outside.
    pub stun_server: Option<SocketAddr>,
}

/// The SSDP multicast group (UPnP Device Architecture 1.1 §1.3.2).
pub const SSDP_PORT: u16 = 1900;

/// The SSDP multicast group (UPnP Device Architecture 1.1 §1.3.2).
pub const SSDP_MULTICAST: SocketAddr = SocketAddr::new(
    IpAddr::V4(std::net::Ipv4Addr::new(239, 255, 255, 250)),
    SSDP_PORT,
);

/// UPnP's ConflictInMappingEntry: another port is tried this many times.
const CONFLICT_RETRIES: u32 = 3;

/// The NewPortMappingDescription of the probe's test mapping.
const TEST_DESCRIPTION: &str = "ranat probe test (removed after the test)";
/// The NewPortMappingDescription of a session's mapping.
const SESSION_DESCRIPTION: &str = "ranat session (removed at its end)";

/// Runs the whole check. The mapping's deletion is registered in `undo`
/// before it is requested, so an interrupted run still removes it.
pub async fn check(config: UpnpConfig, undo: &UndoLog) -> UpnpReport {
    let mut report = UpnpReport::skipped("");
    let gateway = match search(&config).await {
        Ok(g) => g,
        Err(e) => {
            report.status = MappingStatus::NotFound;
            report.detail = e;
            return report;
        }
    };
    report.device = Some(IgdDevice {
        address: gateway.addr,
        description_path: gateway.root_url.clone(),
        service: short_service(&gateway.service_type),
    });
    match timeout(config.request_timeout, gateway.get_external_ip()).await {
        Ok(Ok(ip)) => report.external_address = Some(ip),
        Ok(Err(GetExternalIpError::ActionNotAuthorized)) => report.error_code = Some(606),
        Ok(Err(GetExternalIpError::RequestError(e))) => report.error_code = error_code(&e),
        Err(_) => {}
    }
    report.connection_status = connection_status(&gateway, config.request_timeout).await;
    let socket = match UdpSocket::bind(SocketAddr::new(config.local, 0)).await {
        Ok(s) => s,
        Err(e) => {
            report.status = MappingStatus::Failed;
            report.detail = format!("could not open a local UDP socket: {e}");
            return report;
        }
    };
    let internal = match socket.local_addr() {
        Ok(a) => a,
        Err(e) => {
            report.status = MappingStatus::Failed;
            report.detail = format!("could not read the local socket's address: {e}");
            return report;
        }
    };
    let (mapping, key) =
        match add_mapping(&gateway, internal, &config, TEST_DESCRIPTION, undo).await {
            Ok(m) => m,
            Err(refusal) => {
                report.status = refusal.status;
                report.error_code = refusal.code;
                report.detail = refusal.detail;
                return report;
            }
        };
    let verification = reach::verify(socket, config.stun_server, mapping.external_port).await;
    let deleted = undo.run(key).await;
    let external_ip = report
        .external_address
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let test = TestMapping {
        internal,
        external: SocketAddr::new(external_ip, mapping.external_port),
        lease_seconds: mapping.lease,
        conflicts: mapping.conflicts,
        verification,
        deleted: deleted.is_ok(),
        delete_error: deleted.err(),
    };
    report.status = MappingStatus::of(&test.verification);
    // A refused GetExternalIPAddress does not make the mapping less real.
    report.error_code = None;
    report.detail = format!(
        "mapped UDP {} → {}{}",
        test.external,
        test.internal,
        if mapping.lease == 0 {
            " (the router only grants permanent leases, 725: deleted right after the test)"
        } else {
            ""
        }
    );
    report.mapping = Some(test);
    report
}

/// Maps `internal` (UDP) on the gateway `config` finds, for `config.lease`,
/// the same external port asked for first (UPnP IGD WANIPConnection:1
/// AddPortMapping, with its retries on 718 and 725), and returns the
/// external endpoint: GetExternalIPAddress's address and the port
/// granted. The deletion is registered in `undo` before the request goes
/// out and stays there for the caller to run.
pub async fn map_port(
    config: &UpnpConfig,
    internal: SocketAddr,
    undo: &UndoLog,
) -> Result<SocketAddr, String> {
    let gateway = search(config).await?;
    let external_ip = match timeout(config.request_timeout, gateway.get_external_ip()).await {
        Ok(Ok(ip)) if !ip.is_unspecified() => ip,
        Ok(Ok(_)) => return Err("the router has no external address (0.0.0.0)".into()),
        Ok(Err(e)) => {
            return Err(format!(
                "GetExternalIPAddress failed: {}",
                short(&e.to_string())
            ));
        }
        Err(_) => {
            return Err(format!(
                "GetExternalIPAddress got no answer within {:.1} s",
                config.request_timeout.as_secs_f64()
            ));
        }
    };
    let (added, _) = add_mapping(&gateway, internal, config, SESSION_DESCRIPTION, undo)
        .await
        .map_err(|refusal| refusal.detail)?;
    Ok(SocketAddr::new(external_ip, added.external_port))
}

/// Searches where `config` says. With a gateway beside a multicast search,
/// the gateway is asked first by a unicast M-SEARCH of its own: a
/// "port unreachable" ends the search at once, an answer starts igd-next's
/// unicast search there (answered at once), and the first device found
/// wins. One M-SEARCH only goes to a gateway without UPnP, so one ICMP
/// answer of the few a router sends per second is spent on it.
async fn search(config: &UpnpConfig) -> Result<Gateway, String> {
    let multicast = search_at(config, config.ssdp_target);
    let Some(gateway) = config.gateway else {
        return multicast.await;
    };
    // Outer error: the gateway refused, which ends the search.
    let direct = async {
        let asked = timeout(config.search_timeout, ask_gateway(config.local, gateway)).await;
        match asked {
            Ok(GatewaySsdp::Refused) => Err(format!(
                "the gateway {} answered \"port unreachable\" on the SSDP port {SSDP_PORT}: it \
                 runs no UPnP Internet Gateway Device",
                gateway.ip()
            )),
            Ok(GatewaySsdp::Answered) => Ok(search_at(config, gateway).await),
            Err(_) => Ok(Err(String::new())),
        }
    };
    tokio::pin!(multicast, direct);
    tokio::select! {
        found = &mut direct => match found {
            Err(refusal) => Err(refusal),
            Ok(Ok(gateway)) => Ok(gateway),
            Ok(Err(_)) => multicast.await,
        },
        found = &mut multicast => match found {
            Ok(gateway) => Ok(gateway),
            Err(why) => match direct.await {
                Ok(Ok(gateway)) => Ok(gateway),
                Err(refusal) => Err(refusal),
                Ok(Err(_)) => Err(why),
            },
        },
    }
}

/// What a gateway made of a unicast M-SEARCH.
#[derive(Debug, PartialEq, Eq)]
enum GatewaySsdp {
    /// An ICMP "port unreachable": nothing listens on its SSDP port.
    Refused,
    /// Any datagram back: something listens.
    Answered,
}

/// Sends `gateway` a unicast M-SEARCH (UPnP Device Architecture 1.1
/// §1.3.2) on a connected socket, so that the kernel reports a refusal;
/// never completes when nothing comes back at all.
async fn ask_gateway(local: IpAddr, gateway: SocketAddr) -> GatewaySsdp {
    let search = format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: {gateway}\r\nMAN: \"ssdp:discover\"\r\n\
         ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n"
    );
    let asked = async {
        let socket = UdpSocket::bind(SocketAddr::new(local, 0)).await.ok()?;
        socket.connect(gateway).await.ok()?;
        socket.send(search.as_bytes()).await.ok()?;
        let mut buf = [0; 2048];
        match socket.recv(&mut buf).await {
            Ok(_) => Some(GatewaySsdp::Answered),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                Some(GatewaySsdp::Refused)
            }
            Err(_) => None,
        }
    };
    match asked.await {
        Some(answer) => answer,
        None => std::future::pending().await,
    }
}

/// An igd-next search, its M-SEARCH sent to `target`; the error is a
/// sentence for the report.
async fn search_at(config: &UpnpConfig, target: SocketAddr) -> Result<Gateway, String> {
    let mut options = SearchOptions::default();
    options.bind_addr = SocketAddr::new(config.local, 0);
    options.broadcast_address = target;
    options.timeout = Some(config.search_timeout);
    options.single_search_timeout = Some(config.search_timeout);
    options.gateway_ip_version = igd_next::GatewayIpVersion::V4;
    // A gateway the user named is trusted even where igd-next would not
    // trust it by itself (a loopback address); multicast discovery keeps
    // igd-next's rule that the device's URLs use the responder's address.
    if target != SSDP_MULTICAST {
        options.allowed_gateway_ips = vec![target.ip()];
    }
    // A generous outer bound: igd-next also fetches the description and the
    // service description inside its own timeout.
    match timeout(
        config.search_timeout + config.request_timeout,
        search_gateway(options),
    )
    .await
    {
        Ok(Ok(gateway)) => Ok(gateway),
        Ok(Err(SearchError::NoResponseWithinTimeout)) | Err(_) => Err(format!(
            "no UPnP Internet Gateway Device answered within {:.1} s (UPnP is off, or the \
             device that answered offers no WAN connection service)",
            config.search_timeout.as_secs_f64()
        )),
        Ok(Err(e)) => Err(format!("UPnP discovery failed: {}", short(&e.to_string()))),
    }
}

struct Added {
    external_port: u16,
    lease: u32,
    conflicts: u32,
}

struct Refusal {
    status: MappingStatus,
    code: Option<u16>,
    detail: String,
}

/// AddPortMapping for `internal`: the same external port first, another
/// one on 718, a permanent lease on 725.
async fn add_mapping(
    gateway: &Gateway,
    internal: SocketAddr,
    config: &UpnpConfig,
    description: &str,
    undo: &UndoLog,
) -> Result<(Added, super::undo::UndoKey), Refusal> {
    let mut lease = u32::try_from(config.lease.as_secs())
        .unwrap_or(u32::MAX)
        .max(1);
    let mut external_port = internal.port();
    let mut conflicts = 0;
    loop {
        let key = register_delete(gateway, external_port, undo);
        let add = gateway.add_port(
            PortMappingProtocol::UDP,
            external_port,
            internal,
            lease,
            description,
        );
        let result = timeout(config.request_timeout, add).await;
        let error = match result {
            Ok(Ok(())) => {
                return Ok((
                    Added {
                        external_port,
                        lease,
                        conflicts,
                    },
                    key,
                ));
            }
            Ok(Err(e)) => e,
            Err(_) => {
                // The request may have been carried out: undo it anyway.
                let _ = undo.run(key).await;
                return Err(Refusal {
                    status: MappingStatus::Failed,
                    code: None,
                    detail: format!(
                        "AddPortMapping got no answer within {:.1} s",
                        config.request_timeout.as_secs_f64()
                    ),
                });
            }
        };
        // A parsed refusal means nothing was mapped; any other failure (a
        // reply cut off or unreadable) may have come after the router acted,
        // so the mapping is deleted to be sure (a 714 in answer is harmless).
        if maybe_mapped(&error) {
            let _ = undo.run(key).await;
        } else {
            undo.forget(key);
        }
        match error {
            AddPortError::PortInUse if conflicts < CONFLICT_RETRIES => {
                conflicts += 1;
                let taken = external_port;
                while external_port == taken || external_port == internal.port() {
                    external_port = rand::random_range(20_000..=60_000);
                }
            }
            AddPortError::OnlyPermanentLeasesSupported if lease != 0 => lease = 0,
            AddPortError::SamePortValuesRequired if external_port != internal.port() => {
                external_port = internal.port();
            }
            other => return Err(refusal(other, conflicts)),
        }
    }
}

fn register_delete(gateway: &Gateway, external_port: u16, undo: &UndoLog) -> super::undo::UndoKey {
    let gateway = gateway.clone();
    let what = format!(
        "UPnP mapping of UDP port {external_port} on {}",
        gateway.addr
    );
    undo.register(what, move || async move {
        match timeout(
            Duration::from_secs(2),
            gateway.remove_port(PortMappingProtocol::UDP, external_port),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(RemovePortError::NoSuchPortMapping)) => {
                Err("the router no longer knew the mapping (714 NoSuchEntryInArray)".into())
            }
            Ok(Err(e)) => Err(format!(
                "DeletePortMapping failed: {}",
                short(&e.to_string())
            )),
            Err(_) => Err("DeletePortMapping got no answer within 2 s".into()),
        }
    })
}

/// Whether a failed AddPortMapping may still have made the mapping: the
/// router answered, but not with a SOAP fault that says it did not.
fn maybe_mapped(error: &AddPortError) -> bool {
    matches!(
        error,
        AddPortError::RequestError(e)
            if !matches!(e, RequestError::ErrorCode(..) | RequestError::UnsupportedAction(_))
    )
}

fn refusal(error: AddPortError, conflicts: u32) -> Refusal {
    let (status, code, detail) = match error {
        AddPortError::ActionNotAuthorized => (
            MappingStatus::Refused,
            Some(606),
            "the router refuses port mappings (606 Action not authorized): UPnP is read-only \
             or limited to other clients"
                .to_string(),
        ),
        AddPortError::PortInUse => (
            MappingStatus::Refused,
            Some(718),
            format!("every port tried was taken (718 ConflictInMappingEntry, {conflicts} retries)"),
        ),
        AddPortError::OnlyPermanentLeasesSupported => (
            MappingStatus::Refused,
            Some(725),
            "the router refused even a permanent lease (725)".to_string(),
        ),
        AddPortError::SamePortValuesRequired => (
            MappingStatus::Refused,
            Some(724),
            "the router requires equal ports and still refused (724)".to_string(),
        ),
        AddPortError::DescriptionTooLong => (
            MappingStatus::Refused,
            Some(605),
            "the router refused the mapping's description as too long (605)".to_string(),
        ),
        AddPortError::RequestError(e) => {
            let code = error_code(&e);
            let status = if code.is_some() {
                MappingStatus::Refused
            } else {
                MappingStatus::Failed
            };
            (
                status,
                code,
                format!("AddPortMapping failed: {}", describe(&e)),
            )
        }
        AddPortError::InternalPortZeroInvalid | AddPortError::ExternalPortZeroInvalid => (
            MappingStatus::Failed,
            None,
            "port 0 cannot be mapped".to_string(),
        ),
    };
    Refusal {
        status,
        code,
        detail,
    }
}

/// GetStatusInfo's NewConnectionStatus, when the service offers the action.
async fn connection_status(gateway: &Gateway, limit: Duration) -> Option<String> {
    if !gateway.control_schema.contains_key("GetStatusInfo") {
        return None;
    }
    let url = if gateway.control_url.starts_with("http://") {
        gateway.control_url.clone()
    } else {
        format!("http://{}{}", gateway.addr, gateway.control_url)
    };
    let action = format!("\"{}#GetStatusInfo\"", gateway.service_type);
    let body = format!(
        "<?xml version=\"1.0\"?><s:Envelope s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\" \
         xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><u:GetStatusInfo xmlns:u=\"{}\">\
         </u:GetStatusInfo></s:Body></s:Envelope>",
        gateway.service_type
    );
    let text = timeout(limit, Tokio::send_async(&url, &action, &body))
        .await
        .ok()?
        .ok()?;
    let envelope = xmltree::Element::parse(text.as_bytes()).ok()?;
    let status = envelope
        .get_child("Body")?
        .get_child("GetStatusInfoResponse")?
        .get_child("NewConnectionStatus")?
        .get_text()?;
    let status = status.trim();
    (!status.is_empty() && status.len() <= 64).then(|| status.to_string())
}

fn error_code(e: &RequestError) -> Option<u16> {
    match e {
        RequestError::ErrorCode(code, _) => Some(*code),
        _ => None,
    }
}

/// A request error in words, without echoing a hostile device's whole reply.
fn describe(e: &RequestError) -> String {
    match e {
        RequestError::ErrorCode(code, text) => format!("UPnP error {code} {}", short(text)),
        RequestError::InvalidResponse(_) => {
            "the router's reply was not a valid SOAP response".into()
        }
        RequestError::UnsupportedAction(a) => format!("the router does not offer {}", short(a)),
        other => short(&other.to_string()),
    }
}

/// `urn:schemas-upnp-org:service:WANIPConnection:1` → `WANIPConnection:1`.
fn short_service(service_type: &str) -> String {
    let short = service_type
        .strip_prefix("urn:schemas-upnp-org:service:")
        .unwrap_or(service_type);
    self::short(short)
}

/// At most 120 characters of text that came from the network, on one line.
fn short(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    if text.chars().count() > 120 {
        format!("{line}…")
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_ssdp_port_is_a_refusal_and_an_answer_is_not() {
        let local = IpAddr::from([127, 0, 0, 1]);
        let closed = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let refused = timeout(Duration::from_secs(5), ask_gateway(local, closed)).await;
        assert_eq!(refused, Ok(GatewaySsdp::Refused));

        let device = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let at = device.local_addr().unwrap();
        let answering = async {
            let mut buf = [0; 2048];
            let (n, from) = device.recv_from(&mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"M-SEARCH * HTTP/1.1\r\n"));
            device
                .send_to(b"HTTP/1.1 200 OK\r\n\r\n", from)
                .await
                .unwrap();
        };
        let (answered, ()) = tokio::join!(
            timeout(Duration::from_secs(5), ask_gateway(local, at)),
            answering
        );
        assert_eq!(answered, Ok(GatewaySsdp::Answered));
    }
}
