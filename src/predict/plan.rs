//! From the two reports, how this side punches: which port it guesses for
//! a destination-dependent NAT (RFC 5128 §3.5), and whether it joins a
//! birthday attack, as the opening side (many mappings) or the probing
//! side (many probes). The same facts decide the verdicts of
//! [`super::port_prediction`] and [`super::birthday_punching`], so the
//! punch does what the prediction assumed.

use crate::proto::nat::{MappingBehavior, PortAllocationKind};
use crate::proto::punch::{Credentials, PortGuess, PunchConfig, Spray};
use crate::report::{FamilyReport, ProbeReport};

use super::admission::{Nat, opens};
use super::birthday::{OPEN_PORTS, PROBES, PROBES_PER_SECOND};
use super::birthday_punching::birthday_direction;
use super::port_prediction::port_guess;

/// This side's punching plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PunchPlan {
    pub guess: Option<PortGuess>,
    /// Sockets to open: [`OPEN_PORTS`] for the opening side of a birthday
    /// attack.
    pub sockets: u16,
    pub spray: Option<Spray>,
}

impl PunchPlan {
    /// The punch configuration this plan gives, with default timing.
    pub fn config(
        self,
        credentials: Credentials,
        server: Option<std::net::SocketAddr>,
    ) -> PunchConfig {
        let mut config = PunchConfig::new(credentials, server);
        config.guess = self.guess;
        config.sockets = self.sockets;
        config.spray = self.spray;
        config
    }
}

fn measured(family: &FamilyReport) -> Option<Nat> {
    Some(Nat::new(family.mapping?, family.filtering?))
}

fn dependent(family: &FamilyReport) -> bool {
    family
        .mapping
        .is_some_and(|m| m != MappingBehavior::EndpointIndependent)
}

fn random(family: &FamilyReport) -> bool {
    family
        .port_allocation
        .is_some_and(|a| a.kind == PortAllocationKind::Random)
}

/// The plan without birthday probing: one socket, and a guessed port
/// where this side's NAT maps per destination with a predictable
/// allocator (RFC 5128 §3.5). It rests on this side's report alone, so
/// the gathering can start before the peer's report arrives.
pub fn plain_punch_plan(me: &ProbeReport) -> PunchPlan {
    let mine = &me.ipv4;
    let guess = mine
        .port_allocation
        .filter(|_| dependent(mine))
        .and_then(port_guess);
    PunchPlan {
        guess,
        sockets: 1,
        spray: None,
    }
}

/// The plan for the side that measured `me`, punching toward `peer`.
/// Birthday probing sends hundreds of packets to ports the peer did not
/// advertise, so it runs only when `birthday` allows it and plain
/// punching cannot open the pair.
pub fn punch_plan(me: &ProbeReport, peer: &ProbeReport, birthday: bool) -> PunchPlan {
    let (mine, theirs) = (&me.ipv4, &peer.ipv4);
    let mut plan = plain_punch_plan(me);
    let (Some(a), Some(b)) = (measured(mine), measured(theirs)) else {
        return plan;
    };
    if !birthday || opens(a, b) {
        return plan;
    }
    if birthday_direction(a, random(mine), b) {
        plan.sockets = OPEN_PORTS as u16;
    }
    if birthday_direction(b, random(theirs), a) {
        plan.spray = Some(Spray {
            probes: PROBES as u16,
            rate: PROBES_PER_SECOND as u32,
        });
    }
    plan
}
