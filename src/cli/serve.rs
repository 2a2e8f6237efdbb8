//! `ranat serve`: an RFC 5780 STUN server and the rendezvous.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use clap::Args;
use tokio::sync::watch;

use crate::io::{rendezvous, serve};
use crate::proto::rendezvous::{RendezvousConfig, RendezvousStats};
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
}

pub async fn run(args: ServeArgs) -> anyhow::Result<i32> {
    let primary = SocketAddr::new(args.primary, args.port);
    let alternate = args.alternate.map(|ip| SocketAddr::new(ip, args.alt_port));
    let config = ResponderConfig::new(primary, alternate)?;
    let server = serve::bind(config).await?;
    let rendezvous = if args.no_rendezvous {
        None
    } else {
        let addr = SocketAddr::new(args.primary, args.rendezvous_port);
        Some(rendezvous::bind(addr, RendezvousConfig::default()).await?)
    };
    let endpoints: Vec<String> = server.endpoints().iter().map(|a| a.to_string()).collect();
    let mode = if alternate.is_some() {
        "RFC 5780 full mode"
    } else {
        "basic mode: no behaviour tests"
    };
    eprintln!("ranat serve: {mode}, listening on {}", endpoints.join(", "));
    if let Some(rendezvous) = &rendezvous {
        eprintln!(
            "ranat serve: rendezvous listening on TCP {}",
            rendezvous.local_addr()
        );
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
    let rendezvous = async {
        match rendezvous {
            Some(r) => Some(r.run(until_stopped(stopped.clone())).await),
            None => None,
        }
    };
    let ((), stats, rendezvous_stats) = tokio::join!(signal, stun, rendezvous);

    eprintln!(
        "ranat serve: stopped; {} requests, {} answers, {} error answers, {} malformed, {} ignored",
        stats.requests, stats.responses, stats.error_responses, stats.malformed, stats.ignored
    );
    if let Some(stats) = rendezvous_stats {
        eprintln!("ranat serve: rendezvous: {}", rendezvous_summary(&stats));
    }
    Ok(0)
}

/// The rendezvous counts in words.
fn rendezvous_summary(s: &RendezvousStats) -> String {
    format!(
        "{} rooms created, {} paired, {} completed, {} expired; {} wrong codes, {} rooms closed after wrong codes; {} refused, {} protocol errors, {} idle connections closed",
        s.rooms_created,
        s.rooms_paired,
        s.rooms_completed,
        s.rooms_expired,
        s.wrong_codes,
        s.rooms_closed_after_wrong_codes,
        s.refused,
        s.protocol_errors,
        s.idle_closed
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
