//! The PCP / NAT-PMP check: runs the sans-IO [`PortMapper`] over a UDP
//! socket, proves the mapping end to end, and deletes it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::driver::Driver;
use super::reach;
use super::undo::{UndoKey, UndoLog};
use crate::proto::portmap::{
    Mapping, PortMapConfig, PortMapError, PortMapper, Protocol, RefusalCode,
};
use crate::report::{MappingStatus, PortControlProtocol, PortControlReport, TestMapping};

pub use crate::proto::portmap::SERVER_PORT;

/// What to map and how to test it.
#[derive(Debug, Clone, Copy)]
pub struct PcpConfig {
    pub gateway: Ipv4Addr,
    /// This host's address toward the gateway.
    pub local: Ipv4Addr,
    pub lease: Duration,
    /// The STUN server that tests the mapping from outside.
    pub stun_server: Option<SocketAddr>,
}

/// Runs the whole check; the deletion is registered in `undo` before the
/// mapping is asked for.
pub async fn check(config: PcpConfig, undo: &UndoLog) -> PortControlReport {
    let mut report = PortControlReport::skipped("");
    let failed = |detail: String| PortControlReport {
        status: MappingStatus::Failed,
        detail,
        ..PortControlReport::skipped("")
    };
    let socket = match UdpSocket::bind(SocketAddr::new(config.local.into(), 0)).await {
        Ok(s) => s,
        Err(e) => return failed(format!("could not open a local UDP socket: {e}")),
    };
    let internal = match socket.local_addr() {
        Ok(a) => a,
        Err(e) => return failed(format!("could not read the local socket's address: {e}")),
    };
    let map_config = map_config(config.gateway, config.local, internal.port(), config.lease);
    let machine = match PortMapper::new(map_config, Instant::now()) {
        Ok(machine) => machine,
        Err(e) => return failed(format!("cannot ask for a mapping: {e}")),
    };
    let (mapping, key) = match map(machine, map_config, undo).await {
        Ok(granted) => granted,
        Err(e) => return refusal(e),
    };
    let verification = reach::verify(socket, config.stun_server, mapping.external.port()).await;
    let deleted = undo.run(key).await;
    report.protocol = Some(protocol(mapping.protocol));
    report.external_address = Some(IpAddr::V4(*mapping.external.ip()));
    let test = TestMapping {
        internal,
        external: mapping.external.into(),
        lease_seconds: mapping.lifetime,
        conflicts: 0,
        verification,
        deleted: deleted.is_ok(),
        delete_error: deleted.err(),
    };
    report.status = MappingStatus::of(&test.verification);
    report.detail = format!(
        "{} mapped UDP {} → {}",
        protocol(mapping.protocol).name(),
        test.external,
        test.internal
    );
    report.mapping = Some(test);
    report
}

/// Maps UDP port `internal_port` of `local` on `gateway` for `lease`
/// (PCP's MAP opcode, RFC 6887 §11; NAT-PMP's UDP mapping request,
/// RFC 6886 §3.3, when the gateway speaks only that), the same external
/// port asked for; bounded by the mapper's deadline (2 s). The deletion
/// is registered in `undo` before the request goes out and stays there
/// for the caller to run.
pub async fn map_port(
    gateway: Ipv4Addr,
    local: Ipv4Addr,
    internal_port: u16,
    lease: Duration,
    undo: &UndoLog,
) -> Result<Mapping, String> {
    let config = map_config(gateway, local, internal_port, lease);
    let machine = PortMapper::new(config, Instant::now())
        .map_err(|e| format!("cannot ask for a mapping: {e}"))?;
    let (mapping, _) = map(machine, config, undo)
        .await
        .map_err(|e| e.to_string())?;
    Ok(mapping)
}

