//! NAT behaviour over TCP in the report (RFC 5382), apart from UDP's:
//! measured only with `ranat probe --tcp`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::proto::nat::{MappingBehavior, SimultaneousOpen, TcpAnswer, TcpMappingOutcome};

/// One family's TCP findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TcpBehavior {
    /// The server asked over TCP ("ip:port").
    pub server: String,
    /// The local endpoint every connection came from ("ip:port").
    pub local_address: Option<String>,
    /// The public endpoint the server saw on the first connection.
    pub mapped_address: Option<String>,
    /// Tests I–III of RFC 5780 §4.3 over TCP, those that ran.
    pub tests: Vec<TcpTest>,
    /// No NAT on TCP: the server saw the local endpoint.
    pub no_nat: bool,
    /// RFC 4787 terms, applied to TCP as RFC 5382 §4.1 does; `None` with no
    /// NAT or too few answers.
    pub mapping: Option<MappingBehavior>,
    /// Whether the NAT kept the local port on every connection.
    pub port_preservation: Option<bool>,
    /// Whether a simultaneous-open TCP punch could work, judged from the
    /// mapping (not tried).
    pub simultaneous_open: SimultaneousOpenVerdict,
    /// Why a figure is missing or what limits it.
    pub notes: Vec<String>,
}

/// One connection and what it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TcpTest {
    /// The server endpoint connected to ("ip:port").
    pub server: String,
    /// The mapped address in the answer, if one came.
    pub mapped_address: Option<String>,
    /// Why there is none.
    pub error: Option<String>,
}

/// [`SimultaneousOpen`] in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SimultaneousOpenVerdict {
    /// The public endpoint toward a peer is known in advance.
    Possible,
    /// The public port toward a peer cannot be known.
    Unlikely,
    /// Not enough was measured.
    Unknown,
}

impl TcpBehavior {
    pub fn from_outcome(server: std::net::SocketAddr, outcome: &TcpMappingOutcome) -> Self {
        let tests: Vec<TcpTest> = outcome
            .answers
            .iter()
            .map(|answer| match answer {
                TcpAnswer::Mapped { server, mapped } => TcpTest {
                    server: server.to_string(),
                    mapped_address: Some(mapped.to_string()),
                    error: None,
                },
                TcpAnswer::NoConnection { server } => TcpTest {
                    server: server.to_string(),
                    mapped_address: None,
                    error: Some("no connection (refused, reset or no answer)".to_string()),
                },
                TcpAnswer::NoAnswer { server, why } => TcpTest {
                    server: server.to_string(),
                    mapped_address: None,
                    error: Some(why.clone()),
                },
            })
            .collect();
        Self {
            server: server.to_string(),
            local_address: outcome.local.map(|l| l.to_string()),
            mapped_address: tests.first().and_then(|t| t.mapped_address.clone()),
            tests,
            no_nat: outcome.no_nat,
            mapping: outcome.mapping,
            port_preservation: outcome.port_preserved,
            simultaneous_open: match outcome.simultaneous_open {
                SimultaneousOpen::Possible => SimultaneousOpenVerdict::Possible,
                SimultaneousOpen::Unlikely => SimultaneousOpenVerdict::Unlikely,
                SimultaneousOpen::Unknown => SimultaneousOpenVerdict::Unknown,
            },
            notes: outcome.notes.clone(),
        }
    }

    /// The findings in a line: "endpoint-independent, port preserved;
    /// simultaneous open possible".
    pub fn summary(&self) -> String {
        let mapping = match (self.no_nat, self.mapping) {
            (true, _) => "no NAT".to_string(),
            (false, Some(m)) => m.words().to_string(),
            (false, None) => "mapping unknown".to_string(),
        };
        let ports = match self.port_preservation {
            Some(true) => ", port preserved",
            Some(false) => ", port not preserved",
            None => "",
        };
        let open = match self.simultaneous_open {
            SimultaneousOpenVerdict::Possible => "possible",
            SimultaneousOpenVerdict::Unlikely => "unlikely",
            SimultaneousOpenVerdict::Unknown => "unknown",
        };
        format!("{mapping}{ports}; simultaneous open {open}")
    }
}
