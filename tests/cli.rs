//! The real `ranat` binary end to end on loopback: `ranat serve` and
//! `ranat probe` together, exit codes, argument errors.
//!
//! Addresses: this file uses 127.0.10.0/24, one pair per test, so tests
//! running in parallel never share a port space.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Far above what a probe on loopback needs; only a hang guard.
const PROBE_LIMIT: Duration = Duration::from_secs(20);

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("<not a string>")
}

#[test]
fn probe_against_full_rfc5780_server_reports_open_internet_in_json_and_table() {
    let server = RanatServer::start(lo4(10, 1), Some(lo4(10, 2)));
    let arg = server.arg();

    let out = probe(&["-4", "--server", &arg, "--json"], PROBE_LIMIT);
    out.assert_no_panic();
    assert_eq!(out.code, Some(0), "{out}");
    let j = out.json();
    assert_eq!(j["schema_version"], 3, "{out}");
    assert_eq!(s(&j["verdict"]), "traversal_friendly", "{out}");
    let v4 = &j["ipv4"];
    assert_eq!(s(&v4["status"]), "ok", "{out}");
    assert_eq!(s(&v4["classic"]), "open_internet", "{out}");
    assert_eq!(s(&v4["mapping"]), "endpoint_independent", "{out}");
    assert_eq!(s(&v4["filtering"]), "endpoint_independent", "{out}");
    assert_eq!(v4["port_preservation"], true, "{out}");
    // No NAT on loopback: the server saw exactly the local endpoint.
    assert_eq!(v4["mapped_address"], v4["local_address"], "{out}");
    let mapped: SocketAddr = s(&v4["mapped_address"]).parse().expect("ip:port");
    assert!(mapped.ip().is_loopback(), "{out}");
    // With no NAT there is nothing to hairpin through.
    assert_eq!(v4["hairpinning"], Value::Null, "{out}");
    let servers = v4["servers"].as_array().expect("servers array");
    assert_eq!(servers.len(), 1, "{out}");
    let srv = &servers[0];
    assert_eq!(s(&srv["address"]), arg, "{out}");
    assert_eq!(srv["reachable"], true, "{out}");
    assert_eq!(srv["behavior_capable"], true, "{out}");
    assert_eq!(
        s(&srv["other_address"]),
        server.alternate.expect("full mode").to_string(),
        "{out}"
    );
    assert_eq!(s(&srv["classic"]), "open_internet", "{out}");
    assert!(srv["rtt_ms"].as_f64().is_some_and(|r| r < 1000.0), "{out}");
    assert_eq!(s(&j["ipv6"]["status"]), "no_server", "{out}");
    assert!(
        j["duration_ms"].as_u64().is_some_and(|d| d < 2000),
        "a loopback probe should take milliseconds:\n{out}"
    );
    // --json means one document on stdout and no progress on stderr.
    assert!(out.stderr.trim().is_empty(), "{out}");

    let out = probe(&["-4", "--server", &arg], PROBE_LIMIT);
    out.assert_no_panic();
    assert_eq!(out.code, Some(0), "{out}");
    let nat_row = out
        .stdout
        .lines()
        .find(|l| l.contains("NAT type"))
        .unwrap_or_else(|| panic!("no NAT type row:\n{out}"));
    assert!(nat_row.contains("open internet"), "{out}");
    for row in ["Mapping", "Filtering"] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start_matches(['|', ' ']).starts_with(row))
            .unwrap_or_else(|| panic!("no {row} row:\n{out}"));
        assert!(line.contains("endpoint-independent"), "{row}:\n{out}");
    }
    assert!(out.stdout.contains(&arg), "{out}");
    // stderr is not a terminal here: no spinner, no noise.
    assert!(out.stderr.trim().is_empty(), "{out}");
}

