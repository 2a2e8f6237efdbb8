//! The screens drawn into ratatui's test backend: text where it belongs,
//! and nothing from the peer that a real terminal would act on.

use ratatui::Terminal;
use ratatui::backend::{Backend as _, CrosstermBackend, TestBackend};

use super::*;

/// A terminal model of `rows` × `cols` after `output`.
fn screen_after(rows: u16, cols: u16, output: &[u8]) -> vt100::Parser {
    let mut parser = vt100::Parser::new(
        rows.try_into().expect("rows"),
        cols.try_into().expect("cols"),
        0,
    );
    parser.process(output);
    parser
}

/// Draws `widget` on a `width` × `height` test terminal.
fn draw(width: u16, height: u16, widget: impl Widget) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal
        .draw(|frame| frame.render_widget(widget, frame.area()))
        .expect("draws");
    terminal.backend().buffer().clone()
}

/// The text of row `y`.
fn row(buf: &Buffer, y: u16) -> String {
    (buf.area.x..buf.area.right())
        .map(|x| buf[(x, y)].symbol())
        .collect()
}

/// The bytes a real terminal would receive to show `buf`.
fn terminal_bytes(buf: &Buffer) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut backend = CrosstermBackend::new(&mut bytes);
    let blank = Buffer::empty(buf.area);
    backend
        .draw(blank.diff(buf).into_iter())
        .expect("draws into memory");
    backend.flush().expect("flushes into memory");
    bytes
}

fn status() -> StatusLine {
    StatusLine {
        state: "alice controls your terminal".into(),
        path: "direct IPv4".into(),
        rtt: "RTT 23 ms".into(),
        keys: "Ctrl+] menu".into(),
    }
}

#[test]
fn the_expert_sees_the_novices_cells_chat_and_status() {
    let novice = screen_after(
        10,
        40,
        b"\x1b[31mred\x1b[0m \x1b[1;4mbold\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[m\r\n$ ls",
    );
    let chat = ChatPane {
        lines: (1..=20).map(|n| format!("bob: message {n}")).collect(),
        input: "typing".into(),
        focused: false,
    };
    let status = status();
    let screen = ExpertScreen {
        terminal: Some(novice.screen()),
        placeholder: "paused",
        chat: &chat,
        status: &status,
    };
    let buf = draw(80, 24, &screen);
    assert!(
        row(&buf, 0).starts_with("red bold rgb "),
        "{:?}",
        row(&buf, 0)
    );
    assert!(row(&buf, 1).starts_with("$ ls "));
    assert_eq!(buf[(0, 0)].fg, Color::Indexed(1));
    assert!(
        buf[(4, 0)]
            .modifier
            .contains(Modifier::BOLD | Modifier::UNDERLINED)
    );
    assert_eq!(buf[(9, 0)].fg, Color::Rgb(1, 2, 3));

    let layout = ExpertLayout::of(buf.area);
    assert_eq!(
        (layout.terminal.height, layout.chat.height, layout.status.y),
        (18, 5, 23)
    );
    assert!(row(&buf, 18).contains(" chat "));
    assert!(row(&buf, 19).starts_with("bob: message 18"));
    assert!(row(&buf, 21).starts_with("bob: message 20"));
    assert!(row(&buf, 22).starts_with("> typing"));
    let bottom = row(&buf, 23);
    assert!(
        bottom.starts_with(" alice controls your terminal │ direct IPv4 │ RTT 23 ms"),
        "{bottom:?}"
    );
    assert!(bottom.ends_with("Ctrl+] menu "), "{bottom:?}");
    assert!(buf[(0, 23)].modifier.contains(Modifier::REVERSED));

    assert_eq!(screen.cursor(buf.area), Some(Position::new(4, 1)));
    let typing = ChatPane {
        focused: true,
        ..chat.clone()
    };
    let screen = ExpertScreen {
        chat: &typing,
        ..screen
    };
    assert_eq!(screen.cursor(buf.area), Some(Position::new(8, 22)));
}

#[test]
fn a_paused_screen_shows_the_placeholder() {
    let (chat, status) = (ChatPane::default(), status());
    let screen = ExpertScreen {
        terminal: None,
        placeholder: "paused by the novice",
        chat: &chat,
        status: &status,
    };
    let buf = draw(40, 12, &screen);
    let shown: Vec<String> = (0..12).map(|y| row(&buf, y)).collect();
    assert!(
        shown.iter().any(|r| r.trim() == "paused by the novice"),
        "{shown:?}"
    );
    assert_eq!(screen.cursor(buf.area), None);
}

#[test]
fn a_screen_larger_than_the_area_is_clipped_around_the_cursor() {
    let mut output = Vec::new();
    for n in 0..50 {
        output.extend(format!("line {n}\r\n").into_bytes());
    }
    output.extend(b"\x1b[50;150Hend");
    let novice = screen_after(50, 200, &output);
    let view = TerminalView::new(novice.screen());
    let buf = draw(80, 10, &view);
    assert!(
        row(&buf, 9).trim_end().ends_with("end"),
        "{:?}",
        row(&buf, 9)
    );
    assert_eq!(view.cursor(buf.area), Some(Position::new(79, 9)));
    let small = screen_after(5, 10, b"hi");
    let view = TerminalView::new(small.screen());
    let buf = draw(20, 8, &view);
    assert_eq!(row(&buf, 0), format!("hi{}", " ".repeat(18)));
    assert_eq!(view.cursor(buf.area), Some(Position::new(2, 0)));
}

