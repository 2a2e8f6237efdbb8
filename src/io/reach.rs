//! Runs a [`ReachabilityTest`] over two real sockets: the mapped one and a
//! fresh query socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stun_types::message::TransactionId;
use tokio::net::UdpSocket;

use super::driver::Driver;
use crate::proto::stun::{MAPPED, Reachability, ReachabilityTest, Schedule};
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
    mapped: UdpSocket,
    server: Option<SocketAddr>,
    external_port: u16,
) -> Verification {
    let Some(server) = server else {
        return Verification::NoServer;
    };
    let test = ReachabilityTest::new(
        TransactionId::from(rand::random::<u128>()),
        server,
        external_port,
        SCHEDULE,
        Instant::now(),
    );
    let Ok(mut driver) = Driver::bind_with(test, vec![(MAPPED, Arc::new(mapped))]).await else {
        return Verification::NotReached { server };
    };
    driver.run(None).await;
    match driver.machine().outcome() {
        Some(Reachability::Reached { public }) => Verification::Reached {
            server,
            public: *public,
        },
        Some(Reachability::ResponsePortIgnored { .. }) => {
            Verification::ServerCannotTest { server, code: None }
        }
        Some(Reachability::Refused { code }) => Verification::ServerCannotTest {
            server,
            code: Some(*code),
        },
        Some(Reachability::NotReached) | None => Verification::NotReached { server },
    }
}
