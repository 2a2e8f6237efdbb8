//! The UPnP IGD check of `ranat probe` against a fake Internet Gateway
//! Device (tests/common/igd.rs): unicast SSDP discovery (`--gateway`), the
//! test mapping's life (add, end-to-end test through a real `ranat serve`,
//! delete), the retries on 718 and 725, refusals, broken devices, the NAT
//! layer assessment from the external address, and Ctrl-C.
//!
//! Addresses: this file uses 127.0.41.0/24: the fake of test k on .k, its
//! `ranat serve` on .(100+k) and .(150+k). On loopback there is no NAT, so
//! the server's RESPONSE-PORT answer reaches the mapped socket exactly when
//! the external port equals the internal one.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use common::igd::{Call, Device, FakeIgd, Reply, Script};
use common::*;
use serde_json::Value;

/// Far above what a probe on loopback needs; only a hang guard.
const PROBE_LIMIT: Duration = Duration::from_secs(30);
const EXTERNAL: &str = "203.0.113.7";

struct Bed {
    igd: FakeIgd,
    server: RanatServer,
}

fn bed(k: u8, script: Script) -> Bed {
    Bed {
        igd: FakeIgd::start(lo4(41, k), script),
        server: RanatServer::start(lo4(41, 100 + k), Some(lo4(41, 150 + k))),
    }
}

fn script(add: &[Reply]) -> Script {
    Script {
        add: add.to_vec(),
        ..Script::default()
    }
}

impl Bed {
    /// `ranat probe -4 --json --no-hairpin -s <serve> --gateway <fake>`
    /// (`probe` adds `--no-teredo`).
    fn probe(&self) -> Output {
        let args = format!(
            "-4 --json --no-hairpin -s {} --gateway {}",
            self.server.arg(),
            self.igd.ip
        );
        let out = probe(&args.split(' ').collect::<Vec<_>>(), PROBE_LIMIT);
        out.assert_no_panic();
        out
    }

    fn adds(&self) -> Vec<Call> {
        self.igd.calls("AddPortMapping")
    }

    fn deletes(&self) -> Vec<Call> {
        self.igd.calls("DeletePortMapping")
    }

    /// The fake's log, for assertion messages.
    fn seen(&self) -> String {
        format!("{:#?}", *self.igd.log())
    }
}

fn upnp(j: &Value) -> &Value {
    &j["port_mapping"]["upnp"]
}

fn addr(v: &Value) -> SocketAddr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{v} is not ip:port"))
}

/// The mapping the fake was asked for matches the socket the report names:
/// UDP, to `internal`, at `external_port`, for `lease` seconds.
fn assert_add(call: &Call, internal: SocketAddr, external_port: u16, lease: &str) {
    assert_eq!(call.arg("NewProtocol"), "UDP", "{call:?}");
    assert_eq!(call.port(), external_port, "{call:?}");
    assert_eq!(call.arg("NewInternalClient"), internal.ip().to_string());
    assert_eq!(call.arg("NewInternalPort"), internal.port().to_string());
    assert_eq!(call.arg("NewLeaseDuration"), lease, "{call:?}");
    assert_eq!(call.arg("NewEnabled"), "1", "{call:?}");
}

fn assert_delete(call: &Call, external_port: u16) {
    assert_eq!(call.arg("NewProtocol"), "UDP", "{call:?}");
    assert_eq!(call.port(), external_port, "{call:?}");
}

