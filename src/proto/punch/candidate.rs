//! Where a peer can be reached, and the credentials its checks carry.

use std::fmt;
use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a candidate address was learned (RFC 8445 §5.1.1, plus the two
/// NAT-traversal guesses of RFC 5128 §3.5, a gateway mapping and a Teredo
/// interface's address).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CandidateKind {
    /// The host's own address: reaches a peer on the same LAN, or anywhere
    /// over IPv6 a firewall lets through.
    Host,
    /// The address of a Teredo interface the host already has (RFC 4380
    /// §2.14, 2001:0::/32): IPv6 tunnelled over IPv4 UDP, tried last as
    /// RFC 6724 §2.1 ranks it below native IPv6 and IPv4.
    Teredo,
    /// The endpoint a STUN server saw (server-reflexive).
    ServerReflexive,
    /// A UPnP IGD, PCP or NAT-PMP mapping on the gateway.
    PortMapped,
    /// The next port a sequential or port-preserving NAT is expected to
    /// allocate toward the peer (RFC 5128 §3.5).
    Predicted,
    /// The source of a check that arrived from an endpoint the peer did not
    /// advertise (RFC 8445 §7.3.1.3).
    PeerReflexive,
    /// A random port of the peer's address, probed for the birthday
    /// paradox; never advertised.
    BirthdayProbe,
    /// An address a TURN relay allocated for the side (RFC 8656): reached
    /// through the relay, never by a check from a bare socket.
    Relayed,
}

impl CandidateKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Teredo => "teredo",
            Self::ServerReflexive => "server-reflexive",
            Self::PortMapped => "port mapping",
            Self::Predicted => "predicted port",
            Self::PeerReflexive => "peer-reflexive",
            Self::BirthdayProbe => "birthday probe",
            Self::Relayed => "relayed",
        }
    }
}

/// One address a peer advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Candidate {
    pub address: SocketAddr,
    pub kind: CandidateKind,
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.address, self.kind.label())
    }
}

/// A side's short-term credentials (RFC 8445 §5.3): a check to this side
/// carries USERNAME `ufrag_of_this_side:ufrag_of_sender` and a
/// MESSAGE-INTEGRITY keyed with this side's password (RFC 8489 §9.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub ufrag: String,
    pub pwd: String,
}

/// The ICE character set for ufrag and pwd (RFC 8839 §5.4 `ice-char`).
const ICE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl Credentials {
    /// Fresh credentials from `random` bytes: an 8-character ufrag and a
    /// 24-character password (RFC 8445 §5.3: at least 24 bits and 128 bits
    /// of randomness; 24 characters of a 64-symbol set carry 144 bits).
    pub fn generate(mut random: impl FnMut() -> u8) -> Self {
        let mut pick = |n: usize| -> String {
            (0..n)
                .map(|_| char::from(ICE_CHARS[usize::from(random() & 63)]))
                .collect()
        };
        let ufrag = pick(8);
        let pwd = pick(24);
        Self { ufrag, pwd }
    }

    /// Whether these are credentials a peer may send: RFC 8839 §5.4 limits
    /// ufrag to 4–256 and pwd to 22–256 `ice-char`s.
    pub fn is_valid(&self) -> bool {
        let ok = |s: &str, min: usize| {
            (min..=256).contains(&s.len()) && s.bytes().all(|b| ICE_CHARS.contains(&b))
        };
        ok(&self.ufrag, 4) && ok(&self.pwd, 22)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_are_valid_and_differ() {
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as u8
        };
        let a = Credentials::generate(&mut next);
        let b = Credentials::generate(&mut next);
        assert!(a.is_valid() && b.is_valid());
        assert_ne!(a, b);
        assert_eq!((a.ufrag.len(), a.pwd.len()), (8, 24));
    }

    #[test]
    fn hostile_credentials_are_refused() {
        let c = |u: &str, p: &str| Credentials {
            ufrag: u.into(),
            pwd: p.into(),
        };
        assert!(
            !c("abc", "0123456789012345678901").is_valid(),
            "short ufrag"
        );
        assert!(!c("abcd", "012345678901234567890").is_valid(), "short pwd");
        assert!(!c("ab:d", "0123456789012345678901").is_valid(), "colon");
        assert!(!c(&"a".repeat(257), "0123456789012345678901").is_valid());
        assert!(c("abcd", "0123456789012345678901").is_valid());
    }
}
