//! `ranat invite` (the novice) and `ranat assist` (the expert): the Remote
//! Assistance session ([`crate::flow::assist`]). Progress on stderr until
//! the session's screen takes the terminal over; how it ended after.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::connecting::Connecting;
use super::probe::{self, ProbeArgs};
use super::trial::EXIT_FAILED;
use super::ui::Ui;
use super::via::display_name;
use crate::flow::assist::{self, AssistEvent, AssistOptions, Assisted, InvitationFile, Side};
use crate::flow::connect::{ConnectError, ConnectEvent, ConnectOptions};
use crate::flow::{LiveError, LiveEvent, live};
use crate::io::rendezvous::RendezvousClientError;
use crate::io::resolve::ServerSpec;
use crate::proto::rendezvous::{MAX_ATTEMPTS, Meeting, RendezvousError};
use crate::proto::session::{FILE_LIFETIME, Invitation, InviteCode, Password};

/// Where the novice's password comes from when not typed (scripts, tests).
const PASSWORD_VAR: &str = "RANAT_PASSWORD";

#[derive(Debug, Args)]
pub struct InviteArgs {
    /// The help desk's `ranat serve` (HOST[:PORT], rendezvous port 3480 by
    /// default).
    #[arg(long, value_name = "SERVER")]
    via: String,
    /// Write an invitation file (shaped like Remote Assistance's) instead
    /// of showing a code; its password is shown here, to pass on by
    /// another channel.
    #[arg(long, value_name = "PATH", conflicts_with = "code")]
    file: Option<PathBuf>,
    /// How long the invitation file stays valid, in minutes (Remote
    /// Assistance's DtLength; 6 hours by default).
    #[arg(long, value_name = "MINUTES", requires = "file",
          value_parser = clap::value_parser!(u64).range(1..=24 * 60))]
    lifetime: Option<u64>,
    /// Join the help desk's offer: the code their `ranat assist` showed.
    #[arg(long, value_name = "CODE")]
    code: Option<InviteCode>,
    /// Deny every request for control (the expert can only watch and chat).
    #[arg(long)]
    no_control: bool,
    /// The command to share (default: your shell).
    #[arg(long, value_name = "COMMAND")]
    shell: Option<String>,
    #[command(flatten)]
    probe: ProbeArgs,
}

#[derive(Debug, Args)]
pub struct AssistArgs {
    /// The code the novice read out. Without it (and without --file),
    /// this side makes a code for the novice to join (`ranat invite
    /// --code`).
    #[arg(value_name = "CODE", conflicts_with = "file")]
    code: Option<InviteCode>,
    /// The invitation file the novice sent; its password is asked for.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// The help desk's `ranat serve` (HOST[:PORT]); with --file, the
    /// invitation's own by default.
    #[arg(long, value_name = "SERVER")]
    via: Option<String>,
    #[command(flatten)]
    probe: ProbeArgs,
}

pub async fn invite(args: InviteArgs, ui: Ui) -> anyhow::Result<i32> {
    let rendezvous = parse_via(&args.via)?;
    let name = display_name();
    let (meeting, write_invitation, password) = match (&args.file, args.code) {
        (Some(path), _) => {
            let password = Password::generate(rand::random::<u32>);
            let lifetime = args
                .lifetime
                .map_or(FILE_LIFETIME, |m| Duration::from_secs(m * 60));
            let meeting = Meeting::Make {
                secret: password.clone().into(),
                lifetime: Some(lifetime),
            };
            let file = InvitationFile {
                path: path.clone(),
                rendezvous: args.via.clone(),
                username: name.clone(),
                lifetime,
            };
            (meeting, Some(file), Some(password))
        }
        (None, code) => (live::code_meeting(code), None, None),
    };
    let options = AssistOptions {
        connect: ConnectOptions {
            rendezvous,
            meeting,
            name,
            probe: args.probe.options(),
            relay_only: false,
        },
        side: Side::Novice,
        allow_control: !args.no_control,
        shell: args.shell,
        write_invitation,
        opened_invitation: None,
    };
    let via = args.via.clone();
    let hint = move |code: &str| format!("ranat assist --via {via} {code}");
    let by_file = args.file.is_some();
    run(
        options,
        "ranat invite",
        &hint,
        args.probe.json,
        password,
        by_file,
        ui,
    )
    .await
}

