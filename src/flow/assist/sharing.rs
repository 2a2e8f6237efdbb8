//! The novice's screen on its way to the expert, as both the session and
//! the trial's scratch shell send it: what the shell printed goes out at
//! once after a quiet spell (a key's echo does not wait), otherwise at the
//! next frame (a busy shell's screen goes out at most once a [`FRAME`]),
//! and as a full snapshot whenever the session asks for one.

use std::time::{Duration, Instant};

use crate::proto::assist::AssistSession;
use crate::proto::screen::ScreenShare;

/// How often the novice's screen goes out at most: 30 times a second.
pub(crate) const FRAME: Duration = Duration::from_millis(33);

/// The shell's screen and what of it the expert has.
pub(crate) struct Sharing {
    share: ScreenShare,
    /// The next update must be a full snapshot.
    full: bool,
    last: Instant,
}

impl Sharing {
    pub fn new(rows: u16, cols: u16) -> Self {
        Self {
            share: ScreenShare::new(rows, cols),
            full: false,
            last: Instant::now(),
        }
    }

    /// The shell's screen, as the novice sees it too.
    pub fn screen(&self) -> &vt100::Screen {
        self.share.screen()
    }

    /// The session asked for a full snapshot next.
    pub fn need_full(&mut self) {
        self.full = true;
    }

    /// The terminal is now `rows` × `cols` (bounded); returns the size to
    /// give the shell's PTY. The next update is a full snapshot.
    pub fn resize(&mut self, rows: u16, cols: u16) -> (u16, u16) {
        self.full = true;
        self.share.resize(rows, cols)
    }

    /// What the shell printed: sent at once after a quiet spell.
    pub fn output(&mut self, machine: &mut AssistSession, bytes: &[u8]) {
        self.share.feed(bytes);
        if self.last.elapsed() >= FRAME {
            self.send(machine);
        }
    }

    /// A frame's time came: sends what changed since the last update.
    pub fn send(&mut self, machine: &mut AssistSession) {
        if machine.may_show_screen()
            && let Some(update) = self.share.update(self.full)
        {
            self.full = false;
            self.last = Instant::now();
            machine.share_screen(update);
        }
    }
}
