//! `ranat serve` on several hosts sharing one room store: the rendezvous's
//! rules hold the same with the rooms in memory on one host and in a real
//! `redis-server` shared by two `ranat serve` processes on different
//! loopback addresses (the helper on one, the novice on the other); live
//! trials meet across the two hosts; Redis killed and restarted midway.
//!
//! Addresses: this file uses 127.0.120.0/24.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::frames::*;
use common::*;
use serde_json::{Value, json};

/// Where a test's helper and novice go.
struct Deployment {
    /// The helper's host.
    a: RanatServer,
    /// The novice's host: another process sharing Redis, or `a` itself.
    b: Option<RanatServer>,
    redis: Option<RedisServer>,
}

impl Deployment {
    /// One `ranat serve`, its rooms in memory, on 127.0.120.`host`.
    fn alone(host: u8) -> Self {
        Self {
            a: RanatServer::start(lo4(120, host), None),
            b: None,
            redis: None,
        }
    }

    /// Two `ranat serve` on 127.0.120.`host` and `host + 1` sharing a
    /// redis-server on `host + 2`; `None` if redis-server is missing.
    fn shared(host: u8, extra: &[&str]) -> Option<Self> {
        let redis = RedisServer::start(lo4(120, host + 2))?;
        let url = redis.url();
        let mut args = vec!["--store", url.as_str()];
        args.extend(extra);
        Some(Self {
            a: RanatServer::start_with(lo4(120, host), None, &args),
            b: Some(RanatServer::start_with(lo4(120, host + 1), None, &args)),
            redis: Some(redis),
        })
    }

    fn helper_host(&self) -> SocketAddr {
        self.a.rendezvous
    }

    fn novice_host(&self) -> SocketAddr {
        self.b.as_ref().unwrap_or(&self.a).rendezvous
    }
}

/// Runs `rules` on one host alone, then on two hosts sharing Redis.
fn on_both(host: u8, rules: impl Fn(&Deployment)) {
    rules(&Deployment::alone(host));
    match Deployment::shared(host + 1, &[]) {
        Some(shared) => rules(&shared),
        None => skip("the shared-store half: redis-server not installed"),
    }
}

/// A connection to `addr` from 127.0.120.200, every test client's
/// address: the per-source limits see one source whichever host it
/// reaches.
fn connect(addr: SocketAddr) -> TcpStream {
    assert_loopback(addr);
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    socket
        .bind(&SocketAddr::new(lo4(120, 200), 0).into())
        .expect("bind the client's address");
    socket
        .connect(&addr.into())
        .expect("connect to the rendezvous");
    let stream = TcpStream::from(socket);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    stream
}

fn hello(code: Option<&str>) -> Value {
    json!({"type": "hello", "version": 2, "code": code})
}

/// A helper's room on `addr`: the connection and the code.
fn room(addr: SocketAddr) -> (TcpStream, String) {
    let mut helper = connect(addr);
    send_frame(&mut helper, hello(None));
    let welcome = read_frame(&mut helper).expect("a welcome");
    assert_eq!(welcome["role"], "helper", "{welcome}");
    let code = welcome["code"].as_str().expect("a code").to_string();
    (helper, code)
}

/// A novice joins `code` on `addr`; the helper hears of it.
fn join(addr: SocketAddr, helper: &mut TcpStream, code: &str) -> TcpStream {
    let mut novice = connect(addr);
    send_frame(&mut novice, hello(Some(code)));
    let welcome = read_frame(&mut novice).expect("a welcome");
    assert_eq!(welcome["role"], "novice", "{welcome}");
    assert_eq!(welcome["code"], code, "{welcome}");
    assert_eq!(read_frame(helper), Some(json!({"type": "peer_joined"})));
    novice
}

fn pake(tag: u8) -> Value {
    json!({"type": "pake", "message": STANDARD.encode([tag; 33])})
}

fn sealed(text: &str, last: bool) -> Value {
    json!({"type": "sealed", "sealed": STANDARD.encode(text), "last": last})
}

