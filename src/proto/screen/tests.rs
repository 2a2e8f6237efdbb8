//! The novice's screen through updates into the expert's view: the same
//! cells, and nothing but cells.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

/// Asserts that two screens show the same cells, attributes and cursor.
fn assert_same_screen(novice: &vt100::Screen, expert: &vt100::Screen, context: &str) {
    assert_eq!(novice.size(), expert.size(), "{context}: size");
    assert_eq!(novice.contents(), expert.contents(), "{context}: contents");
    let (rows, cols) = novice.size();
    for row in 0..rows.get() {
        for col in 0..cols.get() {
            let (a, b) = (novice.cell(row, col), expert.cell(row, col));
            let (Some(a), Some(b)) = (a, b) else {
                panic!("{context}: no cell at {row},{col}");
            };
            let describe = |c: &vt100::Cell| {
                (
                    c.contents().to_owned(),
                    c.fgcolor(),
                    c.bgcolor(),
                    (c.bold(), c.dim(), c.italic(), c.underline(), c.inverse()),
                    c.is_wide(),
                )
            };
            assert_eq!(describe(a), describe(b), "{context}: cell {row},{col}");
        }
    }
    assert_eq!(
        novice.cursor_position(),
        expert.cursor_position(),
        "{context}: cursor"
    );
    assert_eq!(
        novice.hide_cursor(),
        expert.hide_cursor(),
        "{context}: cursor visibility"
    );
    assert_eq!(
        novice.application_cursor(),
        expert.application_cursor(),
        "{context}: cursor keys mode"
    );
}

/// A piece of what a shell and its programs write: text, colours,
/// attributes, cursor moves, clears, scrolling, modes, and the sequences
/// that draw nothing.
fn shell_output(rng: &mut StdRng) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "ls",
        "-la",
        "total 42",
        "drwxr-xr-x",
        "README.md",
        "héllo",
        "日本語",
        "e\u{301}",
        "tab\there",
        "$ ",
        "x",
        "a longer line of output that may well wrap past the edge",
    ];
    let piece = match rng.random_range(0..20) {
        0..=5 => WORDS[rng.random_range(0..WORDS.len())].to_owned(),
        6 => "\r\n".to_owned(),
        7 => format!("\x1b[{}m", rng.random_range(30..38)),
        8 => format!("\x1b[38;5;{}m", rng.random_range(0..=255)),
        9 => format!(
            "\x1b[48;2;{};{};{}m",
            rng.random_range(0..=255),
            rng.random_range(0..=255),
            rng.random_range(0..=255)
        ),
        10 => [
            "\x1b[1m", "\x1b[2m", "\x1b[3m", "\x1b[4m", "\x1b[7m", "\x1b[0m", "\x1b[m",
        ][rng.random_range(0..7)]
        .to_owned(),
        11 => format!(
            "\x1b[{};{}H",
            rng.random_range(1..=30),
            rng.random_range(1..=90)
        ),
        12 => format!(
            "\x1b[{}{}",
            rng.random_range(1..5),
            ["A", "B", "C", "D", "G", "d"][rng.random_range(0..6)]
        ),
        13 => [
            "\x1b[J", "\x1b[1J", "\x1b[2J", "\x1b[K", "\x1b[1K", "\x1b[2K", "\x1b[3X",
        ][rng.random_range(0..7)]
        .to_owned(),
        14 => [
            "\x1b[2L", "\x1b[M", "\x1b[2P", "\x1b[3@", "\x1b[S", "\x1b[2T", "\x1bM", "\n\n\n",
        ][rng.random_range(0..8)]
        .to_owned(),
        15 => format!(
            "\x1b[{};{}r",
            rng.random_range(1..5),
            rng.random_range(10..25)
        ),
        16 => [
            "\x1b[?1049h",
            "\x1b[?1049l",
            "\x1b[?25l",
            "\x1b[?25h",
            "\x1b[?1h",
            "\x1b[?1l",
        ][rng.random_range(0..6)]
        .to_owned(),
        17 => ["\x08", "\t", "\r", "\x1b7", "\x1b8"][rng.random_range(0..5)].to_owned(),
        18 => [
            "\x1b]0;title\x07",
            "\x1b]52;c;aGk=\x07",
            "\x07",
            "\x1b]2;t\x1b\\",
        ][rng.random_range(0..4)]
        .to_owned(),
        _ => "\x1b[r".to_owned(),
    };
    piece.into_bytes()
}

