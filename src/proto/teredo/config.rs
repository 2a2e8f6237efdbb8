//! Which Teredo server a qualification runs against, and how long it waits
//! for each answer.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use crate::proto::stun::Schedule;

/// Which server and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QualificationConfig {
    /// The server's primary address, port 3544.
    pub primary: SocketAddrV4,
    /// The server's secondary address (see
    /// [`QualificationConfig::default_secondary`]).
    pub secondary: SocketAddrV4,
    /// The schedule of the cone and primary solicitations.
    pub schedule: Schedule,
    /// The schedule of what follows the primary answer: the secondary
    /// solicitation, and the rest of the cone test; `None` derives it from
    /// the RTT the primary answer measured
    /// ([`crate::proto::nat::adapted_schedule`]).
    pub secondary_schedule: Option<Schedule>,
}

impl QualificationConfig {
    pub fn new(primary: SocketAddrV4) -> Self {
        Self {
            primary,
            secondary: Self::default_secondary(primary),
            schedule: Self::default_schedule(),
            secondary_schedule: None,
        }
    }

    /// The primary IPv4 address plus one, same port. RFC 4380 leaves the
    /// secondary address to the server's configuration; Windows XP/2003
    /// clients appear to assume the next address and miredo's client does
    /// the same (`resolveServerIP`), which is also miredo-server's
    /// `ServerBindAddress2` default. Set `secondary` for other servers.
    pub fn default_secondary(primary: SocketAddrV4) -> SocketAddrV4 {
        let next = Ipv4Addr::from(u32::from(*primary.ip()).wrapping_add(1));
        SocketAddrV4::new(next, primary.port())
    }

    /// Sends at 0, 300, 900 and 2100 ms, given up at 3 s: four tries, so 5 %
    /// loss each way leaves a present answer unseen about once in 10⁴ runs.
    pub fn default_schedule() -> Schedule {
        Schedule {
            rto: Duration::from_millis(300),
            transmissions: 4,
            backoff: true,
            last_wait: Duration::from_millis(900),
        }
    }
}
