//! The screens both sides draw: the novice's terminal from its `vt100`
//! model, a chat pane, a status line and the novice's prompt for questions.
//!
//! Everything is drawn into a ratatui [`Buffer`], cell by cell: a terminal
//! model's cells, and text from the peer (chat, names), pass through
//! [`Buffer::set_stringn`], which drops any grapheme holding a control
//! character, so no escape sequence from the peer reaches the real terminal.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthStr as _;

/// What the bottom line tells: each part is the caller's text, and empty
/// parts are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusLine {
    /// Who is connected and what they may do ("alice sees your terminal").
    pub state: String,
    /// The path in use ("direct IPv4", "relay").
    pub path: String,
    /// The round-trip time ("RTT 23 ms").
    pub rtt: String,
    /// Key hints, shown at the right ("Ctrl+] menu").
    pub keys: String,
}

/// The chat: the messages so far and the line being typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatPane {
    /// The messages, oldest first; the last ones that fit are shown.
    pub lines: Vec<String>,
    /// The message being typed.
    pub input: String,
    /// Whether keys go to the chat (the cursor is on its input line).
    pub focused: bool,
}

/// A terminal model's screen drawn into an area, clipped around the cursor
/// when the area is smaller than the screen.
pub struct TerminalView<'a> {
    screen: &'a vt100::Screen,
}

impl<'a> TerminalView<'a> {
    /// A view of `screen`.
    pub fn new(screen: &'a vt100::Screen) -> Self {
        Self { screen }
    }

    /// Where the terminal's cursor is drawn in `area`, unless the program
    /// hid it.
    pub fn cursor(&self, area: Rect) -> Option<Position> {
        if self.screen.hide_cursor() || area.is_empty() {
            return None;
        }
        let window = Window::of(self.screen, area);
        let (row, col) = self.cursor_cell();
        Some(Position::new(
            area.x + (col - window.col),
            area.y + (row - window.row),
        ))
    }

    /// The cell the cursor is on (a cursor past the last column, waiting to
    /// wrap, is on the last one).
    fn cursor_cell(&self) -> (u16, u16) {
        let (row, col) = self.screen.cursor_position();
        let (_, cols) = self.screen.size();
        (row, col.min(cols.get() - 1))
    }
}

impl Widget for &TerminalView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let window = Window::of(self.screen, area);
        for y in 0..window.rows.min(area.height) {
            for x in 0..window.cols.min(area.width) {
                let Some(cell) = self.screen.cell(window.row + y, window.col + x) else {
                    continue;
                };
                if cell.is_wide_continuation() && x > 0 {
                    continue;
                }
                let (x, y) = (area.x + x, area.y + y);
                let style = cell_style(cell);
                buf[(x, y)].reset();
                buf[(x, y)].set_symbol(" ").set_style(style);
                if cell.has_contents() && !cell.is_wide_continuation() {
                    let room = usize::from(area.right() - x);
                    buf.set_stringn(x, y, cell.contents(), room, style);
                }
            }
        }
    }
}

/// The part of a screen an area shows: all of it when it fits, else the
/// part nearest the top left that holds the cursor.
struct Window {
    row: u16,
    col: u16,
    rows: u16,
    cols: u16,
}

impl Window {
    fn of(screen: &vt100::Screen, area: Rect) -> Self {
        let (rows, cols) = screen.size();
        let (rows, cols) = (rows.get(), cols.get());
        let (cursor_row, cursor_col) = TerminalView::new(screen).cursor_cell();
        let row = first_shown(rows, area.height, cursor_row);
        let col = first_shown(cols, area.width, cursor_col);
        Self {
            row,
            col,
            rows: rows - row,
            cols: cols - col,
        }
    }
}

/// The first of `size` lines or columns to show in `room`, so that
/// `cursor` is shown.
fn first_shown(size: u16, room: u16, cursor: u16) -> u16 {
    if size <= room || room == 0 {
        return 0;
    }
    cursor.saturating_sub(room - 1).min(size - room)
}

/// A cell's colours and attributes as ratatui styles them.
fn cell_style(cell: &vt100::Cell) -> Style {
    let attributes = [
        (cell.bold(), Modifier::BOLD),
        (cell.dim(), Modifier::DIM),
        (cell.italic(), Modifier::ITALIC),
        (cell.underline(), Modifier::UNDERLINED),
        (cell.inverse(), Modifier::REVERSED),
    ];
    let modifiers = attributes
        .into_iter()
        .filter(|(on, _)| *on)
        .fold(Modifier::empty(), |all, (_, modifier)| all | modifier);
    Style::new()
        .fg(color(cell.fgcolor()))
        .bg(color(cell.bgcolor()))
        .add_modifier(modifiers)
}