pub async fn assist(args: AssistArgs, ui: Ui) -> anyhow::Result<i32> {
    let (via, meeting, opened) = match (&args.file, args.code) {
        (Some(path), _) => {
            let bytes = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let invitation = Invitation::from_bytes(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            invitation
                .check_fresh(unix_now())
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let password = ask_password()?;
            let via = args
                .via
                .clone()
                .unwrap_or_else(|| invitation.rendezvous.clone());
            let meeting = Meeting::Join {
                room: invitation.room,
                secret: password.into(),
            };
            (via, meeting, Some(invitation))
        }
        (None, code) => {
            let via = args
                .via
                .clone()
                .ok_or_else(|| anyhow::anyhow!("--via SERVER is needed without --file"))?;
            (via, live::code_meeting(code), None)
        }
    };
    let options = AssistOptions {
        connect: ConnectOptions {
            rendezvous: parse_via(&via)?,
            meeting,
            name: display_name(),
            probe: args.probe.options(),
            relay_only: false,
        },
        side: Side::Expert,
        allow_control: false,
        shell: None,
        write_invitation: None,
        opened_invitation: opened,
    };
    let hint_via = via.clone();
    let hint = move |code: &str| format!("ranat invite --via {hint_via} --code {code}");
    let by_file = args.file.is_some();
    run(
        options,
        "ranat assist",
        &hint,
        args.probe.json,
        None,
        by_file,
        ui,
    )
    .await
}

async fn run(
    options: AssistOptions,
    command: &str,
    join_hint: &dyn Fn(&str) -> String,
    json: bool,
    password: Option<Password>,
    by_file: bool,
    ui: Ui,
) -> anyhow::Result<i32> {
    // The session's screen needs a terminal: say so before anyone waits
    // for this side.
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "{command} shows the session in this terminal: run it in one, not with its output redirected"
        );
    }
    let via = options.connect.rendezvous.to_string();
    let mut progress = probe::Progress::new(ui, json);
    let mut connecting = Connecting {
        command,
        progress: &mut progress,
        join_hint,
    };
    let show = |event| match event {
        AssistEvent::Connect(ConnectEvent::Live(event)) if by_file => {
            match password_step(command, &event) {
                Some(line) => eprintln!("{line}"),
                None => connecting.show(ConnectEvent::Live(event)),
            }
        }
        AssistEvent::Connect(event) => connecting.show(event),
        AssistEvent::InvitationWritten { path } => {
            let password = password.as_ref().map_or(String::new(), ToString::to_string);
            eprintln!(
                "{command}: invitation written to {}. Send it to your helper; tell them this password another way (say it on the phone):\n    {password}",
                path.display()
            );
        }
        AssistEvent::SessionStarting => {}
        AssistEvent::Interrupted => eprintln!("{command}: interrupted"),
        AssistEvent::Undone { what, result } => match result {
            Ok(()) => eprintln!("{command}: removed the {what}"),
            Err(e) => eprintln!("{command}: could not remove the {what}: {e}"),
        },
    };
    let assisted = match assist::assist(options, probe::interrupted(), show).await {
        Err(assist::AssistError::Connect(ConnectError::Live(LiveError::Lookup {
            reason, ..
        }))) => anyhow::bail!("--via {via}: {reason}"),
        Err(assist::AssistError::Connect(ConnectError::Live(LiveError::Rendezvous(error))))
            if by_file =>
        {
            match password_failure(&error) {
                Some(why) => anyhow::bail!("{why}"),
                None => return Err(assist::AssistError::from(ConnectError::from(error)).into()),
            }
        }
        other => other?,
    };
    match assisted {
        None => Ok(130),
        Some(Assisted::NotConnected { why }) => {
            eprintln!("{command}: not connected: {why}");
            Ok(EXIT_FAILED)
        }
        Some(Assisted::Ended {
            ended,
            log,
            log_failure,
        }) => {
            let by = if ended.by_peer {
                "the other side"
            } else {
                "you"
            };
            eprintln!("{command}: the session ended ({by}): {}", ended.reason);
            if let Some(log) = log {
                eprintln!("{command}: the session's log: {}", log.display());
            }
            if let Some(failure) = log_failure {
                eprintln!("{command}: {failure}");
            }
            Ok(0)
        }
    }
}

/// The connection's steps that name the shared secret, worded for an
/// invitation file's password rather than a spoken code; `None` for the
/// others.
fn password_step(command: &str, event: &LiveEvent) -> Option<String> {
    Some(match event {
        LiveEvent::PeerJoined => {
            format!("{command}: someone opened the invitation; checking their password")
        }
        LiveEvent::AttemptFailed { attempts_left } => format!(
            "{command}: they gave a wrong password; waiting for another try ({attempts_left} left)"
        ),
        LiveEvent::Joined { room } => {
            format!("{command}: joined the invitation's room {room}; checking the password")
        }
        LiveEvent::Confirmed { peer_name } => {
            format!("{command}: the password matches ({peer_name} is on the other side); probing")
        }
        _ => return None,
    })
}

/// Why meeting through an invitation file failed, worded for its
/// password (the rendezvous speaks of codes); `None` where the code's
/// wording fits as well.
fn password_failure(error: &RendezvousClientError) -> Option<String> {
    use RendezvousClientError as E;
    Some(match error {
        E::WrongCode | E::Server(RendezvousError::WrongCode) => {
            "the password is wrong for this invitation: check it with the person who sent it, \
             and try again"
                .to_string()
        }
        E::TooManyAttempts | E::Server(RendezvousError::TooManyAttempts) => format!(
            "{MAX_ATTEMPTS} wrong passwords were tried: the invitation is closed; \
             a new one is needed (ranat invite --file)"
        ),
        E::Server(RendezvousError::UnknownCode) => "the invitation is no longer open \
            (it was closed after wrong passwords, or the person who sent it stopped waiting): \
            ask for a new one"
            .to_string(),
        _ => return None,
    })
}

fn parse_via(via: &str) -> anyhow::Result<ServerSpec> {
    via.parse().map_err(|e| anyhow::anyhow!("--via {via}: {e}"))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The invitation's password: from `RANAT_PASSWORD`, else asked for on
/// the terminal (a line of standard input).
fn ask_password() -> anyhow::Result<Password> {
    if let Ok(given) = std::env::var(PASSWORD_VAR) {
        return given
            .parse()
            .map_err(|e| anyhow::anyhow!("{PASSWORD_VAR}: {e}"));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("The invitation's password (12 letters and digits): ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    line.trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("the password: {e}"))
}
