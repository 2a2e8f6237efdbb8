//! The local terminal in raw mode on the alternate screen, and always given
//! back: when the guard drops, when the program panics, and when asked
//! twice.

use std::io::{self, IsTerminal as _};
use std::panic;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

/// Whether the terminal is ours to give back: set on entering, cleared by
/// the first [`restore`].
static ENTERED: AtomicBool = AtomicBool::new(false);

/// Installs the panic hook once per process.
static PANIC_HOOK: Once = Once::new();

/// The terminal in raw mode on the alternate screen, until this guard is
/// dropped.
#[must_use = "the terminal is restored as soon as the guard is dropped"]
pub struct RawTerminal {
    /// Only [`RawTerminal::enter`] makes one.
    _entered: (),
}

impl RawTerminal {
    /// Puts the terminal in raw mode and switches to the alternate screen.
    /// Fails, changing nothing, when standard output is not a terminal or the
    /// terminal is already entered. From here on a panic restores the
    /// terminal before its message prints.
    pub fn enter() -> io::Result<RawTerminal> {
        if !io::stdout().is_terminal() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "standard output is not a terminal: the session's screen needs one",
            ));
        }
        if ENTERED.swap(true, Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the terminal is already in raw mode",
            ));
        }
        install_panic_hook();
        let entered = enable_raw_mode().and_then(|()| execute!(io::stdout(), EnterAlternateScreen));
        match entered {
            Ok(()) => Ok(RawTerminal { _entered: () }),
            Err(error) => {
                // The error that matters is the one that stopped us entering.
                let _ = restore();
                Err(error)
            }
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // Nothing is left to report a failure to while dropping; restoring is
        // best effort, as a terminal's own reset would be.
        let _ = restore();
    }
}

/// Leaves the alternate screen, shows the cursor and turns raw mode off, if
/// [`RawTerminal::enter`] changed them and nothing restored them since;
/// otherwise does nothing. Every step is tried; the first failure is
/// returned.
pub fn restore() -> io::Result<()> {
    if !ENTERED.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let screen = execute!(io::stdout(), LeaveAlternateScreen, Show);
    let raw = disable_raw_mode();
    screen.and(raw)
}

/// Chains a hook before the panic hook in place that restores the terminal,
/// so the panic message prints on the normal screen in cooked mode.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // A panic is already being reported; the terminal is best effort.
            let _ = restore();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restoring_what_was_never_entered_does_nothing_each_time() {
        assert!(restore().is_ok());
        assert!(restore().is_ok());
    }

    #[test]
    fn without_a_terminal_entering_fails_and_changes_nothing() {
        if io::stdout().is_terminal() {
            // Run from a terminal, entering would take it over: this case
            // is for test runs whose output is captured (CI, pipes).
            return;
        }
        let error = RawTerminal::enter().err().expect("no terminal to enter");
        assert_eq!(error.kind(), io::ErrorKind::Unsupported);
        assert!(!ENTERED.load(Ordering::SeqCst));
        assert!(restore().is_ok());
    }
}
