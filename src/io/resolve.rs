//! Turning `HOST[:PORT]` server specs into socket addresses, with SRV lookup
//! of `_stun._udp.HOST` when no port is given (RFC 8489 §8.1).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;

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

/// Resolves every spec, all names at once and within [`RESOLVE_TIMEOUT`]
/// in all; names that do not resolve in time are reported in the returned
/// notes, not as errors. IP literals never touch DNS. Results keep the order
/// of `specs`.
pub async fn resolve(specs: &[ServerSpec]) -> (Vec<ServerAddr>, Vec<String>) {
    let mut slots: Vec<Option<Vec<ServerAddr>>> = vec![None; specs.len()];
    let mut notes = Vec::new();
    let mut names = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        match spec.host.parse::<IpAddr>() {
            Ok(ip) => {
                slots[i] = Some(vec![ServerAddr {
                    name: None,
                    addr: SocketAddr::new(ip, spec.port.unwrap_or(DEFAULT_PORT)),
                }]);
            }
            Err(_) => names.push(i),
        }
    }
    if !names.is_empty() {
        match TokioResolver::builder_tokio().and_then(|b| b.build()) {
            Err(e) => notes.push(format!("no DNS resolver available: {e}")),
            Ok(resolver) => {
                let mut set = tokio::task::JoinSet::new();
                for &i in &names {
                    let (resolver, spec) = (resolver.clone(), specs[i].clone());
                    set.spawn(async move { (i, lookup(&resolver, &spec).await) });
                }
                let collect = async {
                    while let Some(Ok((i, result))) = set.join_next().await {
                        match result {
                            Ok(addrs) if !addrs.is_empty() => slots[i] = Some(addrs),
                            Ok(_) => notes.push(format!("{} has no address", specs[i].host)),
                            Err(e) => {
                                notes.push(format!("could not resolve {}: {e}", specs[i].host))
                            }
                        }
                    }
                };
                if tokio::time::timeout(RESOLVE_TIMEOUT, collect)
                    .await
                    .is_err()
                {
                    let late: Vec<&str> = names
                        .iter()
                        .filter(|i| slots[**i].is_none())
                        .map(|i| specs[*i].host.as_str())
                        .collect();
                    notes.push(format!(
                        "DNS gave no answer within {} s for {}",
                        RESOLVE_TIMEOUT.as_secs(),
                        late.join(", ")
                    ));
                }
            }
        }
    }
    (slots.into_iter().flatten().flatten().collect(), notes)
}

/// The addresses of one host name, within [`RESOLVE_TIMEOUT`].
pub async fn lookup_host(host: &str) -> Result<Vec<IpAddr>, String> {
    let resolver = TokioResolver::builder_tokio()
        .and_then(|b| b.build())
        .map_err(|e| format!("no DNS resolver available: {e}"))?;
    match tokio::time::timeout(RESOLVE_TIMEOUT, resolver.lookup_ip(host)).await {
        Ok(Ok(ips)) => Ok(ips.iter().collect()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "DNS gave no answer within {} s",
            RESOLVE_TIMEOUT.as_secs()
        )),
    }
}

async fn lookup(
    resolver: &TokioResolver,
    spec: &ServerSpec,
) -> Result<Vec<ServerAddr>, hickory_resolver::net::NetError> {
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
    for (target, port) in targets {
        let ips = resolver.lookup_ip(target.as_str()).await?;
        out.extend(ips.iter().map(|ip| ServerAddr {
            name: Some(spec.host.clone()),
            addr: SocketAddr::new(ip, port),
        }));
    }
    Ok(out)
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

    #[tokio::test]
    async fn literals_resolve_without_dns() {
        let specs = parse_list("127.0.0.1,[::1]:5000").unwrap();
        let (found, notes) = resolve(&specs).await;
        assert!(notes.is_empty());
        assert_eq!(found[0].addr, "127.0.0.1:3478".parse().unwrap());
        assert_eq!(found[1].addr, "[::1]:5000".parse().unwrap());
    }
}
