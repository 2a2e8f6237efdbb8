//! The expert's side of the session: the novice's terminal seen through a
//! terminal model of the expert's own (never the novice's bytes written to
//! this terminal), the chat, and keys that reach the novice's shell only
//! while the novice has granted control.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind};

use super::journal::Journal;
use super::keyboard::Keyboard;
use super::sharing::FRAME;
use super::wire::Wire;
use super::{AssistError, Ended, SessionScreen, Talk, act, is_prefix, peer_input};
use crate::io::terminal::view::StatusLine;
use crate::proto::assist::{Action, AssistSession, Event as SessionEvent, Policy, State};
use crate::proto::rendezvous::Role;
use crate::proto::screen::{CursorKeys, ScreenView, key_bytes};
use crate::proto::session::LogEvent;

/// Runs the expert's side until the session ends.
pub(super) async fn run(talk: Talk<'_>) -> Result<(Ended, Journal), AssistError> {
    let mut journal = talk.journal;
    let mut screen = SessionScreen::enter()?;
    let mut view = ScreenView::new();
    // The expert's policy is never consulted: control is the novice's to give.
    let policy = Policy {
        allow_control: false,
    };
    let mut machine = AssistSession::new(Role::Helper, policy, talk.name.clone());
    let mut wire = Wire::open(talk.connection, talk.opener)
        .await
        .map_err(AssistError::Stream)?;
    let mut keyboard = Keyboard::start();
    let mut peer_name = String::from("the novice");
    let mut prefix = false;
    let mut dirty = true;
    let mut note: Option<String> = None;
    let mut tick = tokio::time::interval(FRAME);
    let mut ended: Option<Ended> = None;
    loop {
        wire.flush(&mut machine).await;
        while let Some(event) = machine.poll_event() {
            dirty = true;
            match event {
                SessionEvent::PeerHello { name } => {
                    peer_name = name.clone();
                    journal.record(LogEvent::PeerConnected { name });
                }
                SessionEvent::ShowScreen(update) => {
                    if let Err(e) = view.apply(&update) {
                        let reason = format!("the novice's screen update was refused: {e}");
                        act(&mut machine, &mut journal, Action::Disconnect(reason));
                    }
                }
                SessionEvent::ClearScreen => view.clear(),
                SessionEvent::ChatReceived(text) => {
                    journal.record(LogEvent::Chat {
                        from: Role::Novice,
                        text: text.clone(),
                    });
                    screen.said(&peer_name, &text);
                }
                SessionEvent::Ended { reason, by_peer } => {
                    journal.record(LogEvent::Disconnected {
                        reason: reason.clone(),
                        by: Some(if by_peer { Role::Novice } else { Role::Helper }),
                    });
                    ended = Some(Ended { reason, by_peer });
                }
                SessionEvent::Ignored { message, state } => {
                    note = Some(format!("ignored {message} while {state}"));
                    journal.record(LogEvent::Ignored {
                        message,
                        state: state.to_string(),
                    });
                }
                SessionEvent::ControlDeniedByPolicy => {
                    note = Some(format!("{peer_name} does not allow control"));
                }
                SessionEvent::StateChanged(_)
                | SessionEvent::ApprovalAsked { .. }
                | SessionEvent::ControlRequested
                | SessionEvent::KeysForShell(_)
                | SessionEvent::NeedFullScreen => {}
            }
        }
        if let Some(ended) = ended {
            wire.close().await;
            return Ok((ended, journal));
        }
        tokio::select! {
            event = keyboard.events.recv() => match event {
                Some(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                    dirty = true;
                    match expert_key(key, &mut prefix, &mut screen, &machine) {
                        Typed::Act(action) => {
                            if let Action::Chat(text) = &action
                                && machine.state().approved()
                            {
                                screen.said("you", text);
                            }
                            if action == Action::RequestControl {
                                note = None;
                            }
                            act(&mut machine, &mut journal, action);
                        }
                        Typed::Shell(key) => {
                            let cursor_keys = view.screen().map_or(CursorKeys::Normal, CursorKeys::of);
                            if let Some(bytes) = key_bytes(&key, cursor_keys) {
                                machine.type_keys(&bytes);
                            }
                        }
                        Typed::Nothing => {}
                    }
                }
                Some(Event::Paste(text)) if in_control(&machine) => machine.type_keys(text.as_bytes()),
                Some(Event::Resize(..)) => dirty = true,
                Some(_) => {}
                None => act(&mut machine, &mut journal, Action::Disconnect("the terminal went away".into())),
            },
            () = talk.stop.fired() => act(
                &mut machine,
                &mut journal,
                Action::Disconnect("the expert was interrupted (a signal)".to_string()),
            ),
            incoming = wire.incoming.recv() => {
                dirty = true;
                let before = machine.state();
                peer_input(&mut machine, &mut journal, incoming);
                // A request answered no: said on the status line, or the
                // expert would only see the request vanish.
                if matches!(before, State::ControlRequested { .. })
                    && matches!(machine.state(), State::ScreenSharing { .. })
                {
                    note = Some(format!("{peer_name} said no to control"));
                }
            }
            _ = tick.tick() => {
                if dirty {
                    dirty = false;
                    let status = expert_status(&machine, &peer_name, talk.path, talk.connection, note.as_deref());
                    let placeholder = placeholder(machine.state(), &peer_name);
                    screen.draw_expert(view.screen().filter(|_| machine.may_show_screen()), &placeholder, &status)?;
                }
            }
        }
    }
}

