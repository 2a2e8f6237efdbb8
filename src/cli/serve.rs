//! `ranat serve`: an RFC 5780 STUN server, the rendezvous, and the TURN
//! relay when a secret is given.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use tokio::sync::watch;

use crate::io::store::{RedisStore, RoomStore, StoreHealth};
use crate::io::{rendezvous, serve};
use crate::proto::relay::credentials::{Secret, UnixClock};
use crate::proto::relay::policy::{Cidr, Limits, PeerPolicy, PortRange};
use crate::proto::relay::server::{RelayConfig, RelayStats};
use crate::proto::rendezvous::{RelayOffer, RendezvousConfig, RendezvousStats};
use crate::proto::stun::ResponderConfig;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The primary address to listen on.
    #[arg(long)]
    primary: IpAddr,
    /// The alternate address (RFC 5780 §3); without it the server runs in
    /// basic mode and cannot answer behaviour tests.
    #[arg(long)]
    alternate: Option<IpAddr>,
    /// The primary port (1–65535: OTHER-ADDRESS must name a real port).
    #[arg(long, default_value_t = 3478, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// The alternate port.
    #[arg(long, default_value_t = 3479, value_parser = clap::value_parser!(u16).range(1..))]
    alt_port: u16,
    /// The TCP port of the rendezvous on the primary address (0: any free
    /// port, printed at start).
    #[arg(long, default_value_t = 3480)]
    rendezvous_port: u16,
    /// Run no rendezvous: STUN only.
    #[arg(long, conflicts_with = "rendezvous_port")]
    no_rendezvous: bool,
    /// Threads answering STUN (default: one per core). Each has its own
    /// socket on every endpoint (SO_REUSEPORT: the kernel spreads clients
    /// across them); the relay and the rendezvous stay on one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Keep the rendezvous's rooms in Redis (redis://HOST[:PORT][/DB]),
    /// shared by every `ranat serve` given the same store: codes are
    /// unique across them, the per-source limits count across them, and a
    /// novice reaching another host than its helper's is carried to the
    /// helper's. Without it, the rooms stay in this process.
    #[arg(long, value_name = "URL", conflicts_with = "no_rendezvous")]
    store: Option<String>,
    /// The prefix of every Redis key, so that several deployments can
    /// share one Redis.
    #[arg(long, default_value = "ranat", requires = "store")]
    store_prefix: String,
    #[command(flatten)]
    relay: RelayArgs,
}

/// The TURN relay (RFC 8656) on the primary address and port, UDP and TCP.
/// Off unless a secret is given.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Run the relay, with time-limited credentials derived from this
    /// shared secret (TURN REST API: username EXPIRY:NAME, password
    /// base64(HMAC-SHA1(secret, username)), as coturn's
    /// --static-auth-secret). Visible to other users in the process list:
    /// prefer --relay-secret-file or the environment.
    #[arg(long, env = "RANAT_RELAY_SECRET", hide_env_values = true)]
    relay_secret: Option<String>,
    /// Run the relay with the secret in this file (its first line).
    #[arg(long, conflicts_with = "relay_secret")]
    relay_secret_file: Option<PathBuf>,
    /// The realm of the credentials.
    #[arg(long, default_value = "ranat")]
    relay_realm: String,
    /// The ports relayed addresses are taken from, LOW-HIGH.
    #[arg(long, default_value = "49152-65535")]
    relay_ports: PortRange,
    /// Never relay to this block (ADDRESS/PREFIX), besides the defaults:
    /// loopback, unspecified, private (RFC 1918, RFC 6598, fc00::/7),
    /// link-local, multicast and reserved. Repeatable.
    #[arg(long, value_name = "CIDR")]
    relay_deny: Vec<Cidr>,
    /// Relay to this block although denied (a relay for a LAN allows its
    /// LAN; 127.0.0.1/32 for tests on one machine). Repeatable.
    #[arg(long, value_name = "CIDR")]
    relay_allow: Vec<Cidr>,
    /// Allocations one user may hold at once.
    #[arg(long, default_value_t = Limits::default().user_allocations)]
    relay_user_allocations: usize,
    /// Allocations (and TCP connections) the relay holds at once.
    #[arg(long, default_value_t = Limits::default().total_allocations)]
    relay_total_allocations: usize,
    /// Bytes per second one user may relay.
    #[arg(long, default_value_t = Limits::default().user_bandwidth)]
    relay_user_bandwidth: u64,
    /// Bytes per second the relay relays in all.
    #[arg(long, default_value_t = Limits::default().total_bandwidth)]
    relay_total_bandwidth: u64,
    /// Seconds an allocation may live, refreshes included.
    #[arg(long, default_value_t = Limits::default().lifetime.as_secs())]
    relay_max_lifetime: u64,
    /// Offer this TURN relay (ADDRESS:PORT, UDP and TCP) to the
    /// rendezvous's members instead of running one: a coturn started with
    /// --use-auth-secret --static-auth-secret set to the relay secret.
    #[arg(long, value_name = "ADDRESS:PORT")]
    offer_relay: Option<SocketAddr>,
    /// Seconds the relay credentials handed to a room's members stay
    /// valid: a session relayed for longer must meet again.
    #[arg(long, default_value_t = 12 * 3600)]
    relay_credential_lifetime: u64,
}