#[test]
fn basic_mode_server_gives_an_inconclusive_probe_explained_by_other_address() {
    let server = RanatServer::start(lo4(10, 3), None);
    let out = probe(&["-4", "--server", &server.arg(), "--json"], PROBE_LIMIT);
    out.assert_no_panic();
    assert_eq!(out.code, Some(12), "{out}");
    let j = out.json();
    assert_eq!(s(&j["verdict"]), "inconclusive", "{out}");
    let v4 = &j["ipv4"];
    assert_eq!(s(&v4["status"]), "inconclusive", "{out}");
    assert_eq!(s(&v4["classic"]), "inconclusive", "{out}");
    assert_eq!(v4["mapping"], Value::Null, "{out}");
    assert_eq!(v4["filtering"], Value::Null, "{out}");
    assert_eq!(v4["mapped_address"], v4["local_address"], "{out}");
    let srv = &v4["servers"][0];
    assert_eq!(srv["reachable"], true, "{out}");
    assert_eq!(srv["behavior_capable"], false, "{out}");
    assert_eq!(srv["other_address"], Value::Null, "{out}");
    let notes = v4["notes"].to_string();
    assert!(notes.contains("OTHER-ADDRESS"), "{out}");

    let out = probe(&["-4", "--server", &server.arg()], PROBE_LIMIT);
    out.assert_no_panic();
    assert_eq!(out.code, Some(12), "{out}");
    assert!(out.stdout.contains("OTHER-ADDRESS"), "{out}");
}

#[test]
fn unreachable_server_is_udp_blocked_within_a_few_seconds() {
    let ip = lo4(10, 5);
    let server = SocketAddr::new(ip, closed_port(ip)).to_string();
    let (json, table) = std::thread::scope(|scope| {
        let json = scope.spawn(|| probe(&["-4", "--server", &server, "--json"], PROBE_LIMIT));
        let table = scope.spawn(|| probe(&["-4", "--server", &server], PROBE_LIMIT));
        (
            json.join().expect("json probe"),
            table.join().expect("table probe"),
        )
    });
    for out in [&json, &table] {
        out.assert_no_panic();
        assert_eq!(out.code, Some(11), "{out}");
        // The first schedule gives up after about 2 s; 6 s is a hang guard.
        assert!(out.elapsed < Duration::from_secs(6), "too slow:\n{out}");
    }
    let j = json.json();
    assert_eq!(s(&j["verdict"]), "udp_blocked", "{json}");
    assert_eq!(s(&j["ipv4"]["status"]), "udp_blocked", "{json}");
    assert_eq!(s(&j["ipv4"]["classic"]), "udp_blocked", "{json}");
    assert_eq!(j["ipv4"]["mapped_address"], Value::Null, "{json}");
    assert_eq!(j["ipv4"]["servers"][0]["reachable"], false, "{json}");
    assert!(table.stdout.contains("UDP blocked"), "{table}");
}

/// Exit 2 (usage) or 1 (error), a message on stderr that names the problem,
/// no report on stdout, no panic.
fn assert_refused(args: &[&str], fragment: &str) {
    let out = probe(args, PROBE_LIMIT);
    out.assert_no_panic();
    assert!(
        matches!(out.code, Some(1 | 2)),
        "{args:?} should be refused with exit 1 or 2:\n{out}"
    );
    assert!(
        out.stderr.to_lowercase().contains(&fragment.to_lowercase()),
        "{args:?}: stderr should mention {fragment:?}:\n{out}"
    );
    assert!(out.stdout.trim().is_empty(), "{args:?}: no report:\n{out}");
}

