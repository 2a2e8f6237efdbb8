//! Interoperability with STUN implementations nobody here wrote, on
//! loopback: the Debian `stun` client (Vovida 0.97, RFC 3489) and coturn's
//! `turnutils_natdiscovery` (RFC 5780) against `ranat serve`; `ranat probe`
//! against coturn's `turnserver` and the Debian `stund` (Vovida 0.97).
//!
//! A missing tool prints "SKIPPED: <tool> not installed" and the test
//! returns; scripts/test.sh installs them all on CI.
//!
//! Addresses: this file uses 127.0.30.0/24, one pair per test.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

const TOOL_LIMIT: Duration = Duration::from_secs(30);
const PROBE_LIMIT: Duration = Duration::from_secs(20);

/// The Vovida client exits with a bitmask even on success: read its text.
#[test]
fn debian_stun_client_sees_open_internet_through_ranat_serve() {
    if !have_tool("stun") {
        return;
    }
    let server = RanatServer::start(lo4(30, 1), Some(lo4(30, 2)));
    // The client takes HOST:PORT; it finds the alternate from CHANGED-ADDRESS.
    let out = run(
        Command::new(tool_path("stun")).arg(server.arg()).arg("-v"),
        TOOL_LIMIT,
    );
    let verdict = out
        .stdout
        .lines()
        .find(|l| l.starts_with("Primary:"))
        .unwrap_or_else(|| panic!("no 'Primary:' verdict line:\n{out}"));
    assert_eq!(verdict.trim(), "Primary: Open", "{out}");
    // Its RFC 3489 tests, as it logs them in verbose mode (on stderr): I,
    // II (change IP and port), III (change port) and I to the alternate all
    // answered, and no NAT was seen.
    let log = format!("{}{}", out.stdout, out.stderr);
    for line in [
        "test I = 1",
        "test II = 1",
        "test III = 1",
        "test I(2) = 1",
        "is nat  = 0",
    ] {
        assert!(log.contains(line), "missing {line:?}:\n{out}");
    }
    // RFC 3489 §11.2.3: every answer's CHANGED-ADDRESS is the alternate of
    // the endpoint its request arrived on, also when a CHANGE-REQUEST had
    // the answer sent from elsewhere. The client sends tests I (id 1), II
    // (id 2, change IP) and III (id 3, change port) to the primary, and
    // I(2) (id 10, no change) to the alternate address it read from test I.
    let alt = server.alternate.expect("full mode");
    let answers = vovida_answers(&out.stderr);
    for id in [1, 2, 3, 10] {
        assert!(
            answers.iter().any(|a| a.id == id),
            "no answer with id {id}:\n{out}"
        );
    }
    for a in &answers {
        let (Some(source), Some(changed)) = (a.source, a.changed) else {
            panic!("answer {} lacks SOURCE- or CHANGED-ADDRESS:\n{out}", a.id);
        };
        let arrived_on = match a.id {
            1..=3 => server.primary,
            _ => source,
        };
        assert_eq!(
            changed,
            opposite(arrived_on, server.primary, alt),
            "answer {} (from {source}) to a request that arrived on {arrived_on}:\n{out}",
            a.id
        );
        if a.id == 2 || a.id == 3 {
            assert_ne!(
                source, server.primary,
                "test {} was not moved:\n{out}",
                a.id
            );
        }
    }
}

/// The endpoint of a full-mode server (`primary` and `alternate`, two
/// addresses × two ports) differing from `endpoint` in both IP and port.
fn opposite(endpoint: SocketAddr, primary: SocketAddr, alternate: SocketAddr) -> SocketAddr {
    let ip = if endpoint.ip() == primary.ip() {
        alternate.ip()
    } else {
        primary.ip()
    };
    let port = if endpoint.port() == primary.port() {
        alternate.port()
    } else {
        primary.port()
    };
    SocketAddr::new(ip, port)
}

/// One answer as the Vovida client logs it in verbose mode.
struct VovidaAnswer {
    /// The test it answers (the first octet of the transaction id).
    id: u32,
    source: Option<SocketAddr>,
    changed: Option<SocketAddr>,
}

