//! Key presses as the bytes an xterm sends to the program behind it.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// How the cursor keys (arrows, Home, End) are sent: the shell's program
/// chooses with DECCKM (`ESC [ ? 1 h` for application mode), and the novice's
/// terminal model remembers the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CursorKeys {
    /// `ESC [ A` and the like: the mode a shell prompt uses.
    #[default]
    Normal,
    /// `ESC O A` and the like: the mode full-screen programs (vi, less) ask
    /// for.
    Application,
}

impl CursorKeys {
    /// The mode the program shown on `screen` asked for.
    pub fn of(screen: &vt100::Screen) -> Self {
        if screen.application_cursor() {
            Self::Application
        } else {
            Self::Normal
        }
    }
}

/// The bytes a terminal sends to the shell for `key`, or `None` for a key
/// that sends nothing (a release, a lone modifier, a media key).
///
/// Text is sent as UTF-8; Ctrl with a letter or one of `@[\]^_?` as its
/// control code; Alt as an ESC before the key's bytes; special keys as xterm
/// sends them, with xterm's modifier parameter (`ESC [ 1 ; 5 A` for
/// Ctrl+Up) when Shift, Alt or Ctrl is held.
pub fn key_bytes(key: &KeyEvent, cursor_keys: CursorKeys) -> Option<Vec<u8>> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let modifiers = Modifiers::of(shift, alt, ctrl);
    let bytes = match key.code {
        KeyCode::Char(c) => with_alt(alt, &text(c, ctrl)),
        KeyCode::Enter => with_alt(alt, b"\r"),
        KeyCode::Tab if shift => b"\x1b[Z".to_vec(),
        KeyCode::Tab => with_alt(alt, b"\t"),
        KeyCode::BackTab => b"\x1b[Z".to_vec(),
        KeyCode::Backspace if ctrl => with_alt(alt, b"\x08"),
        KeyCode::Backspace => with_alt(alt, b"\x7f"),
        KeyCode::Esc => with_alt(alt, b"\x1b"),
        KeyCode::Null => vec![0],
        KeyCode::Up => cursor(b'A', modifiers, cursor_keys),
        KeyCode::Down => cursor(b'B', modifiers, cursor_keys),
        KeyCode::Right => cursor(b'C', modifiers, cursor_keys),
        KeyCode::Left => cursor(b'D', modifiers, cursor_keys),
        KeyCode::Home => cursor(b'H', modifiers, cursor_keys),
        KeyCode::End => cursor(b'F', modifiers, cursor_keys),
        KeyCode::Insert => tilde(2, modifiers),
        KeyCode::Delete => tilde(3, modifiers),
        KeyCode::PageUp => tilde(5, modifiers),
        KeyCode::PageDown => tilde(6, modifiers),
        KeyCode::F(n) => function(n, modifiers)?,
        _ => return None,
    };
    Some(bytes)
}

/// xterm's modifier parameter: 1 + 1 for Shift + 2 for Alt + 4 for Ctrl,
/// `None` when no modifier is held.
#[derive(Clone, Copy)]
struct Modifiers(Option<u8>);

impl Modifiers {
    fn of(shift: bool, alt: bool, ctrl: bool) -> Self {
        let parameter = 1 + u8::from(shift) + 2 * u8::from(alt) + 4 * u8::from(ctrl);
        Self((parameter > 1).then_some(parameter))
    }
}

/// The bytes for the character `c`, as a control code when Ctrl is held and
/// `c` has one.
fn text(c: char, ctrl: bool) -> Vec<u8> {
    match control_code(c) {
        Some(code) if ctrl => vec![code],
        _ => c.to_string().into_bytes(),
    }
}

/// The control code Ctrl turns `c` into, as xterm does (Ctrl+A is 0x01,
/// Ctrl+[ is ESC, Ctrl+? is DEL, and the digits stand for the symbols above
/// them on a US keyboard).
fn control_code(c: char) -> Option<u8> {
    match c {
        'a'..='z' | 'A'..='Z' => u8::try_from(c).ok().map(|b| b & 0x1f),
        '@' | ' ' | '2' => Some(0x00),
        '[' | '3' => Some(0x1b),
        '\\' | '4' => Some(0x1c),
        ']' | '5' => Some(0x1d),
        '^' | '6' | '~' => Some(0x1e),
        '_' | '7' | '/' => Some(0x1f),
        '?' | '8' => Some(0x7f),
        _ => None,
    }
}