#[test]
fn a_working_igd_gets_a_mapping_proven_end_to_end_and_deleted() {
    let bed = bed(1, Script::default());
    let out = bed.probe();
    let seen = bed.seen();
    // UPnP does not change the verdict: the STUN probe's is "traversal friendly".
    assert_eq!(out.code, Some(0), "{out}");
    let j = out.json();
    let u = upnp(&j);
    assert_eq!(u["status"], "works", "{out}\n{seen}");
    assert_eq!(j["port_mapping"]["gateway"], bed.igd.ip.to_string());
    assert_eq!(u["device"]["address"], bed.igd.http.to_string(), "{out}");
    assert_eq!(u["device"]["description_path"], "/rootDesc.xml", "{out}");
    assert_eq!(u["device"]["service"], "WANIPConnection:1", "{out}");
    assert_eq!(u["external_address"], EXTERNAL, "{out}");
    assert_eq!(u["connection_status"], "Connected", "{out}");
    assert_eq!(u["error_code"], Value::Null, "{out}");
    let m = &u["mapping"];
    let (internal, external) = (addr(&m["internal"]), addr(&m["external"]));
    assert!(internal.ip().is_loopback(), "{out}");
    assert_eq!(
        external,
        SocketAddr::new(EXTERNAL.parse().unwrap(), internal.port())
    );
    assert_eq!(m["lease_seconds"], 60, "{out}");
    assert_eq!(m["conflicts"], 0, "{out}");
    assert_eq!(m["verification"]["result"], "reached", "{out}");
    assert_eq!(m["verification"]["server"], bed.server.arg(), "{out}");
    assert_eq!(m["deleted"], true, "{out}");
    assert_eq!(m["delete_error"], Value::Null, "{out}");

    let (adds, deletes) = (bed.adds(), bed.deletes());
    assert_eq!(adds.len(), 1, "{seen}");
    assert_add(&adds[0], internal, internal.port(), "60");
    assert_eq!(deletes.len(), 1, "{seen}");
    assert_delete(&deletes[0], internal.port());
    let log = bed.igd.log();
    let order: Vec<&str> = log.calls.iter().map(|c| c.action.as_str()).collect();
    let at = |a: &str| order.iter().position(|x| *x == a);
    assert!(at("AddPortMapping") < at("DeletePortMapping"), "{order:?}");
    assert!(!log.searches.is_empty(), "no M-SEARCH reached the fake");
    assert!(log.gets.contains(&"/WANIPCn.xml".to_string()), "{seen}");
}

#[test]
fn a_port_conflict_is_retried_on_another_port_and_that_one_is_deleted() {
    let bed = bed(2, script(&[Reply::Fault(718), Reply::Ok]));
    let out = bed.probe();
    let seen = bed.seen();
    let j = out.json();
    let u = upnp(&j);
    let m = &u["mapping"];
    let (internal, external) = (addr(&m["internal"]), addr(&m["external"]));
    let adds = bed.adds();
    assert_eq!(adds.len(), 2, "{out}\n{seen}");
    assert_add(&adds[0], internal, internal.port(), "60");
    let retry = adds[1].port();
    assert_ne!(retry, internal.port(), "{seen}");
    assert_add(&adds[1], internal, retry, "60");
    assert_eq!(external.port(), retry, "{out}");
    assert_eq!(m["conflicts"], 1, "{out}");
    // The answer to the other port has no NAT to carry it to our socket.
    assert_eq!(m["verification"]["result"], "not_reached", "{out}");
    assert_eq!(u["status"], "unreachable", "{out}");
    assert_eq!(m["deleted"], true, "{out}");
    let deletes = bed.deletes();
    assert_eq!(deletes.len(), 1, "only the port actually mapped:\n{seen}");
    assert_delete(&deletes[0], retry);
    assert_eq!(out.code, Some(0), "{out}");
}

#[test]
fn a_router_with_permanent_leases_only_gets_lease_zero_and_still_a_deletion() {
    let bed = bed(3, script(&[Reply::PermanentOnly]));
    let out = bed.probe();
    let seen = bed.seen();
    let j = out.json();
    let u = upnp(&j);
    let m = &u["mapping"];
    let internal = addr(&m["internal"]);
    let adds = bed.adds();
    assert_eq!(adds.len(), 2, "{out}\n{seen}");
    assert_add(&adds[0], internal, internal.port(), "60");
    assert_add(&adds[1], internal, internal.port(), "0");
    assert_eq!(m["lease_seconds"], 0, "{out}");
    assert_eq!(m["conflicts"], 0, "{out}");
    assert_eq!(m["verification"]["result"], "reached", "{out}");
    assert_eq!(u["status"], "works", "{out}");
    assert!(u["detail"].as_str().unwrap_or("").contains("725"), "{out}");
    assert_eq!(m["deleted"], true, "{out}");
    let deletes = bed.deletes();
    assert_eq!(deletes.len(), 1, "{seen}");
    assert_delete(&deletes[0], internal.port());
}