/// The answers in the Vovida client's verbose log: the attribute lines
/// after "Received stun message", up to "Received message of type … id=N".
fn vovida_answers(log: &str) -> Vec<VovidaAnswer> {
    let mut answers = Vec::new();
    let (mut source, mut changed) = (None, None);
    for line in log.lines().map(str::trim) {
        if line.starts_with("Received stun message") {
            (source, changed) = (None, None);
        } else if let Some(a) = line.strip_prefix("SourceAddress = ") {
            source = a.parse().ok();
        } else if let Some(a) = line.strip_prefix("ChangedAddress = ") {
            changed = a.parse().ok();
        } else if line.starts_with("Received message of type 257")
            && let Some(id) = line.rsplit("id=").next().and_then(|n| n.parse().ok())
        {
            answers.push(VovidaAnswer {
                id,
                source: source.take(),
                changed: changed.take(),
            });
        }
    }
    answers
}

fn natdiscovery(server: SocketAddr, extra: &[&str]) -> Output {
    let mut cmd = Command::new(tool_path("turnutils_natdiscovery"));
    // -L binds the client to 127.0.0.1, the address the server will see, so
    // that "no NAT" can be recognised.
    cmd.args(["-m", "-f", "-L", "127.0.0.1"])
        .args(extra)
        .args(["-p", &server.port().to_string()])
        .arg(server.ip().to_string());
    run(&mut cmd, TOOL_LIMIT)
}

#[test]
fn coturn_natdiscovery_sees_no_nat_and_endpoint_independent_behaviour_through_ranat_serve() {
    if !have_tool("turnutils_natdiscovery") {
        return;
    }
    let server = RanatServer::start(lo4(30, 3), Some(lo4(30, 4)));
    let alt = server.alternate.expect("full mode");
    for extra in [&[][..], &["-P"][..]] {
        // -P adds PADDING to every request (RFC 5780 §7.6).
        let out = natdiscovery(server.primary, extra);
        assert_eq!(out.code, Some(0), "{extra:?}:\n{out}");
        let text = &out.stdout;
        assert!(
            text.contains("-= Mapping Behavior Discovery =-")
                && text.contains("-= Filtering Behavior Discovery =-"),
            "{extra:?}: both discoveries should run:\n{out}"
        );
        assert!(
            text.contains("No NAT! (Endpoint Independent Mapping)"),
            "{extra:?}:\n{out}"
        );
        assert!(
            text.contains("NAT with Endpoint Independent Mapping!"),
            "{extra:?}:\n{out}"
        );
        assert!(
            text.contains("NAT with Endpoint Independent Filtering!"),
            "{extra:?}:\n{out}"
        );
        assert!(!text.contains("Dependent Mapping"), "{extra:?}:\n{out}");
        assert!(!text.contains("Dependent Filtering"), "{extra:?}:\n{out}");
        assert!(text.contains("No ALG: Mapped == XOR-Mapped"), "{out}");
        // The change-IP-and-port answer really came from the alternate.
        assert!(
            text.contains(&format!("Response origin: : {alt}")),
            "{extra:?}: RESPONSE-ORIGIN of the alternate not seen:\n{out}"
        );
        // RFC 5780 §7.4: every answer's OTHER-ADDRESS is the alternate of
        // the endpoint its request arrived on. The mapping tests ask for no
        // change, so that is where each answer came from; the filtering
        // tests all go to the primary, whichever endpoint answers them.
        let (mapping, filtering) = text
            .split_once("-= Filtering Behavior Discovery =-")
            .unwrap_or_else(|| panic!("{extra:?}: no filtering section:\n{out}"));
        let mapping = natdiscovery_answers(mapping);
        let filtering = natdiscovery_answers(filtering);
        assert!(
            mapping.len() >= 2 && !filtering.is_empty(),
            "{extra:?}: answers missing:\n{out}"
        );
        for (origin, other) in mapping {
            assert_eq!(
                other,
                opposite(origin, server.primary, alt),
                "{extra:?}: the answer from {origin}:\n{out}"
            );
        }
        for (origin, other) in filtering {
            assert_eq!(
                other, alt,
                "{extra:?}: the answer from {origin} to a request to the primary:\n{out}"
            );
        }
    }
}

