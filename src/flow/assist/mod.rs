//! `ranat invite` and `ranat assist`: the Remote Assistance session over
//! the session's connection ([`crate::flow::connect`]).
//!
//! The novice invites (a spoken code, or an invitation file and its
//! password) or joins the help desk's offer; the expert joins or offers.
//! Once the QUIC channel is up, both sides run the session's machine
//! ([`crate::proto::assist`]) over one stream: the novice approves before
//! anything is shown, shares the terminal its shell runs in, chats, and
//! grants control or takes it back; the expert sees the novice's terminal
//! through a terminal model of its own and types only while in control.
//! Both sides keep a log as Remote Assistance does.

mod expert;
mod journal;
mod keyboard;
mod novice;
mod screen;
pub(crate) mod sharing;
pub(crate) mod wire;

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::connect::{self, ConnectError, ConnectEvent, ConnectOptions, Opened};
use super::interrupt::Interrupt;
use super::live::LiveEvent;
use crate::io::undo::UndoLog;
use crate::proto::assist::{Action, AssistSession, Message, Policy};
use crate::proto::rendezvous::{Meeting, Role};
use crate::proto::session::{Invitation, LogEvent, SessionId};
use journal::{Cause, Journal};
use screen::SessionScreen;
use wire::Incoming;

/// Which side of the session this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The person helped: shares the terminal.
    Novice,
    /// The helper: sees it, and controls it when allowed.
    Expert,
}

impl Side {
    /// The role the session's machine plays.
    fn role(self) -> Role {
        match self {
            Side::Novice => Role::Novice,
            Side::Expert => Role::Helper,
        }
    }
}

/// The invitation file a novice writes once the rendezvous gave its room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationFile {
    pub path: PathBuf,
    /// The rendezvous as the user named it (the expert's `--via`).
    pub rendezvous: String,
    pub username: String,
    pub lifetime: Duration,
}

/// A session's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistOptions {
    pub connect: ConnectOptions,
    pub side: Side,
    /// The novice's policy: with `false`, every control request is denied.
    pub allow_control: bool,
    /// The novice's shell (a command line); `None`: the user's shell.
    pub shell: Option<String>,
    /// Where the novice writes its invitation, when it invites by file.
    pub write_invitation: Option<InvitationFile>,
    /// The invitation this side opened (the expert's `--file`), for the log.
    pub opened_invitation: Option<Invitation>,
}

/// The session's progress before its screen takes the terminal over.
#[derive(Debug, Clone, PartialEq)]
pub enum AssistEvent {
    Connect(ConnectEvent),
    /// The invitation file is written: pass it on, and the password by
    /// another channel.
    InvitationWritten {
        path: PathBuf,
    },
    /// The session starts: its screen takes the terminal over.
    SessionStarting,
    /// Interrupted before the session started.
    Interrupted,
    Undone {
        what: String,
        result: Result<(), String>,
    },
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub reason: String,
    /// The other side ended it.
    pub by_peer: bool,
}

/// A session that ran, or the reason no channel opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assisted {
    Ended {
        ended: Ended,
        /// The session's log, when it could be written, and why not.
        log: Option<PathBuf>,
        log_failure: Option<String>,
    },
    NotConnected {
        why: String,
    },
}

/// Why the session could not run.
#[derive(Debug, thiserror::Error)]
pub enum AssistError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("could not write the invitation {path}: {error}")]
    Invitation { path: PathBuf, error: String },
    #[error("the session's stream did not open: {0}")]
    Stream(quinn::ConnectionError),
    #[error("could not start the shell: {0}")]
    Shell(std::io::Error),
    #[error("the terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// What both sides' loops share.
struct Talk<'a> {
    connection: &'a quinn::Connection,
    /// This side opens the stream (the QUIC client).
    opener: bool,
    name: String,
    /// The path in words, for the status line.
    path: &'a str,
    journal: Journal,
    /// A signal (SIGINT, SIGTERM) that ends the session as a disconnect.
    stop: Interrupt,
}

