//! Runs the [`Punch`] machine on real UDP sockets, and hands the path it
//! proves, socket and all, to whatever runs next.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::driver::{BindError, Driver};
use super::interfaces::Ipv6Host;
use crate::proto::machine::SocketId;
use crate::proto::punch::{
    Candidate, CandidateKind, Credentials, Path, Punch, PunchFailure, PunchOutcome,
};

/// A punch whose sockets are bound and whose candidates are gathered,
/// waiting for the peer's.
pub struct Gathered {
    driver: Driver<Punch>,
    ipv6: Vec<Ipv6Host>,
}

/// The path a punch proved, ready to be taken over: the socket the checks
/// went through (its receiver stopped), and the selected pair with its
/// measured round-trip time.
#[derive(Debug)]
pub struct Winner {
    pub socket: UdpSocket,
    pub path: Path,
}

/// How the punch ended, with the winner when it connected.
#[derive(Debug)]
pub enum Punched {
    Connected(Winner),
    Failed(PunchFailure),
}

impl Punched {
    /// The machine's outcome, without the socket.
    pub fn outcome(&self) -> PunchOutcome {
        match self {
            Punched::Connected(w) => PunchOutcome::Connected(w.path.clone()),
            Punched::Failed(f) => PunchOutcome::Failed(f.clone()),
        }
    }
}

/// Binds the punch's sockets (on the address that routes toward its STUN
/// server) and learns the server-reflexive (and guessed) candidates.
pub async fn gather(machine: Punch) -> Result<Gathered, BindError> {
    let mut driver = Driver::bind(machine).await?;
    driver
        .run_until(|m| m.local_candidates().is_some(), None)
        .await;
    Ok(Gathered {
        driver,
        ipv6: Vec::new(),
    })
}

impl Gathered {
    /// Gives up on the checks `deadline` after they start.
    pub fn set_deadline(&mut self, deadline: Duration) {
        self.driver.machine_mut().set_deadline(deadline);
    }

    /// This host's IPv6 addresses (usually
    /// [`super::interfaces::advertised_ipv6`]), to advertise with the port
    /// of the punch's IPv6 socket. Ignored when the punch has none
    /// ([`crate::proto::punch::PunchConfig::ipv6`] off).
    pub fn with_ipv6(mut self, hosts: Vec<Ipv6Host>) -> Self {
        self.ipv6 = hosts;
        self
    }

    /// What to advertise: the gathered candidates, socket 0's own address
    /// and, on the IPv6 socket's port, each address given to
    /// [`Gathered::with_ipv6`] (RFC 8445 §5.1.1.1 host candidates, one per
    /// address; a Teredo interface's as [`CandidateKind::Teredo`]).
    pub fn candidates(&self) -> Vec<Candidate> {
        let machine = self.driver.machine();
        let mut out = machine.local_candidates().unwrap_or_default().to_vec();
        let main = machine.local_address(SocketId(0)).map(|local| Candidate {
            address: local,
            kind: CandidateKind::Host,
        });
        let ipv6_port = machine
            .ipv6_socket()
            .and_then(|socket| machine.local_address(socket))
            .map(|local| local.port());
        let ipv6 = ipv6_port.into_iter().flat_map(|port| {
            self.ipv6.iter().map(move |host| Candidate {
                address: SocketAddr::from((host.address, port)),
                kind: host.kind(),
            })
        });
        for candidate in main.into_iter().chain(ipv6) {
            if !out.iter().any(|c| c.address == candidate.address) {
                out.push(candidate);
            }
        }
        out
    }

    /// The local address of socket 0, the punch's main socket (the one a
    /// port mapping for the session is made for).
    pub fn local_address(&self) -> Option<SocketAddr> {
        self.driver.local_addr(SocketId(0))
    }

    /// Why gathering found less than it could, if it did.
    pub fn note(&self) -> Option<&str> {
        self.driver.machine().gather_note()
    }