/// `(RESPONSE-ORIGIN, OTHER-ADDRESS)` of each "RFC 5780 response" that
/// `turnutils_natdiscovery` prints in `section`.
fn natdiscovery_answers(section: &str) -> Vec<(SocketAddr, SocketAddr)> {
    let field = |block: &str, name: &str| {
        block
            .lines()
            .find_map(|l| l.split_once(name))
            .and_then(|(_, a)| a.trim().parse().ok())
    };
    section
        .split("RFC 5780 response")
        .skip(1)
        .map(|block| {
            let origin = field(block, "Response origin: : ");
            let other = field(block, "Other addr: : ");
            origin
                .zip(other)
                .unwrap_or_else(|| panic!("an answer without origin or other address:\n{block}"))
        })
        .collect()
}

/// Runs `ranat probe -4 --json` against `server`.
fn probe_json(server: SocketAddr) -> (Output, Value) {
    let out = probe(
        &["-4", "--json", "--server", &server.to_string()],
        PROBE_LIMIT,
    );
    out.assert_no_panic();
    let j = out.json();
    (out, j)
}

/// Asserts a clean open-internet classification with full behaviour tests.
fn assert_open_internet(out: &Output, j: &Value, alternate: SocketAddr) {
    assert_eq!(out.code, Some(0), "{out}");
    let v4 = &j["ipv4"];
    assert_eq!(v4["status"], "ok", "{out}");
    assert_eq!(v4["classic"], "open_internet", "{out}");
    assert_eq!(v4["mapping"], "endpoint_independent", "{out}");
    assert_eq!(v4["filtering"], "endpoint_independent", "{out}");
    assert_eq!(v4["mapped_address"], v4["local_address"], "{out}");
    let srv = &v4["servers"][0];
    assert_eq!(srv["reachable"], true, "{out}");
    assert_eq!(srv["behavior_capable"], true, "{out}");
    assert_eq!(srv["other_address"], alternate.to_string(), "{out}");
    assert_eq!(j["verdict"], "traversal_friendly", "{out}");
}

/// coturn in STUN-only mode on two loopback addresses.
fn start_coturn(dir: &TempDir, primary: IpAddr, alternate: IpAddr) -> (Daemon, u16, u16) {
    start_coturn_on(dir, primary, alternate, &["--no-tcp"])
}

/// coturn in STUN-only mode, with `extra` arguments.
fn start_coturn_on(
    dir: &TempDir,
    primary: IpAddr,
    alternate: IpAddr,
    extra: &[&str],
) -> (Daemon, u16, u16) {
    let mut last = String::new();
    for _ in 0..3 {
        let (port, alt_port) = free_ports(&[primary, alternate]);
        let path = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
        let mut cmd = Command::new(tool_path("turnserver"));
        cmd.args(["-n", "--stun-only", "--no-auth", "--no-cli"])
            .args(["--no-tls", "--no-dtls"])
            .args(extra)
            .args(["-L", &primary.to_string(), "-L", &alternate.to_string()])
            .args(["-p", &port.to_string()])
            .args(["--alt-listening-port", &alt_port.to_string()])
            .args(["--pidfile", &path("turnserver.pid")])
            .args(["--log-file", &path("turnserver.log")])
            .args(["--userdb", &path("turndb")])
            .args(["--simple-log", "--no-stdout-log"]);
        let mut daemon = Daemon::spawn("turnserver", &mut cmd);
        match daemon.wait_until_answers(SocketAddr::new(primary, port), Duration::from_secs(10)) {
            Ok(()) => return (daemon, port, alt_port),
            Err(e) => {
                let log = std::fs::read_to_string(dir.path().join("turnserver.log"));
                last = format!("{e}\n{}", log.unwrap_or_default());
            }
        }
    }
    panic!("turnserver never came up: {last}");
}

#[test]
fn ranat_probe_classifies_open_internet_against_coturn() {
    if !have_tool("turnserver") {
        return;
    }
    let (a, b) = (lo4(30, 5), lo4(30, 6));
    let dir = TempDir::new("coturn");
    let (_coturn, port, alt_port) = start_coturn(&dir, a, b);
    let (out, j) = probe_json(SocketAddr::new(a, port));
    assert_open_internet(&out, &j, SocketAddr::new(b, alt_port));
}

