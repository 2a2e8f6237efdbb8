//! The command-line conventions of the real binary: shell completions, the
//! manual page, `--color` and `NO_COLOR`, `--quiet` and `--verbose`.
//!
//! Addresses: this file uses 127.0.12.0/24, so tests running in parallel
//! never share a port space.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(20);

/// The commands every completion script and the manual page must name.
const COMMANDS: &[&str] = &[
    "probe",
    "serve",
    "check",
    "matrix",
    "relay-test",
    "trial",
    "invite",
    "assist",
    "ticket",
    "completions",
    "man",
];

fn ranat(args: &[&str]) -> Output {
    let out = run(Command::new(RANAT).args(args), LIMIT);
    out.assert_no_panic();
    out
}

/// A probe of `server` with `args` and the given environment changes.
fn probe_with(server: &str, args: &[&str], no_color: Option<&str>) -> Output {
    let mut cmd = Command::new(RANAT);
    cmd.args(["probe", "-4", "--server", server])
        .args(args)
        .env_remove("RANAT_SERVERS")
        .env_remove("NO_COLOR")
        .args(offline_flags(args));
    if let Some(value) = no_color {
        cmd.env("NO_COLOR", value);
    }
    let out = run(&mut cmd, LIMIT);
    out.assert_no_panic();
    out
}

#[test]
fn completions_for_each_shell_name_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ranat(&["completions", shell]);
        assert_eq!(out.code, Some(0), "{shell}: {out}");
        for command in COMMANDS {
            assert!(
                out.stdout.contains(command),
                "{shell} lacks {command}:\n{out}"
            );
        }
        for option in ["color", "quiet", "verbose", "server"] {
            // fish spells a long option `-l NAME`.
            let spelled = match shell {
                "fish" => format!("-l {option}"),
                _ => format!("--{option}"),
            };
            assert!(
                out.stdout.contains(&spelled),
                "{shell} lacks {spelled}:\n{out}"
            );
        }
    }
    let out = run(Command::new(RANAT).args(["completions", "tcsh"]), LIMIT);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("bash"), "{out}");
}

#[test]
fn man_prints_roff_pages_for_ranat_and_each_command() {
    let out = ranat(&["man"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains(".TH ranat 1"), "{out}");
    assert!(out.stdout.contains(".SH NAME"), "{out}");
    assert!(out.stdout.contains(".SH SYNOPSIS"), "{out}");
    for command in COMMANDS {
        // roff escapes a hyphen.
        let spelled = format!("ranat\\-{}(1)", command.replace('-', "\\-"));
        assert!(
            out.stdout.contains(&spelled),
            "the page lacks {spelled}:\n{out}"
        );
    }
    let out = ranat(&["man", "probe"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains(".TH ranat-probe 1"), "{out}");
    assert!(out.stdout.contains("teredo"), "{out}");
    let out = ranat(&["man", "nothing-such"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("no command 'nothing-such'"), "{out}");
}

#[test]
fn color_follows_the_option_and_no_color() {
    let server = RanatServer::start(lo4(12, 1), Some(lo4(12, 2)));
    let arg = server.arg();
    let escape = '\u{1b}';
    // stdout is a pipe here: auto means no colour.
    let out = probe_with(&arg, &[], None);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(!out.stdout.contains(escape), "{out}");
    let out = probe_with(&arg, &["--color", "always"], None);
    assert!(out.stdout.contains(escape), "{out}");
    // --color always wins over NO_COLOR (no-color.org).
    let out = probe_with(&arg, &["--color=always"], Some("1"));
    assert!(out.stdout.contains(escape), "{out}");
    let out = probe_with(&arg, &["--color", "never"], None);
    assert!(!out.stdout.contains(escape), "{out}");
    let out = probe_with(&arg, &[], Some("1"));
    assert!(!out.stdout.contains(escape), "{out}");
    // The global option goes before the command too.
    let out = run(
        Command::new(RANAT)
            .args(["--color", "always", "probe", "-4", "--server", &arg])
            .args(["--no-portmap", "--no-teredo"])
            .env_remove("RANAT_SERVERS"),
        LIMIT,
    );
    assert!(out.stdout.contains(escape), "{out}");
    let out = run(
        Command::new(RANAT).args(["--color", "sometimes", "matrix"]),
        LIMIT,
    );
    assert_eq!(out.code, Some(2), "{out}");
}

#[test]
fn quiet_prints_the_verdict_only_and_verbose_more() {
    let server = RanatServer::start(lo4(12, 3), Some(lo4(12, 4)));
    let arg = server.arg();
    let full = probe_with(&arg, &[], None);
    assert_eq!(full.code, Some(0), "{full}");
    let quiet = probe_with(&arg, &["-q"], None);
    assert_eq!(quiet.code, Some(0), "{quiet}");
    assert!(quiet.stdout.starts_with("Verdict: "), "{quiet}");
    assert!(!quiet.stdout.contains("NAT type"), "{quiet}");
    assert!(quiet.stdout.lines().count() <= 3, "{quiet}");
    assert!(quiet.stderr.is_empty(), "{quiet}");
    assert!(
        full.stdout.contains(quiet.stdout.trim_end()),
        "{full}\n{quiet}"
    );

    let verbose = probe_with(&arg, &["--verbose"], None);
    assert_eq!(verbose.code, Some(0), "{verbose}");
    assert!(verbose.stdout.contains("Each server:"), "{verbose}");
    assert!(
        verbose.stdout.contains(&format!("{arg}, answered")),
        "{verbose}"
    );
    // Each step on stderr, even into a pipe.
    assert!(verbose.stderr.contains("ranat: resolving"), "{verbose}");
    assert!(
        verbose.stderr.contains("ranat: probing 1 server"),
        "{verbose}"
    );
    assert!(verbose.stdout.len() > full.stdout.len(), "{verbose}");

    // --json stays one document with either.
    let json = probe_with(&arg, &["-q", "--json"], None);
    assert_eq!(json.json()["verdict"], "traversal_friendly", "{json}");
    assert!(json.stderr.is_empty(), "{json}");

    let out = run(Command::new(RANAT).args(["-q", "-v", "matrix"]), LIMIT);
    assert_eq!(out.code, Some(2), "{out}");
}
