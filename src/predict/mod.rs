//! Peer-pairing prediction: from two probe reports, a verdict per
//! connection method, and two headlines (Windows Remote Assistance 7+ and
//! ranat's own engine).
//!
//! Pure functions: no I/O, no clock. Every verdict follows from measured
//! fields of the reports; where a needed field was not measured the verdict
//! is [`Feasibility::Unknown`] unless every value the field could take gives
//! the same answer (then the answer is certain, not a guess).
//!
//! Sources: RFC 4787 (NAT behaviour), RFC 5128 (P2P across NATs: hole
//! punching §3.3, port prediction §3.5, peers behind a common NAT §3.2),
//! RFC 4380 (Teredo), RFC 6081 (Teredo extensions) and the connectivity
//! tables of `protocols.md` §5.

mod birthday;
mod guess;
mod ipv6;
mod matrix;
mod methods;
mod plan;
mod punch;
mod side;
mod teredo;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::report::ProbeReport;

pub use birthday::{
    BirthdayEstimate, OPEN_PORTS, PORT_SPACE, PROBES, PROBES_PER_SECOND,
    estimate as birthday_estimate, expected_probes, success_probability,
};
pub use matrix::{MatrixRow, NatProfile, matrix, synthetic_report};
pub use plan::{PunchPlan, punch_plan};

use side::{Peer, Role};

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
    fn refines(self) -> Option<Self> {
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

/// Predicts, method by method, whether `novice` and `helper` can connect.
pub fn predict(novice: &ProbeReport, helper: &ProbeReport) -> Prediction {
    let n = Peer::new(Role::Novice, novice);
    let h = Peer::new(Role::Helper, helper);
    let methods = vec![
        methods::same_lan(n, h),
        methods::public_ipv4(n, h),
        methods::port_mapping(n, h, methods::Protocols::All),
        ipv6::ipv6(n, h, ipv6::Engine::Ranat),
        punch::hole_punching(n, h),
        guess::port_prediction(n, h),
        guess::birthday_punching(n, h),
        teredo::rfc4380(n, h),
        teredo::rfc6081(n, h),
        methods::relay(),
    ];
    let windows = windows_headline(&methods, n, h);
    let ranat = ranat_headline(&methods);
    Prediction {
        methods,
        windows_remote_assistance: windows,
        ranat,
    }
}

/// Windows Remote Assistance 7+: it connects over TCP to an endpoint in its
/// invitation, so it uses only same-LAN, public IPv4, UPnP mappings (PCP
/// and NAT-PMP are not used by Windows), native IPv6 when a side accepts
/// unsolicited packets, and Teredo with the RFC 6081 extensions (shipped
/// since Windows Vista/7). It never punches holes itself.
fn windows_headline(methods: &[MethodVerdict], n: Peer, h: Peer) -> Headline {
    let pick = |m: Method| methods.iter().find(|v| v.method == m).cloned();
    let allowed: Vec<MethodVerdict> = [
        pick(Method::SameLan),
        pick(Method::PublicIpv4),
        Some(methods::port_mapping(n, h, methods::Protocols::UpnpOnly)),
        Some(ipv6::ipv6(n, h, ipv6::Engine::Windows)),
        pick(Method::TeredoRfc6081),
    ]
    .into_iter()
    .flatten()
    .collect();
    headline("Windows Remote Assistance", &allowed)
}

/// ranat: every direct method; when none works for sure, the relay
/// carries the session after the best direct attempts.
fn ranat_headline(methods: &[MethodVerdict]) -> Headline {
    let direct: Vec<MethodVerdict> = methods
        .iter()
        .filter(|v| v.method != Method::Relay)
        .cloned()
        .collect();
    let best = headline("ranat", &direct);
    if best.connects == Feasibility::Works {
        return best;
    }
    let mut via = best.via;
    via.push(Method::Relay);
    let reason = if via.len() == 1 {
        format!(
            "ranat connects through the relay: no direct path is open. {}",
            best.reason
        )
    } else {
        format!(
            "ranat connects: it tries {} first ({}), and the relay carries the session if that fails. {}",
            names(&via[..via.len() - 1]),
            best.connects.label(),
            best.reason
        )
    };
    Headline {
        connects: Feasibility::Works,
        via,
        reason,
    }
}

/// The best feasibility among `verdicts` and the methods at that level
/// (minus refinements of a method also at that level).
///
/// A same-LAN verdict that is unknown (a side's public address was not
/// measured) is set aside as a caveat in the reason rather than lifting the
/// headline to "unknown": whether two people share a LAN is something the
/// help desk knows, and every other verdict still stands on its own facts.
fn headline(engine: &str, verdicts: &[MethodVerdict]) -> Headline {
    let unmeasured_lan =
        |v: &&MethodVerdict| v.method == Method::SameLan && v.feasibility == Feasibility::Unknown;
    let caveat = verdicts
        .iter()
        .find(unmeasured_lan)
        .map_or(String::new(), |v| {
            format!(
                " Unless both are on one LAN, which could not be checked: {}",
                v.reason
            )
        });
    let judged: Vec<&MethodVerdict> = verdicts.iter().filter(|v| !unmeasured_lan(v)).collect();
    let Some(connects) = judged
        .iter()
        .map(|v| v.feasibility)
        .max_by_key(|f| f.rank())
    else {
        return Headline {
            connects: Feasibility::Unknown,
            via: Vec::new(),
            reason: format!("{engine}: nothing was measured.{caveat}"),
        };
    };
    if connects == Feasibility::Fails {
        let why: Vec<String> = judged
            .iter()
            .map(|v| format!("{}: {}", v.method.label(), v.reason))
            .collect();
        return Headline {
            connects,
            via: Vec::new(),
            reason: format!("{engine} finds no open path. {}{caveat}", why.join(" ")),
        };
    }
    let at_level: Vec<&MethodVerdict> = judged
        .into_iter()
        .filter(|v| v.feasibility == connects)
        .collect();
    let mut via: Vec<Method> = at_level
        .iter()
        .map(|v| v.method)
        .filter(|m| {
            m.refines()
                .is_none_or(|base| !at_level.iter().any(|v| v.method == base))
        })
        .collect();
    via.sort();
    let first = at_level
        .iter()
        .find(|v| via.first() == Some(&v.method))
        .map_or(String::new(), |v| v.reason.clone());
    let verb = match connects {
        Feasibility::Works => "connects",
        Feasibility::Likely => "likely connects",
        Feasibility::Unlikely => "is unlikely to connect, at best",
        _ => "may connect (not measured)",
    };
    Headline {
        connects,
        reason: format!("{engine} {verb} via {}: {first}{caveat}", names(&via)),
        via,
    }
}

fn names(methods: &[Method]) -> String {
    let labels: Vec<&str> = methods.iter().map(|m| m.label()).collect();
    labels.join(", ")
}