fn peer_sealed(text: &str, last: bool) -> Value {
    json!({"type": "peer_sealed", "sealed": STANDARD.encode(text), "last": last})
}

/// Both members' PAKE messages, each passed on with where the server saw
/// its sender come from.
fn swap_pake(helper: &mut TcpStream, novice: &mut TcpStream) {
    send_frame(helper, pake(b'h'));
    let heard = read_frame(novice).expect("the helper's PAKE");
    assert_eq!(heard["type"], "peer_pake", "{heard}");
    let observed = helper.local_addr().expect("local").to_string();
    assert_eq!(heard["observed"], observed.as_str(), "{heard}");
    send_frame(novice, pake(b'n'));
    let heard = read_frame(helper).expect("the novice's PAKE");
    let observed = novice.local_addr().expect("local").to_string();
    assert_eq!(
        heard["observed"],
        observed.as_str(),
        "the novice is seen at its own address, not its host's: {heard}"
    );
}

#[test]
fn members_swap_every_message_in_order_and_a_used_code_is_gone() {
    on_both(1, |d| {
        let (mut helper, code) = room(d.helper_host());
        let mut novice = join(d.novice_host(), &mut helper, &code);
        swap_pake(&mut helper, &mut novice);
        for k in 0..5 {
            send_frame(&mut helper, sealed(&format!("h{k}"), k == 4));
        }
        for k in 0..3 {
            send_frame(&mut novice, sealed(&format!("n{k}"), k == 2));
        }
        for k in 0..5 {
            assert_eq!(
                read_frame(&mut novice),
                Some(peer_sealed(&format!("h{k}"), k == 4))
            );
        }
        for k in 0..3 {
            assert_eq!(
                read_frame(&mut helper),
                Some(peer_sealed(&format!("n{k}"), k == 2))
            );
        }
        assert!(closed_by_server(&mut helper) && closed_by_server(&mut novice));
        for host in [d.helper_host(), d.novice_host()] {
            let mut late = connect(host);
            send_frame(&mut late, hello(Some(&code)));
            assert_refused(&mut late, "unknown_code");
        }
    });
}

#[test]
fn a_room_takes_two_members_and_an_unknown_code_is_refused() {
    on_both(10, |d| {
        let (mut helper, code) = room(d.helper_host());
        let mut novice = join(d.novice_host(), &mut helper, &code);
        for host in [d.helper_host(), d.novice_host()] {
            let mut third = connect(host);
            send_frame(&mut third, hello(Some(&code)));
            assert_refused(&mut third, "code_in_use");
        }
        let unused = ["222", "333", "444"]
            .into_iter()
            .find(|c| *c != code)
            .expect("another code");
        let mut stranger = connect(d.novice_host());
        send_frame(&mut stranger, hello(Some(unused)));
        assert_refused(&mut stranger, "unknown_code");
        // The pair is unharmed.
        swap_pake(&mut helper, &mut novice);
    });
}

#[test]
fn three_wrong_codes_close_the_room_whichever_host_the_novices_reach() {
    on_both(20, |d| {
        let (mut helper, code) = room(d.helper_host());
        let hosts = [d.novice_host(), d.helper_host(), d.novice_host()];
        for (k, host) in hosts.into_iter().enumerate() {
            let mut novice = join(host, &mut helper, &code);
            swap_pake(&mut helper, &mut novice);
            send_frame(&mut novice, json!({"type": "confirmation_failed"}));
            assert_refused(&mut novice, "wrong_code");
            if k < 2 {
                let left = 2 - k;
                assert_eq!(
                    read_frame(&mut helper),
                    Some(json!({"type": "peer_failed", "attempts_left": left}))
                );
            }
        }
        assert_refused(&mut helper, "too_many_attempts");
    });
}

