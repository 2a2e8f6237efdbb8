//! This host's IPv6 addresses worth advertising as host candidates
//! (RFC 8445 §5.1.1.1), read from Linux's `/proc/net/if_inet6`.

use std::net::Ipv6Addr;

use crate::proto::punch::CandidateKind;
use crate::proto::teredo::TeredoAddress;

/// Where Linux lists every IPv6 address of every interface.
const IF_INET6: &str = "/proc/net/if_inet6";

/// The kernel's scope of a global address (`IPV6_ADDR_ANY`); loopback,
/// link-local, site-local and IPv4-compatible addresses have others.
const SCOPE_GLOBAL: u32 = 0x00;

/// `IFA_F_TEMPORARY`: a privacy address (RFC 8981).
const IFA_F_TEMPORARY: u32 = 0x01;
/// `IFA_F_DADFAILED`: duplicate address detection found the address taken.
const IFA_F_DADFAILED: u32 = 0x08;
/// `IFA_F_DEPRECATED`: its preferred lifetime is over (RFC 4862 §5.5.4).
const IFA_F_DEPRECATED: u32 = 0x20;
/// `IFA_F_TENTATIVE`: duplicate address detection still runs.
const IFA_F_TENTATIVE: u32 = 0x40;
/// The flags that make an address unfit to advertise.
const UNUSABLE: u32 = IFA_F_TENTATIVE | IFA_F_DEPRECATED | IFA_F_DADFAILED;

/// One IPv6 address of this host that a peer may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Host {
    pub address: Ipv6Addr,
    /// The interface's name (`eth0`, `teredo`).
    pub interface: String,
    /// A Teredo address (2001:0::/32, RFC 4380 §2.14): a tunnel over IPv4
    /// UDP, not native IPv6.
    pub teredo: bool,
}

impl Ipv6Host {
    /// The candidate kind it is advertised as.
    pub fn kind(&self) -> CandidateKind {
        if self.teredo {
            CandidateKind::Teredo
        } else {
            CandidateKind::Host
        }
    }
}

/// This host's IPv6 addresses worth advertising, temporary ones first; none
/// where `/proc/net/if_inet6` cannot be read (no IPv6, or not Linux).
pub fn advertised_ipv6() -> Vec<Ipv6Host> {
    std::fs::read_to_string(IF_INET6)
        .map(|table| parse_if_inet6(&table))
        .unwrap_or_default()
}

/// The addresses of `/proc/net/if_inet6` worth advertising. Each line holds
/// 32 hex digits of address, then the interface index, prefix length, scope
/// and flags (hex) and the interface name.
///
/// Kept: global scope only. RFC 8445 §5.1.1.1 rules out loopback,
/// site-local and IPv4-compatible addresses, and link-local ones where
/// others exist; deprecated addresses are not to start new communication
/// (RFC 4862 §5.5.4), and a tentative or duplicate one is not yet (or
/// never) the host's. Temporary addresses come first, as RFC 6724 §5
/// rule 7 prefers them. Malformed lines are skipped.
fn parse_if_inet6(table: &str) -> Vec<Ipv6Host> {
    let mut out: Vec<(bool, Ipv6Host)> = table
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let address = Ipv6Addr::from(u128::from_str_radix(fields.next()?, 16).ok()?);
            let scope = u32::from_str_radix(fields.nth(2)?, 16).ok()?;
            let flags = u32::from_str_radix(fields.next()?, 16).ok()?;
            let interface = fields.next()?.to_string();
            let worth = scope == SCOPE_GLOBAL
                && flags & UNUSABLE == 0
                && !address.is_loopback()
                && !address.is_unspecified()
                && !address.is_unicast_link_local();
            worth.then(|| {
                let host = Ipv6Host {
                    address,
                    interface,
                    teredo: TeredoAddress::parse(address).is_ok(),
                };
                (flags & IFA_F_TEMPORARY == 0, host)
            })
        })
        .collect();
    out.sort_by_key(|(permanent, _)| *permanent);
    out.into_iter().map(|(_, host)| host).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn keeps_global_addresses_and_marks_teredo() {
        let table = "00000000000000000000000000000001 01 80 10 80       lo\n\
                     fe800000000000000000000000000001 02 40 20 80     eth0\n\
                     20010db8000000000000000000000010 02 40 00 80     eth0\n\
                     20010000c6336428800063bf3ffffdd2 05 20 00 80   teredo\n";
        assert_eq!(
            parse_if_inet6(table),
            vec![
                Ipv6Host {
                    address: ip("2001:db8::10"),
                    interface: "eth0".into(),
                    teredo: false,
                },
                Ipv6Host {
                    address: ip("2001:0:c633:6428:8000:63bf:3fff:fdd2"),
                    interface: "teredo".into(),
                    teredo: true,
                },
            ]
        );
    }

    #[test]
    fn drops_tentative_deprecated_and_duplicate_addresses() {
        let table = "20010db8000000000000000000000001 02 40 00 c0     eth0\n\
                     20010db8000000000000000000000002 02 40 00 a0     eth0\n\
                     20010db8000000000000000000000003 02 40 00 88     eth0\n\
                     20010db8000000000000000000000004 02 40 00 82     eth0\n";
        let kept: Vec<Ipv6Addr> = parse_if_inet6(table).iter().map(|h| h.address).collect();
        assert_eq!(kept, [ip("2001:db8::4")], "only the permanent no-DAD one");
    }

    #[test]
    fn drops_other_scopes_whatever_the_address() {
        // Site-local (0x40), IPv4-compatible (0x80), and a loopback or
        // link-local address a broken table calls global.
        let table = "fec00000000000000000000000000001 02 40 40 80     eth0\n\
                     000000000000000000000000c0000201 02 60 80 80     sit0\n\
                     00000000000000000000000000000001 01 80 00 80       lo\n\
                     fe800000000000000000000000000001 02 40 00 80     eth0\n";
        assert_eq!(parse_if_inet6(table), []);
    }

    #[test]
    fn temporary_addresses_come_first() {
        let table = "20010db8000000000000000000000001 02 40 00 80     eth0\n\
                     20010db80000000000000000000000aa 02 40 00 01     eth0\n";
        let order: Vec<Ipv6Addr> = parse_if_inet6(table).iter().map(|h| h.address).collect();
        assert_eq!(order, [ip("2001:db8::aa"), ip("2001:db8::1")]);
    }

    #[test]
    fn broken_tables_give_nothing() {
        for table in [
            "",
            "2001zz 01\n\n garbage",
            "20010db8000000000000000000000001 02 40 00\n",
            "20010db8000000000000000000000001 02 40 zz 80 eth0\n",
            "20010db80000000000000000000000010000 02 40 00 80 eth0\n",
        ] {
            assert_eq!(parse_if_inet6(table), [], "{table:?}");
        }
    }
}
