//! `ranat serve`: an RFC 5780 STUN server.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use clap::Args;

use crate::io::serve;
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
}

pub async fn run(args: ServeArgs) -> anyhow::Result<i32> {
    let primary = SocketAddr::new(args.primary, args.port);
    let alternate = args.alternate.map(|ip| SocketAddr::new(ip, args.alt_port));
    let config = ResponderConfig::new(primary, alternate)?;
    let server = serve::bind(config).await?;
    let endpoints: Vec<String> = server.endpoints().iter().map(|a| a.to_string()).collect();
    let mode = if alternate.is_some() {
        "RFC 5780 full mode"
    } else {
        "basic mode: no behaviour tests"
    };
    eprintln!("ranat serve: {mode}, listening on {}", endpoints.join(", "));
    let stats = server.run(shutdown_signal()).await;
    eprintln!(
        "ranat serve: stopped; {} requests, {} answers, {} error answers, {} malformed, {} ignored",
        stats.requests, stats.responses, stats.error_responses, stats.malformed, stats.ignored
    );
    Ok(0)
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
