//! `ranat trial` end to end on loopback: two real processes meet at a real
//! `ranat serve`, connect the session's QUIC channel (directly, or through
//! the server's TURN relay) and measure it.
//!
//! Addresses: this file uses 127.0.80.0/24.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::igd::{FakeIgd, Script};
use common::*;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(40);

/// `ranat serve` with its relay on, relaying to loopback (denied by
/// default), on `host` and `host + 1` of 127.0.80.0/24.
fn server_with_relay(host: u8, dir: &TempDir) -> RanatServer {
    let secret = dir.path().join("relay-secret");
    std::fs::write(&secret, "trial test secret\n").expect("write the secret");
    let secret = secret.to_string_lossy().into_owned();
    RanatServer::start_with(
        lo4(80, host),
        Some(lo4(80, host + 1)),
        &[
            "--relay-secret-file",
            &secret,
            "--relay-allow",
            "127.0.0.0/8",
        ],
    )
}

/// What each side of one trial printed.
struct Pair {
    helper: Output,
    novice: Output,
}

/// Runs a trial through `server`: the helper makes the code, the novice
/// joins with it; each with its own extra arguments.
fn trial(server: &RanatServer, helper_args: &[&str], novice_args: &[&str]) -> Pair {
    let via = server.rendezvous.to_string();
    let stun = server.arg();
    let common = [
        "trial",
        "--via",
        &via,
        "--json",
        "-4",
        "--server",
        &stun,
        "--pings",
        "10",
        "--transfer",
        "65536",
    ];
    let mut cmd = Command::new(RANAT);
    cmd.args(common)
        .args(helper_args)
        .args(offline_flags(helper_args));
    let started = Instant::now();
    let mut helper = Daemon::spawn("the helper's trial", &mut cmd);
    let code = helper.easy_connect_code(started, LIMIT);
    let mut cmd = Command::new(RANAT);
    cmd.args(common)
        .args(["--code", &code])
        .args(novice_args)
        .args(offline_flags(novice_args));
    let novice = run(&mut cmd, LIMIT);
    let status = helper.exit_by(started + LIMIT * 2, "the helper's trial did not end");
    let helper = helper.output(status, started.elapsed());
    helper.assert_no_panic();
    novice.assert_no_panic();
    Pair { helper, novice }
}

/// Both sides' documents agree on what the trial found.
fn documents(pair: &Pair) -> [Value; 2] {
    let helper = pair.helper.json();
    let novice = pair.novice.json();
    for (doc, role) in [(&helper, "helper"), (&novice, "novice")] {
        assert_eq!(doc["schema_version"], 1, "{doc}");
        assert_eq!(doc["role"], role, "{doc}");
    }
    assert_eq!(helper["outcome"], novice["outcome"]);
    assert_eq!(
        helper["figures"], novice["figures"],
        "both report the same figures"
    );
    [helper, novice]
}

#[test]
fn a_trial_on_loopback_connects_directly_and_measures_the_channel() {
    let dir = TempDir::new("trial-direct");
    let server = server_with_relay(1, &dir);
    let pair = trial(&server, &[], &["--auto-approve"]);
    assert_eq!(pair.helper.code, Some(0), "{}", pair.helper);
    assert_eq!(pair.novice.code, Some(0), "{}", pair.novice);
    let [helper, novice] = documents(&pair);
    // The session's figures: the helper, as the expert, timed 20 keys'
    // echoes through the novice's scratch shell and counted the screen's
    // updates while it printed.
    let session = &helper["session"];
    assert_eq!(
        session["echo_ms"].as_array().map(Vec::len),
        Some(20),
        "{helper}"
    );
    assert!(session["echo_p95_ms"].as_f64() >= session["echo_p50_ms"].as_f64());
    assert!(
        session["screen_updates_per_s"].as_f64() > Some(5.0),
        "{helper}"
    );
    assert!(helper["session_error"].is_null(), "{helper}");
    assert!(novice["session_error"].is_null(), "{novice}");
    assert!(
        pair.novice
            .stderr
            .contains("--auto-approve: the other side will see"),
        "{}",
        pair.novice
    );
    for doc in [helper, novice] {
        assert_eq!(doc["outcome"], "direct", "{doc}");
        assert_eq!(doc["expected"], "connects", "{doc}");
        assert_eq!(doc["agrees"], true, "{doc}");
        assert_eq!(doc["path"]["family"], "IPv4", "{doc}");
        assert!(doc["path"]["relay"].is_null(), "{doc}");
        let figures = &doc["figures"];
        assert_eq!(
            figures["rtt_ms"].as_array().map(Vec::len),
            Some(10),
            "{doc}"
        );
        assert!(figures["rtt_p95_ms"].as_f64() >= figures["rtt_p50_ms"].as_f64());
        assert!(figures["helper_sent_packets"].as_u64() > Some(0), "{doc}");
        assert!(figures["novice_sent_packets"].as_u64() > Some(0), "{doc}");
        assert!(doc["phases"]["quic_ms"].as_f64() > Some(0.0), "{doc}");
    }
    assert!(
        pair.helper.stderr.contains("channel up over"),
        "{}",
        pair.helper
    );
}

