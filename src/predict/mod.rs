//! Peer-pairing prediction: from two probe reports, a verdict per
//! connection method, and two headlines (Windows Remote Assistance 7+ and
//! ranat's own engine).
//!
//! Pure functions: no I/O, no clock. Every verdict follows from measured
//! fields of the reports; where a needed field was not measured the verdict
//! is [`Feasibility::Unknown`] unless every value the field could take gives
//! the same answer (then the answer is certain, not a guess).
//!
//! Sources: RFC 4787 (NAT behaviour), RFC 5128 (P2P across NATs: hole
//! punching §3.3, port prediction §3.5, peers behind a common NAT §3.2),
//! RFC 4380 (Teredo), RFC 6081 (Teredo extensions) and the connectivity
//! tables of `protocols.md` §5.

mod admission;
mod birthday;
mod birthday_punching;
mod hole_punching;
mod ipv6;
mod matrix;
mod methods;
mod pair;
mod plan;
mod port_prediction;
mod prediction;
mod side;
mod teredo;
#[cfg(test)]
mod tests;

pub use birthday::{
    BirthdayEstimate, OPEN_PORTS, PORT_SPACE, PROBES, PROBES_PER_SECOND,
    estimate as birthday_estimate, expected_probes, success_probability,
};
pub use matrix::{MatrixRow, NatProfile, matrix, synthetic_report};
pub use pair::predict;
pub use plan::{PunchPlan, plain_punch_plan, punch_plan};
pub use prediction::{Feasibility, Headline, Method, MethodVerdict, Prediction, PunchExpectation};
