//! A fake UPnP Internet Gateway Device (IGD:1) on one loopback address: an
//! SSDP responder on UDP port 1900 and an HTTP/1.1 server serving the device
//! description, the WANIPConnection:1 service description (SCPD) and SOAP
//! control. Each test scripts its answers ([`Script`]); it records every
//! search, description fetch and SOAP action with its arguments.
//!
//! Plain std threads and sockets; nothing leaves loopback.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod documents;

pub use documents::SERVICE;

const IGD: &str = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
const POLL: Duration = Duration::from_millis(20);

/// How the fake answers one SOAP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The action's success response.
    Ok,
    /// A SOAP fault (HTTP 500) carrying this UPnP error code.
    Fault(u16),
    /// 725 OnlyPermanentLeasesSupported unless NewLeaseDuration is 0.
    PermanentOnly,
    /// A 200 whose Content-Length promises more than is sent; then close.
    Truncated,
    /// A 200 whose body is not well-formed XML.
    Garbage,
    /// Reads the request and never answers (until the fake is dropped).
    Silent,
    /// An answer meant to exhaust the client.
    Hostile(Hostile),
}

/// Answers meant to exhaust a client's memory or patience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// A 200 without a length whose body never ends (until [`ENDLESS_CAP`]
    /// is sent or the client goes).
    Endless,
    /// A 200 promising a megabyte, then one byte every 50 ms.
    Drip,
    /// A 302 back to the same URL, every time.
    RedirectLoop,
}

impl Hostile {
    /// The answer in a few words, for figures.
    pub fn words(self) -> &'static str {
        match self {
            Self::Endless => "a body that never ends",
            Self::Drip => "a byte every 50 ms",
            Self::RedirectLoop => "a redirect to itself",
        }
    }
}

/// The most an endless body sends before the fake gives up.
pub const ENDLESS_CAP: usize = 1 << 30;

/// What the device description offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// InternetGatewayDevice:1 → WANDevice:1 → WANConnectionDevice:1 →
    /// WANIPConnection:1.
    Igd,
    /// A media server: a UPnP device without any WAN connection service.
    NotIgd,
}

/// The behaviour of one fake.
#[derive(Debug, Clone)]
pub struct Script {
    pub device: Device,
    /// What GetExternalIPAddress reports.
    pub external_ip: String,
    pub get_external_ip: Reply,
    pub status_info: Reply,
    /// The answers to successive AddPortMapping requests; the last repeats.
    pub add: Vec<Reply>,
    pub delete: Reply,
    /// How the device description is served: normally, or with a hostile
    /// answer.
    pub description: Option<Hostile>,
    /// Junk sent to each M-SEARCH before the true answer: this many
    /// garbage datagrams and as many answers whose LOCATION is a closed
    /// port.
    pub ssdp_flood: usize,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            device: Device::Igd,
            external_ip: "203.0.113.7".into(),
            get_external_ip: Reply::Ok,
            status_info: Reply::Ok,
            add: vec![Reply::Ok],
            delete: Reply::Ok,
            description: None,
            ssdp_flood: 0,
        }
    }
}

/// One SOAP request as the fake received it.
#[derive(Debug, Clone)]
pub struct Call {
    pub action: String,
    pub args: BTreeMap<String, String>,
}

impl Call {
    /// An argument's value; "<absent>" if the request lacked it.
    pub fn arg(&self, name: &str) -> &str {
        self.args.get(name).map_or("<absent>", String::as_str)
    }

    /// NewExternalPort as a number (0 if absent or not a number).
    pub fn port(&self) -> u16 {
        self.arg("NewExternalPort").parse().unwrap_or(0)
    }
}

/// What the fake saw, in order.
#[derive(Debug, Default)]
pub struct Log {
    pub searches: Vec<String>,
    pub gets: Vec<String>,
    pub calls: Vec<Call>,
}

struct Shared {
    http: SocketAddr,
    script: Script,
    log: Mutex<Log>,
    stop: AtomicBool,
    handlers: Mutex<Vec<JoinHandle<()>>>,
}

