//! The vocabulary of a prediction, which every method file speaks: the
//! methods, how each would fare, the verdict on one method, the headline of
//! an engine, and the whole prediction for a pair.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A way two peers can reach each other.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Both behind the same NAT: private addresses, or public ones through
    /// a hairpinning NAT (RFC 4787 REQ-9, RFC 5128 §3.2).
    SameLan,
    /// One side has a public IPv4 address without a filtering firewall.
    PublicIpv4,
    /// A UPnP IGD, PCP or NAT-PMP mapping on one side's gateway.
    PortMapping,
    /// Native IPv6 on both sides.
    Ipv6,
    /// UDP hole punching through a rendezvous (RFC 5128 §3.3).
    HolePunching,
    /// Hole punching to a predicted port (RFC 5128 §3.5).
    PortPrediction,
    /// Hole punching by many random probes (birthday paradox); analysed for
    /// information, not run by ranat's engine.
    BirthdayPunching,
    /// Teredo as RFC 4380 specifies it.
    TeredoRfc4380,
    /// Teredo with the RFC 6081 extensions (Windows 7 and later).
    TeredoRfc6081,
    /// Through the help desk's TURN relay (`ranat serve`), over UDP, or
    /// over TCP from a side whose UDP is blocked.
    Relay,
}

impl Method {
    /// Every method, in order of preference (most direct first).
    pub const ALL: [Self; 10] = [
        Self::SameLan,
        Self::PublicIpv4,
        Self::PortMapping,
        Self::Ipv6,
        Self::HolePunching,
        Self::PortPrediction,
        Self::BirthdayPunching,
        Self::TeredoRfc4380,
        Self::TeredoRfc6081,
        Self::Relay,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::SameLan => "same LAN",
            Self::PublicIpv4 => "public IPv4",
            Self::PortMapping => "port mapping",
            Self::Ipv6 => "IPv6",
            Self::HolePunching => "UDP hole punching",
            Self::PortPrediction => "port prediction",
            Self::BirthdayPunching => "birthday punching",
            Self::TeredoRfc4380 => "Teredo (RFC 4380)",
            Self::TeredoRfc6081 => "Teredo (RFC 6081)",
            Self::Relay => "relay",
        }
    }

    /// The methods the live punch runs (`proto::punch`): checks between host
    /// and server-reflexive candidates (RFC 8445 §5.1.1, RFC 5128 §3.3),
    /// which also cover a public address, and predicted candidates for
    /// sequential and port-preserving allocators (RFC 5128 §3.5).
    pub const RANAT_PUNCH: [Self; 3] = [Self::PublicIpv4, Self::HolePunching, Self::PortPrediction];

    /// The direct methods of ranat's engine: the punch, port mapping, IPv6
    /// and a Teredo interface the host already has (RFC 4380; counted only
    /// when both sides have one). Not birthday punching, which the engine
    /// does not run, nor Teredo with the RFC 6081 extensions, which is
    /// Windows' client.
    pub fn in_ranat_engine(self) -> bool {
        matches!(
            self,
            Self::SameLan
                | Self::PublicIpv4
                | Self::PortMapping
                | Self::Ipv6
                | Self::HolePunching
                | Self::PortPrediction
                | Self::TeredoRfc4380
        )
    }

    /// The method this one refines: it is the same path with more tricks,
    /// so a headline names only the simpler one when both are at a level.
    pub(crate) fn refines(self) -> Option<Self> {
        match self {
            Self::PortPrediction | Self::BirthdayPunching => Some(Self::HolePunching),
            Self::TeredoRfc6081 => Some(Self::TeredoRfc4380),
            _ => None,
        }
    }
}

/// How a method would fare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Feasibility {
    Works,
    Likely,
    Unlikely,
    Fails,
    /// A field the verdict needs was not measured.
    Unknown,
}

impl Feasibility {
    /// The order a headline picks by: works, likely, unknown (it may
    /// work), unlikely, fails.
    pub fn rank(self) -> u8 {
        match self {
            Self::Works => 4,
            Self::Likely => 3,
            Self::Unknown => 2,
            Self::Unlikely => 1,
            Self::Fails => 0,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Works => "works",
            Self::Likely => "likely",
            Self::Unlikely => "unlikely",
            Self::Fails => "fails",
            Self::Unknown => "unknown",
        }
    }