#[test]
fn a_room_expires_for_both_members_and_its_code_with_it() {
    on_both(30, |d| {
        let mut helper = connect(d.helper_host());
        send_frame(
            &mut helper,
            json!({"type": "hello", "version": 2, "code": null, "lifetime_secs": 1}),
        );
        let welcome = read_frame(&mut helper).expect("a welcome");
        let code = welcome["code"].as_str().expect("a code").to_string();
        let mut novice = join(d.novice_host(), &mut helper, &code);
        assert_refused(&mut novice, "expired");
        assert_refused(&mut helper, "expired");
        let mut late = connect(d.novice_host());
        send_frame(&mut late, hello(Some(&code)));
        assert_refused(&mut late, "unknown_code");
    });
}

#[test]
fn the_per_source_limits_count_across_hosts() {
    on_both(40, |d| {
        // The default join burst is 20: the hosts share it.
        let hosts = [d.helper_host(), d.novice_host()];
        for k in 0..20 {
            let mut guess = connect(hosts[k % 2]);
            send_frame(&mut guess, hello(Some("ZZZ")));
            assert_refused(&mut guess, "unknown_code");
        }
        for host in hosts {
            let mut guess = connect(host);
            send_frame(&mut guess, hello(Some("ZZZ")));
            assert_refused(&mut guess, "too_many_requests");
        }
    });
}

#[test]
fn codes_are_unique_across_hosts() {
    on_both(50, |d| {
        let hosts = [d.helper_host(), d.novice_host()];
        let rooms: Vec<(TcpStream, String)> = (0..20).map(|k| room(hosts[k % 2])).collect();
        let codes: std::collections::HashSet<&String> = rooms.iter().map(|(_, c)| c).collect();
        assert_eq!(codes.len(), rooms.len(), "{codes:?}");
    });
}

