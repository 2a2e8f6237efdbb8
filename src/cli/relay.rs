//! `ranat relay-test`: does this network reach its TURN relay, and does
//! the relay carry data to another client ([`crate::flow::relay`])?

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;

use crate::flow::relay::{self, PeerSource, RelayTestEvent, RelayTestOptions};
use crate::io::resolve::{self, ServerSpec};
use crate::proto::relay::client::RelayTransport;
use crate::proto::relay::credentials::{Credentials, Secret};

/// Exit code: the relay refused the allocation or never answered.
pub const EXIT_NO_ALLOCATION: i32 = 30;
/// Exit code: allocated, but the exchange with the peer failed or lost
/// more than `--max-loss`.
pub const EXIT_EXCHANGE: i32 = 31;

#[derive(Debug, Args)]
pub struct RelayTestArgs {
    /// The TURN server, HOST[:PORT] (default port 3478).
    #[arg(long)]
    relay: String,
    /// Make time-limited credentials (TURN REST API) from the shared secret
    /// in this file (its first line): the relay's --relay-secret-file, or
    /// coturn's --static-auth-secret.
    #[arg(long, required_unless_present = "user", conflicts_with = "user")]
    secret_file: Option<PathBuf>,
    /// A username (long-term credentials, or REST ones made elsewhere).
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// The password of --user.
    #[arg(long, requires = "user")]
    password: Option<String>,
    /// Reach the relay over TCP (networks that block UDP).
    #[arg(long)]
    tcp: bool,
    /// The other side's relayed address: exchange datagrams with it.
    #[arg(long, conflicts_with = "peer_file")]
    peer: Option<SocketAddr>,
    /// Wait for the other side to write its relayed address to this file,
    /// then exchange datagrams with it.
    #[arg(long)]
    peer_file: Option<PathBuf>,
    /// Write the relayed address to this file once allocated (for the
    /// other side's --peer-file).
    #[arg(long)]
    write_relayed: Option<PathBuf>,
    /// Pings to send to the peer (1–100000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    count: u32,
    /// Milliseconds between pings.
    #[arg(long, default_value_t = 20)]
    interval_ms: u64,
    /// Bytes per ping (9–1200).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(9..=1200))]
    size: u16,
    /// Percent of pings that may go unanswered.
    #[arg(long, default_value_t = 0.0)]
    max_loss: f64,
    /// Seconds the whole test may take (1–600).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: u64,
}

impl RelayTestArgs {
    fn credentials(&self) -> anyhow::Result<Credentials> {
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            return Ok(Credentials {
                username: user.clone(),
                password: password.clone(),
            });
        }
        let file = self
            .secret_file
            .as_ref()
            .context("give --secret-file or --user and --password")?;
        let secret = std::fs::read_to_string(file)
            .with_context(|| format!("reading the relay secret from {}", file.display()))?;
        let secret = Secret::new(secret.lines().next().unwrap_or_default())?;
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("the system clock is before 1970")?;
        Ok(secret.issue("ranat-relay-test", unix.as_secs() + 3600)?)
    }
}

pub async fn run(args: RelayTestArgs) -> anyhow::Result<i32> {
    let spec: ServerSpec = args
        .relay
        .parse()
        .map_err(|e| anyhow::anyhow!("--relay {}: {e}", args.relay))?;
    let resolved = resolve::resolve(std::slice::from_ref(&spec)).await;
    let Some(server) = resolved.addresses().first().copied() else {
        let why = resolved
            .ipv4
            .unresolved
            .first()
            .map_or("no address", |u| u.reason.summary());
        anyhow::bail!("--relay {}: {why}", args.relay);
    };
    let transport = if args.tcp {
        RelayTransport::Tcp
    } else {
        RelayTransport::Udp
    };
    let peer = match (args.peer, &args.peer_file) {
        (Some(peer), _) => Some(PeerSource::Address(peer)),
        (None, Some(file)) => Some(PeerSource::File(file.clone())),
        (None, None) => None,
    };
    let options = RelayTestOptions {
        server,
        transport,
        credentials: args.credentials()?,
        write_relayed: args.write_relayed.clone(),
        peer,
        count: args.count,
        interval: Duration::from_millis(args.interval_ms),
        size: usize::from(args.size),
        timeout: Duration::from_secs(args.timeout),
    };
    let over = if args.tcp { "TCP" } else { "UDP" };
    let show = |event| match event {
        RelayTestEvent::Allocated(relayed) => {
            eprintln!("ranat relay-test: {server} over {over}: allocated {relayed}")
        }
        RelayTestEvent::PeerKnown(peer) => eprintln!("ranat relay-test: peer {peer}"),
        RelayTestEvent::ChannelBound(peer) => {
            eprintln!("ranat relay-test: channel to {peer} bound")
        }
        RelayTestEvent::PeerHeard => eprintln!("ranat relay-test: the peer is heard"),
    };
    let result = match relay::relay_test(options, show).await {
        Ok(result) => result,
        Err(e @ (relay::RelayTestError::Allocation(_) | relay::RelayTestError::Unauthorized)) => {
            super::print(&format!("relay {server} over {over}: no allocation: {e}\n"))?;
            return Ok(EXIT_NO_ALLOCATION);
        }
        Err(e) => {
            super::print(&format!("relay {server} over {over}: {e}\n"))?;
            return Ok(EXIT_EXCHANGE);
        }
    };
    let mut text = format!(
        "relay {server} over {over}: relayed address {}\n",
        result.relayed
    );
    let mut code = 0;
    if let Some(x) = &result.exchange {
        let loss = x.loss_percent();
        text += &format!(
            "peer {}: {} sent, {} answered, {loss:.1}% loss; answered {} of the peer's pings{}\n",
            x.peer,
            x.sent,
            x.received(),
            x.answered_peer,
            if x.peer_done {
                ""
            } else {
                " (the peer never said it was done)"
            },
        );
        if !x.round_trips.is_empty() {
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            let min = x.round_trips.iter().copied().min().unwrap_or_default();
            let max = x.round_trips.iter().copied().max().unwrap_or_default();
            let avg = x.round_trips.iter().sum::<Duration>() / x.received().max(1);
            text += &format!(
                "round trip min/avg/max {:.2}/{:.2}/{:.2} ms\n",
                ms(min),
                ms(avg),
                ms(max)
            );
        }
        if x.received() == 0 || loss > args.max_loss {
            code = EXIT_EXCHANGE;
        }
    }
    super::print(&text)?;
    Ok(code)
}