/// Whether the expert holds control now (granted and not paused).
fn in_control(machine: &AssistSession) -> bool {
    machine.state() == State::ControlSharing { paused: false }
}

enum Typed {
    Act(Action),
    Shell(KeyEvent),
    Nothing,
}

/// What a key the expert pressed does: in control, every key but the
/// prefix goes to the novice's shell; commands follow the prefix, so that
/// nothing meant for the shell is taken for one.
fn expert_key(
    key: KeyEvent,
    prefix: &mut bool,
    screen: &mut SessionScreen,
    machine: &AssistSession,
) -> Typed {
    if screen.chat.focused {
        return screen
            .chat_key(key)
            .map_or(Typed::Nothing, |text| Typed::Act(Action::Chat(text)));
    }
    let prefixed = std::mem::take(prefix);
    if !prefixed && is_prefix(&key) {
        *prefix = true;
        return Typed::Nothing;
    }
    if !prefixed {
        return if in_control(machine) {
            Typed::Shell(key)
        } else {
            Typed::Nothing
        };
    }
    match key.code {
        KeyCode::Char('c') if machine.state().approved() => {
            screen.chat.focused = true;
            Typed::Nothing
        }
        KeyCode::Char('r') => match machine.state() {
            State::ControlSharing { .. } => Typed::Act(Action::ReleaseControl),
            _ => Typed::Act(Action::RequestControl),
        },
        KeyCode::Char('d' | 'q') => {
            Typed::Act(Action::Disconnect("the expert disconnected".into()))
        }
        _ if is_prefix(&key) && in_control(machine) => Typed::Shell(key),
        _ => Typed::Nothing,
    }
}

fn placeholder(state: State, peer: &str) -> String {
    match state {
        State::WaitingForPeer => format!("waiting for {peer}"),
        State::AwaitingApproval => format!("waiting for {peer} to allow you to see the terminal"),
        _ if state.paused() => format!("{peer} paused the session"),
        State::Ended => "the session ended".into(),
        _ => format!("waiting for {peer}'s screen"),
    }
}

fn expert_status(
    machine: &AssistSession,
    peer: &str,
    path: &str,
    connection: &quinn::Connection,
    note: Option<&str>,
) -> StatusLine {
    let state = match machine.state() {
        State::WaitingForPeer => format!("connecting to {peer}"),
        State::AwaitingApproval => format!("{peer} is asked to allow you"),
        // Paused, the expert sees nothing and types nowhere: say so rather
        // than "viewing" or "you control".
        state if state.paused() => format!("{peer} paused the session"),
        State::ScreenSharing { .. } => format!("viewing {peer}'s terminal"),
        State::ControlRequested { .. } => format!("control requested from {peer}"),
        State::ControlSharing { .. } => format!("you control {peer}'s terminal"),
        State::Ended => "session ended".into(),
    };
    let state = match note {
        Some(note) => format!("{state} ({note})"),
        None => state,
    };
    let keys = if matches!(machine.state(), State::ControlSharing { .. }) {
        "Ctrl+] r release · c chat · d end"
    } else {
        "Ctrl+] r control · c chat · d end"
    };
    StatusLine {
        state,
        path: path.to_string(),
        rtt: format!("RTT {} ms", connection.rtt().as_millis()),
        keys: keys.to_string(),
    }
}
