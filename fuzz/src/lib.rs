//! What the fuzz targets share: a run of a sans-IO machine driven by
//! arbitrary datagrams from a few addresses, with time moving on between
//! them, as any driver (`io::driver`, `sim::world`) would drive it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use ranat::proto::machine::{Bind, Machine, SocketId, Transmit};

/// The longest run a target drives (more steps only slow the fuzzer).
pub const MAX_STEPS: usize = 64;

/// One step: a datagram to one of the machine's sockets from one of the
/// addresses of the run, after some time has passed.
#[derive(Debug, Arbitrary)]
pub struct Step {
    pub socket: u8,
    pub from: u8,
    pub after_ms: u16,
    pub bytes: Vec<u8>,
}

/// Drives `machine` through `steps`: datagrams arrive from `peers` (an
/// index picks one), timers fire as time passes, and `check` sees every
/// datagram the machine sends with the address of the datagram that came
/// in last. Sockets bound toward or at an address get a fixed local one.
pub fn drive<M: Machine>(
    machine: &mut M,
    peers: &[SocketAddr],
    steps: &[Step],
    mut check: impl FnMut(&Transmit, Option<SocketAddr>, usize),
) {
    let mut now = Instant::now();
    let mut sockets: Vec<SocketId> = Vec::new();
    let mut last_from = None;
    bind(machine, now, &mut sockets);
    for step in steps.iter().take(MAX_STEPS) {
        now += Duration::from_millis(u64::from(step.after_ms));
        while machine.poll_timeout().is_some_and(|t| t <= now) {
            machine.handle_timeout(now);
            drain(machine, &mut check, last_from, &mut sockets, now);
        }
        if sockets.is_empty() || peers.is_empty() {
            continue;
        }
        let socket = sockets[usize::from(step.socket) % sockets.len()];
        let from = peers[usize::from(step.from) % peers.len()];
        last_from = Some(from);
        machine.handle_input(now, socket, from, &step.bytes);
        drain(machine, &mut check, last_from, &mut sockets, now);
    }
}

fn drain<M: Machine>(
    machine: &mut M,
    check: &mut impl FnMut(&Transmit, Option<SocketAddr>, usize),
    last_from: Option<SocketAddr>,
    sockets: &mut Vec<SocketId>,
    now: Instant,
) {
    let mut sent = 0;
    while let Some(transmit) = machine.poll_transmit() {
        sent += 1;
        check(&transmit, last_from, sent);
        assert!(sent < 10_000, "a machine that never stops sending");
    }
    while let Some(closed) = machine.poll_close() {
        sockets.retain(|s| *s != closed);
    }
    bind(machine, now, sockets);
}

fn bind<M: Machine>(machine: &mut M, now: Instant, sockets: &mut Vec<SocketId>) {
    let mut port = 40_000 + sockets.len() as u16;
    while let Some((id, how)) = machine.poll_bind() {
        let local = match how {
            Bind::At(address) | Bind::Listen(address) => address,
            Bind::Toward(_) | Bind::Connect(_) | Bind::ConnectFrom(..) => {
                SocketAddr::from(([10, 0, 0, 2], port))
            }
        };
        port = port.wrapping_add(1);
        machine.handle_bound(now, id, local);
        sockets.push(id);
        assert!(sockets.len() < 4096, "a machine that never stops binding");
    }
}