/// A `vt100` colour as ratatui's.
fn color(color: vt100::Color) -> Color {
    match color {
        vt100::Color::Default => Color::Reset,
        vt100::Color::Idx(index) => Color::Indexed(index),
        vt100::Color::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}

/// The style of the status line.
const STATUS_STYLE: Style = Style::new().add_modifier(Modifier::REVERSED);

/// The style of a question waiting for the novice's answer.
const PROMPT_STYLE: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Yellow)
    .add_modifier(Modifier::BOLD);

/// The style of the chat's title line and of text standing in for a screen.
const QUIET_STYLE: Style = Style::new().add_modifier(Modifier::DIM);

/// What the chat's input line starts with.
const INPUT_MARK: &str = "> ";

impl Widget for &StatusLine {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let line = Rect { height: 1, ..area };
        buf.set_style(line, STATUS_STYLE);
        let parts: Vec<&str> = [&self.state, &self.path, &self.rtt]
            .into_iter()
            .map(String::as_str)
            .filter(|part| !part.is_empty())
            .collect();
        let (end, _) = buf.set_stringn(
            area.x,
            area.y,
            format!(" {}", parts.join(" │ ")),
            usize::from(area.width),
            STATUS_STYLE,
        );
        let keys_width = u16::try_from(self.keys.width()).unwrap_or(u16::MAX);
        if let Some(x) = area.right().checked_sub(keys_width.saturating_add(1))
            && x > end
        {
            buf.set_stringn(x, area.y, &self.keys, usize::from(keys_width), STATUS_STYLE);
        }
    }
}

impl ChatPane {
    /// Where the cursor is drawn in the pane's `area` while typing: after
    /// the input.
    fn cursor(&self, area: Rect) -> Option<Position> {
        let y = area.bottom().checked_sub(1)?;
        let shown = tail(&self.input, input_room(area.width)).width();
        let typed = u16::try_from(INPUT_MARK.width() + shown).unwrap_or(u16::MAX);
        Some(Position::new(
            area.x + typed.min(area.width.saturating_sub(1)),
            y,
        ))
    }
}

impl Widget for &ChatPane {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let width = usize::from(area.width);
        buf.set_stringn(area.x, area.y, "─".repeat(width), width, QUIET_STYLE);
        buf.set_stringn(
            area.x + 1,
            area.y,
            " chat ",
            width.saturating_sub(1),
            QUIET_STYLE,
        );
        let Some(input_y) = area.bottom().checked_sub(1).filter(|y| *y > area.y) else {
            return;
        };
        let shown = usize::from(input_y - area.y - 1);
        let first = self.lines.len().saturating_sub(shown);
        for (y, line) in (area.y + 1..).zip(&self.lines[first..]) {
            buf.set_stringn(area.x, y, line, width, Style::new());
        }
        let room = input_room(area.width);
        buf.set_stringn(area.x, input_y, INPUT_MARK, width, Style::new());
        buf.set_stringn(
            area.x + u16::try_from(INPUT_MARK.width()).unwrap_or(0),
            input_y,
            tail(&self.input, room),
            room,
            Style::new(),
        );
    }
}

/// The columns the chat's input line has for the message typed: all but the
/// mark and one for the cursor.
fn input_room(width: u16) -> usize {
    usize::from(width).saturating_sub(INPUT_MARK.width() + 1)
}

/// The end of `text` that fits in `width` columns.
fn tail(text: &str, width: usize) -> &str {
    let mut start = text.len();
    let mut used = 0;
    for (i, c) in text.char_indices().rev() {
        used += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used > width {
            break;
        }
        start = i;
    }
    &text[start..]
}

/// The expert's screen: the novice's terminal, the chat under it and the
/// status line at the bottom.
pub struct ExpertScreen<'a> {
    /// The novice's screen, `None` before the first update and while
    /// paused.
    pub terminal: Option<&'a vt100::Screen>,
    /// What stands in for the novice's screen when there is none
    /// ("paused by the novice").
    pub placeholder: &'a str,
    /// The chat.
    pub chat: &'a ChatPane,
    /// The status line.
    pub status: &'a StatusLine,
}