#[test]
fn a_refusal_is_reported_with_its_code_and_leaves_the_exit_code_alone() {
    let bed = bed(4, script(&[Reply::Fault(606)]));
    let out = bed.probe();
    let seen = bed.seen();
    let j = out.json();
    let u = upnp(&j);
    assert_eq!(u["status"], "refused", "{out}\n{seen}");
    assert_eq!(u["error_code"], 606, "{out}");
    assert!(u["detail"].as_str().unwrap_or("").contains("606"), "{out}");
    assert_eq!(u["mapping"], Value::Null, "{out}");
    assert_eq!(u["external_address"], EXTERNAL, "{out}");
    assert_eq!(bed.adds().len(), 1, "{seen}");
    assert!(bed.deletes().is_empty(), "nothing was mapped:\n{seen}");
    // The exit code is the STUN verdict's, as without the UPnP check.
    let alone = probe(
        &["-4", "--json", "--no-hairpin", "-s", &bed.server.arg()],
        PROBE_LIMIT,
    );
    assert_eq!(j["verdict"], "traversal_friendly", "{out}");
    assert_eq!(out.code, alone.code, "{out}\n{alone}");
    assert_eq!(out.code, Some(0), "{out}");
}

/// A broken answer to AddPortMapping: a failure in words, no panic, no hang.
fn assert_clean_failure(bed: &Bed, out: &Output) {
    let j = out.json();
    let u = upnp(&j);
    let detail = u["detail"].as_str().unwrap_or("");
    assert_eq!(u["status"], "failed", "{out}\n{}", bed.seen());
    assert_eq!(u["error_code"], Value::Null, "{out}");
    assert_eq!(u["mapping"], Value::Null, "{out}");
    assert!(detail.contains("AddPortMapping"), "{out}");
    assert!(detail.contains("not a valid SOAP response"), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.elapsed < Duration::from_secs(10), "{out}");
    assert_eq!(bed.adds().len(), 1, "{}", bed.seen());
}

#[test]
fn a_truncated_soap_reply_is_a_clean_failure() {
    let bed = bed(5, script(&[Reply::Truncated]));
    let out = bed.probe();
    assert_clean_failure(&bed, &out);
}

#[test]
fn garbage_xml_from_every_action_is_a_clean_failure() {
    let bed = bed(
        6,
        Script {
            get_external_ip: Reply::Garbage,
            status_info: Reply::Garbage,
            add: vec![Reply::Garbage],
            ..Script::default()
        },
    );
    let out = bed.probe();
    assert_clean_failure(&bed, &out);
    let j = out.json();
    assert_eq!(upnp(&j)["external_address"], Value::Null, "{out}");
    assert_eq!(upnp(&j)["connection_status"], Value::Null, "{out}");
    assert_eq!(bed.igd.calls("GetStatusInfo").len(), 1, "{}", bed.seen());
}

/// A 200 whose body was cut off means the router took the request and
/// probably made the mapping: it must be deleted like after a timeout.
#[test]
fn a_mapping_whose_answer_was_cut_off_is_still_deleted() {
    let bed = bed(7, script(&[Reply::Truncated]));
    let out = bed.probe();
    let seen = bed.seen();
    let adds = bed.adds();
    assert_eq!(adds.len(), 1, "{out}\n{seen}");
    let deletes = bed.deletes();
    assert_eq!(
        deletes.len(),
        1,
        "the mapping of port {} may exist, yet no DeletePortMapping was sent:\n{out}\n{seen}",
        adds[0].port()
    );
    assert_delete(&deletes[0], adds[0].port());
}

#[test]
fn a_silent_add_times_out_and_is_undone() {
    let bed = bed(8, script(&[Reply::Silent]));
    let out = bed.probe();
    let seen = bed.seen();
    let j = out.json();
    let u = upnp(&j);
    assert_eq!(u["status"], "failed", "{out}\n{seen}");
    let detail = u["detail"].as_str().unwrap_or("");
    assert!(detail.contains("no answer within 2.0 s"), "{out}");
    let adds = bed.adds();
    assert_eq!(adds.len(), 1, "{seen}");
    let deletes = bed.deletes();
    assert_eq!(deletes.len(), 1, "{seen}");
    assert_delete(&deletes[0], adds[0].port());
    assert!(out.elapsed < Duration::from_secs(8), "{out}");
}

