//! Where the responder listens: its two addresses × two ports (RFC 5780 §3).

use std::net::{IpAddr, SocketAddr};

use super::super::attributes::ChangeRequest;

/// Where the responder listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponderConfig {
    /// The primary address and port.
    pub primary: SocketAddr,
    /// The alternate address and port (RFC 5780 §3); `None` runs in basic mode,
    /// with no OTHER-ADDRESS and no CHANGE-REQUEST.
    pub alternate: Option<SocketAddr>,
}

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "the alternate address {alternate} must differ from the primary {primary} in both IP and port"
    )]
    NotDistinct {
        primary: SocketAddr,
        alternate: SocketAddr,
    },
    #[error("the primary {primary} and alternate {alternate} addresses must be of one family")]
    MixedFamilies {
        primary: SocketAddr,
        alternate: SocketAddr,
    },
}

impl ResponderConfig {
    /// Checks the RFC 5780 §3 requirements on the two endpoints.
    pub fn new(primary: SocketAddr, alternate: Option<SocketAddr>) -> Result<Self, ConfigError> {
        if let Some(alternate) = alternate {
            if primary.is_ipv4() != alternate.is_ipv4() {
                return Err(ConfigError::MixedFamilies { primary, alternate });
            }
            if primary.ip() == alternate.ip() || primary.port() == alternate.port() {
                return Err(ConfigError::NotDistinct { primary, alternate });
            }
        }
        Ok(Self { primary, alternate })
    }

    /// Every local endpoint the server must listen on: one in basic mode,
    /// four in full mode.
    pub fn endpoints(&self) -> Vec<SocketAddr> {
        match self.alternate {
            None => vec![self.primary],
            Some(alt) => vec![
                self.primary,
                SocketAddr::new(self.primary.ip(), alt.port()),
                SocketAddr::new(alt.ip(), self.primary.port()),
                alt,
            ],
        }
    }

    /// The endpoint a response leaves from when a request that arrived on
    /// `local` asks for the given changes; `None` in basic mode.
    pub(super) fn changed(&self, local: SocketAddr, change: ChangeRequest) -> Option<SocketAddr> {
        let alt = self.alternate?;
        let other_ip = |ip: IpAddr| {
            if ip == alt.ip() {
                self.primary.ip()
            } else {
                alt.ip()
            }
        };
        let other_port = |port: u16| {
            if port == alt.port() {
                self.primary.port()
            } else {
                alt.port()
            }
        };
        let ip = if change.change_ip {
            other_ip(local.ip())
        } else {
            local.ip()
        };
        let port = if change.change_port {
            other_port(local.port())
        } else {
            local.port()
        };
        Some(SocketAddr::new(ip, port))
    }
}
