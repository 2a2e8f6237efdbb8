//! `ranat ticket inspect` end to end: tickets Windows made (FreeRDP's
//! public test tickets, passwords known), broken files, and `--reach` on
//! loopback.
//!
//! Network: only `--reach` sends packets, and the tickets it is given
//! offer only `localhost` names, loopback and link-local addresses (the
//! last two are never tried). The probe it runs goes to a `ranat serve` on
//! 127.0.110.0/24.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(20);
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tickets");

fn inspect(args: &[&str]) -> Output {
    let mut cmd = Command::new(RANAT);
    cmd.args(["ticket", "inspect"])
        .args(args)
        .env_remove("RANAT_SERVERS")
        .env_remove("RANAT_TICKET_PASSWORD");
    run(&mut cmd, LIMIT)
}

fn data(name: &str) -> String {
    format!("{DATA}/{name}")
}

fn endpoints(j: &Value) -> Vec<(String, u64, String)> {
    j["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| {
            (
                e["address"].as_str().unwrap_or("").to_string(),
                e["port"].as_u64().unwrap_or(0),
                e["kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_windows_7_ticket_opens_with_its_password() {
    let file = data("freerdp-type2.msrcincident");
    let out = inspect(&[&file, "--json"]);
    out.assert_no_panic();
    // Made in 2014 for ten days: long expired.
    assert_eq!(out.code, Some(50), "{out}");
    let j = out.json();
    assert_eq!(j["schema_version"], 1, "{out}");
    assert_eq!(j["shape"], "invitation", "{out}");
    assert_eq!(j["username"], "awake", "{out}");
    assert_eq!(j["expired"], true, "{out}");
    assert_eq!(
        j["expires_at"]["unix"],
        1_403_972_263u64 + 14_400 * 60,
        "{out}"
    );
    assert_eq!(j["expires_at"]["utc"], "2014-07-08T16:17:43Z", "{out}");
    assert_eq!(j["lh_ticket"]["decrypted"], false, "{out}");
    assert_eq!(j["pass_stub_proof"], Value::Null, "{out}");
    assert_eq!(
        endpoints(&j).len(),
        2,
        "RCTICKET only without the password:\n{out}"
    );

    let out = inspect(&[&file, "--json", "--password", "48BJQ853X3B4"]);
    out.assert_no_panic();
    assert_eq!(out.code, Some(50), "{out}");
    let j = out.json();
    assert_eq!(j["lh_ticket"]["decrypted"], true, "{out}");
    assert_eq!(
        j["pass_stub_proof"], "777dfaae9028124dd02ede8014221b4ad1f4ec138539d733ac767895b2d857d9",
        "{out}"
    );
    assert_eq!(
        endpoints(&j),
        [
            ("192.168.1.200".into(), 49230, "ipv4_private".into()),
            ("169.254.6.170".into(), 49231, "ipv4_link_local".into()),
            (
                "fe80::1032:53d9:5a01:909b%3".into(),
                49228,
                "ipv6_link_local".into()
            ),
            (
                "fe80::3d8f:9b2d:6b4e:6aa%6".into(),
                49229,
                "ipv6_link_local".into()
            ),
        ],
        "{out}"
    );
    assert_eq!(
        j["endpoints"][0]["sources"],
        serde_json::json!(["rcticket", "lhticket"])
    );

    // The password may come from the environment instead of the command
    // line, where other users of the machine could read it.
    let mut cmd = Command::new(RANAT);
    cmd.args(["ticket", "inspect", &file])
        .env("RANAT_TICKET_PASSWORD", "48BJQ853X3B4");
    let out = run(&mut cmd, LIMIT);
    assert!(out.stdout.contains("decrypted with the password"), "{out}");
    assert!(out.stdout.contains("EXPIRED"), "{out}");
    assert!(
        !out.stdout.contains("48BJQ853X3B4"),
        "the password is never shown:\n{out}"
    );
}

#[test]
fn teredo_addresses_are_decoded() {
    let out = inspect(&[
        &data("freerdp-type3.msrcincident"),
        "--json",
        "--password",
        "4X638PTVZTKZ",
    ]);
    out.assert_no_panic();
    let j = out.json();
    let teredo = j["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "teredo")
        .unwrap_or_else(|| panic!("no Teredo endpoint:\n{out}"));
    assert_eq!(
        teredo["address"], "2001:0:284a:364:28e3:b9b:c19c:4d04",
        "{out}"
    );
    assert_eq!(teredo["server"], "40.74.3.100", "{out}");
    assert_eq!(teredo["client"], "62.99.178.251:62564", "{out}");
    assert_eq!(teredo["cone"], false, "{out}");
}

#[test]
fn a_wrong_password_is_said_so_and_nothing_else_is_printed() {
    let out = inspect(&[
        &data("freerdp-type2.msrcincident"),
        "--password",
        "48BJQ853X3B5",
    ]);
    out.assert_no_panic();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("wrong password"), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
}

#[test]
fn utf16_files_and_standard_input_read_the_same() {
    let dir = TempDir::new("ticket-utf16");
    let text = std::fs::read_to_string(data("freerdp-type1.msrcincident")).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let path = dir.path().join("Invitation.msrcIncident");
    std::fs::write(&path, &utf16).unwrap();
    let from_file = inspect(&[path.to_str().unwrap(), "--json", "--password", "Password1"]);
    from_file.assert_no_panic();
    let j = from_file.json();
    assert_eq!(
        j["pass_stub_proof"], "3c9cae0bce7ab15c8aac01d676045edf3ffaf092e2de368a2017e68a0ded7c90",
        "{from_file}"
    );
    assert_eq!(
        j["connection_string1"]["addresses"][1]["host"],
        "winxpsp3.contoso3.com"
    );

    let mut child = Command::new(RANAT)
        .args([
            "ticket",
            "inspect",
            "-",
            "--json",
            "--password",
            "Password1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&utf16).unwrap();
    let piped = child.wait_with_output().unwrap();
    let piped: Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(piped, j);
}

#[test]
fn broken_files_get_a_clear_error() {
    let dir = TempDir::new("ticket-broken");
    let type2 = std::fs::read(data("freerdp-type2.msrcincident")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "not well-formed"),
        ("truncated", type2[..600].to_vec(), "not well-formed"),
        ("binary", vec![0xFF, 0x00, 0xD8, 0x00, 0xDC], "not text"),
        (
            "huge",
            vec![b'<'; 2 << 20],
            "no Remote Assistance ticket is that large",
        ),
        (
            "wrong type",
            br#"<UPLOADINFO TYPE="Bug"><UPLOADDATA RCTICKET="x"/></UPLOADINFO>"#.to_vec(),
            "TYPE is \"Bug\"",
        ),
        (
            "odd hex",
            br#"<UPLOADINFO TYPE="Escalated"><UPLOADDATA LHTICKET="ABC"/></UPLOADINFO>"#.to_vec(),
            "odd number of hex digits",
        ),
        (
            "html",
            b"<html><body/></html>".to_vec(),
            "root element is <html>",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = inspect(&[path.to_str().unwrap()]);
        out.assert_no_panic();
        assert_eq!(out.code, Some(1), "{name}: {out}");
        assert!(out.stderr.contains(expected), "{name}: {out}");
        assert!(out.stdout.is_empty(), "{name}: {out}");
    }
    let out = inspect(&["/nonexistent/ticket.msrcincident"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("cannot read"), "{out}");
}

/// An invitation valid now, offering `localhost` at `ports` (names are
/// looked up and tried, as RCTICKET's computer names are), a loopback
/// and a link-local address (never tried).
fn live_ticket(dir: &TempDir, ports: &[u16]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let list: String = ports.iter().map(|p| format!("localhost:{p};")).collect();
    let text = format!(
        r#"<?xml version="1.0"?><UPLOADINFO TYPE="Escalated"><UPLOADDATA USERNAME="novice" RCTICKET="65538,1,{list}127.0.110.9:3389;[fe80::1%2]:3389,*,id,*,*,kh" DtStart="{now}" DtLength="60" L="0"/></UPLOADINFO>"#
    );
    let path = dir.path().join("live.msrcincident");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn reach_connects_to_what_listens_and_says_why_not_for_the_rest() {
    let dir = TempDir::new("ticket-reach");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = closed_port("127.0.0.1".parse().unwrap());
    let file = live_ticket(&dir, &[closed, open]);

    let out = inspect(&[
        &file,
        "--json",
        "--reach",
        "--no-probe",
        "--reach-timeout",
        "2",
    ]);
    out.assert_no_panic();
    assert_eq!(out.code, Some(0), "{out}");
    let j = out.json();
    assert_eq!(j["expired"], false, "{out}");
    assert_eq!(j["reach"]["verdict"], "connects", "{out}");
    assert_eq!(
        j["reach"]["usable"],
        serde_json::json!([format!("localhost:{open}")])
    );
    let e = &j["endpoints"];
    assert_eq!(e[0]["reach"]["outcome"]["result"], "refused", "{out}");
    assert_eq!(e[1]["reach"]["outcome"]["result"], "connected", "{out}");
    assert_eq!(
        e[2]["reach"]["outcome"],
        Value::Null,
        "loopback is not tried:\n{out}"
    );
    assert_eq!(
        e[3]["reach"]["outcome"],
        Value::Null,
        "link-local is not tried:\n{out}"
    );
    assert!(out.elapsed < Duration::from_secs(5), "{out}");

    // The table says the same in words, and with the listener gone the
    // verdict turns.
    drop(listener);
    let server = RanatServer::start(lo4(110, 1), Some(lo4(110, 2)));
    let out = inspect(&[
        &file,
        "--reach",
        "--reach-timeout",
        "2",
        "-4",
        "--no-portmap",
        "--no-teredo",
        "--server",
        &server.arg(),
    ]);
    out.assert_no_panic();
    assert_eq!(out.code, Some(51), "{out}");
    assert!(out.stdout.contains("would not connect from here"), "{out}");
    assert!(out.stdout.contains("| refused: "), "{out}");
    assert!(out.stdout.contains("| not tried: link-local"), "{out}");

    let out = inspect(&[
        &file,
        "--json",
        "--reach",
        "-4",
        "--no-portmap",
        "--no-teredo",
        "--server",
        &server.arg(),
    ]);
    let j = out.json();
    assert_eq!(
        j["reach"]["this_machine"]["ipv4"], "ok",
        "the probe ran:\n{out}"
    );
    assert_eq!(j["reach"]["this_machine"]["teredo"], "skipped", "{out}");
}