#[test]
fn wide_characters_keep_their_columns() {
    let novice = screen_after(3, 10, "日本a".as_bytes());
    let buf = draw(10, 3, &TerminalView::new(novice.screen()));
    assert_eq!(buf[(0, 0)].symbol(), "日");
    assert_eq!(buf[(2, 0)].symbol(), "本");
    assert_eq!(buf[(4, 0)].symbol(), "a");
    let clipped = draw(3, 3, &TerminalView::new(novice.screen()));
    assert_eq!(
        row(&clipped, 0),
        " a ",
        "the half of 本 shown is left blank"
    );
    let home = screen_after(3, 10, "日本a\x1b[H".as_bytes());
    let clipped = draw(3, 3, &TerminalView::new(home.screen()));
    assert_eq!(
        row(&clipped, 0),
        "日  ",
        "the half of 本 shown is left blank"
    );
}

#[test]
fn the_novice_sees_its_shell_and_the_status_or_a_question() {
    let shell = screen_after(23, 80, b"$ echo hi\r\nhi\r\n$ ");
    let status = status();
    let screen = NoviceScreen {
        terminal: shell.screen(),
        status: &status,
        prompt: None,
    };
    let area = Rect::new(0, 0, 80, 24);
    assert_eq!(NoviceScreen::shell_area(area), Rect::new(0, 0, 80, 23));
    let buf = draw(80, 24, &screen);
    assert!(row(&buf, 1).starts_with("hi "));
    assert!(row(&buf, 23).starts_with(" alice controls your terminal"));
    assert_eq!(screen.cursor(area), Some(Position::new(2, 2)));

    let question = "Allow alice to see your terminal? [y/n]";
    let asking = NoviceScreen {
        prompt: Some(question),
        ..screen
    };
    let buf = draw(80, 24, &asking);
    assert!(row(&buf, 23).starts_with(&format!(" {question}")));
    assert_eq!(buf[(1, 23)].bg, Color::Yellow);
    assert_eq!(asking.cursor(area), Some(Position::new(40, 23)));
}

#[test]
fn escape_sequences_from_the_peer_never_reach_the_terminal() {
    let hostile = concat!(
        "\x1b]0;evil title\x07safe",
        "\x1b]52;c;ZXZpbA==\x07\x07",
        "\u{9b}31m\u{9d}0;c1 title\u{9c}",
        "\x1bP+q544e\x1b\\",
        "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\",
    );
    let shell = screen_after(10, 60, hostile.as_bytes());
    let status = StatusLine {
        state: "\x1b]0;\x07alice\u{9b}2J".into(),
        ..status()
    };
    let chat = ChatPane {
        lines: vec!["\x1b]52;c;ZXZpbA==\x07bob: hello".into()],
        input: "\x1b[2J".into(),
        focused: true,
    };
    let novice = NoviceScreen {
        terminal: shell.screen(),
        status: &status,
        prompt: Some("Allow \x1b]0;x\x07mallory\u{9b}1m? [y/n]"),
    };
    let expert = ExpertScreen {
        terminal: Some(shell.screen()),
        placeholder: "",
        chat: &chat,
        status: &status,
    };
    for buf in [draw(60, 12, &novice), draw(60, 12, &expert)] {
        for cell in &buf.content {
            assert!(
                !cell.symbol().contains(char::is_control),
                "a control character in a cell: {:?}",
                cell.symbol()
            );
        }
        let text: String = (0..12).map(|y| row(&buf, y)).collect();
        assert!(text.contains("safe") && text.contains("link"), "{text:?}");
        assert!(!text.contains("evil"), "{text:?}");
        let bytes = terminal_bytes(&buf);
        for forbidden in [
            &b"\x1b]"[..],
            b"\x07",
            b"\x1bP",
            b"\xc2\x9b",
            b"\xc2\x9d",
            b"\x1b[2J",
        ] {
            assert!(
                !bytes.windows(forbidden.len()).any(|w| w == forbidden),
                "the terminal would receive {forbidden:?}"
            );
        }
    }
}

#[test]
fn tiny_areas_draw_what_fits_and_never_panic() {
    let shell = screen_after(24, 80, b"$ ");
    let (chat, status) = (ChatPane::default(), status());
    for (width, height) in [(1, 1), (2, 1), (1, 3), (80, 1), (3, 2), (10, 4)] {
        let expert = ExpertScreen {
            terminal: Some(shell.screen()),
            placeholder: "paused",
            chat: &chat,
            status: &status,
        };
        draw(width, height, &expert);
        let novice = NoviceScreen {
            terminal: shell.screen(),
            status: &status,
            prompt: Some("Allow alice? [y/n]"),
        };
        draw(width, height, &novice);
        let area = Rect::new(0, 0, width, height);
        for cursor in [expert.cursor(area), novice.cursor(area)]
            .into_iter()
            .flatten()
        {
            assert!(area.contains(cursor), "{cursor:?} outside {area:?}");
        }
    }
}
