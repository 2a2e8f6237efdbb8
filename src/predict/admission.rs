//! The RFC 4787 admission model that the punching methods share: from each
//! side's mapping (RFC 4787 §4) and filtering (§5) behaviour, whether a
//! packet to a side's mapped endpoint gets in, whether the answer leaves
//! from where the packet went, and so whether checks both ways open a path.
//!
//! # The punching game (RFC 4787 semantics, RFC 8445 checks)
//!
//! Each side learns the other's STUN-mapped endpoint `E` from the
//! rendezvous; both send checks to it, and a side that receives a check
//! answers it and checks back at the source it saw. A check counts only
//! when its answer comes from the endpoint it was sent to (RFC 8445
//! §7.2.5.2.1): that is what makes a path both sides can keep using. NATs
//! keep one external address (RFC 4787 REQ-2, paired pooling). Behind a
//! dependent mapping (ADM or APDM) the mapping toward the peer is a new
//! one, with a port the peer cannot know: the peer's IP differs from the
//! STUN server's, so an address-dependent mapping is as unpredictable here
//! as an address-and-port-dependent one. A session opens if, for one
//! ordering (receiver `R`, sender `S`):
//!
//! 1. `S`'s first check to `E_R` is admitted: `R` filters nothing (EIF);
//!    or `R` keeps one mapping (EIM) and filters by address only (ADF,
//!    having sent to `S`'s address); or `R` is EIM with APDF and `S` is EIM
//!    too, so `S`'s checks come from the very endpoint `R` sends to. With
//!    a dependent mapping and ADF/APDF, `E_R` is the mapping made for the
//!    STUN server, which admits only the server.
//! 2. `R`'s answer leaves from the endpoint `S` sent to: `R` keeps one
//!    mapping (EIM). A dependent `R` answers from a new port, which `S`
//!    must refuse as an answer; `S`'s check back to that port leaves from
//!    yet another port of its own when `S` is dependent too, and so on.
//!
//! This gives the table (`protocols.md` §5.2, with the ICE rule): EIM on
//! both sides works whatever the filtering; EIM+EIF/ADF ↔ ADM/APDM works;
//! EIM+APDF ↔ ADM/APDM fails; APDM ↔ APDM fails (only port prediction
//! can open it, see [`super::port_prediction`]).
//!
//! One more way opens: an address-dependent mapping is one mapping toward
//! the peer's address, so once the peer learns its port from a check, it
//! acts as an endpoint-independent one (see [`through_address_dependent`]).

use crate::proto::nat::{FilteringBehavior, MappingBehavior};
use crate::report::FamilyReport;

use super::side::{completions, filtering_abbrev, mapping_abbrev};

/// One side's RFC 4787 behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nat {
    pub mapping: MappingBehavior,
    pub filtering: FilteringBehavior,
}

impl Nat {
    pub fn new(mapping: MappingBehavior, filtering: FilteringBehavior) -> Self {
        Self { mapping, filtering }
    }

    pub fn eim(self) -> bool {
        self.mapping == MappingBehavior::EndpointIndependent
    }

    pub fn by_address(self) -> bool {
        self.filtering != FilteringBehavior::AddressAndPortDependent
    }

    pub fn short(self) -> String {
        format!(
            "{}/{}",
            mapping_abbrev(self.mapping),
            filtering_abbrev(self.filtering)
        )
    }
}

/// Rule 1: `sender`'s first packet to `receiver`'s mapped endpoint gets in.
pub(crate) fn first_packet_in(receiver: Nat, sender: Nat) -> bool {
    match receiver.filtering {
        FilteringBehavior::EndpointIndependent => true,
        FilteringBehavior::AddressDependent => receiver.eim(),
        FilteringBehavior::AddressAndPortDependent => receiver.eim() && sender.eim(),
    }
}

/// Rule 2: `receiver` answers from the endpoint the check was sent to.
pub(crate) fn answer_back(receiver: Nat) -> bool {
    receiver.eim()
}

/// An address-dependent `r` keeps one mapping toward `s`'s address, with
/// a port `s` cannot know; the path runs through it when `s` learns it
/// from a check (RFC 8445 §7.3.1.3) and the checks both ways get in:
///
/// - `s` admits `r`'s check from that port: `s` filters by address only,
///   and the check arrives on a mapping that has sent to `r`'s address
///   (`s` is EIF; or `s` is ADF and either keeps one mapping, which sent
///   to `r`, or `r` is EIF and so took `s`'s first check, whose mapping
///   `r` then checks back at);
/// - `r` admits `s`'s check to that port: `r` filters by address only, or
///   `s` keeps one mapping, which `r` has sent to.
///
/// `s_known`: `r` knows a mapping of `s`'s that has sent to `r`'s address
/// (`s` keeps one mapping, or its port toward `r` was guessed).
fn through_address_dependent(r: Nat, s: Nat, s_known: bool) -> bool {
    r.mapping == MappingBehavior::AddressDependent
        && match s.filtering {
            FilteringBehavior::EndpointIndependent => true,
            FilteringBehavior::AddressDependent => {
                s_known || r.filtering == FilteringBehavior::EndpointIndependent
            }
            FilteringBehavior::AddressAndPortDependent => false,
        }
        && (r.by_address() || s.eim())
}

/// Whether checks both ways open a path.
pub(crate) fn opens(a: Nat, b: Nat) -> bool {
    opens_knowing(a, b, a.eim(), b.eim())
}

/// [`opens`], where `a_known` / `b_known` say whether the other side knows
/// in advance a mapping of this side's that has sent to it.
pub(crate) fn opens_knowing(a: Nat, b: Nat, a_known: bool, b_known: bool) -> bool {
    (first_packet_in(a, b) && answer_back(a))
        || (first_packet_in(b, a) && answer_back(b))
        || through_address_dependent(a, b, b_known)
        || through_address_dependent(b, a, a_known)
}

/// Every behaviour a family could have, given what was measured.
pub(crate) fn behaviours(family: &FamilyReport) -> Vec<Nat> {
    let mut out = Vec::new();
    for m in completions(family.mapping, &MappingBehavior::ALL) {
        for f in completions(family.filtering, &FilteringBehavior::ALL) {
            out.push(Nat::new(m, f));
        }
    }
    out
}