/// The areas of the expert's screen.
struct ExpertLayout {
    terminal: Rect,
    chat: Rect,
    status: Rect,
}

impl ExpertLayout {
    /// The status line takes the bottom row, the chat a quarter of the rest
    /// (three to ten rows: its title, its messages, its input line), the
    /// novice's terminal the remainder.
    fn of(area: Rect) -> Self {
        let status_rows = area.height.min(1);
        let rest = area.height - status_rows;
        let chat_rows = (rest / 4).clamp(3, 10).min(rest);
        let terminal_rows = rest - chat_rows;
        Self {
            terminal: Rect {
                height: terminal_rows,
                ..area
            },
            chat: Rect {
                y: area.y + terminal_rows,
                height: chat_rows,
                ..area
            },
            status: Rect {
                y: area.y + rest,
                height: status_rows,
                ..area
            },
        }
    }
}

impl ExpertScreen<'_> {
    /// Where the cursor is drawn in `area`: on the chat's input line while
    /// typing a message, else on the novice's cursor.
    pub fn cursor(&self, area: Rect) -> Option<Position> {
        let layout = ExpertLayout::of(area);
        if self.chat.focused {
            self.chat.cursor(layout.chat)
        } else {
            self.terminal
                .and_then(|screen| TerminalView::new(screen).cursor(layout.terminal))
        }
    }
}

impl Widget for &ExpertScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let layout = ExpertLayout::of(area);
        match self.terminal {
            Some(screen) => TerminalView::new(screen).render(layout.terminal, buf),
            None => placeholder(self.placeholder, layout.terminal, buf),
        }
        self.chat.render(layout.chat, buf);
        self.status.render(layout.status, buf);
    }
}

/// `text` in the middle of `area`, standing in for a screen.
fn placeholder(text: &str, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    let width = u16::try_from(text.width())
        .unwrap_or(u16::MAX)
        .min(area.width);
    let x = area.x + (area.width - width) / 2;
    let y = area.y + area.height / 2;
    buf.set_stringn(x, y, text, usize::from(width), QUIET_STYLE);
}

/// The novice's screen: its own shell, and at the bottom the status line,
/// or a question waiting for the novice's answer.
pub struct NoviceScreen<'a> {
    /// The novice's shell screen (its [`ScreenShare`]'s model).
    ///
    /// [`ScreenShare`]: crate::proto::screen::ScreenShare
    pub terminal: &'a vt100::Screen,
    /// The status line: who is connected, seeing or controlling, the path,
    /// the keys.
    pub status: &'a StatusLine,
    /// A question for the novice ("Allow alice to see your terminal?
    /// [y/n]"), shown in place of the status line.
    pub prompt: Option<&'a str>,
}

impl NoviceScreen<'_> {
    /// The part of `area` the shell's screen takes: the size to give its
    /// PTY.
    pub fn shell_area(area: Rect) -> Rect {
        Rect {
            height: area.height.saturating_sub(1),
            ..area
        }
    }

    /// Where the cursor is drawn in `area`: after the question while one
    /// waits, else on the shell's cursor.
    pub fn cursor(&self, area: Rect) -> Option<Position> {
        match self.prompt {
            Some(prompt) => {
                let y = area.bottom().checked_sub(1)?;
                let typed = u16::try_from(prompt.width() + 1).unwrap_or(u16::MAX);
                Some(Position::new(
                    area.x + typed.min(area.width.saturating_sub(1)),
                    y,
                ))
            }
            None => TerminalView::new(self.terminal).cursor(Self::shell_area(area)),
        }
    }
}

impl Widget for &NoviceScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let shell = NoviceScreen::shell_area(area);
        TerminalView::new(self.terminal).render(shell, buf);
        let bottom = Rect {
            y: shell.bottom(),
            height: area.height - shell.height,
            ..area
        };
        match self.prompt {
            Some(prompt) => {
                let bottom = bottom.intersection(buf.area);
                if bottom.is_empty() {
                    return;
                }
                buf.set_style(bottom, PROMPT_STYLE);
                buf.set_stringn(
                    bottom.x,
                    bottom.y,
                    format!(" {prompt}"),
                    usize::from(bottom.width),
                    PROMPT_STYLE,
                );
            }
            None => self.status.render(bottom, buf),
        }
    }
}

#[cfg(test)]
mod tests;
