//! The HTML reports rendered in a real browser: `ranat probe --html` and
//! `ranat check --html` pages opened in headless Chromium (Debian's
//! `chromium`), their text read back from the rendered page, and a
//! screenshot taken.
//!
//! Network: the probes go to a `ranat serve` on 127.0.111.0/24; Chromium
//! opens only `file://` pages, with its background networking off.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(60);

/// Headless Chromium with everything that would reach the network off,
/// its profile in `dir`.
fn chromium(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(tool_path("chromium"));
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", dir.join("profile").display()))
    .args(args);
    run(&mut cmd, LIMIT)
}

/// The page's text as the browser laid it out (tags dropped).
fn rendered_text(dir: &Path, page: &Path) -> String {
    let out = chromium(dir, &["--dump-dom", &format!("file://{}", page.display())]);
    assert_eq!(out.code, Some(0), "{out}");
    let mut text = String::new();
    let mut in_tag = false;
    for c in out.stdout.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A screenshot of the page: a PNG of real size.
fn screenshot(dir: &Path, page: &Path, png: &Path) {
    let out = chromium(
        dir,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,1600",
            &format!("file://{}", page.display()),
        ],
    );
    assert_eq!(out.code, Some(0), "{out}");
    let bytes = std::fs::read(png).unwrap_or_else(|e| panic!("no screenshot: {e}\n{out}"));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        bytes.len() > 20_000,
        "a {} byte screenshot is blank",
        bytes.len()
    );
}

#[test]
fn probe_and_check_pages_render_in_a_browser() {
    if !have_tool("chromium") {
        skip("Chromium is not installed (Debian: chromium; scripts/test.sh installs it)");
        return;
    }
    let dir = TempDir::new("html");
    let server = RanatServer::start(lo4(111, 1), Some(lo4(111, 2)));
    let page = dir.path().join("probe.html");
    let json = dir.path().join("me.json");
    let out = probe(
        &[
            "-4",
            "--server",
            &server.arg(),
            "--json",
            "--html",
            page.to_str().unwrap(),
        ],
        LIMIT,
    );
    out.assert_no_panic();
    assert_eq!(out.code, Some(0), "{out}");
    std::fs::write(&json, &out.stdout).unwrap();

    let text = rendered_text(dir.path(), &page);
    for expected in [
        "Network report",
        "Direct connections should work",
        "The path to the Internet",
        "This computer",
        "The Internet",
        "open internet (no NAT)",
        "What it means for a remote-assistance session",
        "Details",
        &server.arg(),
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} not on the page:\n{text}"
        );
    }
    screenshot(dir.path(), &page, &dir.path().join("probe.png"));

    let check_page = dir.path().join("check.html");
    let json = json.to_str().unwrap();
    let mut cmd = Command::new(RANAT);
    cmd.args(["check", json, json, "--html", check_page.to_str().unwrap()]);
    let out = run(&mut cmd, LIMIT);
    out.assert_no_panic();
    let text = rendered_text(dir.path(), &check_page);
    for expected in [
        "Will a session connect?",
        "Windows Remote Assistance:",
        "Method by method",
        "UDP hole punching",
        "The path to the Internet",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} not on the page:\n{text}"
        );
    }
    screenshot(dir.path(), &check_page, &dir.path().join("check.png"));
}

#[test]
fn an_unwritable_html_path_is_a_clear_error() {
    let server = RanatServer::start(lo4(111, 3), None);
    let out = probe(
        &[
            "-4",
            "--server",
            &server.arg(),
            "--html",
            "/nonexistent/dir/report.html",
        ],
        LIMIT,
    );
    out.assert_no_panic();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("cannot write the HTML report"), "{out}");
}
