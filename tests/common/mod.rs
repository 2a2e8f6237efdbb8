//! Helpers shared by the integration tests: running the real binary and
//! external tools with a time limit, daemons that are always killed, free
//! loopback ports, and a tiny STUN codec written from RFC 8489 independently
//! of the crate under test.
//!
//! Every packet these helpers send goes to a loopback address.

// Each test crate uses its own subset of these helpers.
#![allow(dead_code)]

pub mod frames;
pub mod igd;

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The binary under test.
pub const RANAT: &str = env!("CARGO_BIN_EXE_ranat");

/// Whether `addr` is loopback: the only kind of address a test may send to.
pub fn assert_loopback(addr: SocketAddr) {
    assert!(
        addr.ip().is_loopback(),
        "test bug: {addr} is not a loopback address"
    );
}

/// `127.0.<block>.<host>`: each test uses its own addresses so that tests
/// running in parallel never share a port space.
pub fn lo4(block: u8, host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, block, host))
}

pub const LO6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// Whether this host has a usable `::1`.
pub fn ipv6_loopback_available() -> bool {
    UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// Prints the loud skip line the test policy asks for; the caller returns.
pub fn skip(what: &str) {
    eprintln!("SKIPPED: {what}");
}

/// Whether an external tool is installed; prints the skip line if not.
pub fn have_tool(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|dir| Path::new(dir).join(tool).is_file());
    if !found {
        skip(&format!("{tool} not installed"));
    }
    found
}

/// The full path of a tool (Debian puts daemons in /usr/sbin, which a
/// non-root PATH may lack).
pub fn tool_path(tool: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin"] {
        let p = Path::new(dir).join(tool);
        if p.is_file() {
            return p;
        }
    }
    PathBuf::from(tool)
}

/// Two ports that are free on every address in `ips` at the time of the
/// call: bind-then-release. The kernel hands out ephemeral ports at random, so
/// two tests (or two concurrent `cargo test` runs) practically never get the
/// same ones; callers still retry if a daemon then fails to bind.
pub fn free_ports(ips: &[IpAddr]) -> (u16, u16) {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    'search: for _ in 0..200 {
        let first = UdpSocket::bind((ips[0], 0)).expect("bind an ephemeral loopback port");
        let port = first.local_addr().expect("local addr").port();
        if ports.contains(&port) {
            continue;
        }
        let mut group = vec![first];
        for ip in &ips[1..] {
            match UdpSocket::bind((*ip, port)) {
                Ok(s) => group.push(s),
                Err(_) => continue 'search,
            }
        }
        held.push(group);
        ports.push(port);
        if ports.len() == 2 {
            return (ports[0], ports[1]);
        }
    }
    panic!("no two free UDP ports on {ips:?}");
}

/// An address this host does not have (binding to it fails, which sends
/// nothing): from the documentation ranges, checked, since a test host may
/// well use one of them.
pub fn foreign_ipv4() -> IpAddr {
    [
        "192.0.2.1",
        "198.51.100.1",
        "203.0.113.1",
        "192.0.2.254",
        "198.51.100.254",
    ]
    .iter()
    .map(|s| s.parse::<IpAddr>().expect("literal"))
    .find(|ip| UdpSocket::bind((*ip, 0)).is_err())
    .expect("every documentation address is assigned to this host")
}

/// A port with nothing listening on `ip`, at least at the time of the call.
pub fn closed_port(ip: IpAddr) -> u16 {
    let s = UdpSocket::bind((ip, 0)).expect("bind an ephemeral loopback port");
    s.local_addr().expect("local addr").port()
}

