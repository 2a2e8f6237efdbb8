//! The vocabulary of a prediction, which every method file speaks: the
//! methods, how each would fare, the verdict on one method, the headline of
//! an engine, and the whole prediction for a pair.

use serde::{Deserialize, Serialize};

/// A way two peers can reach each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
    /// Hole punching by many random probes (birthday paradox).
    BirthdayPunching,
    /// Teredo as RFC 4380 specifies it.
    TeredoRfc4380,
    /// Teredo with the RFC 6081 extensions (Windows 7 and later).
    TeredoRfc6081,
    /// Through ranat serve's relay.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    /// The best feasibility among the methods the engine uses.
    pub connects: Feasibility,
    /// The methods that would carry the session, best first.
    pub via: Vec<Method>,
    pub reason: String,
}

/// The whole prediction for a pair of peers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// One verdict per method, in [`Method::ALL`] order.
    pub methods: Vec<MethodVerdict>,
    /// Windows Remote Assistance 7 and later: same LAN, public IPv4, UPnP
    /// only, IPv6 without hole punching, Teredo with RFC 6081.
    pub windows_remote_assistance: Headline,
    /// ranat's engine: every method, with the relay as the fallback.
    pub ranat: Headline,
}

/// What a punch that tries plain hole punching and port prediction (not
/// birthday probing) should end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PunchExpectation {
    Connects,
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
    /// simulator run: it connects when plain punching works or port
    /// prediction works or is likely, and fails when both fail.
    pub fn punch_expectation(&self) -> PunchExpectation {
        let plain = self.feasibility(Method::HolePunching);
        let guessed = self.feasibility(Method::PortPrediction);
        if plain == Feasibility::Works
            || matches!(guessed, Feasibility::Works | Feasibility::Likely)
        {
            PunchExpectation::Connects
        } else if plain == Feasibility::Fails && guessed == Feasibility::Fails {
            PunchExpectation::Fails
        } else {
            PunchExpectation::Unknown
        }
    }
}
