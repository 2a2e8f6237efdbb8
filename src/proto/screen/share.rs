//! The novice's side: a terminal model of its shell's screen and the
//! updates that bring the expert's copy up to date.

use super::{MAX_COLS, MAX_ROWS, ScreenUpdate, max_update_bytes, model, nonzero};

/// The novice's shell screen, modelled from the PTY's output, and what the
/// expert was last sent of it.
pub struct ScreenShare {
    /// The model of the novice's screen, fed everything the shell writes.
    model: vt100::Parser,
    /// The screen as the expert last received it; `None` until the first
    /// snapshot, and again after a resize.
    sent: Option<vt100::Screen>,
}

impl ScreenShare {
    /// A blank screen of `rows` × `cols`, bounded to 1..=[`MAX_ROWS`] rows
    /// and 1..=[`MAX_COLS`] columns; [`ScreenShare::size`] tells the size
    /// kept, which is the one to give the shell's PTY.
    pub fn new(rows: u16, cols: u16) -> Self {
        let (rows, cols) = bounded(rows, cols);
        Self {
            model: model(rows, cols),
            sent: None,
        }
    }

    /// The screen's size, `(rows, cols)`.
    pub fn size(&self) -> (u16, u16) {
        let (rows, cols) = self.model.screen().size();
        (rows.get(), cols.get())
    }

    /// The novice's screen as the model sees it, for the novice's own
    /// display.
    pub fn screen(&self) -> &vt100::Screen {
        self.model.screen()
    }

    /// Takes in output of the novice's shell.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.model.process(bytes);
    }

    /// Resizes the screen, bounded as in [`ScreenShare::new`], and returns the
    /// size kept. The next update is a snapshot: a diff only applies to a
    /// screen of the same size.
    pub fn resize(&mut self, rows: u16, cols: u16) -> (u16, u16) {
        let (rows, cols) = bounded(rows, cols);
        if (rows, cols) != self.size() {
            self.model.set_size(nonzero(rows), nonzero(cols));
            self.sent = None;
        }
        (rows, cols)
    }

    /// The next update for the expert: a snapshot of the whole screen when
    /// `full` is asked for (a new viewer, the end of a pause) or the expert
    /// has no screen of this size yet; otherwise the difference from the last
    /// update, or `None` when nothing changed. A diff that would be larger
    /// than a snapshot can be is sent as a snapshot.
    pub fn update(&mut self, full: bool) -> Option<ScreenUpdate> {
        let (rows, cols) = self.size();
        let screen = self.model.screen();
        let diff = match &self.sent {
            Some(sent) if !full => Some(screen.state_diff(sent)),
            _ => None,
        };
        let (full, bytes) = match diff {
            Some(diff) if diff.is_empty() => return None,
            Some(diff) if diff.len() <= max_update_bytes(rows, cols) => (false, diff),
            _ => (true, screen.state_formatted()),
        };
        self.sent = Some(screen.clone());
        Some(ScreenUpdate {
            rows,
            cols,
            full,
            bytes: bytes.into_bytes(),
        })
    }
}

/// `rows` and `cols` within the sizes a shared screen may have.
fn bounded(rows: u16, cols: u16) -> (u16, u16) {
    (rows.clamp(1, MAX_ROWS), cols.clamp(1, MAX_COLS))
}