/// Feeds `bytes` to the novice in chunks cut at random places, escape
/// sequences included.
fn feed_in_chunks(share: &mut ScreenShare, bytes: &[u8], rng: &mut StdRng) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rng.random_range(1..=rest.len()));
        share.feed(chunk);
        rest = tail;
    }
}

#[test]
fn the_expert_sees_the_novices_cells_through_snapshots_and_diffs() {
    for seed in 0..8 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut share = ScreenShare::new(24, 80);
        let mut view = ScreenView::new();
        let mut diffs = 0;
        for step in 0..300 {
            let mut output = Vec::new();
            for _ in 0..rng.random_range(1..12) {
                output.extend(shell_output(&mut rng));
            }
            feed_in_chunks(&mut share, &output, &mut rng);
            if rng.random_ratio(1, 40) {
                share.resize(rng.random_range(5..40), rng.random_range(20..120));
            }
            let full = rng.random_ratio(1, 30);
            if let Some(update) = share.update(full) {
                diffs += usize::from(!update.full);
                view.apply(&update).expect("the novice's own update");
            }
            let context = format!("seed {seed} step {step}");
            let shown = view.screen().expect("a screen after the first update");
            assert_same_screen(share.screen(), shown, &context);
        }
        assert!(diffs > 200, "seed {seed}: most updates are diffs ({diffs})");
    }
}

#[test]
fn titles_clipboard_writes_and_bells_never_leave_the_novice() {
    let mut share = ScreenShare::new(10, 40);
    let mut view = ScreenView::new();
    let hostile: &[&[u8]] = &[
        b"\x1b]0;evil title\x07hello",
        b"\x1b]52;c;ZXZpbA==\x07\x07 wor",
        b"ld\x1b]2;other evil\x1b\\\x1b]52;c;?\x07",
        b"\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\",
        b"\x1bP+q544e\x1b\\\x1b[8;999;999t\x1b[21t\x1b[6n",
    ];
    for (i, output) in hostile.iter().enumerate() {
        share.feed(output);
        let update = share.update(i % 2 == 0).expect("the screen changed");
        for forbidden in [&b"\x1b]"[..], b"\x07", b"\x1bP", b"evil", b"ZXZpbA"] {
            assert!(
                !update
                    .bytes
                    .windows(forbidden.len())
                    .any(|w| w == forbidden),
                "update {i} carries {forbidden:?}: {:?}",
                String::from_utf8_lossy(&update.bytes)
            );
        }
        view.apply(&update).expect("the novice's own update");
    }
    let shown = view.screen().expect("a screen");
    assert_same_screen(share.screen(), shown, "hostile output");
    assert_eq!(shown.contents().trim_end(), "hello worldlink");
    assert_eq!(share.size(), (10, 40), "resize requests are not obeyed");
}

#[test]
fn a_small_change_sends_a_small_diff() {
    let mut share = ScreenShare::new(24, 80);
    for line in 0..23 {
        share.feed(
            format!(
                "\x1b[3{}mline {line}: some output of a command\r\n",
                line % 8
            )
            .as_bytes(),
        );
    }
    let snapshot = share.update(false).expect("the first update");
    assert!(snapshot.full, "the first update is a snapshot");
    share.feed(b"l");
    let diff = share.update(false).expect("a key was echoed");
    assert!(!diff.full);
    assert!(
        diff.bytes.len() * 20 < snapshot.bytes.len(),
        "a diff of {} bytes against a snapshot of {}",
        diff.bytes.len(),
        snapshot.bytes.len()
    );
    assert_eq!(share.update(false), None, "nothing changed since");
    let again = share.update(true).expect("a snapshot is always given");
    assert!(again.full);
}

#[test]
fn a_resize_makes_the_next_update_a_snapshot() {
    let mut share = ScreenShare::new(24, 80);
    let mut view = ScreenView::new();
    share.feed(b"$ ls\r\nfile\r\n$ ");
    view.apply(&share.update(false).expect("first"))
        .expect("applies");
    assert_eq!(share.resize(30, 100), (30, 100));
    assert_eq!(share.resize(30, 100), (30, 100));
    let update = share.update(false).expect("the size changed");
    assert!(update.full);
    assert_eq!((update.rows, update.cols), (30, 100));
    view.apply(&update).expect("applies");
    assert_same_screen(share.screen(), view.screen().expect("a screen"), "resized");
}