#[test]
fn bad_probe_arguments_are_refused_with_a_clear_message() {
    // A closed loopback port, so that an argument wrongly accepted still
    // sends nothing beyond loopback.
    let ip = lo4(10, 7);
    let closed = SocketAddr::new(ip, closed_port(ip)).to_string();
    // A name is only resolved after parsing; port 0 must fail the parse.
    assert_refused(&["-4", "--server", "localhost:0"], "port");
    assert_refused(&["-4", "--server", "127.0.0.1:99999"], "port");
    assert_refused(&["-4", "--server", "127.0.0.1:stun"], "port");
    assert_refused(&["-4", "--server", ""], "empty");
    assert_refused(&["-4", "--server", &closed, "--timeout", "-1"], "-1");
    assert_refused(&["-4", "--server", &closed, "--timeout=-1"], "--timeout");
    assert_refused(
        &["-4", "--server", &closed, "--timeout", "nan"],
        "--timeout",
    );
    assert_refused(
        &["-4", "--server", &closed, "--timeout", "inf"],
        "--timeout",
    );
    assert_refused(
        &["-4", "--server", &closed, "--timeout", "soon"],
        "--timeout",
    );
    assert_refused(&["-4", "-6", "--server", &closed], "cannot be used with");
    assert_refused(&["--server", &closed, "--frobnicate"], "--frobnicate");
}

#[test]
fn ip_literal_with_port_zero_is_refused() {
    assert_refused(&["-4", "--server", "127.0.0.1:0"], "port");
    assert_refused(&["-6", "--server", "[::1]:0"], "port");
}

#[test]
fn zero_timeout_is_refused() {
    let ip = lo4(10, 9);
    let closed = SocketAddr::new(ip, closed_port(ip)).to_string();
    assert_refused(&["-4", "--server", &closed, "--timeout", "0"], "--timeout");
}

#[test]
fn probe_does_not_panic_when_stdout_is_closed() {
    let server = RanatServer::start(lo4(10, 11), Some(lo4(10, 12)));
    let mut child = Command::new(RANAT)
        .args(["probe", "-4", "--json", "--server", &server.arg()])
        .args(offline_flags(&[]))
        .env_remove("RANAT_SERVERS")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn probe");
    // Close the reading end before the report is written, as `| head -0` would.
    drop(child.stdout.take());
    let stderr = child.stderr.take().expect("stderr");
    let mut text = String::new();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut stderr = stderr;
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = std::time::Instant::now() + PROBE_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("probe hung with a closed stdout");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = reader.join().expect("stderr reader");
    assert!(
        !stderr.contains("panicked") && status.code() != Some(101),
        "probe panicked on a closed stdout ({status}):\n{stderr}"
    );
}

fn serve(args: &[&str]) -> Output {
    let mut cmd = Command::new(RANAT);
    cmd.arg("serve").args(args);
    run(&mut cmd, Duration::from_secs(10))
}

#[test]
fn serve_on_an_address_not_on_this_host_fails_clearly() {
    // An address not assigned here: bind fails, nothing is sent.
    let foreign = foreign_ipv4().to_string();
    let out = serve(&["--primary", &foreign, "--port", "3478"]);
    out.assert_no_panic();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr
            .contains(&format!("cannot listen on {foreign}:3478")),
        "{out}"
    );
    assert!(out.stderr.contains("assigned to this host"), "{out}");

    // A full-mode alternate that is not local fails the same way, after the
    // primary bound: the error names the alternate.
    let ip = lo4(10, 13);
    let (p, a) = free_ports(&[ip]);
    let out = serve(&[
        "--primary",
        &ip.to_string(),
        "--alternate",
        &foreign,
        "--port",
        &p.to_string(),
        "--alt-port",
        &a.to_string(),
    ]);
    out.assert_no_panic();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr.contains(&format!("cannot listen on {foreign}:")),
        "{out}"
    );
}