/// stund (Vovida 0.97, RFC 3489) on two loopback addresses.
fn start_stund(primary: IpAddr, alternate: IpAddr) -> (Daemon, u16, u16) {
    let mut last = String::new();
    for _ in 0..3 {
        let (port, alt_port) = free_ports(&[primary, alternate]);
        let mut cmd = Command::new(tool_path("stund"));
        cmd.args(["-h", &primary.to_string(), "-a", &alternate.to_string()])
            .args(["-p", &port.to_string(), "-o", &alt_port.to_string()]);
        let mut daemon = Daemon::spawn("stund", &mut cmd);
        match daemon.wait_until_answers(SocketAddr::new(primary, port), Duration::from_secs(10)) {
            Ok(()) => return (daemon, port, alt_port),
            Err(e) => last = e,
        }
    }
    panic!("stund never came up: {last}");
}

/// What must hold against stund whatever ranat makes of RFC 3489 servers:
/// it answers, the mapping is right, and no behaviour is invented.
#[test]
fn ranat_probe_against_stund_is_reachable_and_honest() {
    if !have_tool("stund") {
        return;
    }
    let (a, b) = (lo4(30, 7), lo4(30, 8));
    let (_stund, port, _) = start_stund(a, b);
    let (out, j) = probe_json(SocketAddr::new(a, port));
    let v4 = &j["ipv4"];
    assert_eq!(v4["servers"][0]["reachable"], true, "{out}");
    assert_eq!(v4["mapped_address"], v4["local_address"], "{out}");
    match v4["status"].as_str() {
        Some("ok") => {
            assert_eq!(out.code, Some(0), "{out}");
            assert_eq!(v4["classic"], "open_internet", "{out}");
        }
        Some("inconclusive") => {
            assert_eq!(out.code, Some(12), "{out}");
            assert_eq!(v4["classic"], "inconclusive", "{out}");
            assert_eq!(v4["mapping"], Value::Null, "{out}");
            assert_eq!(v4["filtering"], Value::Null, "{out}");
        }
        other => panic!("unexpected status {other:?}:\n{out}"),
    }
}

/// stund gives its alternate as RFC 3489 CHANGED-ADDRESS (0x0005), not
/// OTHER-ADDRESS (0x802C), though it honours CHANGE-REQUEST and answers
/// RFC 5389 requests with the cookie echoed and XOR-MAPPED-ADDRESS.
#[test]
fn ranat_probe_classifies_open_internet_against_stund() {
    if !have_tool("stund") {
        return;
    }
    let (a, b) = (lo4(30, 9), lo4(30, 10));
    let (_stund, port, alt_port) = start_stund(a, b);
    let (out, j) = probe_json(SocketAddr::new(a, port));
    assert_open_internet(&out, &j, SocketAddr::new(b, alt_port));
}

/// `ranat probe --tcp` (RFC 5382 over STUN over TCP, RFC 8489 §6.2.2):
/// the three connections of RFC 5780 §4.3 from one local endpoint, each
/// answered with that endpoint, so no NAT on TCP.
fn assert_tcp_without_nat(server: SocketAddr, alternate: SocketAddr) {
    let out = probe(
        &["-4", "--json", "--tcp", "--server", &server.to_string()],
        PROBE_LIMIT,
    );
    out.assert_no_panic();
    let j = out.json();
    let tcp = &j["ipv4"]["tcp"];
    assert_eq!(tcp["server"], server.to_string(), "{out}");
    assert_eq!(tcp["no_nat"], true, "{out}");
    assert_eq!(tcp["simultaneous_open"], "possible", "{out}");
    let local = tcp["local_address"].as_str().expect("a local endpoint");
    let tests = tcp["tests"].as_array().expect("the tests");
    let servers: Vec<&str> = tests
        .iter()
        .map(|t| t["server"].as_str().unwrap())
        .collect();
    let second = SocketAddr::new(alternate.ip(), server.port()).to_string();
    assert_eq!(
        servers,
        [server.to_string(), second, alternate.to_string()],
        "{out}"
    );
    for test in tests {
        assert_eq!(test["mapped_address"], local, "{out}");
    }
}

#[test]
fn ranat_probe_measures_tcp_against_ranat_serve_and_coturn() {
    let server = RanatServer::start(lo4(31, 5), Some(lo4(31, 6)));
    assert_tcp_without_nat(server.primary, server.alternate.unwrap());
    if !have_tool("turnserver") {
        return;
    }
    let (a, b) = (lo4(31, 7), lo4(31, 8));
    let dir = TempDir::new("coturn-tcp");
    let (_coturn, port, alt_port) = start_coturn_on(&dir, a, b, &[]);
    assert_tcp_without_nat(SocketAddr::new(a, port), SocketAddr::new(b, alt_port));
}
