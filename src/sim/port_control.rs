//! A gateway's PCP / NAT-PMP server in the simulated world, as the NAT
//! device runs it on its LAN side (miniupnpd's `enable_natpmp=yes` answers
//! both): a MAP request makes, or with lifetime 0 removes, a static mapping
//! on the NAT itself. The real [`PortMapper`] and [`ReachabilityTest`] run
//! against it behind every NAT behaviour.
//!
//! [`PortMapper`]: crate::proto::portmap::PortMapper
//! [`ReachabilityTest`]: crate::proto::stun::ReachabilityTest

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Instant;

use super::nat::Nat;
use super::world::LanService;
use crate::proto::portmap::testing::{
    natpmp_address, natpmp_map_answer, natpmp_refusal, pcp_answer,
};
use crate::proto::portmap::{natpmp, pcp};

/// Which protocols the gateway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortControl {
    /// PCP, and NAT-PMP for older clients.
    Pcp,
    /// NAT-PMP only: a PCP request gets NAT-PMP's Unsupported Version.
    NatPmpOnly,
}

/// RFC 6887 §7.4 result codes used here.
const PCP_ADDRESS_MISMATCH: u8 = 12;
const PCP_UNSUPP_OPCODE: u8 = 4;
/// The IANA protocol number of UDP (PCP's protocol field).
const UDP: u8 = 17;

impl LanService for PortControl {
    fn answer(
        &mut self,
        now: Instant,
        nat: &mut Nat,
        from: SocketAddr,
        request: &[u8],
    ) -> Option<Vec<u8>> {
        let IpAddr::V4(external) = nat.external_ip() else {
            return None;
        };
        match (request.first().copied()?, *self) {
            (pcp::VERSION, PortControl::Pcp) => pcp_map(now, nat, external, from, request),
            (pcp::VERSION, PortControl::NatPmpOnly) => Some(natpmp_refusal()),
            (natpmp::VERSION, _) => natpmp_request(now, nat, external, from, request),
            _ => None,
        }
    }
}

/// A PCP MAP request (RFC 6887 §11): the client's address must be the
/// packet's source (§8.1), else ADDRESS_MISMATCH.
fn pcp_map(
    now: Instant,
    nat: &mut Nat,
    external: Ipv4Addr,
    from: SocketAddr,
    request: &[u8],
) -> Option<Vec<u8>> {
    if request.len() < pcp::HEADER_LEN + pcp::MAP_BODY_LEN {
        return None;
    }
    let lifetime = u32::from_be_bytes(request[4..8].try_into().ok()?);
    let client = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&request[8..24]).ok()?);
    let answer = |code, lifetime, port| {
        Some(pcp_answer(
            request,
            code,
            lifetime,
            SocketAddrV4::new(external, port),
        ))
    };
    if request[1] != pcp::OPCODE_MAP || request[36] != UDP {
        return answer(PCP_UNSUPP_OPCODE, 0, 0);
    }
    if client.to_ipv4_mapped() != Some(ipv4(from)?) {
        return answer(PCP_ADDRESS_MISMATCH, 0, 0);
    }
    let internal_port = u16::from_be_bytes([request[40], request[41]]);
    let suggested = u16::from_be_bytes([request[42], request[43]]);
    let port = map(
        now,
        nat,
        SocketAddr::new(from.ip(), internal_port),
        suggested,
        lifetime,
    );
    answer(0, lifetime, port)
}

/// A NAT-PMP request (RFC 6886 §3.2, §3.3): the external address, or a UDP
/// mapping; nothing else is answered.
fn natpmp_request(
    now: Instant,
    nat: &mut Nat,
    external: Ipv4Addr,
    from: SocketAddr,
    request: &[u8],
) -> Option<Vec<u8>> {
    match request.get(1)? {
        0 => Some(natpmp_address(external)),
        1 if request.len() >= 12 => {
            let internal_port = u16::from_be_bytes([request[4], request[5]]);
            let suggested = u16::from_be_bytes([request[6], request[7]]);
            let lifetime = u32::from_be_bytes(request[8..12].try_into().ok()?);
            let internal = SocketAddr::new(from.ip(), internal_port);
            let port = map(now, nat, internal, suggested, lifetime);
            Some(natpmp_map_answer(request, 0, port, lifetime))
        }
        _ => None,
    }
}

/// Makes (or with lifetime 0 removes) `internal`'s static mapping, on the
/// suggested port when it is free; the external port (0 after removal).
fn map(now: Instant, nat: &mut Nat, internal: SocketAddr, suggested: u16, lifetime: u32) -> u16 {
    if lifetime == 0 {
        nat.remove_static(internal);
        return 0;
    }
    if let Some(port) = nat.static_port(internal) {
        return port;
    }
    let first = if suggested == 0 { 50000 } else { suggested };
    (0..=u16::MAX)
        .map(|i| first.wrapping_add(i).max(1024))
        .find(|port| nat.add_static(now, internal, *port))
        .unwrap_or(0)
}

fn ipv4(address: SocketAddr) -> Option<Ipv4Addr> {
    match address.ip() {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(_) => None,
    }
}

#[cfg(test)]
mod tests;