#[test]
fn sizes_are_bounded() {
    assert_eq!(ScreenShare::new(0, 5000).size(), (1, MAX_COLS));
    let mut share = ScreenShare::new(24, 80);
    assert_eq!(share.resize(u16::MAX, 0), (MAX_ROWS, 1));
    assert_eq!(share.size(), (MAX_ROWS, 1));
}

#[test]
fn hostile_updates_are_refused_and_change_nothing() {
    let mut view = ScreenView::new();
    let update = |rows, cols, full, bytes: &[u8]| ScreenUpdate {
        rows,
        cols,
        full,
        bytes: bytes.to_vec(),
    };
    assert_eq!(
        view.apply(&update(24, 80, false, b"x")),
        Err(ScreenError::DiffWithoutScreen)
    );
    for (rows, cols) in [(0, 80), (24, 0), (MAX_ROWS + 1, 80), (24, MAX_COLS + 1)] {
        assert_eq!(
            view.apply(&update(rows, cols, true, b"x")),
            Err(ScreenError::SizeOutOfBounds { rows, cols })
        );
    }
    let max = max_update_bytes(2, 3);
    assert_eq!(
        view.apply(&update(2, 3, true, &vec![b'a'; max + 1])),
        Err(ScreenError::TooLarge {
            len: max + 1,
            max,
            rows: 2,
            cols: 3
        })
    );
    assert!(view.screen().is_none(), "nothing refused was shown");

    view.apply(&update(24, 80, true, b"hello"))
        .expect("a snapshot");
    assert_eq!(
        view.apply(&update(25, 80, false, b"x")),
        Err(ScreenError::SizeMismatch {
            rows: 25,
            cols: 80,
            shown_rows: 24,
            shown_cols: 80
        })
    );
    assert_eq!(view.screen().expect("still shown").contents(), "hello");

    view.clear();
    assert!(view.screen().is_none());
    assert_eq!(
        view.apply(&update(24, 80, false, b"x")),
        Err(ScreenError::DiffWithoutScreen)
    );
}

#[test]
fn any_bytes_in_an_update_only_draw_cells() {
    let mut rng = StdRng::seed_from_u64(52);
    let mut view = ScreenView::new();
    for _ in 0..200 {
        let len = rng.random_range(0..2000);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.random_range(0..4) {
                0 => 0x1b,
                1 => *b"[];?0123456789mHJKP"
                    .get(rng.random_range(0..19))
                    .unwrap_or(&b'm'),
                _ => rng.random(),
            })
            .collect();
        let full = view.screen().is_none() || rng.random_ratio(1, 10);
        let update = ScreenUpdate {
            rows: rng.random_range(1..=60),
            cols: rng.random_range(1..=200),
            full,
            bytes,
        };
        let shown = view.screen().map(|s| s.size());
        let result = view.apply(&update);
        let fits = shown.is_none_or(|(r, c)| (r.get(), c.get()) == (update.rows, update.cols));
        assert_eq!(result.is_ok(), full || fits);
    }
}

#[test]
fn the_costliest_screen_fits_the_update_bound() {
    let (rows, cols) = (40u16, 120u16);
    let mut share = ScreenShare::new(rows, cols);
    let mut costliest = String::new();
    for row in 1..=rows {
        for col in (1..=cols).step_by(2) {
            let i = usize::from(row) * usize::from(cols) + usize::from(col);
            let modes = if i % 4 == 1 { "1;3;4;7" } else { "2;23;24;27" };
            let (r, g, b) = (i % 256, (i * 7) % 256, (i * 13) % 256);
            costliest.push_str(&format!(
                "\x1b[{row};{col}H\x1b[0;{modes};38;2;{r};{g};{b};48;2;{b};{r};{g}m\
                 X\u{301}\u{302}\u{303}\u{304}\u{305}\u{306}\u{307}\u{308}\u{309}\
                 \x1b[48;5;{}m\x1b[X",
                i % 256
            ));
        }
    }
    share.feed(costliest.as_bytes());
    let snapshot = share.update(true).expect("a snapshot");
    let cells = usize::from(rows) * usize::from(cols);
    assert!(
        snapshot.bytes.len() > 30 * cells,
        "a costly screen: {} bytes for {cells} cells",
        snapshot.bytes.len()
    );
    assert!(
        snapshot.bytes.len() <= max_update_bytes(rows, cols),
        "{} bytes for {rows}×{cols}",
        snapshot.bytes.len()
    );
    let mut view = ScreenView::new();
    view.apply(&snapshot).expect("within the bound");
    assert_same_screen(
        share.screen(),
        view.screen().expect("a screen"),
        "costliest",
    );
}
