//! What a qualification run showed, and the verdict drawn from it.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::address::TeredoAddress;
use super::config::QualificationConfig;
use super::probe::{InvalidAnswer, ProbeEnd};

/// The client state a Teredo client would end in (RFC 4380 §5.2.1; the
/// names `netsh interface teredo show state` prints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeredoState {
    /// The server answered: the client has a mapping and a Teredo address.
    Qualified,
    /// No valid answer at all: UDP to port 3544 blocked, or no server.
    Offline,
}

/// The NAT type as Teredo sees it (RFC 4380 §5.2.1). Teredo does not tell
/// address-restricted from port-restricted NATs apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TeredoNat {
    /// The answer from the server's other address came in:
    /// endpoint-independent filtering.
    Cone,
    /// One mapping for both server addresses, filtered.
    Restricted,
    /// A different mapping per server address.
    Symmetric,
    /// Not measured: no answer, or the secondary address never answered.
    Unknown,
}

/// Everything a qualification run showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualificationOutcome {
    pub state: TeredoState,
    pub nat: TeredoNat,
    pub primary: SocketAddrV4,
    pub secondary: SocketAddrV4,
    /// Whether any valid answer came from the secondary address (the cone
    /// answer or the secondary probe's).
    pub secondary_answered: bool,
    /// The local endpoint of the socket whose mapping is
    /// `external_mapping`: what Windows prints as "Local Mapping".
    pub local_mapping: Option<SocketAddr>,
    /// The mapping a client would embed in its address: the primary's
    /// origin indication (O1), or the cone socket's when only that came.
    pub external_mapping: Option<SocketAddrV4>,
    /// The restricted socket's mapping as the primary saw it (O1).
    pub mapping_via_primary: Option<SocketAddrV4>,
    /// The same socket's mapping as the secondary saw it (O2).
    pub mapping_via_secondary: Option<SocketAddrV4>,
    /// The cone socket's mapping, when its answer came through.
    pub cone_mapping: Option<SocketAddrV4>,
    /// `Some(false)` when the mapping equals the local endpoint.
    pub behind_nat: Option<bool>,
    /// The address an RFC 4380 client would take: the advertised prefix,
    /// the cone flag only when the NAT is cone, and `external_mapping`.
    /// RFC 5991 clients would also set 12 random flag bits (mask 0x3CFF).
    pub teredo_address: Option<TeredoAddress>,
    /// The advertised /64.
    pub prefix: Option<Ipv6Addr>,
    /// The advertised MTU.
    pub mtu: Option<u32>,
    /// Whether a plain RFC 4380 client qualifies: yes behind cone and
    /// restricted NATs, no behind symmetric ones or off-line; `None` when
    /// the secondary address never answered (see the notes).
    pub rfc4380_qualifies: Option<bool>,
    /// Round trip of the primary (else the cone) answer.
    pub rtt: Option<Duration>,
    /// Datagrams ignored as invalid.
    pub invalid_answers: u32,
    /// The last of them, as evidence.
    pub last_invalid: Option<InvalidAnswer>,
    /// Plain-language reasons for anything missing or odd.
    pub notes: Vec<String>,
}

impl QualificationOutcome {
    /// The mapped port each server address reported for the restricted
    /// socket.
    pub fn mapped_ports(&self) -> [(SocketAddrV4, Option<u16>); 2] {
        [
            (self.primary, self.mapping_via_primary.map(|m| m.port())),
            (self.secondary, self.mapping_via_secondary.map(|m| m.port())),
        ]
    }
}

/// The raw results the verdict is drawn from.
pub(super) struct Evidence<'a> {
    pub config: &'a QualificationConfig,
    pub cone: ProbeEnd,
    pub primary: ProbeEnd,
    pub secondary: ProbeEnd,
    pub cone_local: Option<SocketAddr>,
    pub restricted_local: Option<SocketAddr>,
    pub invalid: u32,
    pub last_invalid: Option<InvalidAnswer>,
    /// The server answered the cone solicitation from the primary address.
    pub cone_from_primary: bool,
    /// How long the cone test waited, from its first solicitation.
    pub cone_waited: Option<Duration>,
    pub cut_short: bool,
}

