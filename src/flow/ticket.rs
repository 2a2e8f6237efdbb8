//! `ranat ticket inspect`: read a Windows Remote Assistance ticket, open it
//! with its password, and (with `--reach`) try each endpoint it offers
//! from this machine, as an expert's Remote Assistance would.

use std::net::SocketAddr;
use std::time::Duration;

use crate::io::tcp_reach::{self, Target};
use crate::proto::ticket::{Ticket, TicketError, UnlockError, parse_address};
use crate::report::{
    EndpointReach, ProbeReport, TcpOutcome, ThisMachine, TicketReport, explain, not_tried,
    ticket_verdict,
};

/// The most endpoints tried at once; a real ticket offers under ten.
pub const MAX_TESTED: usize = 32;

/// Why a ticket could not be read or opened.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Ticket(#[from] TicketError),
    #[error(transparent)]
    Unlock(#[from] UnlockError),
}

/// Reads a ticket's bytes and, given its password, opens it; `now` in
/// Unix seconds.
pub fn inspect(
    bytes: &[u8],
    password: Option<&str>,
    now: u64,
) -> Result<TicketReport, InspectError> {
    let ticket = Ticket::from_bytes(bytes)?;
    let unlocked = password.map(|p| ticket.unlock(p)).transpose()?;
    Ok(TicketReport::new(&ticket, unlocked.as_ref(), now))
}

/// One endpoint's test: its outcome, or why it was not tried.
pub type Tested = Result<TcpOutcome, String>;

/// Tries every endpoint of `report` that another machine could reach, all
/// at once, each for at most `timeout`.
pub async fn test_endpoints(report: &TicketReport, timeout: Duration) -> Vec<Tested> {
    let mut plans: Vec<Result<Target, String>> = Vec::new();
    for e in &report.endpoints {
        let plan = match not_tried(&e.kind, &e.address) {
            Some(why) => Err(why),
            None if plans.iter().filter(|p| p.is_ok()).count() >= MAX_TESTED => Err(format!(
                "not tried: only the first {MAX_TESTED} endpoints are"
            )),
            None => Ok(match parse_address(&e.address) {
                Some(ip) => Target::Address(SocketAddr::new(ip, e.port)),
                None => Target::Name(e.address.clone(), e.port),
            }),
        };
        plans.push(plan);
    }
    let targets: Vec<Target> = plans.iter().filter_map(|p| p.clone().ok()).collect();
    let mut outcomes = tcp_reach::connect_all(&targets, timeout).await.into_iter();
    plans
        .into_iter()
        .map(|plan| match plan {
            Ok(_) => Ok(outcomes.next().unwrap_or(TcpOutcome::TimedOut)),
            Err(why) => Err(why),
        })
        .collect()
}

/// Puts the tests' outcomes, what they mean (with this machine's probe,
/// when it ran) and the verdict into `report`.
pub fn conclude(
    report: &mut TicketReport,
    tested: Vec<Tested>,
    timeout: Duration,
    probe: Option<&ProbeReport>,
) {
    let here = probe.map(ThisMachine::from_probe);
    for (endpoint, test) in report.endpoints.iter_mut().zip(tested) {
        endpoint.reach = Some(match test {
            Ok(outcome) => EndpointReach {
                why: explain(&endpoint.kind, &outcome, here.as_ref()),
                outcome: Some(outcome),
            },
            Err(why) => EndpointReach { outcome: None, why },
        });
    }
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    report.reach = Some(ticket_verdict(report, timeout_ms, here));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::RaVerdict;

    fn ticket(listeners: &[(&str, u16)]) -> Vec<u8> {
        let ls: String = listeners
            .iter()
            .map(|(n, p)| format!("<L P=\"{p}\" N=\"{n}\"/>"))
            .collect();
        format!("<E><A KH=\"k\" ID=\"i\"/><C><T ID=\"1\" SID=\"0\">{ls}</T></C></E>").into_bytes()
    }

    /// On loopback: an open port connects, a closed one is refused; both
    /// are tried because they are given as names (`localhost`), the way
    /// RCTICKET names a computer. A link-local address is not tried.
    #[tokio::test]
    async fn the_verdict_comes_from_the_connections_made() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap().port();
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bytes = ticket(&[("fe80::1%3", 1), ("localhost", closed), ("localhost", open)]);
        let mut report = inspect(&bytes, None, 0).unwrap();
        let tested = test_endpoints(&report, Duration::from_secs(2)).await;
        assert!(tested[0].is_err());
        conclude(&mut report, tested, Duration::from_secs(2), None);
        let reach = report.reach.as_ref().unwrap();
        assert_eq!(reach.verdict, RaVerdict::Connects);
        assert_eq!(reach.usable, [format!("localhost:{open}")]);
        let refused = report.endpoints[1].reach.as_ref().unwrap();
        assert!(refused.why.contains("nothing listens"), "{}", refused.why);

        drop(listener);
        let mut report = inspect(&bytes, None, 0).unwrap();
        let tested = test_endpoints(&report, Duration::from_secs(2)).await;
        conclude(&mut report, tested, Duration::from_secs(2), None);
        assert_eq!(report.reach.unwrap().verdict, RaVerdict::DoesNotConnect);
    }
}
