//! A hostile "gateway" on the LAN against `ranat probe`'s UPnP check:
//! bodies that never end, answers that drip a byte at a time, redirects
//! back to themselves, and SSDP floods of junk and decoys. The probe must
//! finish within its bounds, stay small, say what went wrong, and leave no
//! mapping behind.
//!
//! Addresses: this file uses 127.0.42.0/24: the fake of test k on .k, its
//! `ranat serve` on .(100+k) and .(150+k).

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::igd::{FakeIgd, Hostile, Reply, Script};
use common::*;
use serde_json::Value;

/// The probe's own bounds: a 2 s search and 2 s per SOAP request, a few
/// requests; this is a hang guard well above them.
const PROBE_LIMIT: Duration = Duration::from_secs(40);

/// Far above a probe's usual resident size (about 20 MiB), far below what
/// reading a hostile body whole would take.
const PEAK_LIMIT_KIB: u64 = 96 * 1024;

/// `ranat probe` against the fake on 127.0.42.`k`: its output, and its
/// peak resident memory (VmHWM) in KiB, read while it ran.
fn probe_against(k: u8, script: Script) -> (Output, u64, FakeIgd) {
    let igd = FakeIgd::start(lo4(42, k), script);
    let server = RanatServer::start(lo4(42, 100 + k), Some(lo4(42, 150 + k)));
    let mut cmd = Command::new(RANAT);
    cmd.args(["probe", "-4", "--json", "--no-hairpin", "--no-teredo"])
        .args(["-s", &server.arg(), "--gateway", &igd.ip.to_string()])
        .env_remove("RANAT_SERVERS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run ranat probe");
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut peak = 0;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > PROBE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = Output {
        code: status.and_then(|s| s.code()),
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    };
    assert!(
        status.is_some(),
        "the probe hung past {PROBE_LIMIT:?}:\n{output}"
    );
    output.assert_no_panic();
    drop(server);
    (output, peak, igd)
}

fn upnp(out: &Output) -> Value {
    out.json()["port_mapping"]["upnp"].clone()
}

/// Every mapping the probe asked for was also deleted.
fn assert_nothing_left(igd: &FakeIgd, out: &Output) {
    let adds = igd.calls("AddPortMapping");
    let deletes = igd.calls("DeletePortMapping");
    for add in &adds {
        assert!(
            deletes.iter().any(|d| d.port() == add.port()),
            "port {} was asked for and never deleted:\n{out}\n{:#?}",
            add.port(),
            *igd.log()
        );
    }
}

/// Checks the probe stayed within `within` and the memory bound, and
/// records the figures as a table row for `scripts/bench-abuse.sh`.
fn assert_bounded(what: &str, k: u8, out: &Output, peak: u64, within: Duration) {
    let status = out.json()["port_mapping"]["upnp"]["status"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let row = format!(
        "| {what} | {:.1} s | {:.1} MiB | {status} |\n",
        out.elapsed.as_secs_f64(),
        peak as f64 / 1024.0
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).expect("target tmp dir");
    std::fs::write(dir.join(format!("abuse-gateway-{k:02}.md")), row).expect("figures");
    assert!(out.elapsed < within, "took {:?}:\n{out}", out.elapsed);
    assert!(
        peak > 0 && peak < PEAK_LIMIT_KIB,
        "peak memory {peak} KiB:\n{out}"
    );
    assert_eq!(out.code, Some(0), "{out}");
}

fn soap(reply: Reply) -> Script {
    Script {
        add: vec![reply],
        ..Script::default()
    }
}

/// The probe against a gateway that answers AddPortMapping with `kind`:
/// bounded, a failure whose detail says `detail`, one request (no loop),
/// and its possible mapping deleted.
fn hostile_add(k: u8, kind: Hostile, detail: &str) {
    let (out, peak, igd) = probe_against(k, soap(Reply::Hostile(kind)));
    let what = format!("AddPortMapping: {}", kind.words());
    assert_bounded(&what, k, &out, peak, Duration::from_secs(15));
    let u = upnp(&out);
    assert_eq!(u["status"], "failed", "{out}");
    assert!(
        u["detail"].as_str().is_some_and(|d| d.contains(detail)),
        "{out}"
    );
    assert_eq!(igd.calls("AddPortMapping").len(), 1, "one request, no loop");
    assert_nothing_left(&igd, &out);
    assert_eq!(igd.calls("DeletePortMapping").len(), 1, "{out}");
}

#[test]
fn an_endless_soap_answer_is_cut_off_and_the_mapping_still_deleted() {
    hostile_add(1, Hostile::Endless, "AddPortMapping");
}

#[test]
fn a_soap_answer_that_drips_times_out_and_the_mapping_is_deleted() {
    hostile_add(2, Hostile::Drip, "no answer within");
}

#[test]
fn a_soap_redirect_loop_is_not_followed() {
    hostile_add(3, Hostile::RedirectLoop, "AddPortMapping");
}

#[test]
fn every_hostile_external_address_answer_leaves_the_probe_bounded() {
    for (k, kind) in [
        (4, Hostile::Endless),
        (5, Hostile::Drip),
        (6, Hostile::RedirectLoop),
    ] {
        let script = Script {
            get_external_ip: Reply::Hostile(kind),
            status_info: Reply::Hostile(kind),
            ..Script::default()
        };
        let (out, peak, igd) = probe_against(k, script);
        let what = format!("GetExternalIPAddress and GetStatusInfo: {}", kind.words());
        assert_bounded(&what, k, &out, peak, Duration::from_secs(20));
        let u = upnp(&out);
        assert_eq!(u["external_address"], Value::Null, "{kind:?}: {out}");
        assert_nothing_left(&igd, &out);
    }
}

#[test]
fn a_hostile_device_description_means_no_gateway_quickly() {
    for (k, kind) in [
        (7, Hostile::Endless),
        (8, Hostile::Drip),
        (9, Hostile::RedirectLoop),
    ] {
        let script = Script {
            description: Some(kind),
            ..Script::default()
        };
        let (out, peak, igd) = probe_against(k, script);
        let what = format!("the device description: {}", kind.words());
        assert_bounded(&what, k, &out, peak, Duration::from_secs(15));
        let u = upnp(&out);
        assert_eq!(u["status"], "not_found", "{kind:?}: {out}");
        assert!(igd.calls("AddPortMapping").is_empty(), "{kind:?}: {out}");
        assert!(
            igd.log().gets.len() <= 3,
            "{kind:?}: the description was fetched {} times",
            igd.log().gets.len()
        );
    }
}

#[test]
fn an_ssdp_flood_of_junk_and_decoys_leaves_the_probe_bounded_and_clean() {
    let script = Script {
        ssdp_flood: 500,
        ..Script::default()
    };
    let (out, peak, igd) = probe_against(10, script);
    assert_bounded(
        "SSDP: 500 junk datagrams and 500 decoys before the answer",
        10,
        &out,
        peak,
        Duration::from_secs(20),
    );
    let u = upnp(&out);
    let status = u["status"].as_str().unwrap_or_default();
    assert!(
        ["works", "unverified", "not_found", "failed"].contains(&status),
        "{status}: {out}"
    );
    assert_nothing_left(&igd, &out);
}
