//! A gateway's answers, built by hand for the tests.

use std::net::{Ipv4Addr, SocketAddrV4};

/// The epoch every fake answer carries.
pub const EPOCH: u32 = 1000;

/// A PCP server's answer to the MAP request `request` (as sent): the body
/// copied (RFC 6887 §11.4), then the header's result, lifetime and epoch,
/// and the assigned external endpoint.
pub fn pcp_answer(request: &[u8], code: u8, lifetime: u32, external: SocketAddrV4) -> Vec<u8> {
    let mut a = request[..60].to_vec();
    a[1] |= 0x80;
    a[2] = 0;
    a[3] = code;
    a[4..8].copy_from_slice(&lifetime.to_be_bytes());
    a[8..12].copy_from_slice(&EPOCH.to_be_bytes());
    a[12..24].fill(0);
    a[42..44].copy_from_slice(&external.port().to_be_bytes());
    a[44..60].copy_from_slice(&external.ip().to_ipv6_mapped().octets());
    a
}

/// A NAT-PMP gateway's Unsupported Version answer to a PCP MAP request, in
/// miniupnpd's form (opcode 128 + 1).
pub fn natpmp_refusal() -> Vec<u8> {
    let mut a = vec![0, 0x81, 0, 1];
    a.extend_from_slice(&EPOCH.to_be_bytes());
    a
}

/// The answer to NAT-PMP opcode 0.
pub fn natpmp_address(ip: Ipv4Addr) -> Vec<u8> {
    let mut a = vec![0, 128, 0, 0];
    a.extend_from_slice(&EPOCH.to_be_bytes());
    a.extend_from_slice(&ip.octets());
    a
}

/// The answer to the NAT-PMP mapping request `request` (as sent).
pub fn natpmp_map_answer(request: &[u8], code: u16, external_port: u16, lifetime: u32) -> Vec<u8> {
    let mut a = vec![0, 128 + request[1]];
    a.extend_from_slice(&code.to_be_bytes());
    a.extend_from_slice(&EPOCH.to_be_bytes());
    a.extend_from_slice(&request[4..6]);
    a.extend_from_slice(&external_port.to_be_bytes());
    a.extend_from_slice(&lifetime.to_be_bytes());
    a
}
