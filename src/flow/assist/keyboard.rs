//! The local terminal's events (keys, pastes, resizes), read on a thread
//! of their own: crossterm's reading blocks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crossterm::event::{self, Event};
use tokio::sync::mpsc;

/// How often the reading thread looks whether it should stop.
const POLL: Duration = Duration::from_millis(50);

/// The terminal's events, until dropped.
pub struct Keyboard {
    pub events: mpsc::UnboundedReceiver<Event>,
    stop: Arc<AtomicBool>,
}

impl Keyboard {
    /// Starts reading the terminal's events.
    pub fn start() -> Self {
        let (send, events) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match event::poll(POLL) {
                    Ok(false) => {}
                    Ok(true) => {
                        let Ok(event) = event::read() else { return };
                        if send.send(event).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        Self { events, stop }
    }
}

impl Drop for Keyboard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