/// Sends `hello` to `addr` until the answer is not StoreUnavailable, or
/// fails the test after `limit`: the connection and that answer.
fn once_the_store_is_back(addr: SocketAddr, hello: &Value, limit: Duration) -> (TcpStream, Value) {
    let deadline = Instant::now() + limit;
    loop {
        let mut client = connect(addr);
        send_frame(&mut client, hello.clone());
        let answer = read_frame(&mut client).expect("an answer");
        if answer != json!({"type": "error", "error": "store_unavailable"}) {
            return (client, answer);
        }
        assert!(Instant::now() < deadline, "{addr} never took rooms again");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn losing_redis_refuses_new_rooms_finishes_paired_ones_and_recovers_by_itself() {
    let Some(mut d) = Deployment::shared(60, &[]) else {
        return;
    };
    let (mut helper, code) = room(d.helper_host());
    let mut novice = join(d.novice_host(), &mut helper, &code);
    swap_pake(&mut helper, &mut novice);
    let (mut waiting, waiting_code) = room(d.helper_host());
    d.redis.as_mut().expect("redis").kill();
    // The paired room finishes without Redis.
    send_frame(&mut helper, sealed("h", true));
    send_frame(&mut novice, sealed("n", true));
    assert_eq!(read_frame(&mut novice), Some(peer_sealed("h", true)));
    assert_eq!(read_frame(&mut helper), Some(peer_sealed("n", true)));
    assert!(closed_by_server(&mut helper) && closed_by_server(&mut novice));
    // New rooms and joins are refused, saying why, on both hosts.
    for host in [d.helper_host(), d.novice_host()] {
        let mut refused = connect(host);
        send_frame(&mut refused, hello(None));
        assert_refused(&mut refused, "store_unavailable");
        let mut refused = connect(host);
        send_frame(&mut refused, hello(Some(&code)));
        assert_refused(&mut refused, "store_unavailable");
    }
    let log = d.a.daemon.stderr();
    assert!(
        log.contains("is unreachable") && log.contains("new rooms are refused"),
        "{log}"
    );
    // Back by itself once Redis is, on both hosts.
    d.redis.as_mut().expect("redis").restart();
    let limit = Duration::from_secs(15);
    let (mut helper, welcome) = once_the_store_is_back(d.helper_host(), &hello(None), limit);
    assert_eq!(welcome["role"], "helper", "{welcome}");
    let code = welcome["code"].as_str().expect("a code");
    let (_novice, welcome) = once_the_store_is_back(d.novice_host(), &hello(Some(code)), limit);
    assert_eq!(welcome["role"], "novice", "{welcome}");
    assert_eq!(
        read_frame(&mut helper),
        Some(json!({"type": "peer_joined"}))
    );
    // The room made before Redis was lost is known again: its host claimed
    // its code back, and its novice is carried there from the other host.
    let deadline = Instant::now() + limit;
    let _late_novice = loop {
        let mut novice = connect(d.novice_host());
        send_frame(&mut novice, hello(Some(&waiting_code)));
        let answer = read_frame(&mut novice).expect("an answer");
        if answer["type"] == "welcome" {
            break novice;
        }
        assert_eq!(answer, json!({"type": "error", "error": "unknown_code"}));
        assert!(
            Instant::now() < deadline,
            "the waiting room's code never came back"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        read_frame(&mut waiting),
        Some(json!({"type": "peer_joined"}))
    );
    let log = d.a.daemon.stderr();
    assert!(log.contains("reachable again"), "{log}");
    let (status, stderr) = d.a.daemon.terminate();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A live trial: the helper meets through `helper_via`, the novice
/// through `novice_via`; both STUN against `stun`.
fn trial(
    helper_via: SocketAddr,
    novice_via: SocketAddr,
    stun: SocketAddr,
    novice_args: &[&str],
) -> (Output, Output) {
    const LIMIT: Duration = Duration::from_secs(40);
    let (helper_via, novice_via, stun) = (
        helper_via.to_string(),
        novice_via.to_string(),
        stun.to_string(),
    );
    let common = |via: &str| {
        let mut cmd = Command::new(RANAT);
        cmd.args(["trial", "--via", via, "--json", "-4", "--server", &stun])
            .args(["--pings", "5", "--transfer", "16384"])
            .args(offline_flags(&[]));
        cmd
    };
    let started = Instant::now();
    let mut helper = Daemon::spawn("the helper's trial", &mut common(&helper_via));
    let code = helper.easy_connect_code(started, LIMIT);
    let mut novice = common(&novice_via);
    novice
        .args(["--code", &code, "--auto-approve"])
        .args(novice_args);
    let novice = run(&mut novice, LIMIT);
    let status = helper.exit_by(started + LIMIT * 2, "the helper's trial did not end");
    let helper = helper.output(status, started.elapsed());
    helper.assert_no_panic();
    novice.assert_no_panic();
    (helper, novice)
}

#[test]
fn a_trial_meets_across_two_hosts_and_relays_through_the_helpers_host() {
    let dir = TempDir::new("hosts-trial");
    let secret = dir.path().join("relay-secret");
    std::fs::write(&secret, "one secret for every host\n").expect("write the secret");
    let secret = secret.to_string_lossy().into_owned();
    let relay = [
        "--relay-secret-file",
        secret.as_str(),
        "--relay-allow",
        "127.0.0.0/8",
    ];
    let Some(d) = Deployment::shared(70, &relay) else {
        return;
    };
    let b = d.b.as_ref().expect("two hosts");
    let (helper, novice) = trial(d.helper_host(), d.novice_host(), b.primary, &[]);
    assert_eq!(helper.code, Some(0), "{helper}");
    assert_eq!(novice.code, Some(0), "{novice}");
    assert_eq!(helper.json()["outcome"], novice.json()["outcome"]);
    // Relayed: the allocation is on the host that holds the room (the
    // helper's), and the novice, which met through the other host, uses
    // it with credentials from the same shared secret.
    let (helper, novice) = trial(
        d.helper_host(),
        d.novice_host(),
        b.primary,
        &["--relay-only"],
    );
    assert_eq!(helper.code, Some(40), "{helper}");
    assert_eq!(novice.code, Some(40), "{novice}");
    for doc in [helper.json(), novice.json()] {
        assert_eq!(doc["outcome"], "relayed", "{doc}");
        assert_eq!(
            doc["path"]["relay"]["server"],
            d.a.primary.to_string(),
            "{doc}"
        );
    }
    let stderr = b.daemon.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_check_via_meets_across_two_hosts() {
    let Some(d) = Deployment::shared(80, &[]) else {
        return;
    };
    let stun = d.a.arg();
    let (helper_via, novice_via) = (d.helper_host().to_string(), d.novice_host().to_string());
    let mut helper = Command::new(RANAT);
    helper
        .args([
            "check",
            "--via",
            &helper_via,
            "--json",
            "-4",
            "--server",
            &stun,
        ])
        .args(offline_flags(&[]));
    let mut helper = Daemon::spawn("the helper's check", &mut helper);
    let started = Instant::now();
    let code = helper.easy_connect_code(started, Duration::from_secs(30));
    let mut novice = Command::new(RANAT);
    novice
        .args(["check", "--via", &novice_via, "--code", &code])
        .args(["--json", "-4", "--server", &stun])
        .args(offline_flags(&[]));
    let novice = run(&mut novice, Duration::from_secs(40));
    assert_eq!(novice.code, Some(0), "{novice}");
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = helper.exit_by(deadline, "the helper's check did not end");
    assert_eq!(status.code(), Some(0), "{}", helper.stderr());
    let doc: Value = serde_json::from_str(&helper.stdout()).expect("one JSON document");
    let live = novice.json();
    assert_eq!(doc["schema_version"], live["schema_version"]);
}

#[test]
fn relay_credentials_from_one_hosts_room_verify_on_the_others_relay() {
    let dir = TempDir::new("hosts-relay");
    let secret = dir.path().join("relay-secret");
    std::fs::write(&secret, "one secret for every host\n").expect("write the secret");
    let secret = secret.to_string_lossy().into_owned();
    let relay = ["--relay-secret-file", secret.as_str()];
    let Some(d) = Deployment::shared(90, &relay) else {
        return;
    };
    let (mut helper, code) = room(d.helper_host());
    let mut novice = join(d.novice_host(), &mut helper, &code);
    send_frame(&mut helper, pake(b'h'));
    let heard = read_frame(&mut novice).expect("the helper's PAKE");
    let grant = &heard["relay"];
    assert_eq!(
        grant["address"],
        d.a.primary.to_string(),
        "the room's host offers its own relay: {heard}"
    );
    let b = d.b.as_ref().expect("two hosts");
    let (user, password) = (
        grant["username"].as_str().expect("a username"),
        grant["password"].as_str().expect("a password"),
    );
    let relay_test = |password: &str| {
        run(
            Command::new(RANAT).args([
                "relay-test",
                "--relay",
                &b.primary.to_string(),
                "--user",
                user,
                "--password",
                password,
                "--timeout",
                "10",
            ]),
            Duration::from_secs(20),
        )
    };
    let test = relay_test(password);
    assert_eq!(
        test.code,
        Some(0),
        "the other host's relay took them:\n{test}"
    );
    let wrong = relay_test("not-the-password");
    assert_eq!(wrong.code, Some(30), "{wrong}");
}

#[test]
fn a_store_that_is_not_redis_is_refused_and_one_that_is_down_is_said_at_start() {
    let ip = lo4(120, 100);
    let (port, alt_port) = free_ports(&[ip]);
    let serve = |store: &str| {
        let mut cmd = Command::new(RANAT);
        cmd.args(["serve", "--primary", &ip.to_string()])
            .args(["--port", &port.to_string()])
            .args(["--alt-port", &alt_port.to_string()])
            .args(["--rendezvous-port", "0", "--store", store]);
        cmd
    };
    let refused = run(&mut serve("http://127.0.0.1:6379"), Duration::from_secs(10));
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused
            .stderr
            .contains("the room store must be redis://HOST[:PORT][/DB]"),
        "{refused}"
    );
    let down = format!("redis://{ip}:{}", closed_port(ip));
    let mut server = Daemon::spawn("ranat serve", &mut serve(&down));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.stderr().contains("is unreachable") {
        assert!(
            Instant::now() < deadline && server.exited().is_none(),
            "no word of the store:\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, stderr) = server.terminate();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{stderr}");
}
