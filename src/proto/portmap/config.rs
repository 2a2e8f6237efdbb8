//! What a [`PortMapper`](super::PortMapper) is asked to do, and when it
//! must give up.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use super::SERVER_PORT;
use super::pcp::Nonce;

/// When to send and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The first retransmission interval; each later one doubles.
    pub rto: Duration,
    /// PCP requests sent before PCP is given up on.
    pub pcp_transmissions: u32,
    /// How long PCP may go unanswered before NAT-PMP is tried.
    pub pcp_wait: Duration,
    /// The whole exchange ends this long after the start.
    pub deadline: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            rto: Duration::from_millis(250),
            pcp_transmissions: 3,
            pcp_wait: Duration::from_millis(1100),
            deadline: Duration::from_secs(2),
        }
    }
}

/// The longest budget accepted, so that no instant arithmetic can overflow.
const MAX_BUDGET: Duration = Duration::from_secs(3600);

/// The default lifetime: short, so that a mapping a crashed check leaves
/// behind expires soon.
pub const DEFAULT_LIFETIME: u32 = 120;

/// What to map, where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapConfig {
    /// The default gateway; the server is its port 5351.
    pub gateway: Ipv4Addr,
    /// This host's address towards the gateway, for PCP's client field.
    pub client: Ipv4Addr,
    /// The local UDP port to map.
    pub internal_port: u16,
    /// 0 lets the gateway choose.
    pub suggested_external_port: u16,
    /// Seconds asked for.
    pub lifetime: u32,
    /// PCP's mapping nonce, chosen at random by the caller; deleting needs
    /// the same one.
    pub nonce: Nonce,
    pub timing: Timing,
}

impl PortMapConfig {
    /// Default timing and lifetime, and no preference for the external port.
    pub fn new(gateway: Ipv4Addr, client: Ipv4Addr, internal_port: u16, nonce: Nonce) -> Self {
        Self {
            gateway,
            client,
            internal_port,
            suggested_external_port: 0,
            lifetime: DEFAULT_LIFETIME,
            nonce,
            timing: Timing::default(),
        }
    }

    /// The gateway's PCP / NAT-PMP endpoint.
    pub fn server(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.gateway, SERVER_PORT))
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let unusable = |ip: Ipv4Addr| ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast();
        if unusable(self.gateway) {
            return Err(ConfigError::BadGateway(self.gateway));
        }
        if unusable(self.client) {
            return Err(ConfigError::BadClient(self.client));
        }
        if self.internal_port == 0 {
            return Err(ConfigError::InternalPortZero);
        }
        let t = &self.timing;
        if t.rto.is_zero() || t.pcp_transmissions == 0 {
            return Err(ConfigError::BadTiming(
                "rto and pcp_transmissions must not be 0",
            ));
        }
        if t.deadline > MAX_BUDGET || t.pcp_wait > t.deadline {
            return Err(ConfigError::BadTiming("pcp_wait ≤ deadline ≤ 1 h"));
        }
        Ok(())
    }
}

/// A configuration the machine cannot run.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("gateway {0} is not a unicast address")]
    BadGateway(Ipv4Addr),
    #[error("client address {0} is not a unicast address")]
    BadClient(Ipv4Addr),
    #[error(
        "internal port 0 would mean every port (PCP) or every mapping (NAT-PMP); \
         give the port of the socket to map"
    )]
    InternalPortZero,
    #[error("lifetime 0 would delete the mapping; use PortMapper::delete for that")]
    LifetimeZero,
    #[error("bad timing: {0}")]
    BadTiming(&'static str),
}