impl RelayArgs {
    /// The shared secret, when one is given.
    fn secret(&self) -> anyhow::Result<Option<Secret>> {
        let secret = match (&self.relay_secret, &self.relay_secret_file) {
            (Some(secret), _) => secret.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("reading the relay secret from {}", file.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            (None, None) => return Ok(None),
        };
        Ok(Some(Secret::new(secret)?))
    }

    /// The relay the rendezvous hands out: the one named by
    /// --offer-relay, or this server's own (`listen`) when it runs one.
    fn offer(&self, listen: SocketAddr) -> anyhow::Result<Option<RelayOffer>> {
        let Some(secret) = self.secret()? else {
            if self.offer_relay.is_some() {
                anyhow::bail!("--offer-relay needs the relay's secret (--relay-secret-file)");
            }
            return Ok(None);
        };
        Ok(Some(RelayOffer {
            address: self.offer_relay.unwrap_or(listen),
            secret,
            clock: UnixClock::new(Instant::now(), unix_now()?),
            lifetime: Duration::from_secs(self.relay_credential_lifetime),
        }))
    }

    /// The own relay's configuration, or none without a secret or when
    /// another relay is offered.
    fn config(
        &self,
        listen: SocketAddr,
        own: &[IpAddr],
        services: &[SocketAddr],
    ) -> anyhow::Result<Option<RelayConfig>> {
        if self.offer_relay.is_some() {
            return Ok(None);
        }
        let Some(secret) = self.secret()? else {
            return Ok(None);
        };
        let unix = unix_now()?;
        let limits = Limits {
            user_allocations: self.relay_user_allocations,
            total_allocations: self.relay_total_allocations,
            user_bandwidth: self.relay_user_bandwidth,
            total_bandwidth: self.relay_total_bandwidth,
            lifetime: Duration::from_secs(self.relay_max_lifetime),
        };
        Ok(Some(RelayConfig {
            listen,
            realm: self.relay_realm.clone(),
            secret,
            clock: UnixClock::new(Instant::now(), unix),
            policy: PeerPolicy::new(
                &self.relay_deny,
                &self.relay_allow,
                own,
                services,
                self.relay_ports,
            ),
            limits,
        }))
    }
}

/// Time since the Unix epoch.
fn unix_now() -> anyhow::Result<Duration> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")
}

