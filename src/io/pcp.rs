//! The PCP / NAT-PMP check: runs the sans-IO [`PortMapper`] over a UDP
//! socket, proves the mapping end to end, and deletes it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::driver::Driver;
use super::reach;
use super::undo::UndoLog;
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
    let map_config = PortMapConfig {
        suggested_external_port: internal.port(),
        lifetime: u32::try_from(config.lease.as_secs())
            .unwrap_or(u32::MAX)
            .max(1),
        ..PortMapConfig::new(
            config.gateway,
            config.local,
            internal.port(),
            rand::random(),
        )
    };
    let granted: Arc<Mutex<Option<Mapping>>> = Arc::default();
    let key = {
        let granted = Arc::clone(&granted);
        undo.register(
            format!(
                "PCP / NAT-PMP mapping of UDP port {} on {}",
                internal.port(),
                config.gateway
            ),
            move || async move {
                let mapping = *granted.lock().unwrap_or_else(|e| e.into_inner());
                delete(map_config, mapping).await
            },
        )
    };
    let outcome = match PortMapper::new(map_config, Instant::now()) {
        Ok(machine) => run(machine).await,
        Err(e) => {
            undo.forget(key);
            return failed(format!("cannot ask for a mapping: {e}"));
        }
    };
    let mapping = match outcome {
        Ok(m) => m,
        Err(e) => {
            // Only an answer that may have come after the gateway acted
            // leaves something to undo.
            match e {
                PortMapError::MappingUnanswered { .. } | PortMapError::Malformed(_) => {
                    let _ = undo.run(key).await;
                }
                _ => undo.forget(key),
            }
            return refusal(e);
        }
    };
    *granted.lock().unwrap_or_else(|e| e.into_inner()) = Some(mapping);
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
        PortMapError::NoAnswer { .. } => (MappingStatus::NotFound, None, None),
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
