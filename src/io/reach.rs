//! Runs a [`ReachabilityTest`] over two real sockets: the mapped one and a
//! fresh query socket.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_types::message::TransactionId;
use tokio::net::UdpSocket;

use crate::proto::stun::{Reachability, ReachabilityTest, Schedule, Via};
use crate::report::Verification;

/// Retransmissions for the test: about 1.7 s until "not reached".
const SCHEDULE: Schedule = Schedule {
    rto: Duration::from_millis(150),
    transmissions: 4,
    backoff: true,
    last_wait: Duration::from_millis(600),
};

/// Asks `server` to answer to `external_port` and watches `mapped` for the
/// answer. `mapped` must not have sent anything to `server` before.
pub async fn verify(
    mapped: &UdpSocket,
    server: Option<SocketAddr>,
    external_port: u16,
) -> Verification {
    let Some(server) = server else {
        return Verification::NoServer;
    };
    let local_ip = match mapped.local_addr() {
        Ok(a) => a.ip(),
        Err(_) => return Verification::NotReached { server },
    };
    let Ok(query) = UdpSocket::bind(SocketAddr::new(local_ip, 0)).await else {
        return Verification::NotReached { server };
    };
    let mut test = ReachabilityTest::new(
        TransactionId::from(rand::random::<u128>()),
        server,
        external_port,
        SCHEDULE,
        Instant::now(),
    );
    let mut mapped_buf = vec![0; 2048];
    let mut query_buf = vec![0; 2048];
    loop {
        while let Some(request) = test.poll_transmit(Instant::now()) {
            // A failed send is a lost packet: the schedule retransmits.
            let _ = query.send_to(request, server).await;
        }
        match test.outcome() {
            Some(Reachability::Reached { public }) => {
                return Verification::Reached {
                    server,
                    public: *public,
                };
            }
            Some(Reachability::NotReached) => return Verification::NotReached { server },
            Some(Reachability::ResponsePortIgnored { .. }) => {
                return Verification::ServerCannotTest { server, code: None };
            }
            Some(Reachability::Refused { code }) => {
                return Verification::ServerCannotTest {
                    server,
                    code: Some(*code),
                };
            }
            None => {}
        }
        let wake = test
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            Ok((n, from)) = mapped.recv_from(&mut mapped_buf) => {
                test.handle_input(Instant::now(), Via::Mapped, from, &mapped_buf[..n]);
            }
            Ok((n, from)) = query.recv_from(&mut query_buf) => {
                test.handle_input(Instant::now(), Via::Query, from, &query_buf[..n]);
            }
            () = tokio::time::sleep_until(wake) => test.handle_timeout(Instant::now()),
        }
    }
}
