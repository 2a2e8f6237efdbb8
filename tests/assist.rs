//! `ranat invite` (the novice) and `ranat assist` (the expert) end to end:
//! the real binaries, each in a pseudo-terminal of its own, meeting at a
//! real `ranat serve` on loopback. What each shows is read through a
//! terminal model (`vt100`) fed with everything the process wrote to its
//! terminal, and keys are typed into its terminal as a person would.
//!
//! Every screen a process showed is kept, so that "never shown" is checked
//! against the whole history, not just the screen at one moment.
//!
//! Addresses: this file uses 127.0.90.0/24.

mod common;

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use pty_process::blocking::Pty;

/// The longest any one thing may take to show (a channel coming up, a
/// screen update, a process ending) before the test fails.
const WAIT: Duration = Duration::from_secs(15);

/// How long keys that must do nothing are given to do something anyway.
const SETTLE: Duration = Duration::from_millis(1500);

/// Between two keys typed separately (the prefix and its command; Esc,
/// which a terminal reader would take for the start of a sequence if more
/// followed at once).
const KEY_GAP: Duration = Duration::from_millis(100);

/// The novice's terminal (its shell gets all but the status row).
const NOVICE_SIZE: (u16, u16) = (30, 100);

/// The expert's terminal: tall enough to show the novice's whole shell
/// above the chat pane and the status line.
const EXPERT_SIZE: (u16, u16) = (42, 100);

/// The users the two sides run as: their display names are `USER@host`.
const NOVICE: &str = "nina";
const EXPERT: &str = "eve";

/// Telnet's escape, Ctrl+]: the sessions' prefix key.
const PREFIX: &[u8] = b"\x1d";
const ESC: &[u8] = b"\x1b";

/// The novice's shell: prints a marker of its own at once, before anyone
/// has been allowed to see anything, then is an interactive `sh`.
const SHELL: &str = "/bin/sh -c 'echo SECRET-BEFORE; exec /bin/sh'";
const SECRET: &str = "SECRET-BEFORE";

// ---------------------------------------------------------------------------
// A process in a pseudo-terminal.

/// What the reader thread keeps of a terminal.
struct Seen {
    parser: vt100::Parser,
    /// Every distinct screen shown, oldest first.
    history: Vec<String>,
}

/// One of the real binaries running in a PTY of its own, with its standard
/// error apart; killed and reaped when dropped.
struct Term {
    label: String,
    child: Child,
    status: Option<ExitStatus>,
    pty: Arc<Pty>,
    seen: Arc<Mutex<Seen>>,
    screen_closed: Arc<AtomicBool>,
    stderr: Arc<Mutex<String>>,
    stderr_closed: Arc<AtomicBool>,
}

