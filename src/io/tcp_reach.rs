//! Can this machine open a TCP connection to an endpoint? What a Remote
//! Assistance expert does first with each address a ticket offers: all at
//! once, under one deadline, and closed again at once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::report::TcpOutcome;

/// Where to connect: an address, or a name looked up first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Address(SocketAddr),
    Name(String, u16),
}

/// The most addresses one name is tried at.
const ADDRESSES_PER_NAME: usize = 4;

/// Tries every target at once; each gets until `deadline` from now. The
/// outcomes come in the order of `targets`.
pub async fn connect_all(targets: &[Target], deadline: Duration) -> Vec<TcpOutcome> {
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (index, target) in targets.iter().cloned().enumerate() {
        tasks.spawn(async move {
            let outcome = tokio::time::timeout(deadline, attempt(target, start))
                .await
                .unwrap_or(TcpOutcome::TimedOut);
            (index, outcome)
        });
    }
    let mut outcomes = vec![TcpOutcome::TimedOut; targets.len()];
    while let Some(done) = tasks.join_next().await {
        if let Ok((index, outcome)) = done {
            outcomes[index] = outcome;
        }
    }
    outcomes
}

async fn attempt(target: Target, start: Instant) -> TcpOutcome {
    let addresses: Vec<SocketAddr> = match target {
        Target::Address(address) => vec![address],
        Target::Name(name, port) => match super::resolve::lookup_host(&name).await {
            Ok(found) => found
                .into_iter()
                .take(ADDRESSES_PER_NAME)
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
            Err(why) => {
                return TcpOutcome::Failed {
                    error: format!("the name does not resolve here ({why})"),
                };
            }
        },
    };
    let mut last = TcpOutcome::Failed {
        error: "the name has no address".into(),
    };
    for address in addresses {
        let ms = || start.elapsed().as_secs_f64() * 1000.0;
        last = match TcpStream::connect(address).await {
            Ok(_) => return TcpOutcome::Connected { address, ms: ms() },
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                TcpOutcome::Refused { address, ms: ms() }
            }
            Err(e) => TcpOutcome::Failed {
                error: e.to_string(),
            },
        };
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener, a port nothing listens on, and a name, on loopback.
    #[tokio::test]
    async fn each_outcome_is_told_apart() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap();
        let closed = {
            let spare = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            spare.local_addr().unwrap()
        };
        let outcomes = connect_all(
            &[
                Target::Address(open),
                Target::Address(closed),
                Target::Name("localhost".into(), open.port()),
            ],
            Duration::from_secs(2),
        )
        .await;
        assert!(matches!(outcomes[0], TcpOutcome::Connected { address, .. } if address == open));
        assert!(matches!(outcomes[1], TcpOutcome::Refused { address, .. } if address == closed));
        assert!(
            matches!(
                outcomes[2],
                TcpOutcome::Connected { .. } | TcpOutcome::Refused { .. }
            ),
            "{:?}",
            outcomes[2]
        );
    }
}