    /// Checks the peer's candidates until the punch ends.
    pub async fn punch(mut self, peer: Credentials, candidates: &[Candidate]) -> Punched {
        self.driver
            .machine_mut()
            .start(Instant::now(), peer, candidates);
        self.driver.run(None).await;
        let (machine, sockets) = self.driver.into_parts().await;
        match machine.outcome() {
            Some(PunchOutcome::Connected(path)) => {
                let winner = sockets
                    .into_iter()
                    .find(|(id, _)| *id == path.socket)
                    .and_then(|(_, socket)| Arc::try_unwrap(socket).ok());
                match winner {
                    Some(socket) => Punched::Connected(Winner {
                        socket,
                        path: path.clone(),
                    }),
                    None => Punched::Failed(PunchFailure::default()),
                }
            }
            Some(PunchOutcome::Failed(f)) => Punched::Failed(f.clone()),
            None => Punched::Failed(PunchFailure::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;
    use crate::proto::punch::PunchConfig;
    use crate::proto::punch::testing::credentials;

    /// Whether this machine has IPv6 loopback to test on; says so when not.
    fn ipv6_loopback(test: &str) -> bool {
        let there = std::net::UdpSocket::bind("[::1]:0").is_ok();
        if !there {
            eprintln!("SKIPPED {test}: no IPv6 loopback on this machine ([::1] cannot be bound)");
        }
        there
    }

    fn v6_host(address: &str, teredo: bool) -> Ipv6Host {
        Ipv6Host {
            address: address.parse().unwrap(),
            interface: if teredo { "teredo" } else { "lo" }.into(),
            teredo,
        }
    }

    /// A punch without a STUN server, gathered (bound, nothing sent).
    async fn gathered(seed: u8, ipv6: bool) -> Gathered {
        let mut config = PunchConfig::new(credentials(seed), None);
        config.ipv6 = ipv6;
        gather(Punch::new(config, u64::from(seed))).await.unwrap()
    }

    #[tokio::test]
    async fn the_given_ipv6_addresses_are_advertised_on_the_ipv6_sockets_port() {
        if !ipv6_loopback("the_given_ipv6_addresses_are_advertised_on_the_ipv6_sockets_port") {
            return;
        }
        let hosts = vec![
            v6_host("2001:db8::7", false),
            v6_host("2001:0:c633:6428:8000:63bf:3fff:fdd2", true),
        ];
        let side = gathered(0, true).await.with_ipv6(hosts.clone());
        let main = side.local_address().unwrap();
        let machine = side.driver.machine();
        let v6 = machine.local_address(SocketId(1)).unwrap();
        assert!(v6.is_ipv6() && v6.ip().is_unspecified(), "{v6}");
        let want = [
            (main, CandidateKind::Host),
            (
                SocketAddr::from((hosts[0].address, v6.port())),
                CandidateKind::Host,
            ),
            (
                SocketAddr::from((hosts[1].address, v6.port())),
                CandidateKind::Teredo,
            ),
        ]
        .map(|(address, kind)| Candidate { address, kind });
        assert_eq!(side.candidates(), want);
        // Without the IPv6 socket the addresses have no port to go with.
        let side = gathered(1, false).await.with_ipv6(hosts);
        let main = side.local_address().unwrap();
        assert_eq!(
            side.candidates(),
            [Candidate {
                address: main,
                kind: CandidateKind::Host
            }]
        );
    }

    /// Two real punches on loopback, each told only the other's IPv6 host
    /// candidate `[::1]:port`: they meet on their IPv6 sockets.
    #[tokio::test]
    async fn two_punches_meet_over_ipv6_loopback() {
        if !ipv6_loopback("two_punches_meet_over_ipv6_loopback") {
            return;
        }
        let loopback = v6_host("::1", false);
        let creds = [0u8, 1].map(credentials);
        let mut sides = Vec::new();
        for seed in [0, 1] {
            sides.push(gathered(seed, true).await.with_ipv6(vec![loopback.clone()]));
        }
        let ipv6_only = |side: &Gathered| -> Vec<Candidate> {
            let only: Vec<Candidate> = side
                .candidates()
                .into_iter()
                .filter(|c| c.address.is_ipv6())
                .collect();
            assert!(
                matches!(&only[..], [c] if c.address.ip() == Ipv6Addr::LOCALHOST && c.kind == CandidateKind::Host),
                "{only:?}"
            );
            only
        };
        let candidates = [ipv6_only(&sides[0]), ipv6_only(&sides[1])];
        let b = sides.pop().unwrap();
        let a = sides.pop().unwrap();
        let (pa, pb) = tokio::join!(
            a.punch(creds[1].clone(), &candidates[1]),
            b.punch(creds[0].clone(), &candidates[0])
        );
        for (punched, peer) in [(pa, &candidates[1]), (pb, &candidates[0])] {
            let Punched::Connected(winner) = punched else {
                panic!("no path over IPv6 loopback: {:?}", punched.outcome())
            };
            assert_eq!(winner.path.remote, peer[0].address);
            assert_eq!(winner.path.socket, SocketId(1), "the IPv6 socket won");
            assert!(winner.socket.local_addr().unwrap().is_ipv6());
        }
    }
}