/// `bytes`, after an ESC when Alt is held.
fn with_alt(alt: bool, bytes: &[u8]) -> Vec<u8> {
    let mut sent = Vec::with_capacity(bytes.len() + 1);
    if alt {
        sent.push(0x1b);
    }
    sent.extend_from_slice(bytes);
    sent
}

/// A cursor key ending in `last`: `ESC [ 1 ; m last` with modifiers, else
/// `ESC O last` in application mode and `ESC [ last` in normal mode.
fn cursor(last: u8, modifiers: Modifiers, cursor_keys: CursorKeys) -> Vec<u8> {
    match (modifiers.0, cursor_keys) {
        (Some(m), _) => format!("\x1b[1;{m}{}", char::from(last)).into_bytes(),
        (None, CursorKeys::Application) => vec![0x1b, b'O', last],
        (None, CursorKeys::Normal) => vec![0x1b, b'[', last],
    }
}

/// An editing key `ESC [ n ~`, `ESC [ n ; m ~` with modifiers.
fn tilde(n: u8, modifiers: Modifiers) -> Vec<u8> {
    match modifiers.0 {
        Some(m) => format!("\x1b[{n};{m}~").into_bytes(),
        None => format!("\x1b[{n}~").into_bytes(),
    }
}

/// F1 to F12: F1–F4 as `ESC O P`–`ESC O S` (`ESC [ 1 ; m P` with
/// modifiers), F5–F12 as editing keys with xterm's numbers.
fn function(n: u8, modifiers: Modifiers) -> Option<Vec<u8>> {
    let code = match n {
        1..=4 => {
            let last = char::from(b'P' + (n - 1));
            return Some(match modifiers.0 {
                Some(m) => format!("\x1b[1;{m}{last}").into_bytes(),
                None => format!("\x1bO{last}").into_bytes(),
            });
        }
        5 => 15,
        6 => 17,
        7 => 18,
        8 => 19,
        9 => 20,
        10 => 21,
        11 => 23,
        12 => 24,
        _ => return None,
    };
    Some(tilde(code, modifiers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> Option<Vec<u8>> {
        key_bytes(&KeyEvent::new(code, modifiers), CursorKeys::Normal)
    }

    fn plain(code: KeyCode) -> Option<Vec<u8>> {
        press(code, KeyModifiers::NONE)
    }

    #[test]
    fn text_is_sent_as_utf8() {
        assert_eq!(plain(KeyCode::Char('a')), Some(b"a".to_vec()));
        assert_eq!(
            press(KeyCode::Char('A'), KeyModifiers::SHIFT),
            Some(b"A".to_vec())
        );
        assert_eq!(plain(KeyCode::Char('é')), Some("é".as_bytes().to_vec()));
        assert_eq!(plain(KeyCode::Char('日')), Some("日".as_bytes().to_vec()));
    }

    #[test]
    fn editing_keys_are_sent_as_a_terminal_does() {
        assert_eq!(plain(KeyCode::Enter), Some(b"\r".to_vec()));
        assert_eq!(plain(KeyCode::Backspace), Some(b"\x7f".to_vec()));
        assert_eq!(plain(KeyCode::Tab), Some(b"\t".to_vec()));
        assert_eq!(plain(KeyCode::BackTab), Some(b"\x1b[Z".to_vec()));
        assert_eq!(plain(KeyCode::Esc), Some(b"\x1b".to_vec()));
        assert_eq!(plain(KeyCode::Delete), Some(b"\x1b[3~".to_vec()));
        assert_eq!(plain(KeyCode::Insert), Some(b"\x1b[2~".to_vec()));
        assert_eq!(plain(KeyCode::PageUp), Some(b"\x1b[5~".to_vec()));
        assert_eq!(plain(KeyCode::PageDown), Some(b"\x1b[6~".to_vec()));
    }

    #[test]
    fn cursor_keys_follow_the_programs_mode() {
        assert_eq!(plain(KeyCode::Up), Some(b"\x1b[A".to_vec()));
        assert_eq!(plain(KeyCode::Left), Some(b"\x1b[D".to_vec()));
        assert_eq!(plain(KeyCode::Home), Some(b"\x1b[H".to_vec()));
        assert_eq!(plain(KeyCode::End), Some(b"\x1b[F".to_vec()));
        let up = KeyEvent::new(KeyCode::Up, KeyModifiers::NONE);
        assert_eq!(
            key_bytes(&up, CursorKeys::Application),
            Some(b"\x1bOA".to_vec())
        );
        let mut screen = vt100::Parser::default();
        assert_eq!(CursorKeys::of(screen.screen()), CursorKeys::Normal);
        screen.process(b"\x1b[?1h");
        assert_eq!(CursorKeys::of(screen.screen()), CursorKeys::Application);
    }

    #[test]
    fn modified_special_keys_carry_xterms_parameter() {
        assert_eq!(
            press(KeyCode::Up, KeyModifiers::CONTROL),
            Some(b"\x1b[1;5A".to_vec())
        );
        assert_eq!(
            press(KeyCode::Right, KeyModifiers::SHIFT | KeyModifiers::ALT),
            Some(b"\x1b[1;4C".to_vec())
        );
        assert_eq!(
            press(KeyCode::Delete, KeyModifiers::CONTROL),
            Some(b"\x1b[3;5~".to_vec())
        );
        assert_eq!(
            press(KeyCode::F(1), KeyModifiers::SHIFT),
            Some(b"\x1b[1;2P".to_vec())
        );
    }

    #[test]
    fn function_keys_are_sent_as_xterm_does() {
        let sent: Vec<Vec<u8>> = (1..=12).filter_map(|n| plain(KeyCode::F(n))).collect();
        let expected: Vec<&[u8]> = vec![
            b"\x1bOP",
            b"\x1bOQ",
            b"\x1bOR",
            b"\x1bOS",
            b"\x1b[15~",
            b"\x1b[17~",
            b"\x1b[18~",
            b"\x1b[19~",
            b"\x1b[20~",
            b"\x1b[21~",
            b"\x1b[23~",
            b"\x1b[24~",
        ];
        assert_eq!(sent, expected);
        assert_eq!(plain(KeyCode::F(13)), None);
    }

    #[test]
    fn ctrl_sends_control_codes() {
        let ctrl = KeyModifiers::CONTROL;
        assert_eq!(press(KeyCode::Char('c'), ctrl), Some(vec![0x03]));
        assert_eq!(press(KeyCode::Char('C'), ctrl), Some(vec![0x03]));
        assert_eq!(press(KeyCode::Char('a'), ctrl), Some(vec![0x01]));
        assert_eq!(press(KeyCode::Char('z'), ctrl), Some(vec![0x1a]));
        assert_eq!(press(KeyCode::Char('['), ctrl), Some(vec![0x1b]));
        assert_eq!(press(KeyCode::Char(' '), ctrl), Some(vec![0x00]));
        assert_eq!(press(KeyCode::Char('?'), ctrl), Some(vec![0x7f]));
        assert_eq!(press(KeyCode::Char('1'), ctrl), Some(b"1".to_vec()));
        assert_eq!(press(KeyCode::Backspace, ctrl), Some(vec![0x08]));
    }

    #[test]
    fn alt_prefixes_an_escape() {
        let alt = KeyModifiers::ALT;
        assert_eq!(press(KeyCode::Char('b'), alt), Some(b"\x1bb".to_vec()));
        assert_eq!(
            press(KeyCode::Char('x'), alt | KeyModifiers::CONTROL),
            Some(vec![0x1b, 0x18])
        );
        assert_eq!(press(KeyCode::Enter, alt), Some(b"\x1b\r".to_vec()));
        assert_eq!(press(KeyCode::Backspace, alt), Some(b"\x1b\x7f".to_vec()));
    }

    #[test]
    fn releases_and_lone_keys_send_nothing() {
        let release = KeyEvent::new_with_kind(
            KeyCode::Char('a'),
            KeyModifiers::NONE,
            KeyEventKind::Release,
        );
        assert_eq!(key_bytes(&release, CursorKeys::Normal), None);
        let repeat =
            KeyEvent::new_with_kind(KeyCode::Char('a'), KeyModifiers::NONE, KeyEventKind::Repeat);
        assert_eq!(key_bytes(&repeat, CursorKeys::Normal), Some(b"a".to_vec()));
        assert_eq!(plain(KeyCode::CapsLock), None);
    }
}