#[test]
fn serve_refuses_inconsistent_addresses() {
    for (args, fragment) in [
        (
            &["--primary", "127.0.10.15", "--alternate", "::1"][..],
            "one family",
        ),
        (
            &["--primary", "127.0.10.15", "--alternate", "127.0.10.15"][..],
            "differ",
        ),
        (
            &[
                "--primary",
                "127.0.10.15",
                "--alternate",
                "127.0.10.16",
                "--port",
                "40000",
                "--alt-port",
                "40000",
            ][..],
            "differ",
        ),
        (&["--primary", "not-an-ip"][..], "invalid"),
        (
            &["--primary", "127.0.10.15", "--port", "70000"][..],
            "70000",
        ),
        (&[][..], "--primary"),
    ] {
        let out = serve(args);
        out.assert_no_panic();
        assert!(matches!(out.code, Some(1 | 2)), "{args:?}:\n{out}");
        assert!(out.stderr.contains(fragment), "{args:?}:\n{out}");
    }
}

#[test]
fn serve_port_zero_is_refused_or_resolved() {
    let (a, b) = (lo4(10, 17), lo4(10, 18));
    let (_, alt_port) = free_ports(&[a, b]);
    let mut cmd = Command::new(RANAT);
    cmd.args(["serve", "--primary", &a.to_string(), "--alternate"])
        .arg(b.to_string())
        .args(["--port", "0", "--alt-port", &alt_port.to_string()]);
    let mut daemon = Daemon::spawn("ranat serve --port 0", &mut cmd);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = daemon.exited() {
            // Refused: fine, if it says why. The reader thread may still be
            // collecting stderr after the exit.
            let settled = std::time::Instant::now() + Duration::from_secs(2);
            while daemon.stderr().is_empty() && std::time::Instant::now() < settled {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(!status.success(), "{}", daemon.stderr());
            assert!(daemon.stderr().contains("port"), "{}", daemon.stderr());
            return;
        }
        let err = daemon.stderr();
        if let Some(line) = err.lines().find(|l| l.contains("listening on")) {
            assert!(
                !line.contains(":0,") && !line.ends_with(":0"),
                "claims to listen on port 0: {line}"
            );
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no output: {err}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ipv6_basic_mode_on_the_loopback() {
    if !ipv6_loopback_available() {
        skip("::1 is not available on this host; IPv6 test not run");
        return;
    }
    let server = RanatServer::start(LO6, None);
    let arg = server.arg();
    assert!(arg.starts_with("[::1]:"), "{arg}");
    let out = probe(&["-6", "--server", &arg, "--json"], PROBE_LIMIT);
    out.assert_no_panic();
    assert_eq!(out.code, Some(12), "{out}");
    let j = out.json();
    let v6 = &j["ipv6"];
    assert_eq!(s(&v6["status"]), "inconclusive", "{out}");
    assert_eq!(v6["mapped_address"], v6["local_address"], "{out}");
    let mapped: SocketAddr = s(&v6["mapped_address"]).parse().expect("ip:port");
    assert_eq!(mapped.ip(), LO6, "{out}");
    assert_eq!(v6["servers"][0]["reachable"], true, "{out}");
    assert!(v6["notes"].to_string().contains("OTHER-ADDRESS"), "{out}");
    assert_eq!(s(&j["ipv4"]["status"]), "no_server", "{out}");

    // The server itself reports the right mapped address over IPv6.
    let seen = stun_ping(server.primary, Duration::from_secs(2)).expect("an answer");
    assert_eq!(seen.ip(), IpAddr::from(std::net::Ipv6Addr::LOCALHOST));
}

#[test]
fn the_session_commands_refuse_to_start_without_a_terminal() {
    // A closed loopback port: nothing is contacted, the refusal comes first.
    let ip = lo4(10, 8);
    let via = SocketAddr::new(ip, closed_port(ip)).to_string();
    for args in [
        vec!["invite", "--via", via.as_str()],
        vec!["assist", "--via", via.as_str(), "K7Q-4MX2TB"],
    ] {
        let out = run(Command::new(RANAT).args(&args), PROBE_LIMIT);
        out.assert_no_panic();
        assert_eq!(out.code, Some(1), "{args:?}:\n{out}");
        assert!(
            out.stderr.contains("shows the session in this terminal"),
            "{args:?}:\n{out}"
        );
    }
}
