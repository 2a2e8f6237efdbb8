//! The novice's side of the session: the shell runs in a PTY that the
//! novice keeps using, drawn through its terminal model with a status
//! line under it; the expert sees that model's screen once the novice
//! allowed it, and types into the shell only while the novice lets them.

use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;

use super::journal::Journal;
use super::keyboard::Keyboard;
use super::sharing::{FRAME, Sharing};
use super::wire::Wire;
use super::{AssistError, Ended, SessionScreen, Talk, act, is_prefix, peer_input};
use crate::io::terminal::pty::Shell;
use crate::io::terminal::view::{NoviceScreen, StatusLine};
use crate::proto::assist::{Action, AssistSession, Event as SessionEvent, Policy, State};
use crate::proto::rendezvous::Role;
use crate::proto::screen::{CursorKeys, key_bytes};
use crate::proto::session::LogEvent;

/// How long a chat line heard stays in place of the status line.
const CHAT_SHOWN: Duration = Duration::from_secs(8);

/// A question waiting for the novice's answer.
#[derive(Debug, Clone)]
enum Question {
    Approval(String),
    Control(String),
}

impl Question {
    fn text(&self) -> String {
        match self {
            Question::Approval(name) => format!("Allow {name} to see your terminal? [y/n]"),
            Question::Control(name) => format!("Allow {name} to control your terminal? [y/n]"),
        }
    }
}

/// Runs the novice's side until the session ends.
pub(super) async fn run(
    talk: Talk<'_>,
    policy: Policy,
    shell_command: Option<&str>,
) -> Result<(Ended, Journal), AssistError> {
    let mut journal = talk.journal;
    let mut screen = SessionScreen::enter()?;
    let area = screen.area()?;
    let shell_area = NoviceScreen::shell_area(area);
    let shell = Shell::spawn(
        shell_command,
        shell_area.height.max(1),
        shell_area.width.max(1),
    )
    .map_err(AssistError::Shell)?;
    let (mut output, mut input, mut process) = (shell.output, shell.input, shell.process);
    let mut sharing = Sharing::new(shell_area.height.max(1), shell_area.width.max(1));
    let mut machine = AssistSession::new(Role::Novice, policy, talk.name.clone());
    let mut wire = Wire::open(talk.connection, talk.opener)
        .await
        .map_err(AssistError::Stream)?;
    let mut keyboard = Keyboard::start();
    let mut question: Option<Question> = None;
    let mut peer_name = String::from("the expert");
    let mut prefix = false;
    let mut dirty = true;
    let mut buffer = vec![0u8; 16 * 1024];
    let mut tick = tokio::time::interval(FRAME);
    let mut ended: Option<Ended> = None;
    let mut shell_open = true;
    // The last chat line heard, shown in place of the status line for a
    // while (the novice's screen has no chat pane: the shell keeps it).
    let mut heard: Option<(String, Instant)> = None;
    loop {
        wire.flush(&mut machine).await;
        while let Some(event) = machine.poll_event() {
            dirty = true;
            match event {
                SessionEvent::PeerHello { name } => {
                    peer_name = name.clone();
                    journal.record(LogEvent::PeerConnected { name });
                }
                SessionEvent::ApprovalAsked { name } => {
                    question = Some(Question::Approval(name));
                }
                SessionEvent::ControlRequested => {
                    question = Some(Question::Control(peer_name.clone()));
                }
                SessionEvent::ControlDeniedByPolicy => {
                    journal.record(LogEvent::ControlRequested);
                    journal.record(LogEvent::ControlDenied { by_policy: true });
                }
                SessionEvent::ChatReceived(text) => {
                    journal.record(LogEvent::Chat {
                        from: Role::Helper,
                        text: text.clone(),
                    });
                    screen.said(&peer_name, &text);
                    heard = Some((format!("{peer_name}: {text}"), Instant::now()));
                }
                SessionEvent::KeysForShell(bytes) => {
                    if shell_open && input.write(&bytes).await.is_err() {
                        shell_open = false;
                    }
                }
                SessionEvent::NeedFullScreen => sharing.need_full(),
                SessionEvent::Ended { reason, by_peer } => {
                    journal.record(LogEvent::Disconnected {
                        reason: reason.clone(),
                        by: Some(if by_peer { Role::Helper } else { Role::Novice }),
                    });
                    ended = Some(Ended { reason, by_peer });
                }
                // What the session is now matters more than the last chat
                // line: the status line comes back.
                SessionEvent::StateChanged(_) => heard = None,
                SessionEvent::Ignored { message, state } => {
                    journal.record(LogEvent::Ignored {
                        message,
                        state: state.to_string(),
                    });
                }
                SessionEvent::ShowScreen(_) | SessionEvent::ClearScreen => {}
            }
        }
        if question.is_some() && !asks(&machine) {
            question = None;
        }
        if let Some(ended) = ended {
            wire.close().await;
            let _ = process.kill().await;
            return Ok((ended, journal));
        }
        tokio::select! {
            read = output.read(&mut buffer), if shell_open => match read {
                Ok(0) | Err(_) => {
                    shell_open = false;
                    act(&mut machine, &mut journal, Action::Disconnect("the novice's shell exited".into()));
                }
                Ok(n) => {
                    sharing.output(&mut machine, &buffer[..n]);
                    dirty = true;
                }
            },
            event = keyboard.events.recv() => match event {
                Some(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                    dirty = true;
                    let typed = novice_key(key, &mut prefix, &mut question, &mut screen, &machine);
                    match typed {
                        Typed::Act(action) => {
                            if let Action::Chat(text) = &action
                                && machine.state().approved()
                            {
                                screen.said("you", text);
                                heard = Some((format!("you: {text}"), Instant::now()));
                            }
                            act(&mut machine, &mut journal, action);
                        }
                        Typed::Shell(key) => {
                            if let Some(bytes) = key_bytes(&key, CursorKeys::of(sharing.screen()))
                                && shell_open
                                && input.write(&bytes).await.is_err()
                            {
                                shell_open = false;
                            }
                        }
                        Typed::Nothing => {}
                    }
                }
                Some(Event::Paste(text)) if shell_open => {
                    let _ = input.write(text.as_bytes()).await;
                }
                Some(Event::Resize(cols, rows)) => {
                    let shell_area = NoviceScreen::shell_area(Rect::new(0, 0, cols, rows));
                    let (rows, cols) = sharing.resize(shell_area.height.max(1), shell_area.width.max(1));
                    let _ = input.resize(rows, cols);
                    dirty = true;
                }
                Some(_) => {}
                None => act(&mut machine, &mut journal, Action::Disconnect("the terminal went away".into())),
            },
            () = talk.stop.fired() => act(
                &mut machine,
                &mut journal,
                Action::Disconnect("the novice was interrupted (a signal)".to_string()),
            ),
            incoming = wire.incoming.recv() => {
                dirty = true;
                peer_input(&mut machine, &mut journal, incoming);
            }
            _ = tick.tick() => {
                sharing.send(&mut machine);
                if heard.as_ref().is_some_and(|(_, at)| at.elapsed() > CHAT_SHOWN) {
                    heard = None;
                    dirty = true;
                }
                if dirty {
                    dirty = false;
                    let status = novice_status(&machine, &peer_name, talk.path);
                    let prompt = match (&question, screen.chat.focused, &heard) {
                        (Some(question), _, _) => Some(question.text()),
                        (None, true, _) => Some(format!("chat (Enter sends, Esc leaves)> {}", screen.chat.input)),
                        (None, false, Some((line, _))) => Some(line.clone()),
                        (None, false, None) => None,
                    };
                    screen.draw_novice(sharing.screen(), &status, prompt.as_deref())?;
                }
            }
        }
    }
}

