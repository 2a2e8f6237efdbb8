//! The expert's side: a terminal model that the novice's updates keep equal
//! to the novice's screen.

use super::{MAX_COLS, MAX_ROWS, ScreenUpdate, max_update_bytes, model, size_in_bounds};

/// Why the expert's view refused a screen update. A refused update leaves the
/// view as it was; the novice's next snapshot repairs it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreenError {
    /// The update's size is zero or beyond what a shared screen may have.
    #[error(
        "the novice's screen is {rows}×{cols}, outside the 1×1 to {MAX_ROWS}×{MAX_COLS} a shared screen may have"
    )]
    SizeOutOfBounds {
        /// The rows the update claimed.
        rows: u16,
        /// The columns the update claimed.
        cols: u16,
    },
    /// The update holds more bytes than any update of its size needs.
    #[error(
        "a screen update of {len} bytes is larger than the {max} bytes a {rows}×{cols} screen can need"
    )]
    TooLarge {
        /// The update's length, in bytes.
        len: usize,
        /// The most bytes an update of this size may have.
        max: usize,
        /// The rows the update claimed.
        rows: u16,
        /// The columns the update claimed.
        cols: u16,
    },
    /// A diff arrived before any snapshot, or after the view was cleared.
    #[error("a screen diff arrived with no screen to apply it to: a full screen must come first")]
    DiffWithoutScreen,
    /// A diff arrived for a screen of another size than the one shown.
    #[error(
        "a screen diff for {rows}×{cols} does not fit the {shown_rows}×{shown_cols} screen shown"
    )]
    SizeMismatch {
        /// The rows the diff claimed.
        rows: u16,
        /// The columns the diff claimed.
        cols: u16,
        /// The rows of the screen shown.
        shown_rows: u16,
        /// The columns of the screen shown.
        shown_cols: u16,
    },
}

/// The expert's copy of the novice's screen.
#[derive(Default)]
pub struct ScreenView {
    /// The model the updates are replayed into; `None` until the first
    /// snapshot and while the view is cleared.
    model: Option<vt100::Parser>,
}

impl ScreenView {
    /// A view with no screen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies an update from the novice: a snapshot replaces the screen, a
    /// diff changes the screen shown, which must exist and have the diff's
    /// size.
    pub fn apply(&mut self, update: &ScreenUpdate) -> Result<(), ScreenError> {
        let (rows, cols) = (update.rows, update.cols);
        if !size_in_bounds(rows, cols) {
            return Err(ScreenError::SizeOutOfBounds { rows, cols });
        }
        let max = max_update_bytes(rows, cols);
        if update.bytes.len() > max {
            return Err(ScreenError::TooLarge {
                len: update.bytes.len(),
                max,
                rows,
                cols,
            });
        }
        if update.full {
            let mut fresh = model(rows, cols);
            fresh.process(&update.bytes);
            self.model = Some(fresh);
            return Ok(());
        }
        let shown = self.model.as_mut().ok_or(ScreenError::DiffWithoutScreen)?;
        let (shown_rows, shown_cols) = shown.screen().size();
        let (shown_rows, shown_cols) = (shown_rows.get(), shown_cols.get());
        if (shown_rows, shown_cols) != (rows, cols) {
            return Err(ScreenError::SizeMismatch {
                rows,
                cols,
                shown_rows,
                shown_cols,
            });
        }
        shown.process(&update.bytes);
        Ok(())
    }

    /// Blanks the view (the novice paused the session): diffs are refused
    /// until the next snapshot.
    pub fn clear(&mut self) {
        self.model = None;
    }

    /// The novice's screen as last updated, or `None` when there is none to
    /// show.
    pub fn screen(&self) -> Option<&vt100::Screen> {
        self.model.as_ref().map(vt100::Parser::screen)
    }
}
