//! Turning `HOST[:PORT]` server specs into socket addresses, with SRV lookup
//! of `_stun._udp.HOST` when no port is given (RFC 8489 §8.1).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::LookupIpStrategy;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::rr::RData;

use crate::report::{DnsFailure, UnresolvedServer};

/// The STUN port when neither the spec nor SRV gives one (RFC 8489 §18.3).
pub const DEFAULT_PORT: u16 = 3478;

/// How long name resolution may take in all.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// One server spec as the user wrote it, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    pub host: String,
    pub port: Option<u16>,
}

/// The spec as it would be typed: `host`, `host:port`, `[v6]:port`.
impl std::fmt::Display for ServerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => write!(f, "{host}:{port}"),
            None => f.write_str(&host),
        }
    }
}

/// A resolved server endpoint, with the name it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    pub name: Option<String>,
    pub addr: SocketAddr,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("empty server name")]
    Empty,
    #[error("bad port in server '{0}': expected a number from 1 to 65535")]
    BadPort(String),
}

impl std::str::FromStr for ServerSpec {
    type Err = SpecError;

    /// Accepts `host`, `host:port`, `1.2.3.4`, `1.2.3.4:port`, `::1`,
    /// `[::1]` and `[::1]:port`.
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(SpecError::Empty);
        }
        if let Ok(addr) = s.parse::<SocketAddr>() {
            if addr.port() == 0 {
                return Err(SpecError::BadPort(s.to_string()));
            }
            return Ok(Self {
                host: addr.ip().to_string(),
                port: Some(addr.port()),
            });
        }
        if let Ok(ip) = s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(Self {
                host: ip.to_string(),
                port: None,
            });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| SpecError::BadPort(s.to_string()))?;
                (host, Some(port))
            }
            None => (s, None),
        };
        if host.is_empty() {
            return Err(SpecError::Empty);
        }
        Ok(Self {
            host: host.to_string(),
            port,
        })
    }
}

/// Parses a comma-separated list, as in `RANAT_SERVERS`.
pub fn parse_list(list: &str) -> Result<Vec<ServerSpec>, SpecError> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// The servers of one address family: the addresses found, in the order
/// of the specs, and the names that gave no address of this family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilyServers {
    pub found: Vec<ServerAddr>,
    pub unresolved: Vec<UnresolvedServer>,
}

/// Every spec resolved, each family on its own: A lookups for IPv4, AAAA
/// lookups for IPv6 (RFC 3596).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub ipv4: FamilyServers,
    pub ipv6: FamilyServers,
}

impl Resolved {
    /// Every address found, IPv4 first.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.ipv4
            .found
            .iter()
            .chain(&self.ipv6.found)
            .map(|s| s.addr)
            .collect()
    }
}

/// One name's lookups: per family, its addresses or why there are none.
type Lookups = [Result<Vec<ServerAddr>, DnsFailure>; 2];

