//! The trial's session figures: the Remote Assistance session run headless
//! over the trial's channel, with a scratch shell (not the user's) in a
//! PTY on the novice's side. The expert asks to see it and for control;
//! the novice's side allows both only with `--auto-approve` (trials only).
//! Measured: keystroke echo (the expert's key, through the novice's PTY,
//! back as a screen update) and screen updates a second while the shell
//! prints as fast as it can.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::flow::assist::sharing::{FRAME, Sharing};
use crate::flow::assist::wire::{Wire, deliver};
use crate::io::terminal::pty::Shell;
use crate::proto::assist::{Action, AssistSession, Event, Policy, State};
use crate::proto::rendezvous::Role;
use crate::proto::screen::ScreenView;
use crate::proto::session::measure::percentile;

/// The scratch terminal's size.
const ROWS: u16 = 24;
const COLS: u16 = 80;

/// Keys whose echo is timed.
const ECHOES: usize = 20;

/// The key typed: a letter no prompt has.
const ECHO_KEY: &str = "q";

/// How long the busy shell is watched.
const BUSY: Duration = Duration::from_secs(2);

/// The busy shell's command: output as fast as the PTY takes it, for
/// longer than it is watched, and bounded, so that it ends by itself.
const BUSY_COMMAND: &[u8] = b"timeout 4 yes busy terminal line\r";

/// How long the session part may take in all.
const WAIT: Duration = Duration::from_secs(30);

/// The session's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionFigures {
    /// Keystroke echo times, in milliseconds.
    pub echo_ms: Vec<f64>,
    pub echo_p50_ms: Option<f64>,
    pub echo_p95_ms: Option<f64>,
    /// Screen updates the expert received a second under a busy terminal.
    pub screen_updates_per_s: f64,
}