impl Term {
    /// Runs `ranat ARGS` as `user`, with its data directory under `dir`,
    /// in a terminal of `size` (rows, columns).
    fn spawn(
        label: &str,
        user: &str,
        dir: &Path,
        args: &[String],
        size: (u16, u16),
        env: &[(&str, &str)],
    ) -> Term {
        let (pty, pts) = pty_process::blocking::open().expect("open a pty");
        pty.resize(pty_process::Size::new(size.0, size.1))
            .expect("size the pty");
        let mut command = pty_process::blocking::Command::new(RANAT)
            .args(args)
            .current_dir(dir)
            .env("USER", user)
            .env("RANAT_DATA_DIR", data_dir(dir, user))
            .env("TERM", "xterm-256color")
            .env("PS1", "$ ")
            .env_remove("ENV")
            .env_remove("RANAT_PASSWORD")
            .env_remove("RANAT_SERVERS")
            .stderr(Stdio::piped());
        for (key, value) in env {
            command = command.env(key, value);
        }
        let mut child = command
            .spawn(pts)
            .unwrap_or_else(|e| panic!("cannot start {label} (ranat {args:?}): {e}"));
        let pty = Arc::new(pty);
        let rows = NonZeroU16::new(size.0).expect("rows");
        let cols = NonZeroU16::new(size.1).expect("columns");
        let seen = Arc::new(Mutex::new(Seen {
            parser: vt100::Parser::new(rows, cols, 0),
            history: Vec::new(),
        }));
        let screen_closed = Arc::new(AtomicBool::new(false));
        {
            let (pty, seen, closed) = (
                Arc::clone(&pty),
                Arc::clone(&seen),
                Arc::clone(&screen_closed),
            );
            std::thread::spawn(move || {
                let mut buf = [0; 16 * 1024];
                loop {
                    match (&*pty).read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            let mut seen = seen.lock().expect("screen lock");
                            seen.parser.process(&buf[..n]);
                            let now = seen.parser.screen().contents();
                            if seen.history.last() != Some(&now) {
                                seen.history.push(now);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        // EIO: every process holding the terminal is gone.
                        Err(_) => break,
                    }
                }
                closed.store(true, Ordering::SeqCst);
            });
        }
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_closed = Arc::new(AtomicBool::new(false));
        {
            let mut pipe = child.stderr.take().expect("stderr");
            let (text, closed) = (Arc::clone(&stderr), Arc::clone(&stderr_closed));
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    text.lock()
                        .expect("stderr lock")
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
                closed.store(true, Ordering::SeqCst);
            });
        }
        Term {
            label: label.to_string(),
            child,
            status: None,
            pty,
            seen,
            screen_closed,
            stderr,
            stderr_closed,
        }
    }

    fn screen(&self) -> String {
        self.seen
            .lock()
            .expect("screen lock")
            .parser
            .screen()
            .contents()
    }

    /// How many distinct screens were shown so far.
    fn shown(&self) -> usize {
        self.seen.lock().expect("screen lock").history.len()
    }

    /// The first screen since the `since`th that holds `text`.
    fn ever_showed(&self, since: usize, text: &str) -> Option<String> {
        let seen = self.seen.lock().expect("screen lock");
        seen.history
            .get(since..)
            .unwrap_or_default()
            .iter()
            .find(|screen| screen.contains(text))
            .cloned()
    }

    fn alternate_screen(&self) -> bool {
        self.seen
            .lock()
            .expect("screen lock")
            .parser
            .screen()
            .alternate_screen()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// What the process showed and said, for a failure's message.
    fn dump(&self) -> String {
        format!(
            "--- {}'s screen ---\n{}\n--- {}'s stderr ---\n{}--- exit: {:?}",
            self.label,
            self.screen(),
            self.label,
            self.stderr(),
            self.status
        )
    }

    /// Types `bytes` into the terminal.
    fn send(&self, bytes: &[u8]) {
        (&*self.pty)
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("typing into {}: {e}\n{}", self.label, self.dump()));
        std::thread::sleep(KEY_GAP);
    }

    /// Ctrl+] then `key`.
    fn command(&self, key: u8) {
        self.send(PREFIX);
        self.send(&[key]);
    }

    /// Types a line of text and Enter.
    fn type_line(&self, line: &str) {
        self.send(line.as_bytes());
        self.send(b"\r");
    }

    /// Waits until `test` holds for the screen; fails with the screens of
    /// `self` and of `also` otherwise.
    fn wait_until(&self, what: &str, also: &[&Term], test: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if test(&self.screen()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let others: Vec<String> = also.iter().map(|t| t.dump()).collect();
        panic!(
            "{}: {what}: not within {WAIT:?}\n{}\n{}",
            self.label,
            self.dump(),
            others.join("\n")
        );
    }

    /// Waits until the screen shows `text`.
    fn wait_for(&self, text: &str, also: &[&Term]) {
        self.wait_until(&format!("shows {text:?}"), also, |s| s.contains(text));
    }

    /// Waits until standard error holds `text`; returns all of it.
    fn wait_stderr(&mut self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let stderr = self.stderr();
            if stderr.contains(text) {
                return stderr;
            }
            assert!(
                Instant::now() < deadline && self.exited().is_none(),
                "{} never said {text:?}\n{}",
                self.label,
                self.dump()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits for the process to exit and for what it wrote last to be read;
    /// returns its exit code.
    fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + WAIT;
        while self.exited().is_none() {
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {WAIT:?}\n{}",
                self.label,
                self.dump()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        while !(self.screen_closed.load(Ordering::SeqCst)
            && self.stderr_closed.load(Ordering::SeqCst))
        {
            assert!(
                Instant::now() < deadline,
                "{} exited but its terminal or stderr stayed open\n{}",
                self.label,
                self.dump()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = self.status.expect("exited");
        assert!(
            !self.stderr().contains("panicked"),
            "{} panicked\n{}",
            self.label,
            self.dump()
        );
        status
            .code()
            .unwrap_or_else(|| panic!("{} died of a signal\n{}", self.label, self.dump()))
    }

    /// The process ended the session cleanly and gave its terminal back:
    /// exit 0, the session's end said, the alternate screen left. Returns
    /// its log's path.
    fn ended_cleanly(&mut self, how: &str) -> PathBuf {
        let code = self.wait_exit();
        let stderr = self.stderr();
        assert_eq!(code, 0, "{}", self.dump());
        assert!(stderr.contains(how), "expected {how:?}\n{}", self.dump());
        assert!(
            !self.alternate_screen(),
            "{} left its terminal on the alternate screen\n{}",
            self.label,
            self.dump()
        );
        let log = stderr
            .lines()
            .find_map(|l| l.split_once("the session's log: ").map(|(_, p)| p.trim()))
            .unwrap_or_else(|| panic!("no log named\n{}", self.dump()));
        PathBuf::from(log)
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// Sessions.

/// A `ranat serve` of its own on `127.0.90.host` and `.host+1`, and a
/// scratch directory.
struct Bed {
    server: RanatServer,
    dir: TempDir,
}

impl Bed {
    fn new(tag: &str, host: u8) -> Bed {
        Bed {
            server: RanatServer::start(lo4(90, host), Some(lo4(90, host + 1))),
            dir: TempDir::new(tag),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A side's arguments: `command`, the server, loopback only, then `rest`.
    fn args(&self, command: &str, via: bool, rest: &[&str]) -> Vec<String> {
        let mut args = vec![command.to_string()];
        if via {
            args.extend(["--via".into(), self.server.rendezvous.to_string()]);
        }
        args.extend(
            [
                "-4",
                "--server",
                &self.server.arg(),
                "--no-portmap",
                "--no-teredo",
                "--no-hairpin",
            ]
            .map(String::from),
        );
        args.extend(rest.iter().map(|s| s.to_string()));
        args
    }

    /// The novice, `ranat invite ... --shell SHELL REST`.
    fn novice(&self, rest: &[&str]) -> Term {
        let mut rest = rest.to_vec();
        rest.extend(["--shell", SHELL]);
        let args = self.args("invite", true, &rest);
        Term::spawn("the novice", NOVICE, self.path(), &args, NOVICE_SIZE, &[])
    }

    /// The expert, `ranat assist ... REST`.
    fn expert(&self, rest: &[&str], env: &[(&str, &str)]) -> Term {
        let via = !rest.contains(&"--file");
        let args = self.args("assist", via, rest);
        Term::spawn("the expert", EXPERT, self.path(), &args, EXPERT_SIZE, env)
    }

    /// Runs the expert to its end, in a terminal of its own, for runs
    /// that must fail before any session.
    fn expert_fails(&self, rest: &[&str], password: &str) -> Output {
        let started = Instant::now();
        let mut term = self.expert(rest, &[("RANAT_PASSWORD", password)]);
        let code = term.wait_exit();
        let out = Output {
            code: Some(code),
            stdout: term.screen(),
            stderr: term.stderr(),
            elapsed: started.elapsed(),
        };
        out.assert_no_panic();
        assert_ne!(out.code, Some(0), "this run must fail:\n{out}");
        out
    }
}

/// The name `user`'s side shows the other: `USER@host`, the host as
/// `/etc/hostname` names it (`USER` alone without one).
fn shown_name(user: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    match host.trim() {
        "" => user.to_string(),
        host => format!("{user}@{host}"),
    }
}

fn data_dir(dir: &Path, user: &str) -> PathBuf {
    dir.join(format!("data-{user}"))
}

/// The code a side printed: `your code is K7Q-4MX2TB (valid 10 min)`.
fn code_of(term: &mut Term) -> String {
    let stderr = term.wait_stderr("your code is ");
    let rest = stderr.split("your code is ").nth(1).expect("the line");
    rest.split_whitespace().next().expect("a code").to_string()
}

/// The novice has been asked and answers yes; the expert then sees the
/// shell (the marker it printed before anyone was allowed to see it).
fn approve(novice: &Term, expert: &Term) {
    let (nina, eve) = (shown_name(NOVICE), shown_name(EXPERT));
    novice.wait_for(
        &format!("Allow {eve} to see your terminal? [y/n]"),
        &[expert],
    );
    novice.send(b"y");
    expert.wait_for(SECRET, &[novice]);
    expert.wait_for(&format!("viewing {nina}'s terminal"), &[novice]);
    novice.wait_for(&format!("{eve} sees your terminal"), &[expert]);
    // The novice's terminal is drawn at the top of the expert's, as is.
    let top = expert
        .screen()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(top, SECRET, "{}", expert.dump());
}

/// The log at `path`, which must lie in `user`'s logs directory.
fn read_log(bed: &Bed, user: &str, path: &Path) -> String {
    assert_eq!(
        path.parent(),
        Some(
            data_dir(bed.path(), user)
                .join("Remote Assistance Logs")
                .as_path()
        ),
        "{user}'s log is not in its data directory"
    );
    let log = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(log.contains("<SESSION"), "not a session log:\n{log}");
    log
}

/// Whether `log` has an entry `<ELEMENT ...>` holding every one of
/// `attributes` (each an exact piece of its line).
fn has_entry(log: &str, element: &str, attributes: &[&str]) -> bool {
    log.lines().map(str::trim).any(|line| {
        line.starts_with(&format!("<{element} ")) && attributes.iter().all(|a| line.contains(a))
    })
}

fn assert_absent(path: &Path, why: &str, terms: &[&Term]) {
    std::thread::sleep(SETTLE);
    let dumps: Vec<String> = terms.iter().map(|t| t.dump()).collect();
    assert!(
        !path.exists(),
        "{} exists: {why}\n{}",
        path.display(),
        dumps.join("\n")
    );
}

fn wait_file(path: &Path, terms: &[&Term]) {
    let deadline = Instant::now() + WAIT;
    while !path.exists() {
        if Instant::now() > deadline {
            let dumps: Vec<String> = terms.iter().map(|t| t.dump()).collect();
            panic!("{} never made\n{}", path.display(), dumps.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// The tests.

/// One session through everything the novice and the expert do: nothing
/// shown before approval, no key through without control, control
/// granted and taken back, pause, chat both ways, the logs, and both
/// terminals given back.
#[test]
fn a_session_shows_nothing_unapproved_and_passes_keys_only_under_control() {
    let bed = Bed::new("assist-session", 1);
    let mut novice = bed.novice(&[]);
    let code = code_of(&mut novice);
    let expert = bed.expert(&[&code], &[]);

    let (nina, eve) = (shown_name(NOVICE), shown_name(EXPERT));

    // 1. Before the novice answers, the expert sees nothing of the shell.
    novice.wait_for(
        &format!("Allow {eve} to see your terminal? [y/n]"),
        &[&expert],
    );
    novice.wait_for(SECRET, &[&expert]);
    expert.wait_for(
        &format!("waiting for {nina} to allow you to see the terminal"),
        &[&novice],
    );
    expert.wait_for(&format!("{nina} is asked to allow you"), &[&novice]);
    std::thread::sleep(SETTLE);
    if let Some(leak) = expert.ever_showed(0, SECRET) {
        panic!("the expert saw the shell before approval:\n{leak}");
    }
    approve(&novice, &expert);

    // 2. Keys without control never reach the shell: not before a
    // request, not while it waits for the novice's answer; once control
    // is granted they do (in order, so that keys let through before would
    // have run first), and not after the novice took control back.
    let marker = |name: &str| bed.path().join(format!("marker-{name}"));
    let touch = |name: &str| format!("touch {}", marker(name).display());
    expert.type_line(&touch("unasked"));
    expert.command(b'r');
    novice.wait_for(
        &format!("Allow {eve} to control your terminal? [y/n]"),
        &[&expert],
    );
    expert.wait_for(&format!("control requested from {nina}"), &[&novice]);
    expert.type_line(&touch("requested"));
    novice.send(b"y");
    expert.wait_for(&format!("you control {nina}'s terminal"), &[&novice]);
    novice.wait_for(
        &format!("{eve} controls your terminal (Esc takes it back)"),
        &[&expert],
    );
    expert.type_line(&touch("granted"));
    wait_file(&marker("granted"), &[&novice, &expert]);
    expert.wait_for("marker-granted", &[&novice]);
    for early in ["unasked", "requested"] {
        assert!(
            !marker(early).exists(),
            "keys typed without control reached the shell ({early})\n{}",
            novice.dump()
        );
        assert!(
            novice.ever_showed(0, &format!("marker-{early}")).is_none(),
            "{}",
            novice.dump()
        );
    }

    // Esc takes control back at once.
    novice.send(ESC);
    expert.wait_until("no longer in control", &[&novice], |s| {
        !s.contains("you control") && s.contains(&format!("viewing {nina}'s terminal"))
    });
    novice.wait_for(&format!("{eve} sees your terminal"), &[&expert]);
    expert.type_line(&touch("revoked"));
    assert_absent(
        &marker("revoked"),
        "typed after control was taken back",
        &[&novice, &expert],
    );

    // Asked again, the novice says no: the expert is told.
    expert.command(b'r');
    novice.wait_for(
        &format!("Allow {eve} to control your terminal? [y/n]"),
        &[&expert],
    );
    novice.send(b"n");
    expert.wait_for(
        &format!("viewing {nina}'s terminal ({nina} said no to control)"),
        &[&novice],
    );
    novice.wait_for(&format!("{eve} sees your terminal"), &[&expert]);

    // 3. Pause: the expert's view goes blank, and what the shell shows
    // meanwhile stays unseen until the novice continues.
    novice.command(b'p');
    expert.wait_for(&format!("{nina} paused the session"), &[&novice]);
    let paused_at = expert.shown();
    novice.wait_for(&format!("paused: {eve} sees nothing"), &[&expert]);
    assert!(!expert.screen().contains(SECRET), "{}", expert.dump());
    novice.type_line("echo DURING-$((6*7))-PAUSE");
    novice.wait_for("DURING-42-PAUSE", &[&expert]);
    std::thread::sleep(SETTLE);
    for shell_text in [SECRET, "DURING-", "marker-"] {
        if let Some(leak) = expert.ever_showed(paused_at, shell_text) {
            panic!("the expert saw the shell while paused:\n{leak}");
        }
    }
    novice.command(b'p');
    expert.wait_for("DURING-42-PAUSE", &[&novice]);
    expert.wait_for(SECRET, &[&novice]);
    novice.wait_for(&format!("{eve} sees your terminal"), &[&expert]);

    // 4. Chat, both ways.
    expert.command(b'c');
    expert.type_line("hello from eve");
    expert.wait_for("you: hello from eve", &[&novice]);
    novice.wait_for(&format!("{eve}: hello from eve"), &[&expert]);
    novice.command(b'c');
    novice.wait_for("chat (Enter sends, Esc leaves)>", &[&expert]);
    novice.type_line("thanks nina says");
    expert.wait_for(&format!("{nina}: thanks nina says"), &[&novice]);

    // The expert leaves; both end and give their terminals back (10).
    expert.command(b'd');
    let mut expert = expert;
    let expert_log = expert.ended_cleanly("the session ended (you): the expert disconnected");
    let novice_log =
        novice.ended_cleanly("the session ended (the other side): the expert disconnected");

    // 9. Both logs tell what happened, and nothing secret.
    let (_, secret_part) = code.split_once('-').expect("ROOM-SECRET");
    for (user, path) in [(NOVICE, &novice_log), (EXPERT, &expert_log)] {
        let log = read_log(&bed, user, path);
        for (element, attributes) in [
            ("APPROVAL", &["ANSWER=\"allowed\""][..]),
            ("CONTROL_REQUESTED", &[]),
            ("CONTROL_GRANTED", &[]),
            ("CONTROL_REVOKED", &["BY=\"novice\""]),
            ("CONTROL_DENIED", &["BY=\"novice\""]),
            ("PAUSED", &[]),
            ("CONTINUED", &[]),
            ("CHAT", &["FROM=\"helper\">hello from eve</CHAT>"]),
            ("CHAT", &["FROM=\"novice\">thanks nina says</CHAT>"]),
            (
                "DISCONNECTED",
                &["BY=\"helper\"", "REASON=\"the expert disconnected\""],
            ),
        ] {
            assert!(
                has_entry(&log, element, attributes),
                "{user}'s log has no {element} {attributes:?}:\n{log}"
            );
        }
        for secret in [code.as_str(), secret_part, SECRET, "DURING-42", "marker-"] {
            assert!(
                !log.to_uppercase().contains(&secret.to_uppercase()),
                "{user}'s log holds {secret:?}:\n{log}"
            );
        }
    }
}

/// With `--no-control` the expert's request is denied at once: the novice
/// is not even asked, the expert is told, and its keys go nowhere.
#[test]
fn without_control_allowed_a_request_is_denied_without_asking() {
    let bed = Bed::new("assist-no-control", 3);
    let mut novice = bed.novice(&["--no-control"]);
    let code = code_of(&mut novice);
    let mut expert = bed.expert(&[&code], &[]);
    approve(&novice, &expert);
    let asked_from = novice.shown();
    expert.command(b'r');
    let nina = shown_name(NOVICE);
    expert.wait_for(
        &format!("viewing {nina}'s terminal ({nina} does not allow control)"),
        &[&novice],
    );
    let marker = bed.path().join("marker");
    expert.type_line(&format!("touch {}", marker.display()));
    assert_absent(
        &marker,
        "typed after control was denied",
        &[&novice, &expert],
    );
    if let Some(asked) = novice.ever_showed(asked_from, "control your terminal?") {
        panic!("the novice was asked although it allows no control:\n{asked}");
    }
    if let Some(granted) = expert.ever_showed(0, "you control") {
        panic!("the expert got control:\n{granted}");
    }
    novice.command(b'd');
    let novice_log = novice.ended_cleanly("the session ended (you): the novice disconnected");
    expert.ended_cleanly("the session ended (the other side): the novice disconnected");
    let log = read_log(&bed, NOVICE, &novice_log);
    assert!(
        has_entry(&log, "CONTROL_DENIED", &["BY=\"policy\""]),
        "{log}"
    );
    assert!(!has_entry(&log, "CONTROL_GRANTED", &[]), "{log}");
}

/// The novice says no: the session ends on both sides, each says why and
/// exits 0, and neither terminal stays taken.
#[test]
fn a_refusal_ends_both_sides() {
    let bed = Bed::new("assist-refusal", 5);
    let mut novice = bed.novice(&[]);
    let code = code_of(&mut novice);
    let mut expert = bed.expert(&[&code], &[]);
    novice.wait_for("to see your terminal? [y/n]", &[&expert]);
    novice.send(b"n");
    let expert_log = expert.ended_cleanly("the session ended (the other side): the novice refused");
    let novice_log = novice.ended_cleanly("the session ended (you): the novice refused");
    if let Some(leak) = expert.ever_showed(0, SECRET) {
        panic!("the expert saw the shell of a novice who refused:\n{leak}");
    }
    for (user, path) in [(NOVICE, &novice_log), (EXPERT, &expert_log)] {
        let log = read_log(&bed, user, path);
        assert!(
            has_entry(&log, "APPROVAL", &["ANSWER=\"refused\""]),
            "{user}'s log:\n{log}"
        );
    }
}

/// The offer the other way round: the expert makes the code, the novice
/// joins it.
#[test]
fn the_expert_can_offer_and_the_novice_join() {
    let bed = Bed::new("assist-offer", 7);
    let mut expert = bed.expert(&[], &[]);
    let code = code_of(&mut expert);
    let mut novice = bed.novice(&["--code", &code]);
    approve(&novice, &expert);
    novice.command(b'd');
    let novice_log = novice.ended_cleanly("the session ended (you): the novice disconnected");
    let expert_log =
        expert.ended_cleanly("the session ended (the other side): the novice disconnected");
    // The side that made the room made the invitation; the other opened it.
    let expert_log = read_log(&bed, EXPERT, &expert_log);
    assert!(
        expert_log.contains("<INVITATION_CREATED") && expert_log.contains(r#"ROLE="helper""#),
        "{expert_log}"
    );
    let novice_log = read_log(&bed, NOVICE, &novice_log);
    assert!(
        novice_log.contains("<INVITATION_OPENED") && novice_log.contains(r#"ROLE="novice""#),
        "{novice_log}"
    );
}

/// The password the novice printed under `invitation written to ...`.
fn password_of(novice: &mut Term) -> String {
    let stderr = novice.wait_stderr("invitation written to ");
    let after = stderr
        .split("invitation written to ")
        .nth(1)
        .expect("the line");
    let password = after.lines().nth(1).map(str::trim).unwrap_or_default();
    assert_eq!(password.len(), 12, "no password shown:\n{}", novice.dump());
    password.to_string()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// `xml` with `attribute`'s value replaced.
fn with_attribute(xml: &str, attribute: &str, value: &str) -> String {
    let start = xml
        .find(&format!("{attribute}=\""))
        .unwrap_or_else(|| panic!("no {attribute} in\n{xml}"))
        + attribute.len()
        + 2;
    let end = start + xml[start..].find('"').expect("closing quote");
    format!("{}{value}{}", &xml[..start], &xml[end..])
}

/// An invitation file and its password connect; the same invitation made
/// hours ago for a minute is refused as expired before anything connects.
#[test]
fn an_invitation_file_and_its_password_connect_unless_expired() {
    let bed = Bed::new("assist-file", 9);
    let file = bed.path().join("invitation.msrcincident");
    let file_arg = file.to_string_lossy().into_owned();
    let mut novice = bed.novice(&["--file", &file_arg]);
    let password = password_of(&mut novice);
    let xml = std::fs::read_to_string(&file).expect("the invitation written");
    assert!(
        !xml.contains(&password),
        "the password is in the file:\n{xml}"
    );

    let expired = bed.path().join("expired.msrcincident");
    let hours_ago = (unix_now() - 3 * 3600).to_string();
    let old = with_attribute(
        &with_attribute(&xml, "DtStart", &hours_ago),
        "DtLength",
        "1",
    );
    std::fs::write(&expired, old).expect("write the expired invitation");
    let out = bed.expert_fails(&["--file", &expired.to_string_lossy()], &password);
    assert!(out.stderr.contains("expired"), "{out}");
    std::thread::sleep(KEY_GAP);
    assert!(
        !novice.stderr().contains("someone opened") && !novice.alternate_screen(),
        "something connected with an expired invitation\n{}",
        novice.dump()
    );

    let mut expert = bed.expert(&["--file", &file_arg], &[("RANAT_PASSWORD", &password)]);
    approve(&novice, &expert);
    novice.command(b'd');
    let novice_log = novice.ended_cleanly("the session ended (you): the novice disconnected");
    let expert_log =
        expert.ended_cleanly("the session ended (the other side): the novice disconnected");
    for (user, path) in [(NOVICE, &novice_log), (EXPERT, &expert_log)] {
        let log = read_log(&bed, user, path);
        assert!(
            !log.contains(&password),
            "{user}'s log holds the password:\n{log}"
        );
    }
}

/// Three wrong passwords close the invitation's room: the right one fails
/// after them too, and the novice is told its invitation is dead.
#[test]
fn three_wrong_passwords_close_the_invitation() {
    let bed = Bed::new("assist-wrong", 11);
    let file = bed.path().join("invitation.msrcincident");
    let file_arg = file.to_string_lossy().into_owned();
    let mut novice = bed.novice(&["--file", &file_arg]);
    let password = password_of(&mut novice);
    // Another password of the same alphabet: every symbol moved by one.
    const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXYZ23456789";
    let wrong: String = password
        .chars()
        .map(|c| {
            let i = ALPHABET.find(c).expect("a password symbol");
            ALPHABET.as_bytes()[(i + 1) % ALPHABET.len()] as char
        })
        .collect();
    for attempt in 1..=3 {
        let out = bed.expert_fails(&["--file", &file_arg], &wrong);
        assert!(
            out.stderr
                .contains("the password is wrong for this invitation"),
            "attempt {attempt}:\n{out}"
        );
        assert!(!out.stderr.contains(&wrong), "the password echoed:\n{out}");
        if attempt < 3 {
            novice.wait_stderr(&format!(
                "they gave a wrong password; waiting for another try ({} left)",
                3 - attempt
            ));
        }
    }
    let code = novice.wait_exit();
    assert_ne!(code, 0, "{}", novice.dump());
    assert!(
        novice
            .stderr()
            .contains("3 wrong passwords were tried: the invitation is closed"),
        "{}",
        novice.dump()
    );
    let out = bed.expert_fails(&["--file", &file_arg], &password);
    assert!(
        out.stderr.contains("the invitation is no longer open"),
        "the right password after three wrong ones:\n{out}"
    );
}