/// A running fake IGD; its threads stop when it is dropped.
pub struct FakeIgd {
    pub ip: IpAddr,
    /// Where the description and the control URL are served.
    pub http: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl FakeIgd {
    /// Starts the fake on `ip` (loopback): SSDP on `ip:1900`, HTTP on a free
    /// port. Fails loudly if port 1900 cannot be bound.
    pub fn start(ip: IpAddr, script: Script) -> Self {
        assert!(ip.is_loopback(), "test bug: {ip} is not loopback");
        let ssdp = UdpSocket::bind((ip, 1900)).unwrap_or_else(|e| {
            panic!(
                "the fake IGD cannot bind {ip}:1900 ({e}); the UPnP tests need UDP port 1900 \
                 on 127.0.41.x (is an SSDP daemon holding 0.0.0.0:1900?)"
            )
        });
        ssdp.set_read_timeout(Some(POLL)).expect("ssdp timeout");
        let listener = TcpListener::bind((ip, 0)).expect("bind the fake IGD's HTTP port");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let http = listener.local_addr().expect("http addr");
        let shared = Arc::new(Shared {
            http,
            script,
            log: Mutex::new(Log::default()),
            stop: AtomicBool::new(false),
            handlers: Mutex::new(Vec::new()),
        });
        let s1 = Arc::clone(&shared);
        let s2 = Arc::clone(&shared);
        let threads = vec![
            std::thread::spawn(move || ssdp_loop(&ssdp, &s1)),
            std::thread::spawn(move || accept_loop(&listener, &s2)),
        ];
        Self {
            ip,
            http,
            shared,
            threads,
        }
    }

    /// What the fake saw so far.
    pub fn log(&self) -> MutexGuard<'_, Log> {
        self.shared.log.lock().expect("fake IGD log")
    }

    /// The SOAP requests for `action`, in order.
    pub fn calls(&self, action: &str) -> Vec<Call> {
        let log = self.log();
        log.calls
            .iter()
            .filter(|c| c.action == action)
            .cloned()
            .collect()
    }

    /// Waits up to `limit` for a SOAP request for `action`.
    pub fn wait_for(&self, action: &str, limit: Duration) -> Option<Call> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(call) = self.calls(action).into_iter().next() {
                return Some(call);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for FakeIgd {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let handlers = std::mem::take(&mut *self.shared.handlers.lock().expect("handlers"));
        for t in handlers {
            let _ = t.join();
        }
    }
}

fn stopped(shared: &Shared) -> bool {
    shared.stop.load(Ordering::SeqCst)
}

/// Answers every M-SEARCH with the LOCATION of the description.
fn ssdp_loop(socket: &UdpSocket, shared: &Shared) {
    let mut buf = [0; 2048];
    while !stopped(shared) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]);
        if !text.starts_with("M-SEARCH") {
            continue;
        }
        let st = header(&text, "st").unwrap_or(IGD).to_string();
        shared.log.lock().expect("log").searches.push(st.clone());
        for i in 0..shared.script.ssdp_flood {
            let junk = vec![b'H'; 1 + i % 1400];
            let _ = socket.send_to(&junk, from);
            let decoy = format!(
                "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: {st}\r\n\
                 USN: uuid:decoy-{i}::{st}\r\nLOCATION: http://{}:1/decoy{i}.xml\r\n\r\n",
                shared.http.ip()
            );
            let _ = socket.send_to(decoy.as_bytes(), from);
        }
        let reply = format!(
            "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nEXT:\r\nST: {st}\r\n\
             USN: uuid:fa4e0000-0000-4000-8000-000000000041::{st}\r\n\
             SERVER: Linux/6 UPnP/1.1 ranat-fake-igd/1\r\n\
             LOCATION: http://{}/rootDesc.xml\r\n\r\n",
            shared.http
        );
        let _ = socket.send_to(reply.as_bytes(), from);
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !stopped(shared) {
        match listener.accept() {
            Ok((stream, _)) => {
                let s = Arc::clone(shared);
                let handle = std::thread::spawn(move || serve(stream, &s));
                shared.handlers.lock().expect("handlers").push(handle);
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// A header's value from an SSDP or HTTP head (name case-insensitive).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

struct Request {
    head: String,
    body: String,
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut data = Vec::new();
    let mut buf = [0; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).into_owned();
            let length: usize = header(&head, "content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
                data.extend_from_slice(&buf[..n]);
            }
            let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into_owned();
            return Some(Request { head, body });
        }
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        data.extend_from_slice(&buf[..n]);
    }
}

fn respond(stream: &mut TcpStream, status: &str, body: &str, declared: usize) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml; charset=\"utf-8\"\r\n\
         Content-Length: {declared}\r\nConnection: close\r\nEXT:\r\n\
         Server: Linux/6 UPnP/1.1 ranat-fake-igd/1\r\n\r\n"
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let mut words = request.head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method == "GET" {
        shared.log.lock().expect("log").gets.push(path.to_string());
    }
    let document = match (method, path) {
        ("GET", "/rootDesc.xml") => match shared.script.description {
            Some(kind) => return hostile(stream, shared, kind, path),
            None => documents::description(shared.script.device),
        },
        ("GET", "/WANIPCn.xml") => documents::SCPD.to_string(),
        ("POST", "/ctl/IPConn") => return soap(stream, shared, &request),
        _ => return respond(&mut stream, "404 Not Found", "", 0),
    };
    respond(&mut stream, "200 OK", &document, document.len());
}

