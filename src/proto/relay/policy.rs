//! What keeps the relay from being an open one (RFC 8656 §21.3): which
//! peers it relays to, which ports it relays from, and the quotas on
//! allocations, bandwidth and lifetime.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// A block of addresses, `ADDRESS/PREFIX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a flag's value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{0:?} is not ADDRESS/PREFIX (e.g. 10.0.0.0/8 or fc00::/7)")]
    Cidr(String),
    #[error("{0:?} is not a port range LOW-HIGH within 1024–65535, LOW ≤ HIGH")]
    Ports(String),
}

impl Cidr {
    /// Whether `ip` is in the block (an IPv4-mapped IPv6 address counts as
    /// its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || PolicyError::Cidr(s.to_string());
        let (address, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = address.parse().map_err(|_| error())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(error)?,
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is, so that no rule
/// is dodged by writing an address the other way.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The blocks a relay never sends to unless the operator allows them:
/// the unspecified, loopback, link-local, multicast and reserved ranges
/// (where a packet means something else than "a peer"), and the private
/// and shared ranges (RFC 1918, RFC 6598, RFC 4193), so that a relay
/// reachable from the Internet is never a door into the network it stands
/// in. coturn denies only loopback and multicast by default and leaves the
/// rest to its `denied-peer-ip` lines; ranat starts closed instead.
pub const DEFAULT_DENIED: [&str; 17] = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "64:ff9b:1::/48",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// Which peers the relay may send to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPolicy {
    /// Blocks refused ([`DEFAULT_DENIED`] and the operator's own).
    pub denied: Vec<Cidr>,
    /// Blocks allowed although denied (a relay for a LAN allows its LAN).
    pub allowed: Vec<Cidr>,
    /// The server's own addresses: refused unless allowed, but for its
    /// relayed ports (another allocation).
    pub own: Vec<IpAddr>,
    /// The server's own services (STUN, TURN, rendezvous): never a peer.
    pub services: Vec<SocketAddr>,
    /// The relayed ports.
    pub ports: PortRange,
}

impl PeerPolicy {
    /// The defaults plus the operator's `denied` and `allowed` blocks.
    pub fn new(
        denied: &[Cidr],
        allowed: &[Cidr],
        own: &[IpAddr],
        services: &[SocketAddr],
        ports: PortRange,
    ) -> Self {
        let mut all: Vec<Cidr> = DEFAULT_DENIED
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect();
        all.extend_from_slice(denied);
        Self {
            denied: all,
            allowed: allowed.to_vec(),
            own: own.iter().copied().map(canonical).collect(),
            services: services
                .iter()
                .map(|s| SocketAddr::new(canonical(s.ip()), s.port()))
                .collect(),
            ports,
        }
    }

    /// Whether a permission (RFC 8656 §9, which names only an IP) may be
    /// installed for `ip`: the server's own addresses may, for their
    /// relayed ports; [`PeerPolicy::permits`] still checks every datagram.
    pub fn permits_permission(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.own.contains(&ip) || self.permits(SocketAddr::new(ip, 0))
    }

    /// Whether the relay may send to `peer`.
    pub fn permits(&self, peer: SocketAddr) -> bool {
        let ip = canonical(peer.ip());
        if self.services.contains(&SocketAddr::new(ip, peer.port())) {
            return false;
        }
        let own = self.own.contains(&ip);
        if own && self.ports.contains(peer.port()) {
            return true;
        }
        if self.allowed.iter().any(|c| c.contains(ip)) {
            return true;
        }
        !own && !self.denied.iter().any(|c| c.contains(ip))
    }
}

/// The ports relayed addresses are taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl PortRange {
    /// RFC 8656 §7.2 suggests the dynamic range, 49152–65535.
    pub const DEFAULT: Self = Self {
        low: 49152,
        high: 65535,
    };

    pub fn contains(&self, port: u16) -> bool {
        (self.low..=self.high).contains(&port)
    }

    /// How many ports it holds.
    pub fn len(&self) -> u32 {
        u32::from(self.high) - u32::from(self.low) + 1
    }

    /// Never empty: `low ≤ high` always holds.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The port `offset` places after `low`, wrapping.
    pub fn nth(&self, offset: u32) -> u16 {
        let i = offset % self.len();
        u16::try_from(u32::from(self.low) + i).unwrap_or(self.high)
    }
}

impl FromStr for PortRange {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || PolicyError::Ports(s.to_string());
        let (low, high) = s.split_once('-').ok_or_else(error)?;
        let low: u16 = low.trim().parse().map_err(|_| error())?;
        let high: u16 = high.trim().parse().map_err(|_| error())?;
        if low < 1024 || low > high {
            return Err(error());
        }
        Ok(Self { low, high })
    }
}

/// The relay's quotas; see [`Limits::default`] for the documented
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Allocations one user (the NAME of `EXPIRY:NAME`) may hold at once.
    pub user_allocations: usize,
    /// Allocations the relay holds at once, and TCP connections it keeps.
    pub total_allocations: usize,
    /// Bytes per second one user may relay, both ways together.
    pub user_bandwidth: u64,
    /// Bytes per second the relay relays in all.
    pub total_bandwidth: u64,
    /// How long an allocation may live, refreshes included.
    pub lifetime: Duration,
}

