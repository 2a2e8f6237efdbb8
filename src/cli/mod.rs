//! The command line: one file per command.

mod probe;
mod serve;

use clap::{Parser, Subcommand};

/// ranat: will a remote-assistance session connect, and how?
#[derive(Debug, Parser)]
#[command(name = "ranat", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Classify this network's NAT (RFC 5780 mapping and filtering, classic
    /// label, hairpinning, port allocation) for IPv4 and IPv6.
    Probe(probe::ProbeArgs),
    /// Run an RFC 5780 STUN server (two addresses × two ports).
    Serve(serve::ServeArgs),
}

impl Cli {
    /// Runs the command; returns the process exit code.
    pub async fn run(self) -> anyhow::Result<i32> {
        match self.command {
            Command::Probe(args) => probe::run(args).await,
            Command::Serve(args) => serve::run(args).await,
        }
    }
}