/// Resolves every spec, all names at once and within [`RESOLVE_TIMEOUT`]
/// in all; a name that gives no address of a family (no answer in time
/// among them) is listed with the reason. IP literals never touch DNS and
/// belong to their own family only.
pub async fn resolve(specs: &[ServerSpec]) -> Resolved {
    let mut lookups: Vec<Option<Lookups>> = vec![None; specs.len()];
    let mut names = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        match spec.host.parse::<IpAddr>() {
            Ok(ip) => {
                let found = Ok(vec![ServerAddr {
                    name: None,
                    addr: SocketAddr::new(ip, spec.port.unwrap_or(DEFAULT_PORT)),
                }]);
                lookups[i] = Some(if ip.is_ipv4() {
                    [found, Ok(Vec::new())]
                } else {
                    [Ok(Vec::new()), found]
                });
            }
            Err(_) => names.push(i),
        }
    }
    if !names.is_empty() {
        match (
            resolver(LookupIpStrategy::Ipv4Only),
            resolver(LookupIpStrategy::Ipv6Only),
        ) {
            (Some(v4), Some(v6)) => {
                let mut set = tokio::task::JoinSet::new();
                for &i in &names {
                    let (v4, v6, spec) = (v4.clone(), v6.clone(), specs[i].clone());
                    set.spawn(async move {
                        let (a, aaaa) = tokio::join!(lookup(&v4, &spec), lookup(&v6, &spec));
                        (i, [a, aaaa])
                    });
                }
                let collect = async {
                    while let Some(Ok((i, found))) = set.join_next().await {
                        lookups[i] = Some(found);
                    }
                };
                // What has not resolved by then never answered.
                let _ = tokio::time::timeout(RESOLVE_TIMEOUT, collect).await;
            }
            _ => {
                for &i in &names {
                    lookups[i] = Some([Err(DnsFailure::NoResolver), Err(DnsFailure::NoResolver)]);
                }
            }
        }
    }
    let mut resolved = Resolved::default();
    for (spec, lookup) in specs.iter().zip(lookups) {
        let [a, aaaa] =
            name_exists(lookup.unwrap_or([Err(DnsFailure::NoAnswer), Err(DnsFailure::NoAnswer)]));
        for (family, result) in [(&mut resolved.ipv4, a), (&mut resolved.ipv6, aaaa)] {
            match result {
                Ok(found) => family.found.extend(found),
                Err(reason) => family.unresolved.push(UnresolvedServer {
                    server: spec.to_string(),
                    reason,
                }),
            }
        }
    }
    resolved
}

/// A name that gave addresses of one family exists: a server that says
/// it does not (NXDOMAIN) to the other family's lookup merely has no
/// record of that family for it.
fn name_exists(lookups: Lookups) -> Lookups {
    let found = |r: &Result<Vec<ServerAddr>, DnsFailure>| r.as_ref().is_ok_and(|a| !a.is_empty());
    if lookups.iter().any(found) {
        lookups.map(|r| match r {
            Err(DnsFailure::NoSuchName) => Err(DnsFailure::NoAddress),
            other => other,
        })
    } else {
        lookups
    }
}

/// A resolver of the system's configuration (`/etc/resolv.conf`, and the
/// hosts file) that looks up one family only; `None` without a usable
/// configuration.
fn resolver(strategy: LookupIpStrategy) -> Option<TokioResolver> {
    let mut builder = TokioResolver::builder_tokio().ok()?;
    builder.options_mut().ip_strategy = strategy;
    builder.build().ok()
}

/// The addresses of one host name, within [`RESOLVE_TIMEOUT`].
pub async fn lookup_host(host: &str) -> Result<Vec<IpAddr>, String> {
    let resolver = TokioResolver::builder_tokio()
        .and_then(|b| b.build())
        .map_err(|_| DnsFailure::NoResolver.summary().to_string())?;
    match tokio::time::timeout(RESOLVE_TIMEOUT, resolver.lookup_ip(host)).await {
        Ok(Ok(ips)) => Ok(ips.iter().collect()),
        Ok(Err(e)) => Err(failure(&e).summary().to_string()),
        Err(_) => Err(format!(
            "{} within {} s",
            DnsFailure::NoAnswer.summary(),
            RESOLVE_TIMEOUT.as_secs()
        )),
    }
}

/// What a failed lookup means, without the resolver's internals.
fn failure(e: &NetError) -> DnsFailure {
    if e.is_nx_domain() {
        DnsFailure::NoSuchName
    } else if e.is_no_records_found() {
        DnsFailure::NoAddress
    } else if matches!(e, NetError::Dns(DnsError::ResponseCode(_))) {
        DnsFailure::ServerFailure
    } else {
        // A timeout, no reachable server, a transport error.
        DnsFailure::NoAnswer
    }
}