/// Runs a session: connect, then the side's loop until either side ends
/// it. `interrupt` cuts the connection short (then `None`); during the
/// session the terminal is raw and Ctrl-C is a key like any other, and a
/// signal (SIGTERM) ends the session as a disconnect, the terminal
/// restored.
pub async fn assist(
    options: AssistOptions,
    interrupt: impl std::future::Future<Output = ()>,
    mut on_event: impl FnMut(AssistEvent),
) -> Result<Option<Assisted>, AssistError> {
    let undo = UndoLog::default();
    let (interrupting, interrupt) = Interrupt::share(interrupt);
    // Polled beside every step, so that the interrupt reaches them all; it
    // never completes itself.
    let mut interrupting = std::pin::pin!(interrupting);
    let invitation_failure: RefCell<Option<AssistError>> = RefCell::new(None);
    let write_failed = tokio::sync::Notify::new();
    let written: RefCell<Option<Invitation>> = RefCell::new(None);
    let events = RefCell::new(&mut on_event);
    let name = options.connect.name.clone();
    let connecting = connect::connect(options.connect.clone(), interrupt.fired(), &undo, |event| {
        if let (ConnectEvent::Live(LiveEvent::RoomMade { room, .. }), Some(file)) =
            (&event, &options.write_invitation)
        {
            match write_invitation(file, *room) {
                Ok(invitation) => {
                    *written.borrow_mut() = Some(invitation);
                    (events.borrow_mut())(AssistEvent::Connect(event.clone()));
                    (events.borrow_mut())(AssistEvent::InvitationWritten {
                        path: file.path.clone(),
                    });
                    return;
                }
                Err(error) => {
                    *invitation_failure.borrow_mut() = Some(AssistError::Invitation {
                        path: file.path.clone(),
                        error,
                    });
                    write_failed.notify_one();
                }
            }
        }
        (events.borrow_mut())(AssistEvent::Connect(event));
    });
    let failed_to_write = async {
        write_failed.notified().await;
    };
    let connection = tokio::select! {
        connection = connecting => connection,
        () = failed_to_write => Ok(None),
        never = &mut interrupting => match never {},
    };
    if let Some(error) = invitation_failure.take() {
        undo_all(&undo, &events).await;
        return Err(error);
    }
    let connection = match connection {
        Ok(Some(connection)) => connection,
        Ok(None) => {
            (events.borrow_mut())(AssistEvent::Interrupted);
            undo_all(&undo, &events).await;
            return Ok(None);
        }
        Err(e) => {
            undo_all(&undo, &events).await;
            return Err(e.into());
        }
    };
    let channel = match connection.opened {
        Opened::Failed { why } => {
            undo_all(&undo, &events).await;
            return Ok(Some(Assisted::NotConnected { why }));
        }
        Opened::Up(channel) => channel,
    };
    (events.borrow_mut())(AssistEvent::Connect(ConnectEvent::Channel(
        channel.path.clone(),
    )));
    let made_room = matches!(options.connect.meeting, Meeting::Make { .. });
    let mut journal = open_journal(&options, made_room, written.take());
    let path = format!("{} {}", channel.path.kind, channel.path.family);
    journal.record(LogEvent::Path {
        kind: channel.path.kind.to_string(),
        summary: channel.why.clone(),
    });
    (events.borrow_mut())(AssistEvent::SessionStarting);
    let talk = Talk {
        connection: &channel.connection,
        opener: connection.role == Role::Helper,
        name,
        path: &path,
        journal,
        stop: interrupt.clone(),
    };
    let session = async {
        match options.side {
            Side::Novice => {
                let policy = Policy {
                    allow_control: options.allow_control,
                };
                novice::run(talk, policy, options.shell.as_deref()).await
            }
            Side::Expert => expert::run(talk).await,
        }
    };
    let ended = tokio::select! {
        ended = session => ended,
        never = &mut interrupting => match never {},
    };
    channel.close(connection.role).await;
    undo_all(&undo, &events).await;
    let (ended, journal) = ended?;
    Ok(Some(Assisted::Ended {
        ended,
        log: journal.path().map(PathBuf::from),
        log_failure: journal.failure().map(str::to_string),
    }))
}

/// The session's log, opened with the invitation this side made (the room
/// it created) or opened (the room it joined).
fn open_journal(options: &AssistOptions, made_room: bool, written: Option<Invitation>) -> Journal {
    let role = options.side.role();
    let mut journal = Journal::open(role);
    let (session, rendezvous) = match (written, &options.opened_invitation) {
        (Some(made), _) => (made.session_id, made.rendezvous),
        (None, Some(opened)) => (opened.session_id, opened.rendezvous.clone()),
        (None, None) => (
            SessionId::from_bytes(rand::random()),
            options.connect.rendezvous.to_string(),
        ),
    };
    journal.record(if made_room {
        LogEvent::InvitationCreated {
            session,
            rendezvous,
            role,
        }
    } else {
        LogEvent::InvitationOpened {
            session,
            rendezvous,
            role,
        }
    });
    journal
}

async fn undo_all(undo: &UndoLog, events: &RefCell<&mut impl FnMut(AssistEvent)>) {
    for (what, result) in undo.run_all().await {
        (events.borrow_mut())(AssistEvent::Undone { what, result });
    }
}

/// Writes the invitation for `room` where `file` says, atomically.
fn write_invitation(
    file: &InvitationFile,
    room: crate::proto::rendezvous::Code,
) -> Result<Invitation, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut invitation = Invitation::new(
        &file.username,
        &file.rendezvous,
        room,
        SessionId::from_bytes(rand::random()),
        Role::Novice,
        now,
    );
    invitation.lifetime = file.lifetime;
    let temporary = file.path.with_extension("tmp");
    std::fs::write(&temporary, invitation.to_xml())
        .and_then(|()| std::fs::rename(&temporary, &file.path))
        .map_err(|e| e.to_string())?;
    Ok(invitation)
}

/// The prefix key, Ctrl+] (telnet's escape): the next key is a command.
/// A terminal sends it as byte 0x1D, which crossterm reads as Ctrl+5.
fn is_prefix(key: &KeyEvent) -> bool {
    matches!(key.code, KeyCode::Char(']' | '5')) && key.modifiers.contains(KeyModifiers::CONTROL)
}

/// Performs `action`, logging what it changed; an action the session
/// refuses at this point changes nothing.
fn act(machine: &mut AssistSession, journal: &mut Journal, action: Action) {
    let before = machine.state();
    if machine.act(action.clone()).is_ok() {
        journal.transition(Cause::Local(&action), before, machine.state());
    }
}

/// Hands the peer's input to the machine, logging what it changed.
fn peer_input(machine: &mut AssistSession, journal: &mut Journal, incoming: Option<Incoming>) {
    let before = machine.state();
    // Screens and keys never move the session, and are too big to copy
    // for nothing at 30 a second.
    let cause = match &incoming {
        Some(Incoming::Message(Message::Screen(_) | Message::Keys { .. })) | None => None,
        Some(Incoming::Message(message)) => Some(message.clone()),
        Some(_) => None,
    };
    wire::deliver(machine, incoming);
    if let Some(message) = cause {
        journal.transition(Cause::Peer(&message), before, machine.state());
    }
}
