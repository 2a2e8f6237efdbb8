//! What the connection tests of `ranat ticket inspect --reach` mean for a
//! Remote Assistance helper on this machine: an expert's Remote
//! Assistance connects out to one of the novice's listeners over TCP
//! ([MS-RAI] §1.3), so each endpoint that accepts is one the expert could
//! use; for the others, the kind of address and this machine's probe say
//! why not.

use super::family::FamilyStatus;
use super::teredo::TeredoReportState;
use super::ticket::{EndpointReach, RaVerdict, Reach, TcpOutcome, ThisMachine, TicketReport};
use crate::proto::ticket::AddressKind;

/// Why an endpoint of this kind is not tried at all, or `None` when it
/// is.
pub fn not_tried(kind: &AddressKind, address: &str) -> Option<String> {
    match kind {
        AddressKind::Ipv4Loopback | AddressKind::Ipv6Loopback => {
            Some("loopback: the novice's own machine; from here it would be this machine".into())
        }
        AddressKind::Ipv4Unusable | AddressKind::Ipv6Unusable => {
            Some("not a unicast address anyone can connect to".into())
        }
        AddressKind::Ipv6LinkLocal => Some(format!(
            "link-local: only on the novice's own link{}",
            address
                .split_once('%')
                .map(|(_, zone)| format!(
                    " (zone {zone} is the novice's interface, not one of this machine's)"
                ))
                .unwrap_or_default()
        )),
        _ => None,
    }
}

/// The test's outcome for one endpoint, in words.
pub fn explain(kind: &AddressKind, outcome: &TcpOutcome, here: Option<&ThisMachine>) -> String {
    match outcome {
        TcpOutcome::Connected { ms, .. } => {
            format!("accepted in {ms:.0} ms: a helper here can connect to it")
        }
        TcpOutcome::Refused { .. } => "a reset came back: nothing listens on this port there \
             (Remote Assistance was closed, or a router answers for a port it does not forward)"
            .into(),
        TcpOutcome::TimedOut | TcpOutcome::Failed { .. } => {
            let how = match outcome {
                TcpOutcome::Failed { error } => format!("failed at once ({error})"),
                _ => "no answer".into(),
            };
            format!("{how}: {}", unreached(kind, here))
        }
    }
}

/// Why an endpoint of this kind that did not answer is out of reach.
fn unreached(kind: &AddressKind, here: Option<&ThisMachine>) -> String {
    let ipv6_here = here.map(|h| h.ipv6);
    match kind {
        AddressKind::Ipv4Private | AddressKind::Ipv4LinkLocal => {
            "a private address of the novice's own network: only a helper on that network (or its VPN) reaches it".into()
        }
        AddressKind::Ipv4Cgnat => {
            "an address inside the novice's carrier-grade NAT: no one outside the carrier's network reaches it".into()
        }
        AddressKind::Ipv6UniqueLocal => {
            "a unique local IPv6 address (RFC 4193): only inside the novice's site".into()
        }
        AddressKind::Ipv4Public => {
            "the novice's NAT or firewall drops connections to this port (no port forwarding or UPnP mapping for it)".into()
        }
        AddressKind::Ipv6Global => match ipv6_here {
            Some(
                FamilyStatus::Unavailable
                | FamilyStatus::UdpBlocked
                | FamilyStatus::NoServer
                | FamilyStatus::DnsFailed,
            ) => {
                "this machine has no working IPv6 Internet access (its probe found none), so no IPv6 address is reachable from here".into()
            }
            _ => "the novice's IPv6 firewall drops unsolicited connections to it".into(),
        },
        AddressKind::Teredo { cone, .. } => {
            let novice = if *cone {
                "the novice qualified behind a cone NAT, so any Teredo peer can reach it"
            } else {
                "the novice is behind a restricted NAT: a peer reaches it only after a bubble through the novice's Teredo server"
            };
            let helper = match here.map(|h| h.teredo) {
                Some(TeredoReportState::Qualified) => {
                    "this machine qualifies as a Teredo client (its probe), so a Teredo interface here (miredo) could try it"
                }
                Some(TeredoReportState::Offline) => {
                    "this machine's probe could not qualify as a Teredo client, so Teredo is out of reach from here"
                }
                Some(TeredoReportState::Skipped) | None => {
                    "Windows reaches it only with Teredo on this side too (this machine's Teredo was not probed)"
                }
            };
            format!("Teredo needs a Teredo interface on this machine; {novice}; {helper}")
        }
        AddressKind::Name => "the name did not lead to a listening machine from here".into(),
        AddressKind::Ipv4Loopback
        | AddressKind::Ipv6Loopback
        | AddressKind::Ipv4Unusable
        | AddressKind::Ipv6Unusable
        | AddressKind::Ipv6LinkLocal => "not reachable from another machine".into(),
    }
}

/// The verdict over every endpoint's test.
pub fn verdict(report: &TicketReport, timeout_ms: u64, here: Option<ThisMachine>) -> Reach {
    let usable: Vec<String> = report
        .endpoints
        .iter()
        .filter(|e| e.reach.as_ref().is_some_and(EndpointReach::connected))
        .map(|e| endpoint_text(&e.address, e.port))
        .collect();
    let tried = report
        .endpoints
        .iter()
        .filter(|e| e.reach.as_ref().is_some_and(|r| r.outcome.is_some()))
        .count();
    let (verdict, summary) = if usable.is_empty() {
        let mut summary = format!(
            "Windows Remote Assistance would not connect from here: none of the {} offered endpoint(s) accepted a connection ({tried} tried).",
            report.endpoints.len()
        );
        if report.lh_ticket.is_some_and(|t| !t.decrypted) {
            summary.push_str(" The encrypted LHTICKET may offer more: give --password.");
        }
        summary.push_str(
            " ranat's own session (ranat invite / ranat assist) punches through NATs and falls back to the help desk's relay.",
        );
        (RaVerdict::DoesNotConnect, summary)
    } else {
        (
            RaVerdict::Connects,
            format!(
                "Windows Remote Assistance can connect from here, over {}.",
                usable.join(", ")
            ),
        )
    };
    Reach {
        verdict,
        timeout_ms,
        usable,
        summary,
        this_machine: here,
    }
}

/// `address:port`, with an IPv6 address bracketed.
pub fn endpoint_text(address: &str, port: u16) -> String {
    if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_names_the_novice_s_zone() {
        let why = not_tried(&AddressKind::Ipv6LinkLocal, "fe80::1%3").unwrap();
        assert!(why.contains("zone 3 is the novice's interface"), "{why}");
        assert_eq!(not_tried(&AddressKind::Ipv4Public, "192.0.2.1"), None);
    }

    #[test]
    fn an_unanswered_ipv6_address_is_blamed_on_the_side_without_ipv6() {
        let here = |ipv6| ThisMachine {
            ipv4: FamilyStatus::Ok,
            ipv6,
            teredo: TeredoReportState::Skipped,
            ipv4_public: None,
        };
        let without = explain(
            &AddressKind::Ipv6Global,
            &TcpOutcome::TimedOut,
            Some(&here(FamilyStatus::Unavailable)),
        );
        assert!(
            without.contains("this machine has no working IPv6"),
            "{without}"
        );
        let with = explain(
            &AddressKind::Ipv6Global,
            &TcpOutcome::TimedOut,
            Some(&here(FamilyStatus::Ok)),
        );
        assert!(with.contains("novice's IPv6 firewall"), "{with}");
    }
}