fn soap(mut stream: TcpStream, shared: &Shared, request: &Request) {
    let action = header(&request.head, "soapaction")
        .unwrap_or("")
        .trim_matches('"')
        .rsplit('#')
        .next()
        .unwrap_or("")
        .to_string();
    let call = Call {
        action: action.clone(),
        args: documents::arguments(&request.body),
    };
    let script = &shared.script;
    let (reply, content) = {
        let mut log = shared.log.lock().expect("log");
        let earlier = log.calls.iter().filter(|c| c.action == action).count();
        log.calls.push(call.clone());
        match action.as_str() {
            "GetExternalIPAddress" => (
                script.get_external_ip,
                format!(
                    "<NewExternalIPAddress>{}</NewExternalIPAddress>",
                    script.external_ip
                ),
            ),
            "GetStatusInfo" => (
                script.status_info,
                "<NewConnectionStatus>Connected</NewConnectionStatus>\
                 <NewLastConnectionError>ERROR_NONE</NewLastConnectionError>\
                 <NewUptime>4242</NewUptime>"
                    .to_string(),
            ),
            "AddPortMapping" => {
                let i = earlier.min(script.add.len().saturating_sub(1));
                (
                    script.add.get(i).copied().unwrap_or(Reply::Ok),
                    String::new(),
                )
            }
            "DeletePortMapping" => (script.delete, String::new()),
            "GetGenericPortMappingEntry" => (Reply::Fault(713), String::new()),
            _ => (Reply::Fault(401), String::new()),
        }
    };
    let reply = match reply {
        Reply::PermanentOnly if call.arg("NewLeaseDuration") == "0" => Reply::Ok,
        Reply::PermanentOnly => Reply::Fault(725),
        other => other,
    };
    let ok = documents::envelope(&format!(
        "<u:{action}Response xmlns:u=\"{SERVICE}\">{content}</u:{action}Response>"
    ));
    match reply {
        Reply::Ok => respond(&mut stream, "200 OK", &ok, ok.len()),
        Reply::Fault(code) => {
            let fault = documents::fault(code);
            respond(
                &mut stream,
                "500 Internal Server Error",
                &fault,
                fault.len(),
            );
        }
        Reply::Truncated => respond(&mut stream, "200 OK", &ok[..ok.len() / 2], ok.len() + 64),
        Reply::Garbage => {
            let junk = "<s:Envelope><s:Body><u:Oops>&nbsp;</s:Body></u:Oops>}{ not xml";
            respond(&mut stream, "200 OK", junk, junk.len());
        }
        Reply::Silent | Reply::PermanentOnly => {
            while !stopped(shared) {
                std::thread::sleep(POLL);
            }
        }
        Reply::Hostile(kind) => hostile(stream, shared, kind, "/ctl/IPConn"),
    }
}

/// Serves a hostile answer to a request for `path`.
fn hostile(mut stream: TcpStream, shared: &Shared, kind: Hostile, path: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    match kind {
        Hostile::Endless => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n\
                        <?xml version=\"1.0\"?><root>";
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = "<a>all work and no play</a>".repeat(2048);
            let mut sent = 0;
            while sent < ENDLESS_CAP && !stopped(shared) {
                if stream.write_all(chunk.as_bytes()).is_err() {
                    return;
                }
                sent += chunk.len();
            }
        }
        Hostile::Drip => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\
                        Content-Length: 1048576\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            while !stopped(shared) {
                if stream
                    .write_all(b"<")
                    .and_then(|()| stream.flush())
                    .is_err()
                {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Hostile::RedirectLoop => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: http://{}{path}\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n",
                shared.http
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}
