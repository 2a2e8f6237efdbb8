//! The shared address space 100.64.0.0/10 (RFC 6598): set aside for the
//! inside of carrier-grade NATs. An address in it is no public address: it
//! is private to the carrier's network, and a carrier's NAT lies beyond it.

use std::net::Ipv4Addr;

/// RFC 6598 shared address space, used behind carrier-grade NAT.
pub fn is_shared(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 100 && (64..128).contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_space_is_100_64_to_100_127() {
        assert!(!is_shared(Ipv4Addr::new(100, 128, 0, 1)));
        assert!(!is_shared(Ipv4Addr::new(100, 63, 255, 255)));
    }
}
