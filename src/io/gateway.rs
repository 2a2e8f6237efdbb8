//! The local IPv4 gateway: where UPnP, PCP and NAT-PMP requests go.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::net::UdpSocket;

/// The gateway of the IPv4 default route, read from `/proc/net/route`.
pub fn default_gateway() -> Option<Ipv4Addr> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    parse_route_table(&table)
}

/// The first default route's gateway in the kernel's route table text:
/// columns `Iface Destination Gateway Flags …`, addresses as 8 hex digits
/// in host (little-endian) byte order.
fn parse_route_table(table: &str) -> Option<Ipv4Addr> {
    const RTF_UP: u32 = 0x1;
    const RTF_GATEWAY: u32 = 0x2;
    table.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace().skip(1);
        let destination = u32::from_str_radix(fields.next()?, 16).ok()?;
        let gateway = u32::from_str_radix(fields.next()?, 16).ok()?;
        let flags = u32::from_str_radix(fields.next()?, 16).ok()?;
        let is_default = destination == 0 && flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY;
        (is_default && gateway != 0).then(|| Ipv4Addr::from(gateway.to_le_bytes()))
    })
}

/// The local address the kernel would use toward `peer`: a connected UDP
/// socket learns it without sending anything.
pub async fn route_source(peer: SocketAddr) -> std::io::Result<IpAddr> {
    let unspecified: SocketAddr = if peer.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(unspecified).await?;
    socket.connect(peer).await?;
    Ok(socket.local_addr()?.ip())
}

/// Whether this host has a route off itself toward the Internet over IPv4
/// (`ipv6` false) or IPv6: the kernel is asked for the route toward a
/// documentation address (192.0.2.1, RFC 5737; 2001:db8::1, RFC 3849), as
/// a default route would carry it. Nothing is sent.
pub async fn has_route(ipv6: bool) -> bool {
    let beyond: SocketAddr = if ipv6 {
        (std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9).into()
    } else {
        (Ipv4Addr::new(192, 0, 2, 1), 9).into()
    };
    route_source(beyond).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
        eth0\t00000000\t0101000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";

    #[test]
    fn reads_the_default_route_gateway_in_host_order() {
        assert_eq!(parse_route_table(TABLE), Some(Ipv4Addr::new(10, 0, 1, 1)));
    }

    #[test]
    fn a_table_without_a_default_route_has_no_gateway() {
        let lan_only: String = TABLE.lines().take(2).collect::<Vec<_>>().join("\n");
        assert_eq!(parse_route_table(&lan_only), None);
        assert_eq!(parse_route_table(""), None);
        assert_eq!(parse_route_table("header\nbroken line\n"), None);
    }

    #[test]
    fn a_default_route_that_is_down_does_not_count() {
        let down = TABLE.replace("\t0003\t", "\t0002\t");
        assert_eq!(parse_route_table(&down), None);
    }
}