/// One spec's addresses of the resolver's family: from `_stun._udp` SRV
/// records when no port is given (RFC 8489 §8.1), else from the name.
async fn lookup(
    resolver: &TokioResolver,
    spec: &ServerSpec,
) -> Result<Vec<ServerAddr>, DnsFailure> {
    let mut targets = Vec::new();
    if spec.port.is_none() {
        // RFC 8489 §8.1: with no port given, SRV records name the servers.
        if let Ok(srv) = resolver
            .srv_lookup(format!("_stun._udp.{}.", spec.host.trim_end_matches('.')))
            .await
        {
            let mut records: Vec<_> = srv
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(srv) => Some((srv.priority, srv.target.to_string(), srv.port)),
                    _ => None,
                })
                .collect();
            records.sort();
            targets.extend(records.into_iter().map(|(_, t, p)| (t, p)));
        }
    }
    if targets.is_empty() {
        targets.push((spec.host.clone(), spec.port.unwrap_or(DEFAULT_PORT)));
    }
    let mut out = Vec::new();
    let mut first_failure = None;
    for (target, port) in targets {
        match resolver.lookup_ip(target.as_str()).await {
            Ok(ips) => out.extend(ips.iter().map(|ip| ServerAddr {
                name: Some(spec.host.clone()),
                addr: SocketAddr::new(ip, port),
            })),
            Err(e) => {
                first_failure.get_or_insert(failure(&e));
            }
        }
    }
    match first_failure {
        Some(failure) if out.is_empty() => Err(failure),
        _ if out.is_empty() => Err(DnsFailure::NoAddress),
        _ => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_specs() {
        let p = |s: &str| s.parse::<ServerSpec>();
        assert_eq!(
            p("127.0.0.1:3478").unwrap(),
            ServerSpec {
                host: "127.0.0.1".into(),
                port: Some(3478)
            }
        );
        assert_eq!(p("[::1]:3479").unwrap().port, Some(3479));
        assert_eq!(p("[::1]").unwrap().host, "::1");
        assert_eq!(p("::1").unwrap().port, None);
        assert_eq!(
            p("stun.example.org").unwrap(),
            ServerSpec {
                host: "stun.example.org".into(),
                port: None
            }
        );
        assert_eq!(p("stun.example.org:443").unwrap().port, Some(443));
        assert!(p("stun.example.org:0").is_err());
        assert!(p("127.0.0.1:0").is_err());
        assert!(p("[::1]:0").is_err());
        assert!(p("stun.example.org:http").is_err());
        assert!(p(":3478").is_err());
        assert!(p("  ").is_err());
        assert_eq!(parse_list("a, b:1,,").unwrap().len(), 2);
    }

    #[test]
    fn a_name_that_resolved_in_one_family_exists_in_the_other() {
        let found = Ok(vec![ServerAddr {
            name: Some("stun.example.org".into()),
            addr: "192.0.2.1:3478".parse().unwrap(),
        }]);
        let [_, aaaa] = name_exists([found.clone(), Err(DnsFailure::NoSuchName)]);
        assert_eq!(aaaa, Err(DnsFailure::NoAddress));
        let [_, aaaa] = name_exists([found, Err(DnsFailure::NoAnswer)]);
        assert_eq!(aaaa, Err(DnsFailure::NoAnswer));
        let both = [Err(DnsFailure::NoSuchName), Err(DnsFailure::NoSuchName)];
        assert_eq!(name_exists(both.clone()), both);
    }

    #[tokio::test]
    async fn literals_resolve_without_dns() {
        let specs = parse_list("127.0.0.1,[::1]:5000").unwrap();
        let resolved = resolve(&specs).await;
        assert!(resolved.ipv4.unresolved.is_empty());
        assert!(resolved.ipv6.unresolved.is_empty());
        assert_eq!(
            resolved.ipv4.found[0].addr,
            "127.0.0.1:3478".parse().unwrap()
        );
        assert_eq!(resolved.ipv6.found[0].addr, "[::1]:5000".parse().unwrap());
    }
}