/// A request for `internal_port`'s own number outside, with a fresh nonce.
fn map_config(
    gateway: Ipv4Addr,
    local: Ipv4Addr,
    internal_port: u16,
    lease: Duration,
) -> PortMapConfig {
    PortMapConfig {
        suggested_external_port: internal_port,
        lifetime: u32::try_from(lease.as_secs()).unwrap_or(u32::MAX).max(1),
        ..PortMapConfig::new(gateway, local, internal_port, rand::random())
    }
}

/// Asks the gateway for the mapping `machine` (made from `config`) asks
/// for. Its deletion is registered in `undo` before the first request
/// goes out, and is left there, keyed, when the mapping is granted; a
/// failure that may have come after the gateway acted (no answer to the
/// mapping request, a malformed answer) runs it at once, any other
/// forgets it.
async fn map(
    machine: PortMapper,
    config: PortMapConfig,
    undo: &UndoLog,
) -> Result<(Mapping, UndoKey), PortMapError> {
    let granted: Arc<Mutex<Option<Mapping>>> = Arc::default();
    let key = {
        let granted = Arc::clone(&granted);
        undo.register(
            format!(
                "PCP / NAT-PMP mapping of UDP port {} on {}",
                config.internal_port, config.gateway
            ),
            move || async move {
                let mapping = *granted.lock().unwrap_or_else(|e| e.into_inner());
                delete(config, mapping).await
            },
        )
    };
    match run(machine).await {
        Ok(mapping) => {
            *granted.lock().unwrap_or_else(|e| e.into_inner()) = Some(mapping);
            Ok((mapping, key))
        }
        Err(e) => {
            // Only an answer that may have come after the gateway acted
            // leaves something to undo.
            match e {
                PortMapError::MappingUnanswered { .. } | PortMapError::Malformed(_) => {
                    let _ = undo.run(key).await;
                }
                _ => undo.forget(key),
            }
            Err(e)
        }
    }
}

/// Drives one exchange to its end over a fresh control socket (the mapped
/// socket itself stays silent until its end-to-end test).
async fn run(machine: PortMapper) -> Result<Mapping, PortMapError> {
    let mut driver = Driver::bind(machine)
        .await
        .map_err(|e| PortMapError::Malformed(format!("no UDP socket: {e}")))?;
    driver.run(None).await;
    match driver.machine().outcome() {
        Some(outcome) => outcome.clone(),
        None => Err(PortMapError::Malformed("the exchange stalled".into())),
    }
}

async fn delete(config: PortMapConfig, mapping: Option<Mapping>) -> Result<(), String> {
    let machine =
        PortMapper::delete(config, mapping.as_ref(), Instant::now()).map_err(|e| e.to_string())?;
    run(machine).await.map(|_| ()).map_err(|e| e.to_string())
}

fn protocol(p: Protocol) -> PortControlProtocol {
    match p {
        Protocol::Pcp => PortControlProtocol::Pcp,
        Protocol::NatPmp => PortControlProtocol::NatPmp,
    }
}

fn refusal(e: PortMapError) -> PortControlReport {
    let (status, protocol, code) = match &e {
        PortMapError::NoAnswer { .. } | PortMapError::PortUnreachable { .. } => {
            (MappingStatus::NotFound, None, None)
        }
        PortMapError::Refused(RefusalCode::Pcp(code)) => (
            MappingStatus::Refused,
            Some(PortControlProtocol::Pcp),
            Some(u16::from(code.code())),
        ),
        PortMapError::Refused(RefusalCode::NatPmp(code)) => (
            MappingStatus::Refused,
            Some(PortControlProtocol::NatPmp),
            Some(code.code()),
        ),
        PortMapError::AddressMismatch { .. } => (
            MappingStatus::Refused,
            Some(PortControlProtocol::Pcp),
            Some(12),
        ),
        PortMapError::NoCommonVersion { .. }
        | PortMapError::MappingUnanswered { .. }
        | PortMapError::Malformed(_) => (MappingStatus::Failed, None, None),
    };
    PortControlReport {
        status,
        protocol,
        error_code: code,
        detail: e.to_string(),
        ..PortControlReport::skipped("")
    }
}