/// Whether the machine still waits for the novice's answer.
fn asks(machine: &AssistSession) -> bool {
    matches!(
        machine.state(),
        State::AwaitingApproval | State::ControlRequested { .. }
    )
}

/// What a key the novice pressed does.
enum Typed {
    Act(Action),
    Shell(KeyEvent),
    Nothing,
}

fn novice_key(
    key: KeyEvent,
    prefix: &mut bool,
    question: &mut Option<Question>,
    screen: &mut SessionScreen,
    machine: &AssistSession,
) -> Typed {
    if let Some(asked) = question.clone() {
        let answer = match key.code {
            KeyCode::Char('y' | 'Y') => Some(true),
            KeyCode::Char('n' | 'N') | KeyCode::Esc => Some(false),
            _ => None,
        };
        return match (asked, answer) {
            (Question::Approval(_), Some(true)) => Typed::Act(Action::Approve),
            (Question::Approval(_), Some(false)) => Typed::Act(Action::Refuse),
            (Question::Control(_), Some(true)) => Typed::Act(Action::GrantControl),
            (Question::Control(_), Some(false)) => Typed::Act(Action::DenyControl),
            (_, None) => Typed::Nothing,
        };
    }
    if screen.chat.focused {
        return screen
            .chat_key(key)
            .map_or(Typed::Nothing, |text| Typed::Act(Action::Chat(text)));
    }
    if std::mem::take(prefix) {
        return match key.code {
            KeyCode::Char('c') if machine.state().approved() => {
                screen.chat.focused = true;
                Typed::Nothing
            }
            KeyCode::Char('p') if machine.state().paused() => Typed::Act(Action::Continue),
            KeyCode::Char('p') => Typed::Act(Action::Pause),
            KeyCode::Char('d') => Typed::Act(Action::Disconnect("the novice disconnected".into())),
            _ if is_prefix(&key) => Typed::Shell(key),
            _ => Typed::Nothing,
        };
    }
    if is_prefix(&key) {
        *prefix = true;
        return Typed::Nothing;
    }
    // Esc takes control back at once ([MS-RA]: TAKECONTROL); it reaches
    // the shell only while nobody else controls it.
    if key.code == KeyCode::Esc
        && key.modifiers == KeyModifiers::NONE
        && matches!(machine.state(), State::ControlSharing { .. })
    {
        return Typed::Act(Action::TakeControlBack);
    }
    Typed::Shell(key)
}

fn novice_status(machine: &AssistSession, peer: &str, path: &str) -> StatusLine {
    let state = match machine.state() {
        State::WaitingForPeer => format!("{peer} is connecting"),
        State::AwaitingApproval => format!("{peer} asks to see your terminal"),
        State::ScreenSharing { paused: false } => format!("{peer} sees your terminal"),
        State::ControlRequested { paused: false } => format!("{peer} asks for control"),
        State::ControlSharing { paused: false } => {
            format!("{peer} controls your terminal (Esc takes it back)")
        }
        State::ScreenSharing { paused: true }
        | State::ControlRequested { paused: true }
        | State::ControlSharing { paused: true } => format!("paused: {peer} sees nothing"),
        State::Ended => "session ended".to_string(),
    };
    let pause = if machine.state().paused() {
        "continue"
    } else {
        "pause"
    };
    StatusLine {
        state,
        path: path.to_string(),
        rtt: String::new(),
        keys: format!("Ctrl+] c chat · p {pause} · d end"),
    }
}