    /// The feasibility as a verdict on a connection says it: a method
    /// that works "connects".
    pub fn verdict_word(self) -> &'static str {
        match self {
            Self::Works => "connects",
            other => other.label(),
        }
    }

    /// The worse of two parts that are both needed.
    pub(crate) fn and(self, other: Self) -> Self {
        if other.rank() < self.rank() {
            other
        } else {
            self
        }
    }
}

/// The verdict on one method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MethodVerdict {
    pub method: Method,
    pub feasibility: Feasibility,
    /// Why, in plain words, naming the side and the measured fact.
    pub reason: String,
    /// For birthday punching: the chance within the stated probe budget.
    pub success_probability: Option<f64>,
    /// For birthday punching: the expected time to connect, given success.
    pub expected_seconds: Option<f64>,
}

impl MethodVerdict {
    pub(crate) fn new(method: Method, feasibility: Feasibility, reason: impl Into<String>) -> Self {
        Self {
            method,
            feasibility,
            reason: reason.into(),
            success_probability: None,
            expected_seconds: None,
        }
    }
}

/// A headline verdict for one engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Headline {
    /// The best feasibility among the methods the engine uses; for a
    /// session only the relay can carry, the relay's.
    pub connects: Feasibility,
    /// The methods that would carry the session, best first; `[relay]`
    /// alone when no direct method can.
    pub via: Vec<Method>,
    pub reason: String,
    /// The verdict in a few words, as a cell of `ranat matrix` shows it.
    pub summary: String,
}

/// The whole prediction for a pair of peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Prediction {
    /// One verdict per method, in [`Method::ALL`] order.
    pub methods: Vec<MethodVerdict>,
    /// Windows Remote Assistance 7 and later: same LAN, public IPv4, UPnP
    /// only, IPv6 without hole punching, Teredo with RFC 6081.
    pub windows_remote_assistance: Headline,
    /// ranat's engine: the methods of [`Method::RANAT_PUNCH`] and the other
    /// direct ones it runs, with the relay as the fallback.
    pub ranat: Headline,
}

/// What the live punch (host, server-reflexive and predicted candidates,
/// no birthday probing) should end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PunchExpectation {
    Connects,
    /// It connects if a guess holds: a predicted port (RFC 5128 §3.5) can
    /// be spoilt by another mapping made in between.
    Likely,
    Fails,
    /// A verdict it rests on is unknown.
    Unknown,
}

impl Prediction {
    fn feasibility(&self, method: Method) -> Feasibility {
        self.methods
            .iter()
            .find(|v| v.method == method)
            .map_or(Feasibility::Unknown, |v| v.feasibility)
    }

    /// The outcome expected of the punch `ranat check --via` and the
    /// simulator run: the best verdict among [`Method::RANAT_PUNCH`], the
    /// methods the punch itself runs. ranat's headline rates the same
    /// verdicts, so a punch expected to connect is a direct path there, and
    /// one expected to fail leaves the session to the relay unless a
    /// method outside the punch (port mapping, IPv6, Teredo) opens.
    pub fn punch_expectation(&self) -> PunchExpectation {
        let best = Method::RANAT_PUNCH
            .iter()
            .map(|m| self.feasibility(*m))
            .max_by_key(|f| f.rank())
            .unwrap_or(Feasibility::Unknown);
        expectation(best)
    }

    /// The outcome expected of the session's punch (`ranat trial`,
    /// `invite`, `assist`), which checks both sides' IPv6 host candidates
    /// beside [`Self::punch_expectation`]'s: that expectation, raised to
    /// the IPv6 method's verdict where IPv6 is expected to connect. An
    /// IPv6 verdict that is unknown (IPv6 not measured) or negative leaves
    /// it as it is: those candidates can only add a path.
    pub fn session_punch_expectation(&self) -> PunchExpectation {
        let ipv4 = self.punch_expectation();
        match self.feasibility(Method::Ipv6) {
            Feasibility::Works => PunchExpectation::Connects,
            Feasibility::Likely if ipv4 != PunchExpectation::Connects => PunchExpectation::Likely,
            _ => ipv4,
        }
    }
}

fn expectation(best: Feasibility) -> PunchExpectation {
    match best {
        Feasibility::Works => PunchExpectation::Connects,
        Feasibility::Likely => PunchExpectation::Likely,
        Feasibility::Fails => PunchExpectation::Fails,
        Feasibility::Unlikely | Feasibility::Unknown => PunchExpectation::Unknown,
    }
}