#[test]
fn without_auto_approve_the_novice_refuses_the_session_figures() {
    let dir = TempDir::new("trial-refused");
    let server = server_with_relay(30, &dir);
    let pair = trial(&server, &[], &[]);
    assert_eq!(pair.helper.code, Some(0), "{}", pair.helper);
    let [helper, novice] = documents(&pair);
    assert!(helper["session"].is_null(), "{helper}");
    assert!(
        helper["session_error"]
            .as_str()
            .is_some_and(|e| e.contains("refused")),
        "{helper}"
    );
    assert!(novice["session_error"].is_null(), "{novice}");
}

#[test]
fn a_relay_only_trial_goes_through_the_servers_relay() {
    let dir = TempDir::new("trial-relay");
    let server = server_with_relay(3, &dir);
    // Only the novice asks: the helper follows, as the punch never runs.
    let pair = trial(&server, &[], &["--relay-only"]);
    assert_eq!(pair.helper.code, Some(40), "{}", pair.helper);
    assert_eq!(pair.novice.code, Some(40), "{}", pair.novice);
    for doc in documents(&pair) {
        assert_eq!(doc["outcome"], "relayed", "{doc}");
        assert_eq!(doc["path"]["kind"], "relay", "{doc}");
        assert_eq!(doc["path"]["relay"]["transport"], "udp", "{doc}");
        assert_eq!(
            doc["path"]["relay"]["server"],
            server.primary.to_string(),
            "{doc}"
        );
        assert_eq!(doc["figures"]["rtt_ms"].as_array().map(Vec::len), Some(10));
    }
    let table = pair.helper.stderr;
    assert!(table.contains("relayed address"), "{table}");
}

#[test]
fn without_a_relay_a_pair_that_takes_no_direct_path_fails_clearly() {
    let server = RanatServer::start(lo4(80, 5), Some(lo4(80, 6)));
    let pair = trial(&server, &["--relay-only"], &[]);
    assert_eq!(pair.helper.code, Some(41), "{}", pair.helper);
    assert_eq!(pair.novice.code, Some(41), "{}", pair.novice);
    for doc in documents(&pair) {
        assert_eq!(doc["outcome"], "failed", "{doc}");
        assert!(doc["path"].is_null(), "{doc}");
        let why = doc["why"].as_str().expect("why");
        assert!(why.contains("no relay"), "{why}");
    }
}

/// A fake UPnP IGD on 127.0.80.`host` whose external address is
/// 127.0.80.`external` (where nothing listens: the other side's checks to
/// the mapped candidate stay on loopback and go unanswered).
fn igd(host: u8, external: u8) -> FakeIgd {
    FakeIgd::start(
        lo4(80, host),
        Script {
            external_ip: lo4(80, external).to_string(),
            ..Script::default()
        },
    )
}