impl Evidence<'_> {
    pub fn conclude(self) -> QualificationOutcome {
        let cone = self.cone.answer();
        let o1 = self.primary.answer();
        let o2 = self.secondary.answer();
        let nat = match (cone, o1, o2) {
            (Some(_), _, _) => TeredoNat::Cone,
            (None, Some(a), Some(b)) if a.ra.mapped == b.ra.mapped => TeredoNat::Restricted,
            (None, Some(_), Some(_)) => TeredoNat::Symmetric,
            _ => TeredoNat::Unknown,
        };
        let state = if cone.is_some() || o1.is_some() {
            TeredoState::Qualified
        } else {
            TeredoState::Offline
        };
        let rfc4380_qualifies = match (state, nat) {
            (TeredoState::Offline, _) | (_, TeredoNat::Symmetric) => Some(false),
            (_, TeredoNat::Cone | TeredoNat::Restricted) => Some(true),
            (_, TeredoNat::Unknown) => None,
        };
        // The answer whose mapping a client would keep, and its socket.
        let (chosen, local_mapping) = match (o1, cone) {
            (Some(a), _) => (Some(a), self.restricted_local),
            (None, Some(c)) => (Some(c), self.cone_local),
            (None, None) => (None, None),
        };
        let external_mapping = chosen.map(|a| a.ra.mapped);
        let flags = TeredoAddress::rfc4380_flags(nat == TeredoNat::Cone);
        let notes = self.notes(nat);
        QualificationOutcome {
            state,
            nat,
            primary: self.config.primary,
            secondary: self.config.secondary,
            secondary_answered: cone.is_some() || o2.is_some(),
            local_mapping,
            external_mapping,
            mapping_via_primary: o1.map(|a| a.ra.mapped),
            mapping_via_secondary: o2.map(|a| a.ra.mapped),
            cone_mapping: cone.map(|a| a.ra.mapped),
            behind_nat: match (local_mapping, external_mapping) {
                (Some(l), Some(m)) => Some(l != SocketAddr::V4(m)),
                _ => None,
            },
            teredo_address: chosen.map(|a| a.ra.teredo_address(flags)),
            prefix: chosen.map(|a| a.ra.prefix),
            mtu: chosen.and_then(|a| a.ra.mtu),
            rfc4380_qualifies,
            rtt: o1.or(cone).map(|a| a.rtt),
            invalid_answers: self.invalid,
            last_invalid: self.last_invalid.clone(),
            notes,
        }
    }

    fn notes(&self, nat: TeredoNat) -> Vec<String> {
        let (primary, secondary) = (self.config.primary, self.config.secondary);
        let o1 = self.primary.answer().map(|a| a.ra.mapped);
        let o2 = self.secondary.answer().map(|a| a.ra.mapped);
        let mut notes = Vec::new();
        if self.cut_short
            && [&self.cone, &self.primary, &self.secondary].contains(&&ProbeEnd::Running)
        {
            notes.push(format!(
                "the time limit ended the Teredo tests against {primary} before all were answered"
            ));
        }
        match (nat, o1, o2) {
            (TeredoNat::Unknown, None, _) if self.primary == ProbeEnd::Refused => {
                notes.push(format!(
                    "the Teredo server {primary} answered \"port unreachable\": no Teredo \
                     server runs there"
                ))
            }
            (TeredoNat::Unknown, Some(_), None) if self.secondary == ProbeEnd::Refused => notes
                .push(format!(
                    "the server's secondary address {secondary} answered \"port \
                     unreachable\": no Teredo server listens there, so restricted and \
                     symmetric NAT cannot be told apart"
                )),
            (TeredoNat::Unknown, None, _) if !self.cut_short => notes.push(format!(
                "no valid answer from the Teredo server {primary} within {:.1} s: UDP to \
                 port {} is blocked on the way, or no Teredo server runs there",
                self.config.schedule.give_up_after().as_secs_f64(),
                primary.port()
            )),
            (TeredoNat::Unknown, Some(_), None) if self.secondary == ProbeEnd::TimedOut => notes
                .push(format!(
                    "the server's secondary address {secondary} never answered, so restricted \
                     and symmetric NAT cannot be told apart. An RFC 4380 client needs that \
                     answer to finish qualifying (miredo before 1.1.0 retries and stays \
                     off-line); clients that dropped the check (miredo 1.1.0 and later) qualify"
                )),
            (TeredoNat::Symmetric, Some(a), Some(b)) => notes.push(format!(
                "the NAT maps one socket to {a} toward {primary} and to {b} toward \
                 {secondary}: symmetric NAT. An RFC 4380 client does not qualify; RFC 6081 \
                 clients (Windows 7 and later) keep the address anyway"
            )),
            (TeredoNat::Cone, Some(a), Some(b)) if a != b => notes.push(format!(
                "the cone test passed, yet the NAT maps one socket to {a} toward {primary} \
                 and to {b} toward {secondary}: filtering is open but the mapping depends \
                 on the destination, so peers may not reach the advertised mapping"
            )),
            _ => {}
        }
        if let (TeredoNat::Restricted | TeredoNat::Symmetric, ProbeEnd::TimedOut, Some(waited)) =
            (nat, &self.cone, self.cone_waited)
        {
            notes.push(format!(
                "the cone test got no answer from {secondary} within {:.2} s (paced by the \
                 measured round trip): the NAT drops what the server's other address sends",
                waited.as_secs_f64()
            ));
        }
        if self.cone_from_primary {
            notes.push(format!(
                "the server answered the cone solicitation from {primary} instead of \
                 {secondary}: it does not run the cone test, so a cone NAT cannot show"
            ));
        }
        if let Some(last) = &self.last_invalid {
            notes.push(format!(
                "{} datagram(s) ignored as invalid; the last, from {}: {}",
                self.invalid, last.from, last.error
            ));
        }
        notes
    }
}
