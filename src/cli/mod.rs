//! The command line: one file per command.

mod assist;
mod check;
mod connecting;
mod probe;
mod relay;
pub mod schema;
mod serve;
mod ticket;
mod trial;
mod ui;
mod via;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

use ui::{GlobalArgs, Ui};

/// ranat: will a remote-assistance session connect, and how?
#[derive(Debug, Parser)]
#[command(name = "ranat", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Classify this network's NAT (RFC 5780 mapping and filtering, classic
    /// label, hairpinning, port allocation) for IPv4 and IPv6.
    Probe(probe::ProbeCommand),
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
    /// Windows Remote Assistance tickets (.msrcincident files).
    #[command(subcommand)]
    Ticket(ticket::TicketCommand),
    /// Print a shell completion script for ranat, e.g.
    /// `ranat completions bash > /etc/bash_completion.d/ranat`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the JSON Schema of a JSON document ranat writes (draft
    /// 2020-12), e.g. `ranat schema probe > probe.schema.json`; the same
    /// files are in the repository's `schemas/`.
    Schema {
        /// The document.
        #[arg(value_enum)]
        document: schema::Document,
    },
    /// Print ranat's manual page (roff), or one command's, e.g.
    /// `ranat man | man -l -` or `ranat man probe | man -l -`.
    Man {
        /// The command whose page to print (ranat-COMMAND(1)); without it,
        /// ranat(1).
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
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

/// Writes an HTML report to `path`.
fn write_html(path: &std::path::Path, html: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::write(path, html)
        .with_context(|| format!("{}: cannot write the HTML report", path.display()))
}

impl Cli {
    /// Runs the command; returns the process exit code.
    pub async fn run(self) -> anyhow::Result<i32> {
        let ui = Ui::from_env(&self.global);
        match self.command {
            Command::Probe(args) => probe::run(args, ui).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Check(args) => check::run(args, ui).await,
            Command::Matrix(args) => check::matrix(args),
            Command::RelayTest(args) => relay::run(args).await,
            Command::Trial(args) => trial::run(args, ui).await,
            Command::Invite(args) => assist::invite(args, ui).await,
            Command::Assist(args) => assist::assist(args, ui).await,
            Command::Ticket(command) => ticket::run(command, ui).await,
            Command::Completions { shell } => completions(shell),
            Command::Schema { document } => schema::run(document),
            Command::Man { command } => man(command.as_deref()),
        }
    }
}

/// The completion script for `shell`, from the same definitions that parse
/// the command line.
fn completions(shell: Shell) -> anyhow::Result<i32> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ranat", &mut script);
    print(&String::from_utf8(script)?)?;
    Ok(0)
}

/// The manual page in roff, ranat(1) or ranat-COMMAND(1), from the same
/// definitions that parse the command line.
fn man(name: Option<&str>) -> anyhow::Result<i32> {
    let mut ranat = Cli::command().disable_help_subcommand(true);
    ranat.build();
    let command = match name {
        None => ranat,
        Some(name) => match ranat.find_subcommand(name) {
            Some(command) => command.clone(),
            None => {
                let names: Vec<&str> = ranat.get_subcommands().map(|c| c.get_name()).collect();
                anyhow::bail!("no command '{name}': one of {}", names.join(", "));
            }
        },
    };
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .source(format!("ranat {}", env!("CARGO_PKG_VERSION")))
        .render(&mut page)?;
    print(&String::from_utf8(page)?)?;
    Ok(0)
}