/// A scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ranat-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// Fails the test if the process panicked or died of a signal.
    pub fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked") && self.code != Some(101),
            "the process panicked:\n{self}"
        );
        assert!(self.code.is_some(), "the process died of a signal:\n{self}");
    }

    /// Stdout as one JSON document, checked against the schema shipped for
    /// it in `schemas/`.
    pub fn json(&self) -> serde_json::Value {
        let value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{self}"));
        assert_matches_schema(&value);
        value
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> (Arc<Mutex<String>>, JoinHandle<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    let handle = std::thread::spawn(move || {
        let mut buf = [0; 4096];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink
                    .lock()
                    .expect("reader lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    });
    (text, handle)
}

/// Polls `child` until it exits or `limit` passes; kills it then.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Runs `cmd` to completion with stdin closed; fails the test if it takes
/// longer than `limit` (after killing it).
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let (out, out_thread) = reader(child.stdout.take().expect("stdout"));
    let (err, err_thread) = reader(child.stderr.take().expect("stderr"));
    let status = wait_bounded(&mut child, limit);
    let _ = out_thread.join();
    let _ = err_thread.join();
    let output = Output {
        code: status.and_then(|s| s.code()),
        stdout: out.lock().expect("stdout lock").clone(),
        stderr: err.lock().expect("stderr lock").clone(),
        elapsed: started.elapsed(),
    };
    assert!(
        status.is_some(),
        "{cmd:?} did not finish within {limit:?} and was killed:\n{output}"
    );
    output
}

/// `ranat probe` with the given arguments; `RANAT_SERVERS` is removed so the
/// public default list can never be used by accident, and the gateway checks
/// are off unless the arguments aim them at a test peer (`--gateway`,
/// `--teredo-server`): nothing may reach the host's real router or DNS.
pub fn probe(args: &[&str], limit: Duration) -> Output {
    let mut cmd = Command::new(RANAT);
    cmd.arg("probe").args(args).env_remove("RANAT_SERVERS");
    cmd.args(offline_flags(args));
    run(&mut cmd, limit)
}

/// The flags that keep a probe with `args` off the host's own network.
pub fn offline_flags(args: &[&str]) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if !args.contains(&"--gateway") {
        flags.push("--no-portmap");
    }
    if !args.contains(&"--teredo-server") {
        flags.push("--no-teredo");
    }
    flags
}

/// A background process that is always killed and reaped, whatever happens
/// to the test.
pub struct Daemon {
    pub name: String,
    child: Option<Child>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    threads: Vec<JoinHandle<()>>,
}

impl Daemon {
    /// The Easy Connect code this helper (`ranat trial`, `check --via`)
    /// printed ("your code is …"); panics if it exits or `limit` passes
    /// from `started` first.
    pub fn easy_connect_code(&mut self, started: Instant, limit: Duration) -> String {
        loop {
            let stderr = self.stderr();
            if let Some(rest) = stderr.split("your code is ").nth(1) {
                return rest.split_whitespace().next().expect("a code").to_string();
            }
            assert!(
                self.exited().is_none() && started.elapsed() < limit,
                "{} gave no code:\n{stderr}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let (stdout, t1) = reader(child.stdout.take().expect("stdout"));
        let (stderr, t2) = reader(child.stderr.take().expect("stderr"));
        Self {
            name: name.to_string(),
            child: Some(child),
            stdout,
            stderr,
            threads: vec![t1, t2],
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("stdout lock").clone()
    }

    /// `Some(status)` if it has already exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits for the exit until `deadline`; past it, fails the test with
    /// `what` and what the process said.
    pub fn exit_by(&mut self, deadline: Instant, what: &str) -> ExitStatus {
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(Instant::now() < deadline, "{what}:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What it printed and how it ended (`status`, from
    /// [`Daemon::exit_by`]), `elapsed` after it was started.
    pub fn output(&self, status: ExitStatus, elapsed: Duration) -> Output {
        Output {
            code: status.code(),
            stdout: self.stdout(),
            stderr: self.stderr(),
            elapsed,
        }
    }

    /// Polls with STUN Binding requests until `server` answers; `Err` with
    /// the daemon's output if it exits first or never answers.
    pub fn wait_until_answers(
        &mut self,
        server: SocketAddr,
        limit: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Err(format!(
                    "{} exited ({status}) before answering:\n{}{}",
                    self.name,
                    self.stdout(),
                    self.stderr()
                ));
            }
            if stun_ping(server, Duration::from_millis(100)).is_some() {
                return Ok(());
            }
        }
        Err(format!(
            "{} did not answer on {server} within {limit:?}:\n{}{}",
            self.name,
            self.stdout(),
            self.stderr()
        ))
    }

    /// The rendezvous address `ranat serve` printed at start, waiting up
    /// to `limit` for the line.
    pub fn rendezvous_address(&mut self, limit: Duration) -> Result<SocketAddr, String> {
        const PREFIX: &str = "rendezvous listening on TCP ";
        let deadline = Instant::now() + limit;
        loop {
            let stderr = self.stderr();
            if let Some(line) = stderr.lines().find(|l| l.contains(PREFIX)) {
                let (_, addr) = line.split_once(PREFIX).unwrap_or_default();
                let addr: SocketAddr = addr
                    .trim()
                    .parse()
                    .map_err(|e| format!("bad rendezvous address in {line:?}: {e}"))?;
                assert_loopback(addr);
                return Ok(addr);
            }
            if Instant::now() >= deadline || self.exited().is_some() {
                return Err(format!(
                    "{} printed no rendezvous address:\n{stderr}",
                    self.name
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM, waits (bounded) and returns the exit status and stderr.
    pub fn terminate(mut self) -> (Option<ExitStatus>, String) {
        let mut child = self.child.take().expect("a running child");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let status = wait_bounded(&mut child, Duration::from_secs(5));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        (status, self.stderr())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A running `ranat serve`.
pub struct RanatServer {
    pub daemon: Daemon,
    pub primary: SocketAddr,
    pub alternate: Option<SocketAddr>,
    /// Its rendezvous (TCP, on a free port of the primary address).
    pub rendezvous: SocketAddr,
}

impl RanatServer {
    /// Starts `ranat serve` on `primary` (and `alternate`, if given) with
    /// free ports, retrying with other ports if a race took them, and waits
    /// until it answers.
    pub fn start(primary: IpAddr, alternate: Option<IpAddr>) -> Self {
        Self::start_with(primary, alternate, &[])
    }

    /// As [`RanatServer::start`], with more arguments for `ranat serve`.
    pub fn start_with(primary: IpAddr, alternate: Option<IpAddr>, extra: &[&str]) -> Self {
        let mut last = String::new();
        for _ in 0..5 {
            let ips: Vec<IpAddr> = std::iter::once(primary).chain(alternate).collect();
            let (port, alt_port) = free_ports(&ips);
            let mut cmd = Command::new(RANAT);
            cmd.args(["serve", "--primary", &primary.to_string()])
                .args(["--port", &port.to_string()])
                .args(["--alt-port", &alt_port.to_string()])
                .args(["--rendezvous-port", "0"])
                .args(extra);
            if let Some(alt) = alternate {
                cmd.args(["--alternate", &alt.to_string()]);
            }
            let mut daemon = Daemon::spawn("ranat serve", &mut cmd);
            let server = SocketAddr::new(primary, port);
            let up = daemon
                .wait_until_answers(server, Duration::from_secs(10))
                .and_then(|()| daemon.rendezvous_address(Duration::from_secs(5)));
            match up {
                Ok(rendezvous) => {
                    return Self {
                        daemon,
                        primary: server,
                        alternate: alternate.map(|ip| SocketAddr::new(ip, alt_port)),
                        rendezvous,
                    };
                }
                Err(e) => last = e,
            }
        }
        panic!("ranat serve never came up: {last}");
    }

    pub fn arg(&self) -> String {
        self.primary.to_string()
    }
}

/// Sends one Binding request to `server` from a fresh loopback socket;
/// returns the XOR-MAPPED-ADDRESS of a matching success answer.
pub fn stun_ping(server: SocketAddr, wait: Duration) -> Option<SocketAddr> {
    assert_loopback(server);
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::LOCALHOST, 0).into()
    } else {
        (Ipv6Addr::LOCALHOST, 0).into()
    };
    let socket = UdpSocket::bind(local).ok()?;
    let txid = txid();
    socket
        .send_to(&encode(BINDING_REQUEST, COOKIE, &txid, &[]), server)
        .ok()?;
    let reply = recv_matching(&socket, &txid, wait)?;
    (reply.mtype == BINDING_SUCCESS)
        .then(|| reply.xor_mapped())
        .flatten()
}

/// Waits up to `wait` for a datagram carrying `txid`; others are skipped.
pub fn recv_matching(socket: &UdpSocket, txid: &[u8; 12], wait: Duration) -> Option<Stun> {
    let deadline = Instant::now() + wait;
    let mut buf = [0; 65_536];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        socket
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        let (n, _) = socket.recv_from(&mut buf).ok()?;
        if let Some(m) = Stun::decode(&buf[..n]).filter(|m| &m.txid == txid) {
            return Some(m);
        }
    }
}

/// Whether anything arrives on `socket` within `wait`.
pub fn anything_arrives(socket: &UdpSocket, wait: Duration) -> Option<(usize, SocketAddr)> {
    socket.set_read_timeout(Some(wait)).ok()?;
    let mut buf = [0; 65_536];
    socket.recv_from(&mut buf).ok()
}

// ---------------------------------------------------------------------------
// A minimal STUN codec (RFC 8489 §5, §14), independent of the crate's own.

pub const COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
pub const BINDING_REQUEST: u16 = 0x0001;
pub const BINDING_SUCCESS: u16 = 0x0101;
pub const BINDING_ERROR: u16 = 0x0111;

pub const MAPPED_ADDRESS: u16 = 0x0001;
pub const RESPONSE_ADDRESS: u16 = 0x0002;
pub const CHANGE_REQUEST: u16 = 0x0003;
pub const ERROR_CODE: u16 = 0x0009;
pub const UNKNOWN_ATTRIBUTES: u16 = 0x000a;
pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
pub const PADDING: u16 = 0x0026;
pub const RESPONSE_PORT: u16 = 0x0027;
pub const RESPONSE_ORIGIN: u16 = 0x802b;
pub const OTHER_ADDRESS: u16 = 0x802c;

/// A fresh 96-bit transaction id (unique within the process, varied across
/// processes; not cryptographic, which a test does not need).
pub fn txid() -> [u8; 12] {
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut id = [0; 12];
    id[..4].copy_from_slice(&std::process::id().to_be_bytes());
    id[4..12].copy_from_slice(&(t ^ n.rotate_left(40)).to_be_bytes());
    id
}

/// A STUN message: type, the cookie field, the 96-bit id, and attributes,
/// each padded to 4 bytes.
pub fn encode(mtype: u16, cookie: [u8; 4], txid: &[u8; 12], attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, v) in attrs {
        body.extend_from_slice(&t.to_be_bytes());
        body.extend_from_slice(&(v.len() as u16).to_be_bytes());
        body.extend_from_slice(v);
        body.resize(body.len().next_multiple_of(4), 0);
    }
    let mut out = Vec::with_capacity(20 + body.len());
    out.extend_from_slice(&mtype.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&cookie);
    out.extend_from_slice(txid);
    out.extend_from_slice(&body);
    out
}

/// An address attribute value (MAPPED-ADDRESS layout, RFC 8489 §14.1).
pub fn addr_value(addr: SocketAddr) -> Vec<u8> {
    let mut v = vec![0];
    match addr.ip() {
        IpAddr::V4(ip) => {
            v.push(1);
            v.extend_from_slice(&addr.port().to_be_bytes());
            v.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            v.push(2);
            v.extend_from_slice(&addr.port().to_be_bytes());
            v.extend_from_slice(&ip.octets());
        }
    }
    v
}

/// XOR-MAPPED-ADDRESS value (RFC 8489 §14.2).
pub fn xor_addr_value(addr: SocketAddr, txid: &[u8; 12]) -> Vec<u8> {
    let mut v = addr_value(addr);
    let mut mask = COOKIE.to_vec();
    mask.extend_from_slice(txid);
    v[2] ^= mask[0];
    v[3] ^= mask[1];
    for (i, b) in v[4..].iter_mut().enumerate() {
        *b ^= mask[i];
    }
    v
}

/// A decoded STUN message.
#[derive(Debug, Clone)]
pub struct Stun {
    pub mtype: u16,
    pub cookie: [u8; 4],
    pub txid: [u8; 12],
    pub attrs: Vec<(u16, Vec<u8>)>,
}

impl Stun {
    /// Strict decoding: the declared length must match and every attribute
    /// must fit.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() < 20 || b[0] & 0xc0 != 0 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if 20 + len != b.len() {
            return None;
        }
        let mut attrs = Vec::new();
        let mut at = 20;
        while at < b.len() {
            if at + 4 > b.len() {
                return None;
            }
            let t = u16::from_be_bytes([b[at], b[at + 1]]);
            let l = usize::from(u16::from_be_bytes([b[at + 2], b[at + 3]]));
            let end = at + 4 + l;
            if end > b.len() {
                return None;
            }
            attrs.push((t, b[at + 4..end].to_vec()));
            at = end.next_multiple_of(4);
        }
        Some(Self {
            mtype: u16::from_be_bytes([b[0], b[1]]),
            cookie: b[4..8].try_into().ok()?,
            txid: b[8..20].try_into().ok()?,
            attrs,
        })
    }

    pub fn attr(&self, t: u16) -> Option<&[u8]> {
        self.attrs
            .iter()
            .find(|(at, _)| *at == t)
            .map(|(_, v)| v.as_slice())
    }

    pub fn addr(&self, t: u16) -> Option<SocketAddr> {
        parse_addr(self.attr(t)?)
    }

    pub fn xor_mapped(&self) -> Option<SocketAddr> {
        let mut v = self.attr(XOR_MAPPED_ADDRESS)?.to_vec();
        let mut mask = COOKIE.to_vec();
        mask.extend_from_slice(&self.txid);
        if v.len() < 8 {
            return None;
        }
        v[2] ^= mask[0];
        v[3] ^= mask[1];
        for (i, b) in v[4..].iter_mut().enumerate() {
            *b ^= mask[i];
        }
        parse_addr(&v)
    }

    /// The ERROR-CODE number (RFC 8489 §14.8).
    pub fn error_code(&self) -> Option<u16> {
        let v = self.attr(ERROR_CODE)?;
        (v.len() >= 4).then(|| u16::from(v[2] & 0x7) * 100 + u16::from(v[3]))
    }

    pub fn unknown_attributes(&self) -> Vec<u16> {
        self.attr(UNKNOWN_ATTRIBUTES)
            .map(|v| {
                v.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn parse_addr(v: &[u8]) -> Option<SocketAddr> {
    let port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]);
    match (v.get(1)?, v.len()) {
        (1, 8) => {
            let ip: [u8; 4] = v[4..8].try_into().ok()?;
            Some(SocketAddr::new(IpAddr::from(ip), port))
        }
        (2, 20) => {
            let ip: [u8; 16] = v[4..20].try_into().ok()?;
            Some(SocketAddr::new(IpAddr::from(ip), port))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// The JSON Schemas shipped in `schemas/`.

/// The shipped schema of the document `value` is, told by its shape: the
/// matrix is an array; a ticket has a `shape`, a trial `phases`, a check
/// a `prediction`, a probe report `ipv4`.
fn schema_name(value: &serde_json::Value) -> Option<&'static str> {
    if value.is_array() {
        return Some("matrix");
    }
    let has = |key: &str| value.get(key).is_some();
    if has("shape") {
        Some("ticket")
    } else if has("phases") {
        Some("trial")
    } else if has("prediction") {
        Some("check")
    } else if has("ipv4") {
        Some("probe")
    } else {
        None
    }
}

/// Fails the test unless `value` is one of ranat's JSON documents and valid
/// against its shipped schema (`schemas/NAME.schema.json`).
pub fn assert_matches_schema(value: &serde_json::Value) {
    let name = schema_name(value)
        .unwrap_or_else(|| panic!("not one of ranat's JSON documents:\n{value:#}"));
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let schema: serde_json::Value = serde_json::from_str(&text).expect("a schema is JSON");
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", path.display()));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the {name} document does not match {}:\n{}\n{value:#}",
        path.display(),
        errors.join("\n")
    );
}

/// A `redis-server` of a test's own on a loopback address: no persistence,
/// its files in a scratch directory, killed when dropped.
pub struct RedisServer {
    pub addr: SocketAddr,
    dir: TempDir,
    daemon: Option<Daemon>,
}

impl RedisServer {
    /// Starts one on `ip` and a free port, waiting until it answers PING.
    /// `None` (with the skip line) when redis-server is not installed and
    /// this is not root, who should have installed it (`scripts/test.sh`
    /// does): as root, a missing redis-server fails the test.
    pub fn start(ip: IpAddr) -> Option<Self> {
        if !have_tool("redis-server") {
            // SAFETY: geteuid has no preconditions and cannot fail.
            let root = unsafe { libc::geteuid() } == 0;
            assert!(
                !root,
                "redis-server is missing: scripts/test.sh installs it (apt-get install redis-server)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .expect("a free loopback TCP port")
            .port();
        let mut server = Self {
            addr: SocketAddr::new(ip, port),
            dir: TempDir::new("redis"),
            daemon: None,
        };
        server.restart();
        Some(server)
    }

    /// `redis://ADDRESS`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Kills it (SIGKILL: as if the host died), waiting until the port is
    /// closed.
    pub fn kill(&mut self) {
        drop(self.daemon.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while redis_ping(self.addr) {
            assert!(Instant::now() < deadline, "redis-server did not die");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again on the same address (empty: nothing was saved),
    /// waiting until it answers.
    pub fn restart(&mut self) {
        assert_loopback(self.addr);
        let mut last = String::new();
        for _ in 0..50 {
            let mut cmd = Command::new(tool_path("redis-server"));
            cmd.args(["--bind", &self.addr.ip().to_string()])
                .args(["--port", &self.addr.port().to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--protected-mode", "no"])
                .arg("--dir")
                .arg(self.dir.path());
            let mut daemon = Daemon::spawn("redis-server", &mut cmd);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && daemon.exited().is_none() {
                if redis_ping(self.addr) {
                    self.daemon = Some(daemon);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            last = format!("{}{}", daemon.stdout(), daemon.stderr());
            // The port may still be held by the killed one's socket.
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server never came up on {}: {last}", self.addr);
    }
}

/// Whether a Redis answers PING at `addr` within 200 ms.
pub fn redis_ping(addr: SocketAddr) -> bool {
    use std::io::Write;
    assert_loopback(addr);
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
