//! Sharing a terminal's screen through a terminal model.

/// One screen update from the novice: the screen's size and bytes that a
/// fresh terminal model (`full`) or the expert's current one (a diff) turns
/// into the novice's screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenUpdate {
    pub rows: u16,
    pub cols: u16,
    pub full: bool,
    pub bytes: Vec<u8>,
}