#[test]
fn a_upnp_device_without_a_wan_connection_is_not_found_quickly() {
    let bed = bed(
        9,
        Script {
            device: Device::NotIgd,
            ..Script::default()
        },
    );
    let out = bed.probe();
    let seen = bed.seen();
    let j = out.json();
    let u = upnp(&j);
    assert_eq!(u["status"], "not_found", "{out}\n{seen}");
    let detail = u["detail"].as_str().unwrap_or("");
    assert!(detail.contains("no UPnP Internet Gateway Device"), "{out}");
    assert_eq!(u["device"], Value::Null, "{out}");
    assert_eq!(u["mapping"], Value::Null, "{out}");
    // It was found and read, and turned down for what it offers.
    assert!(
        bed.igd.log().gets.contains(&"/rootDesc.xml".into()),
        "{seen}"
    );
    assert!(bed.igd.log().calls.is_empty(), "{seen}");
    assert!(out.elapsed < Duration::from_secs(5), "{out}");
    assert_eq!(out.code, Some(0), "{out}");
}

fn topology_with_external(k: u8, external: &str) -> (Output, Value) {
    let bed = bed(
        k,
        Script {
            external_ip: external.into(),
            ..Script::default()
        },
    );
    let out = bed.probe();
    let j = out.json();
    assert_eq!(
        upnp(&j)["external_address"],
        external,
        "{out}\n{}",
        bed.seen()
    );
    let topology = j["topology"].clone();
    let evidence = topology["evidence"].to_string();
    assert!(evidence.contains(external), "{out}");
    (out, topology)
}

#[test]
fn a_private_external_address_is_double_nat() {
    let (out, t) = topology_with_external(10, "192.168.1.1");
    assert_eq!(t["finding"], "double_nat", "{out}");
}

#[test]
fn a_shared_address_space_external_address_is_carrier_grade_nat() {
    let (out, t) = topology_with_external(11, "100.64.1.1");
    assert_eq!(t["finding"], "carrier_grade_nat_likely", "{out}");
}

#[test]
fn a_failed_deletion_is_reported_not_hidden() {
    let bed = bed(
        12,
        Script {
            delete: Reply::Fault(714),
            ..Script::default()
        },
    );
    let out = bed.probe();
    let j = out.json();
    let m = &upnp(&j)["mapping"];
    assert_eq!(m["deleted"], false, "{out}\n{}", bed.seen());
    assert!(
        m["delete_error"].as_str().unwrap_or("").contains("714"),
        "{out}"
    );
    assert_eq!(bed.deletes().len(), 1, "{}", bed.seen());
}

#[test]
fn ctrl_c_while_the_mapping_exists_removes_it_and_exits_130() {
    let k = 13;
    let igd = FakeIgd::start(lo4(41, k), Script::default());
    // A STUN "server" that never answers keeps the mapping's end-to-end
    // test (about 1.7 s) and the probe running.
    let silent = UdpSocket::bind((lo4(41, 100 + k), 0)).expect("bind a silent server");
    let server = silent.local_addr().expect("addr");
    let args = format!("-4 --json --no-hairpin -s {server} --gateway {}", igd.ip);
    let args: Vec<&str> = args.split(' ').collect();
    let mut cmd = Command::new(RANAT);
    cmd.arg("probe").args(&args).args(offline_flags(&args));
    cmd.env_remove("RANAT_SERVERS");
    let mut probe = Daemon::spawn("ranat probe", &mut cmd);
    let add = igd
        .wait_for("AddPortMapping", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no AddPortMapping: {}", probe.stderr()));
    // Let the answer arrive: the mapping now exists and is being tested.
    std::thread::sleep(Duration::from_millis(300));
    assert!(probe.exited().is_none(), "the probe ended early");
    let pid = probe.pid().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -INT {pid} failed");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = probe.exit_by(deadline, "the probe ignored SIGINT");
    // The readers drain the pipes after the exit.
    std::thread::sleep(Duration::from_millis(200));
    let (stdout, stderr) = (probe.stdout(), probe.stderr());
    let seen = format!("{:#?}", *igd.log());
    assert_eq!(status.code(), Some(130), "{stderr}");
    let removed = format!("removed the UPnP mapping of UDP port {}", add.port());
    assert!(stderr.contains(&removed), "{stderr}\n{seen}");
    assert!(stdout.trim().is_empty(), "no report after Ctrl-C: {stdout}");
    let deletes = igd.calls("DeletePortMapping");
    assert_eq!(deletes.len(), 1, "{seen}");
    assert_delete(&deletes[0], add.port());
    drop(silent);
}
