//! A server name that gave no address of one family, and why (an A or
//! AAAA lookup, RFC 3596).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::address_family::Family;

/// Why a server name gave no address of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DnsFailure {
    /// This host has no DNS server configured (no `nameserver` in
    /// `/etc/resolv.conf`).
    NoResolver,
    /// No DNS server answered in time, or none could be reached: offline,
    /// or DNS blocked (as before a captive portal's login).
    NoAnswer,
    /// The DNS server says the name does not exist (RCODE NXDOMAIN,
    /// RFC 1035 §4.1.1).
    NoSuchName,
    /// The name exists but has no address of this family: no A record
    /// (IPv4) or no AAAA record (IPv6, RFC 3596).
    NoAddress,
    /// The DNS server failed or refused the lookup (SERVFAIL, REFUSED, …).
    ServerFailure,
}

impl DnsFailure {
    /// Whether this says DNS itself does not work here, rather than that
    /// the name has no address of this family.
    pub fn is_dns_trouble(self) -> bool {
        self != Self::NoAddress
    }

    /// Why, in a few words, for a lookup of any family: "DNS gave no answer".
    pub fn summary(self) -> &'static str {
        match self {
            Self::NoResolver => "no DNS server is configured",
            Self::NoAnswer => "DNS gave no answer",
            Self::NoSuchName => "DNS says the name does not exist",
            Self::NoAddress => "the name has no address",
            Self::ServerFailure => "the DNS server failed or refused the lookup",
        }
    }

    /// Why, in a few words, for a lookup in `family`: "no address (DNS gave
    /// no answer to the A lookup)".
    pub fn words(self, family: Family) -> String {
        let record = family.record_type();
        match self {
            Self::NoResolver => "no address (no DNS server is configured)".to_string(),
            Self::NoAnswer => format!("no address (DNS gave no answer to the {record} lookup)"),
            Self::NoSuchName => "no address (DNS says the name does not exist)".to_string(),
            Self::NoAddress => format!(
                "no {} address (the name has no {record} record)",
                family.name()
            ),
            Self::ServerFailure => {
                format!("no address (the DNS server failed or refused the {record} lookup)")
            }
        }
    }
}

/// A server name that gave no address of one family, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnresolvedServer {
    /// The server as given: `host` or `host:port`.
    pub server: String,
    pub reason: DnsFailure,
}

impl UnresolvedServer {
    /// One short line: "stun.example.org: no address (DNS gave no answer
    /// to the A lookup)".
    pub fn line(&self, family: Family) -> String {
        format!("{}: {}", self.server, self.reason.words(family))
    }
}
