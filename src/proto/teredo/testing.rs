//! Test helpers: an encoder for Router Advertisements, defaulting to what
//! miredo's server sends (`libteredo/server.c`, `SendRA`), with every field
//! open to corruption.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

use super::address::{TEREDO_PORT, server_prefix};
use super::packet::{
    AuthHeader, ICMPV6_ROUTER_ADVERTISEMENT, NEXT_HEADER_ICMPV6, Nonce, OriginIndication, RsKind,
    icmpv6_checksum,
};

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A Prefix Information option as miredo sends it: A flag, infinite
/// lifetimes.
pub fn prefix_option(prefix: Ipv6Addr, len: u8) -> Vec<u8> {
    let mut o = vec![3, 4, len, 0x40];
    o.extend_from_slice(&[0xff; 8]);
    o.extend_from_slice(&[0; 4]);
    o.extend_from_slice(&prefix.octets());
    o
}

pub fn mtu_option(mtu: u32) -> Vec<u8> {
    let mut o = vec![5, 1, 0, 0];
    o.extend_from_slice(&mtu.to_be_bytes());
    o
}

#[derive(Debug, Clone)]
pub struct RaBuilder {
    /// `None` leaves out the authentication header.
    pub nonce: Option<Nonce>,
    pub confirmation: u8,
    /// `None` leaves out the origin indication.
    pub origin: Option<SocketAddrV4>,
    pub next_header: u8,
    pub hop_limit: u8,
    pub source: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub icmp_type: u8,
    pub code: u8,
    pub options: Vec<Vec<u8>>,
    pub corrupt_checksum: bool,
    pub trailers: Vec<u8>,
}

impl RaBuilder {
    /// What miredo's server answers a solicitation of `kind` with.
    pub fn miredo(server: Ipv4Addr, nonce: Nonce, mapped: SocketAddrV4, kind: RsKind) -> Self {
        // fe80::8000:<3544>:<~server IPv4>, as miredo builds it.
        let mut src = [0u8; 16];
        src[0..2].copy_from_slice(&[0xfe, 0x80]);
        src[8..10].copy_from_slice(&[0x80, 0x00]);
        src[10..12].copy_from_slice(&TEREDO_PORT.to_be_bytes());
        src[12..16].copy_from_slice(&(!u32::from(server)).to_be_bytes());
        Self {
            nonce: Some(nonce),
            confirmation: 0,
            origin: Some(mapped),
            next_header: NEXT_HEADER_ICMPV6,
            hop_limit: 255,
            source: Ipv6Addr::from(src),
            destination: kind.link_local(),
            icmp_type: ICMPV6_ROUTER_ADVERTISEMENT,
            code: 0,
            options: vec![prefix_option(server_prefix(server), 64), mtu_option(1280)],
            corrupt_checksum: false,
            trailers: Vec::new(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(nonce) = self.nonce {
            let mut auth = AuthHeader::unauthenticated(nonce);
            auth.confirmation = self.confirmation;
            auth.encode(&mut out);
        }
        if let Some(mapped) = self.origin {
            out.extend_from_slice(&OriginIndication { mapped }.encode());
        }
        let mut icmp = vec![self.icmp_type, self.code, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x07, 0xd0]); // retrans 2000 ms
        for o in &self.options {
            icmp.extend_from_slice(o);
        }
        let mut sum = icmpv6_checksum(&self.source, &self.destination, &icmp);
        if self.corrupt_checksum {
            sum ^= 0x0101;
        }
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        out.extend_from_slice(&[0x60, 0, 0, 0]);
        out.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
        out.push(self.next_header);
        out.push(self.hop_limit);
        out.extend_from_slice(&self.source.octets());
        out.extend_from_slice(&self.destination.octets());
        out.extend_from_slice(&icmp);
        out.extend_from_slice(&self.trailers);
        out
    }
}