#[test]
fn a_side_whose_gateway_maps_ports_sends_a_mapped_candidate_and_removes_the_mapping_at_the_end() {
    let dir = TempDir::new("trial-mapped");
    let server = server_with_relay(7, &dir);
    let igd = igd(20, 21);
    let gateway = igd.ip.to_string();
    let pair = trial(&server, &["--gateway", &gateway], &[]);
    let seen = format!("{:#?}", *igd.log());
    assert_eq!(pair.helper.code, Some(0), "{}\n{seen}", pair.helper);
    assert_eq!(pair.novice.code, Some(0), "{}", pair.novice);
    let [helper, novice] = documents(&pair);
    let candidates = &helper["punch"]["local_candidates"];
    let of_kind = |candidates: &Value, kind: &str| -> Vec<SocketAddr> {
        candidates
            .as_array()
            .expect("candidates")
            .iter()
            .filter(|c| c["kind"] == kind)
            .filter_map(|c| c["address"].as_str()?.parse().ok())
            .collect()
    };
    let host = of_kind(candidates, "host");
    let mapped = of_kind(candidates, "port_mapped");
    assert_eq!((host.len(), mapped.len()), (1, 1), "{helper}");
    let (host, mapped) = (host[0], mapped[0]);
    // The fake grants the port asked for: the punch socket's own.
    assert_eq!(
        mapped,
        SocketAddr::new(lo4(80, 21), host.port()),
        "{helper}"
    );
    assert_eq!(
        of_kind(&novice["punch"]["peer_candidates"], "port_mapped"),
        [mapped],
        "{novice}"
    );
    // The probe's test mapping, then the session's, each deleted.
    let adds = igd.calls("AddPortMapping");
    assert_eq!(adds.len(), 2, "{seen}");
    let session = &adds[1];
    assert_eq!(session.arg("NewProtocol"), "UDP", "{seen}");
    assert_eq!(
        session.arg("NewInternalPort"),
        host.port().to_string(),
        "{seen}"
    );
    assert_eq!(
        session.arg("NewInternalClient"),
        host.ip().to_string(),
        "{seen}"
    );
    assert_eq!(session.port(), mapped.port(), "{seen}");
    assert_eq!(session.arg("NewLeaseDuration"), "300", "{seen}");
    let deletes = igd.calls("DeletePortMapping");
    assert_eq!(deletes.len(), 2, "{seen}");
    assert_eq!(deletes[1].port(), mapped.port(), "{seen}");
    let removed = format!("removed the UPnP mapping of UDP port {}", mapped.port());
    assert!(pair.helper.stderr.contains(&removed), "{}", pair.helper);
}

/// Sends `signal` (e.g. "-INT") to process `pid`.
fn signal(signal: &str, pid: u32) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status();
    assert!(
        sent.is_ok_and(|s| s.success()),
        "kill {signal} {pid} failed"
    );
}

/// Polls `daemon`'s stderr until it holds `text`, within [`LIMIT`].
fn wait_for_line(daemon: &mut Daemon, text: &str) -> String {
    let started = Instant::now();
    loop {
        let stderr = daemon.stderr();
        if stderr.contains(text) {
            return stderr;
        }
        assert!(
            daemon.exited().is_none() && started.elapsed() < LIMIT,
            "{} never printed {text:?}:\n{stderr}",
            daemon.name
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ctrl_c_after_the_mapping_removes_it_and_exits_130() {
    let dir = TempDir::new("trial-mapped-ctrl-c");
    let server = server_with_relay(9, &dir);
    let igd = igd(22, 23);
    let via = server.rendezvous.to_string();
    let stun = server.arg();
    let gateway = igd.ip.to_string();
    let common = ["trial", "--via", &via, "--json", "-4", "--server", &stun];
    let mut cmd = Command::new(RANAT);
    let helper_args = ["--gateway", gateway.as_str()];
    cmd.args(common)
        .args(helper_args)
        .args(offline_flags(&helper_args));
    let mut helper = Daemon::spawn("the helper's trial", &mut cmd);
    let stderr = wait_for_line(&mut helper, "your code is ");
    let code = stderr
        .split("your code is ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a code")
        .to_string();
    let mut cmd = Command::new(RANAT);
    cmd.args(common)
        .args(["--code", &code])
        .args(offline_flags(&[]));
    let novice = Daemon::spawn("the novice's trial", &mut cmd);
    // The novice stops once the reports are exchanged, so that the
    // helper, mapped, waits at the candidates or the punch.
    wait_for_line(&mut helper, "predicted:");
    signal("-STOP", novice.pid());
    let stderr = wait_for_line(&mut helper, "mapped address");
    let mapped: SocketAddr = stderr
        .split("mapped address ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no mapped address in:\n{stderr}"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(helper.exited().is_none(), "the helper ended early");
    signal("-INT", helper.pid());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = helper.exit_by(deadline, "the trial ignored SIGINT");
    signal("-CONT", novice.pid());
    // The readers drain the pipes after the exit.
    std::thread::sleep(Duration::from_millis(200));
    let (stdout, stderr) = (helper.stdout(), helper.stderr());
    let seen = format!("{:#?}", *igd.log());
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("ranat trial: interrupted"), "{stderr}");
    let removed = format!("removed the UPnP mapping of UDP port {}", mapped.port());
    assert!(stderr.contains(&removed), "{stderr}\n{seen}");
    assert!(stdout.trim().is_empty(), "no report after Ctrl-C: {stdout}");
    let deletes = igd.calls("DeletePortMapping");
    assert_eq!(deletes.len(), 2, "the probe's and the session's: {seen}");
    assert_eq!(deletes[1].port(), mapped.port(), "{seen}");
}