pub async fn run(args: ServeArgs) -> anyhow::Result<i32> {
    let primary = SocketAddr::new(args.primary, args.port);
    let alternate = args.alternate.map(|ip| SocketAddr::new(ip, args.alt_port));
    let config = ResponderConfig::new(primary, alternate)?;
    let own: Vec<IpAddr> = [Some(args.primary), args.alternate]
        .into_iter()
        .flatten()
        .collect();
    let mut services = config.endpoints();
    if !args.no_rendezvous {
        services.push(SocketAddr::new(args.primary, args.rendezvous_port));
    }
    let relay = args.relay.config(primary, &own, &services)?;
    let relay_on = relay.is_some();
    let offer = args.relay.offer(primary)?;
    let threads = match args.threads {
        Some(n) => NonZeroUsize::new(usize::from(n)),
        None => std::thread::available_parallelism().ok(),
    }
    .unwrap_or(NonZeroUsize::MIN);
    let server = serve::bind_threads(config, relay, threads).await?;
    let rendezvous = if args.no_rendezvous {
        None
    } else {
        let addr = SocketAddr::new(args.primary, args.rendezvous_port);
        let server = rendezvous::bind(addr, RendezvousConfig::default()).await?;
        Some(match &offer {
            Some(offer) => server.offer_relay(offer.clone()),
            None => server,
        })
    };
    let store = match (&rendezvous, &args.store) {
        (Some(server), Some(url)) => {
            let limits = RendezvousConfig::default().per_source;
            let store = RedisStore::new(url, &args.store_prefix, server.local_addr(), limits)?;
            Some((Arc::new(store), url.clone()))
        }
        _ => None,
    };
    let endpoints: Vec<String> = server.endpoints().iter().map(|a| a.to_string()).collect();
    let mode = if alternate.is_some() {
        "RFC 5780 full mode"
    } else {
        "basic mode: no behaviour tests"
    };
    let threads = match threads.get() {
        1 => "1 thread".to_string(),
        n => format!("{n} threads"),
    };
    eprintln!(
        "ranat serve: {mode}, {threads}, listening on {}",
        endpoints.join(", ")
    );
    let streams: Vec<String> = server
        .stream_endpoints()
        .iter()
        .map(|a| a.to_string())
        .collect();
    if !streams.is_empty() {
        eprintln!("ranat serve: STUN over TCP on {}", streams.join(", "));
    }
    if relay_on {
        eprintln!("ranat serve: TURN relay on UDP and TCP {primary} (STUN over TCP there too)");
    }
    if let Some(rendezvous) = &rendezvous {
        eprintln!(
            "ranat serve: rendezvous listening on TCP {}",
            rendezvous.local_addr()
        );
        if let Some(offer) = &offer {
            eprintln!(
                "ranat serve: the rendezvous offers the TURN relay {}",
                offer.address
            );
        }
        if let Some((_, url)) = &store {
            eprintln!(
                "ranat serve: rooms in Redis at {url} (key prefix {:?}), shared with every host using it",
                args.store_prefix
            );
        }
    }

    let (stop, stopped) = watch::channel(false);
    let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
        // An error means the sender is gone, which is a stop too.
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let signal = async {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    let stun = server.run(until_stopped(stopped.clone()));
    let health = async {
        if let Some((store, url)) = &store {
            let health = store.health();
            // A first request says at once whether Redis answers.
            let _ = store.forward_key().await;
            report_health(health, url, until_stopped(stopped.clone())).await;
        }
    };
    let rendezvous = async {
        let stop = until_stopped(stopped.clone());
        match (rendezvous, &store) {
            (Some(r), Some((store, _))) => Some(r.run_with(Arc::clone(store), stop).await),
            (Some(r), None) => Some(r.run(stop).await),
            (None, _) => None,
        }
    };
    let ((), (stats, relay_stats), rendezvous_stats, ()) =
        tokio::join!(signal, stun, rendezvous, health);

    eprintln!(
        "ranat serve: stopped; {} requests, {} answers, {} error answers, {} malformed, {} ignored",
        stats.requests, stats.responses, stats.error_responses, stats.malformed, stats.ignored
    );
    if let Some(stats) = rendezvous_stats {
        eprintln!("ranat serve: rendezvous: {}", rendezvous_summary(&stats));
    }
    if let Some(stats) = relay_stats {
        eprintln!("ranat serve: relay: {}", relay_summary(&stats));
    }
    Ok(0)
}

/// Says in the log each time the room store is lost or back, until
/// `stop` completes.
async fn report_health(
    mut health: watch::Receiver<StoreHealth>,
    url: &str,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            changed = health.changed() => {
                if changed.is_err() {
                    return;
                }
                match &*health.borrow_and_update() {
                    StoreHealth::Unreachable(reason) => eprintln!(
                        "ranat serve: the room store {url} is unreachable ({reason}): new rooms are refused until it is back; rooms already paired go on"
                    ),
                    StoreHealth::Reachable => {
                        eprintln!("ranat serve: the room store {url} is reachable again: new rooms are open");
                    }
                }
            }
            () = &mut stop => return,
        }
    }
}

/// The relay's counts in words.
fn relay_summary(s: &RelayStats) -> String {
    format!(
        "{} allocations, {} refused, {} bytes relayed, {} quota hits, {} datagrams dropped, {} malformed connections",
        s.allocations, s.refused, s.bytes_relayed, s.quota_hits, s.dropped, s.malformed
    )
}

/// The rendezvous counts in words.
fn rendezvous_summary(s: &RendezvousStats) -> String {
    format!(
        "{} rooms created, {} paired, {} completed, {} expired; {} wrong codes, {} novices too slow to confirm, {} rooms closed after wrong codes; {} refused, {} refused by a per-source limit, {} refused for want of the room store, {} protocol errors, {} idle connections closed; {} novices carried to another host",
        s.rooms_created,
        s.rooms_paired,
        s.rooms_completed,
        s.rooms_expired,
        s.wrong_codes,
        s.slow_novices,
        s.rooms_closed_after_wrong_codes,
        s.refused,
        s.rate_limited,
        s.store_unavailable,
        s.protocol_errors,
        s.idle_closed,
        s.forwarded
    )
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")
        {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
