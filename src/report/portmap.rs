//! The port-mapping part of the report: UPnP IGD, PCP and NAT-PMP, each
//! with the test mapping it made, the proof that packets came in through
//! it, and its deletion.

use std::net::{IpAddr, SocketAddr};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the port-mapping check found on the local gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PortMappingReport {
    /// The IPv4 gateway the PCP / NAT-PMP requests went to (the default
    /// route's, unless `--gateway` named one).
    pub gateway: Option<IpAddr>,
    pub upnp: UpnpReport,
    /// PCP (RFC 6887), with NAT-PMP (RFC 6886) as its fallback.
    pub pcp: PortControlReport,
}

/// How a port-mapping method fared, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MappingStatus {
    /// A mapping was made and a packet from the STUN server came in through it.
    Works,
    /// A mapping was made, but no server could send a packet to it (no
    /// server, or the server does not honour RESPONSE-PORT).
    Unverified,
    /// A mapping was made, but nothing sent to it arrived: another NAT or a
    /// firewall sits beyond the gateway.
    Unreachable,
    /// The gateway speaks the protocol but refused the mapping.
    Refused,
    /// Something answered, but not in a way this check could use.
    Failed,
    /// Nothing answered.
    NotFound,
    /// Not run (`--no-portmap`, or no IPv4 gateway).
    Skipped,
}

impl MappingStatus {
    /// The status of a mapping that was made, from its end-to-end test.
    pub fn of(verification: &Verification) -> Self {
        match verification {
            Verification::Reached { .. } => Self::Works,
            Verification::NotReached { .. } => Self::Unreachable,
            Verification::ServerCannotTest { .. }
            | Verification::ServerSilent { .. }
            | Verification::NoServer => Self::Unverified,
        }
    }

    /// Whether a mapping could be made at all.
    pub fn mapped(self) -> bool {
        matches!(self, Self::Works | Self::Unverified | Self::Unreachable)
    }
}

/// The UPnP IGD check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UpnpReport {
    pub status: MappingStatus,
    /// The device that answered the SSDP search.
    pub device: Option<IgdDevice>,
    /// GetExternalIPAddress.
    pub external_address: Option<IpAddr>,
    /// GetStatusInfo's NewConnectionStatus, e.g. "Connected".
    pub connection_status: Option<String>,
    pub mapping: Option<TestMapping>,
    /// A UPnP error code behind a refusal (e.g. 606, 718, 725).
    pub error_code: Option<u16>,
    /// What happened, in words.
    pub detail: String,
}

/// An Internet Gateway Device found by SSDP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IgdDevice {
    /// Where its description was fetched from.
    pub address: SocketAddr,
    pub description_path: String,
    /// The WAN connection service it offers, e.g. `WANIPConnection:1`.
    pub service: String,
}

/// The PCP / NAT-PMP check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PortControlReport {
    pub status: MappingStatus,
    /// The protocol that answered: `pcp` or `nat_pmp`.
    pub protocol: Option<PortControlProtocol>,
    pub external_address: Option<IpAddr>,
    pub mapping: Option<TestMapping>,
    /// The result code behind a refusal.
    pub error_code: Option<u16>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PortControlProtocol {
    Pcp,
    NatPmp,
}

impl PortControlProtocol {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pcp => "PCP",
            Self::NatPmp => "NAT-PMP",
        }
    }
}

/// The short-lived UDP mapping a check made, tested and removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TestMapping {
    pub internal: SocketAddr,
    pub external: SocketAddr,
    /// The lease granted, in seconds (0 = permanent).
    pub lease_seconds: u32,
    /// Ports tried before one was free (UPnP 718 ConflictInMappingEntry).
    pub conflicts: u32,
    pub verification: Verification,
    /// Whether the deletion was confirmed by the gateway.
    pub deleted: bool,
    pub delete_error: Option<String>,
}

/// What the end-to-end test of a mapping saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verification {
    /// The STUN server's answer arrived through the mapping. `public` is the
    /// public address the server saw the request come from.
    Reached {
        server: SocketAddr,
        public: Option<SocketAddr>,
    },
    /// Nothing arrived through the mapping.
    NotReached { server: SocketAddr },
    /// The server does not send to another port (it ignored or refused
    /// RESPONSE-PORT, RFC 5780 §7.5), so the mapping was not tested.
    ServerCannotTest {
        server: SocketAddr,
        code: Option<u16>,
    },
    /// The server never answered this host at all (UDP blocked, or the
    /// server down), so its silence says nothing about the mapping.
    ServerSilent { server: SocketAddr },
    /// No IPv4 STUN server to test with.
    NoServer,
}

impl UpnpReport {
    pub fn skipped(why: impl Into<String>) -> Self {
        Self {
            status: MappingStatus::Skipped,
            device: None,
            external_address: None,
            connection_status: None,
            mapping: None,
            error_code: None,
            detail: why.into(),
        }
    }
}

impl PortControlReport {
    pub fn skipped(why: impl Into<String>) -> Self {
        Self {
            status: MappingStatus::Skipped,
            protocol: None,
            external_address: None,
            mapping: None,
            error_code: None,
            detail: why.into(),
        }
    }
}

impl PortMappingReport {
    pub fn skipped(why: &str) -> Self {
        Self {
            gateway: None,
            upnp: UpnpReport::skipped(why),
            pcp: PortControlReport::skipped(why),
        }
    }

    /// Turns "not reached" into "server silent" when the STUN probe found
    /// that `server` never answered this host: the mapping was not tested.
    pub fn discount_silent_server(&mut self, answered: impl Fn(SocketAddr) -> bool) {
        for (status, mapping) in [
            (&mut self.upnp.status, self.upnp.mapping.as_mut()),
            (&mut self.pcp.status, self.pcp.mapping.as_mut()),
        ] {
            let Some(mapping) = mapping else { continue };
            if let Verification::NotReached { server } = mapping.verification
                && !answered(server)
            {
                mapping.verification = Verification::ServerSilent { server };
                *status = MappingStatus::of(&mapping.verification);
            }
        }
    }

    /// The best working mapping: its method's name and external endpoint.
    pub fn best(&self) -> Option<(&'static str, &TestMapping)> {
        let pcp = self.pcp.protocol.map_or("PCP", PortControlProtocol::name);
        [
            ("UPnP", self.upnp.status, self.upnp.mapping.as_ref()),
            (pcp, self.pcp.status, self.pcp.mapping.as_ref()),
        ]
        .into_iter()
        .filter(|(_, status, _)| status.mapped())
        .min_by_key(|(_, status, _)| *status as u8)
        .and_then(|(name, _, m)| m.map(|m| (name, m)))
    }
}