/// Why the session figures are missing.
#[derive(Debug, thiserror::Error)]
pub enum SessionTrialError {
    #[error("the session's stream did not open: {0}")]
    Stream(#[from] quinn::ConnectionError),
    #[error("the scratch shell did not start: {0}")]
    Shell(std::io::Error),
    #[error("the session ended: {0}")]
    Ended(String),
    #[error("the session's figures took over {0:?}")]
    Timeout(Duration),
}

/// The expert's part (the trial's helper): opens the session's stream,
/// asks for control and measures.
pub async fn expert(
    connection: &quinn::Connection,
    name: &str,
) -> Result<SessionFigures, SessionTrialError> {
    tokio::time::timeout(WAIT, expert_unbounded(connection, name))
        .await
        .map_err(|_| SessionTrialError::Timeout(WAIT))?
}

/// The novice's part: a scratch shell shared, approved and controlled
/// only when `auto_approve`; otherwise the expert's request is refused.
pub async fn novice(
    connection: &quinn::Connection,
    name: &str,
    auto_approve: bool,
) -> Result<(), SessionTrialError> {
    tokio::time::timeout(WAIT, novice_unbounded(connection, name, auto_approve))
        .await
        .map_err(|_| SessionTrialError::Timeout(WAIT))?
}

async fn expert_unbounded(
    connection: &quinn::Connection,
    name: &str,
) -> Result<SessionFigures, SessionTrialError> {
    let mut wire = Wire::open(connection, true).await?;
    let policy = Policy {
        allow_control: false,
    };
    let mut machine = AssistSession::new(Role::Helper, policy, name.to_string());
    let mut view = ScreenView::new();
    let mut updates = 0u64;
    let mut echoes = Vec::new();
    // The key in flight: when it went, and how many of its echoes the
    // screen must show then (the prompt and any other output of the
    // shell's may move the cursor, never add the key's letter).
    let mut pending: Option<(Instant, usize)> = None;
    let mut busy_since: Option<Instant> = None;
    let mut asked = false;
    loop {
        wire.flush(&mut machine).await;
        while let Some(event) = machine.poll_event() {
            match event {
                Event::ShowScreen(update) => {
                    updates += 1;
                    view.apply(&update)
                        .map_err(|e| SessionTrialError::Ended(e.to_string()))?;
                }
                Event::Ended { reason, .. } => {
                    wire.close().await;
                    return Err(SessionTrialError::Ended(reason));
                }
                _ => {}
            }
        }
        if machine.state() == (State::ScreenSharing { paused: false }) && !asked {
            asked = true;
            let _ = machine.act(Action::RequestControl);
            continue;
        }
        let in_control = machine.state() == (State::ControlSharing { paused: false });
        if let (true, Some(screen)) = (in_control, view.screen()) {
            let echoed = screen.contents().matches(ECHO_KEY).count();
            match pending {
                Some((sent, expected)) if echoed >= expected => {
                    echoes.push(sent.elapsed().as_secs_f64() * 1e3);
                    pending = None;
                }
                Some(_) => {}
                None if echoes.len() < ECHOES && busy_since.is_none() => {
                    // A key the shell's line discipline echoes (20 of them
                    // after a short prompt fit on the line).
                    pending = Some((Instant::now(), echoed + 1));
                    machine.type_keys(ECHO_KEY.as_bytes());
                    continue;
                }
                None if busy_since.is_none() => {
                    machine.type_keys(b"\x15");
                    machine.type_keys(BUSY_COMMAND);
                    busy_since = Some(Instant::now());
                    updates = 0;
                    continue;
                }
                None => {}
            }
        }
        if let Some(since) = busy_since
            && since.elapsed() >= BUSY
        {
            let per_s = updates as f64 / since.elapsed().as_secs_f64();
            let _ = machine.act(Action::Disconnect(
                "the trial's session figures are done".into(),
            ));
            wire.flush(&mut machine).await;
            wire.close().await;
            return Ok(SessionFigures {
                echo_p50_ms: percentile(&echoes, 50.0),
                echo_p95_ms: percentile(&echoes, 95.0),
                echo_ms: echoes,
                screen_updates_per_s: (per_s * 10.0).round() / 10.0,
            });
        }
        tokio::select! {
            incoming = wire.incoming.recv() => deliver(&mut machine, incoming),
            () = tokio::time::sleep(FRAME) => {}
        }
    }
}

async fn novice_unbounded(
    connection: &quinn::Connection,
    name: &str,
    auto_approve: bool,
) -> Result<(), SessionTrialError> {
    let mut wire = Wire::open(connection, false).await?;
    let policy = Policy {
        allow_control: auto_approve,
    };
    let mut machine = AssistSession::new(Role::Novice, policy, name.to_string());
    let mut shell = Shell::spawn(Some("/bin/sh"), ROWS, COLS).map_err(SessionTrialError::Shell)?;
    let mut sharing = Sharing::new(ROWS, COLS);
    let mut buffer = vec![0u8; 16 * 1024];
    let mut tick = tokio::time::interval(FRAME);
    let mut shell_open = true;
    loop {
        wire.flush(&mut machine).await;
        while let Some(event) = machine.poll_event() {
            match event {
                Event::ApprovalAsked { .. } => {
                    let answer = if auto_approve {
                        Action::Approve
                    } else {
                        Action::Refuse
                    };
                    let _ = machine.act(answer);
                }
                Event::ControlRequested => {
                    let _ = machine.act(Action::GrantControl);
                }
                Event::KeysForShell(bytes) if shell_open => {
                    shell_open = shell.input.write(&bytes).await.is_ok();
                }
                Event::NeedFullScreen => sharing.need_full(),
                Event::Ended { reason, by_peer } => {
                    // A refusal made just now is still queued.
                    wire.flush(&mut machine).await;
                    wire.close().await;
                    let _ = shell.process.kill().await;
                    return if by_peer || reason == crate::proto::assist::REFUSED {
                        Ok(())
                    } else {
                        Err(SessionTrialError::Ended(reason))
                    };
                }
                _ => {}
            }
        }
        tokio::select! {
            read = shell.output.read(&mut buffer), if shell_open => match read {
                Ok(0) | Err(_) => shell_open = false,
                Ok(n) => sharing.output(&mut machine, &buffer[..n]),
            },
            incoming = wire.incoming.recv() => deliver(&mut machine, incoming),
            _ = tick.tick() => sharing.send(&mut machine),
        }
    }
}