impl Default for Limits {
    /// 10 allocations a user, 500 in all; 1 MB/s (8 Mbit/s) a user,
    /// 12.5 MB/s (100 Mbit/s) in all; 12 hours an allocation. A remote
    /// assistance session needs one allocation a side and well under
    /// 1 MB/s.
    fn default() -> Self {
        Self {
            user_allocations: 10,
            total_allocations: 500,
            user_bandwidth: 1_000_000,
            total_bandwidth: 12_500_000,
            lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

/// A token bucket: `rate` bytes a second, bursts of one second's worth.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    rate: u64,
    tokens: u64,
    at: Option<Instant>,
}

impl Bucket {
    pub fn new(rate: u64) -> Self {
        Self {
            rate,
            tokens: rate,
            at: None,
        }
    }

    /// Takes `bytes` at `now`; false (and nothing taken) when there are
    /// not that many.
    pub fn take(&mut self, now: Instant, bytes: u64) -> bool {
        if let Some(at) = self.at {
            let elapsed = now.saturating_duration_since(at);
            let earned = (u128::from(self.rate) * elapsed.as_nanos() / 1_000_000_000)
                .min(u128::from(self.rate));
            self.tokens = (self.tokens + u64::try_from(earned).unwrap_or(self.rate)).min(self.rate);
        }
        self.at = Some(now);
        if self.tokens < bytes {
            return false;
        }
        self.tokens -= bytes;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str]) -> PeerPolicy {
        let allowed: Vec<Cidr> = allowed.iter().map(|c| c.parse().unwrap()).collect();
        PeerPolicy::new(
            &["203.0.113.128/25".parse().unwrap()],
            &allowed,
            &["198.51.100.1".parse().unwrap()],
            &["198.51.100.1:3478".parse().unwrap()],
            PortRange::DEFAULT,
        )
    }

    fn permits(p: &PeerPolicy, peer: &str) -> bool {
        p.permits(peer.parse().unwrap())
    }

    #[test]
    fn cidrs_parse_and_match_at_their_boundaries() {
        let c: Cidr = "172.16.0.0/12".parse().unwrap();
        assert!(c.contains("172.31.255.255".parse().unwrap()));
        assert!(!c.contains("172.32.0.0".parse().unwrap()));
        assert!(!c.contains("172.15.255.255".parse().unwrap()));
        assert!(c.contains("::ffff:172.16.0.1".parse().unwrap()), "mapped");
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let host: Cidr = "2001:db8::1".parse().unwrap();
        assert_eq!(host.to_string(), "2001:db8::1/128");
        for bad in [
            "10.0.0.0/33",
            "fc00::/129",
            "10.0.0/8",
            "",
            "/8",
            "10.0.0.0/x",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!(DEFAULT_DENIED.iter().all(|c| c.parse::<Cidr>().is_ok()));
    }

    #[test]
    fn the_relay_never_sends_to_denied_own_or_service_addresses() {
        let p = policy(&[]);
        assert!(permits(&p, "203.0.113.9:40000"), "a public peer");
        for denied in [
            "127.0.0.1:40000",
            "[::1]:40000",
            "[::ffff:127.0.0.1]:40000",
            "0.0.0.0:40000",
            "10.1.2.3:40000",
            "192.168.1.1:40000",
            "172.20.0.1:40000",
            "100.64.0.1:40000",
            "169.254.1.1:40000",
            "224.0.0.1:40000",
            "255.255.255.255:40000",
            "[fe80::1]:40000",
            "[fd00::1]:40000",
            "[ff02::1]:40000",
            "203.0.113.200:40000",
            "198.51.100.1:22",
            "198.51.100.1:3478",
        ] {
            assert!(!permits(&p, denied), "{denied}");
        }
        // Another allocation on this relay is a peer like any other.
        assert!(permits(&p, "198.51.100.1:50000"));
        assert!(p.permits_permission("198.51.100.1".parse().unwrap()));
        assert!(!p.permits_permission("127.0.0.1".parse().unwrap()));
        assert!(p.permits_permission("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn an_allowed_block_opens_a_denied_one_but_never_the_services() {
        let p = policy(&["10.0.0.0/8", "127.0.0.1", "198.51.100.1"]);
        assert!(permits(&p, "10.1.2.3:40000"));
        assert!(permits(&p, "127.0.0.1:40000"));
        assert!(!permits(&p, "127.0.0.2:40000"));
        assert!(permits(&p, "198.51.100.1:22"));
        assert!(!permits(&p, "198.51.100.1:3478"), "never the service port");
        assert!(!permits(&p, "192.168.1.1:40000"));
    }

    #[test]
    fn port_ranges_parse_and_wrap() {
        let r: PortRange = "50000-50009".parse().unwrap();
        assert_eq!(r.len(), 10);
        assert_eq!(r.nth(0), 50000);
        assert_eq!(r.nth(12), 50002);
        assert!(r.contains(50009) && !r.contains(50010));
        for bad in ["50000", "50010-50000", "80-90", "a-b", "50000-70000"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
        assert_eq!(PortRange::DEFAULT.len(), 16384);
    }

    #[test]
    fn a_bucket_allows_a_second_of_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000);
        assert!(b.take(t0, 600));
        assert!(b.take(t0, 400));
        assert!(!b.take(t0, 1));
        assert!(b.take(t0 + Duration::from_millis(500), 500));
        assert!(!b.take(t0 + Duration::from_millis(500), 1));
        // Idle time earns no more than one second's worth.
        assert!(!b.take(t0 + Duration::from_secs(60), 1001));
        assert!(b.take(t0 + Duration::from_secs(60), 1000));
    }
}
