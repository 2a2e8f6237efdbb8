//! The local terminal during a session: raw mode on the alternate screen
//! (always given back), drawn with ratatui, and the chat line being typed.

use std::io::{self, Stdout};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::{Position, Rect};
use ratatui::widgets::Widget;

use crate::io::terminal::raw::RawTerminal;
use crate::io::terminal::view::{ChatPane, ExpertScreen, NoviceScreen, StatusLine};
use crate::proto::assist::MAX_CHAT;

/// The chat lines kept for the pane.
const CHAT_LINES: usize = 200;

/// The terminal, taken over for the session.
pub struct SessionScreen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    pub chat: ChatPane,
    /// Dropped last: the terminal comes back after the last drawing.
    _raw: RawTerminal,
}

impl SessionScreen {
    /// Takes the terminal over: raw mode, the alternate screen.
    pub fn enter() -> io::Result<Self> {
        let raw = RawTerminal::enter()?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok(Self {
            terminal,
            chat: ChatPane::default(),
            _raw: raw,
        })
    }

    /// The terminal's size.
    pub fn area(&self) -> io::Result<Rect> {
        let size = self.terminal.size()?;
        Ok(Rect::new(0, 0, size.width, size.height))
    }

    /// Draws the novice's screen.
    pub fn draw_novice(
        &mut self,
        terminal: &vt100::Screen,
        status: &StatusLine,
        prompt: Option<&str>,
    ) -> io::Result<()> {
        let screen = NoviceScreen {
            terminal,
            status,
            prompt,
        };
        self.terminal
            .draw(|frame| draw_frame(frame, &screen, |area| screen.cursor(area)))?;
        Ok(())
    }

    /// Draws the expert's screen.
    pub fn draw_expert(
        &mut self,
        terminal: Option<&vt100::Screen>,
        placeholder: &str,
        status: &StatusLine,
    ) -> io::Result<()> {
        let screen = ExpertScreen {
            terminal,
            placeholder,
            chat: &self.chat,
            status,
        };
        self.terminal
            .draw(|frame| draw_frame(frame, &screen, |area| screen.cursor(area)))?;
        Ok(())
    }

    /// A key typed into the chat line: the message to send on Enter; Esc
    /// leaves the chat.
    pub fn chat_key(&mut self, key: KeyEvent) -> Option<String> {
        match key.code {
            KeyCode::Enter => {
                self.chat.focused = false;
                let text = std::mem::take(&mut self.chat.input);
                (!text.trim().is_empty()).then_some(text)
            }
            KeyCode::Esc => {
                self.chat.focused = false;
                None
            }
            KeyCode::Backspace => {
                self.chat.input.pop();
                None
            }
            KeyCode::Char(c)
                if !key.modifiers.contains(KeyModifiers::CONTROL)
                    && self.chat.input.len() + c.len_utf8() <= MAX_CHAT =>
            {
                self.chat.input.push(c);
                None
            }
            _ => None,
        }
    }

    /// A line said in the chat, by `who`.
    pub fn said(&mut self, who: &str, text: &str) {
        self.chat.lines.push(format!("{who}: {text}"));
        let extra = self.chat.lines.len().saturating_sub(CHAT_LINES);
        self.chat.lines.drain(..extra);
    }
}

/// Renders `widget` over the whole frame, the cursor where it says.
fn draw_frame<W: Widget>(
    frame: &mut Frame<'_>,
    widget: W,
    cursor: impl Fn(Rect) -> Option<Position>,
) {
    let area = frame.area();
    frame.render_widget(widget, area);
    if let Some(position) = cursor(area) {
        frame.set_cursor_position(position);
    }
}
