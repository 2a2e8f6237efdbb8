//! The command line: one file per command.

mod assist;
mod check;
mod connecting;
mod probe;
mod relay;
mod serve;
mod trial;
mod via;

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
    /// Run an RFC 5780 STUN server (two addresses × two ports) and the
    /// rendezvous that pairs two clients by a short code.
    Serve(serve::ServeArgs),
    /// Predict, method by method, whether a session between this machine
    /// (or ME.json) and a peer connects: for Windows Remote Assistance and
    /// for ranat.
    Check(check::CheckArgs),
    /// The prediction for every pair of NAT types.
    Matrix(check::MatrixArgs),
    /// Check that this network reaches a TURN relay: allocate a relayed
    /// address (over UDP or TCP) and, with a peer, exchange datagrams with
    /// it through the relay. Exit 0 when it works, 30 without an
    /// allocation, 31 when the exchange fails.
    RelayTest(relay::RelayTestArgs),
    /// The live end-to-end trial: meet the other side at a `ranat serve`,
    /// probe, predict, connect the session's QUIC channel (directly, or
    /// through the help desk's relay), and measure it: phases, round
    /// trips, throughput, loss. Exit 0 when connected directly, 40 through
    /// the relay, 41 not at all.
    Trial(trial::TrialArgs),
    /// Ask for help (the novice): show a code to read out (or write an
    /// invitation file and show its password), approve the helper, and
    /// share this terminal with them, control only when you grant it.
    /// Exit 0 when the session ran, 41 when it could not connect.
    Invite(assist::InviteArgs),
    /// Help someone (the expert): join their code or invitation file (or
    /// make a code for them to join), see their terminal once they allow
    /// it, chat, and ask for control. Exit 0 when the session ran, 41 when
    /// it could not connect.
    Assist(assist::AssistArgs),
}

/// Writes `text` to stdout. A reader that stopped reading (`| head`) is
/// not an error: the verdict still goes out in the exit code.
fn print(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

impl Cli {
    /// Runs the command; returns the process exit code.
    pub async fn run(self) -> anyhow::Result<i32> {
        match self.command {
            Command::Probe(args) => probe::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Check(args) => check::run(args).await,
            Command::Matrix(args) => check::matrix(args),
            Command::RelayTest(args) => relay::run(args).await,
            Command::Trial(args) => trial::run(args).await,
            Command::Invite(args) => assist::invite(args).await,
            Command::Assist(args) => assist::assist(args).await,
        }
    }
}
