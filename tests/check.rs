//! `ranat check` and `ranat matrix` end to end: reports made by a real
//! probe on loopback, and broken report files.
//!
//! Addresses: this file uses 127.0.50.0/24.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(20);

/// A probe report of this machine against a local server, saved to a file.
fn saved_report(dir: &Path, name: &str, host: u8) -> PathBuf {
    let server = RanatServer::start(lo4(50, host), Some(lo4(50, host + 1)));
    let out = probe(&["-4", "--json", "--server", &server.arg()], LIMIT);
    assert_eq!(out.code, Some(0), "{out}");
    let path = dir.join(name);
    std::fs::write(&path, &out.stdout).expect("write report");
    path
}

fn check(args: &[&std::ffi::OsStr]) -> Output {
    let mut cmd = Command::new(RANAT);
    cmd.arg("check").args(args).args(offline_flags(&[]));
    run(&mut cmd, LIMIT)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ranat-check-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn two_open_internet_reports_connect_directly_for_both_engines() {
    let dir = temp_dir("open");
    let me = saved_report(&dir, "me.json", 1);
    let peer = saved_report(&dir, "peer.json", 3);
    let out = check(&[me.as_os_str(), peer.as_os_str(), "--json".as_ref()]);
    out.assert_no_panic();
    assert_eq!(out.code, Some(0), "{out}");
    let j: Value = out.json();
    let ranat = &j["prediction"]["ranat"];
    assert_eq!(ranat["connects"], "works", "{out}");
    assert_ne!(ranat["via"][0], "relay", "{out}");
    let methods = j["prediction"]["methods"].as_array().expect("methods");
    let public = methods
        .iter()
        .find(|m| m["method"] == "public_ipv4")
        .expect("public_ipv4 verdict");
    assert_eq!(public["feasibility"], "works", "{out}");

    let table = check(&[me.as_os_str(), peer.as_os_str()]);
    assert_eq!(table.code, Some(0), "{table}");
    assert!(table.stdout.contains("public IPv4"), "{table}");
    assert!(
        table.stdout.contains("Windows Remote Assistance"),
        "{table}"
    );
    // --quiet: the two headlines alone, the last lines of the table's output.
    let quiet = check(&[me.as_os_str(), peer.as_os_str(), "-q".as_ref()]);
    assert_eq!(quiet.code, Some(0), "{quiet}");
    assert_eq!(quiet.stdout.lines().count(), 2, "{quiet}");
    assert!(table.stdout.ends_with(&quiet.stdout), "{table}\n{quiet}");
    assert!(!quiet.stdout.contains("| Method"), "{quiet}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_broken_report_is_refused_naming_the_file_and_the_field() {
    let dir = temp_dir("broken");
    let me = saved_report(&dir, "me.json", 5);
    let good = std::fs::read_to_string(&me).expect("read");
    let cases = [
        (
            "old.json",
            good.replace("\"schema_version\": 3", "\"schema_version\": 1"),
            "schema_version 1",
        ),
        (
            "enum.json",
            good.replacen(
                "\"classic\": \"open_internet\"",
                "\"classic\": \"friendly\"",
                1,
            ),
            "field `ipv4.classic`",
        ),
        ("cut.json", good[..good.len() / 3].to_string(), "not JSON"),
    ];
    for (name, text, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        let out = check(&[me.as_os_str(), path.as_os_str()]);
        out.assert_no_panic();
        assert_eq!(out.code, Some(1), "{name}: {out}");
        assert!(out.stdout.is_empty(), "{name}: nothing else happens: {out}");
        assert!(out.stderr.contains(name), "{name}: names the file: {out}");
        assert!(out.stderr.contains(expected), "{name}: {out}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_matrix_covers_every_pair_of_nat_types() {
    let mut cmd = Command::new(RANAT);
    cmd.args(["matrix", "--json"]);
    let out = run(&mut cmd, LIMIT);
    assert_eq!(out.code, Some(0), "{out}");
    let rows = out.json();
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 49, "{out}");
    let cell = |novice: &str, helper: &str| {
        rows.iter()
            .find(|r| r["novice"] == novice && r["helper"] == helper)
            .unwrap_or_else(|| panic!("no row {novice} / {helper}"))
    };
    let both_symmetric = cell("symmetric_random", "symmetric_random");
    assert_eq!(
        both_symmetric["windows_remote_assistance"]["connects"],
        "fails"
    );
    assert_eq!(both_symmetric["ranat"]["via"][0], "relay");
    let cones = cell("full_cone", "port_restricted_cone");
    assert_eq!(cones["ranat"]["connects"], "works");
    // ranat's column names what its engine runs: the punch with a predicted
    // port (likely), not Teredo; the relay, not birthday punching; the
    // relay over TCP for a UDP-blocked side, not public IPv4 over UDP.
    let sequential = cell("port_restricted_cone", "symmetric_sequential");
    assert_eq!(sequential["ranat"]["connects"], "likely", "{out}");
    assert_eq!(sequential["ranat"]["via"][0], "port_prediction", "{out}");
    assert_eq!(sequential["ranat"]["summary"], "likely: port prediction");
    let random = cell("port_restricted_cone", "symmetric_random");
    assert_eq!(random["ranat"]["via"], serde_json::json!(["relay"]));
    let blocked = cell("open_internet", "udp_blocked");
    assert_eq!(blocked["ranat"]["via"], serde_json::json!(["relay"]));
    let summary = blocked["ranat"]["summary"].as_str().expect("summary");
    assert!(summary.starts_with("relay: through the help desk's TURN relay over TCP"));
    assert_eq!(
        blocked["windows_remote_assistance"]["via"][0],
        "public_ipv4"
    );
}

/// `check --via` on loopback: the helper's side gets a code, the novice
/// joins with it, both probe the server's STUN, and the live punch opens
/// and agrees with the prediction on both sides. A wrong code is refused.
#[test]
fn check_via_a_rendezvous_punches_and_agrees_with_the_prediction() {
    let server = RanatServer::start(lo4(50, 60), Some(lo4(50, 61)));
    let via = server.rendezvous.to_string();
    let stun = server.arg();
    let mut helper = std::process::Command::new(RANAT);
    helper
        .args(["check", "--via", &via, "--json", "-4", "--server", &stun])
        .args(offline_flags(&[]))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut helper = helper.spawn().expect("spawn the helper's check");
    let mut stderr = std::io::BufReader::new(helper.stderr.take().expect("stderr"));
    let mut line = String::new();
    let code = loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).expect("read stderr");
        assert!(n > 0, "the helper's check ended without a code");
        if let Some(rest) = line.split("your code is ").nth(1) {
            break rest.split_whitespace().next().expect("a code").to_string();
        }
    };
    let wrong = check(&[
        "--via".as_ref(),
        via.as_ref(),
        "--code".as_ref(),
        "ZZZ-ZZZ".as_ref(),
    ]);
    assert_ne!(wrong.code, Some(0), "{wrong}");
    assert!(wrong.stderr.contains("code"), "{wrong}");
    let novice = check(&[
        "--via".as_ref(),
        via.as_ref(),
        "--code".as_ref(),
        code.as_ref(),
        "--json".as_ref(),
        "-4".as_ref(),
        "--server".as_ref(),
        stun.as_ref(),
    ]);
    let helper = helper.wait_with_output().expect("the helper's check ends");
    assert_eq!(novice.code, Some(0), "{novice}");
    assert_eq!(helper.status.code(), Some(0));
    for stdout in [
        novice.stdout.clone(),
        String::from_utf8_lossy(&helper.stdout).into_owned(),
    ] {
        let doc: Value = serde_json::from_str(&stdout).expect("one JSON document");
        assert_matches_schema(&doc);
        assert_eq!(doc["live"]["expected"], "connects", "{stdout}");
        assert_eq!(doc["live"]["connected"], true, "{stdout}");
        assert_eq!(doc["live"]["agrees"], true, "{stdout}");
        assert!(doc["live"]["path"]["remote"].is_string(), "{stdout}");
    }
}
