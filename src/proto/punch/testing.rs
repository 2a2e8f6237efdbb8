//! Helpers the tests of the punch, its checks and the sockets that carry
//! them share.

use super::Credentials;

/// Valid credentials drawn from `seed`: the same seed, the same
/// credentials; different seeds, different ones.
pub(crate) fn credentials(seed: u8) -> Credentials {
    let mut n = seed;
    Credentials::generate(move || {
        n = n.wrapping_mul(31).wrapping_add(7);
        n
    })
}
