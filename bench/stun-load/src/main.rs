//! Load for `scripts/bench-serve.sh`: RFC 8489 Binding requests over UDP
//! to one STUN server on loopback, with a fixed number in flight, spread
//! over several client sockets (the server's SO_REUSEPORT group hashes each
//! to one of its threads). Each socket sends and receives in batches
//! (`sendmmsg`, `recvmmsg`); an answer must carry the transaction id of a
//! request still in flight, which is then replaced by a new one. A request
//! unanswered for 200 ms counts as lost and is replaced too.
//!
//!   stun-load TARGET [--sockets N] [--in-flight N] [--seconds S]
//!                    [--max-requests N] [--bind IP]
//!
//! Runs a 0.3 s warm-up, then counts for S seconds (default 3, at most 30)
//! or until N answers (default 100 million); prints one line:
//! `answered N lost L seconds S rate R`. Sends only to loopback.

mod mmsg;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::exit;
use std::time::{Duration, Instant};

use mmsg::Batch;

/// How long a request may go unanswered before it counts as lost.
const LOST_AFTER: Duration = Duration::from_millis(200);
/// Not counted: the server's caches and the kernel's buffers settle.
const WARM_UP: Duration = Duration::from_millis(300);
const HEADER: usize = 20;
const COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const BINDING_REQUEST: [u8; 2] = [0x00, 0x01];
const BINDING_SUCCESS: [u8; 2] = [0x01, 0x01];

struct Options {
    target: SocketAddr,
    sockets: usize,
    in_flight: usize,
    seconds: f64,
    max_requests: u64,
    bind: IpAddr,
}

fn usage(why: &str) -> ! {
    eprintln!("stun-load: {why}");
    eprintln!(
        "usage: stun-load TARGET [--sockets N] [--in-flight N] [--seconds S] [--max-requests N] [--bind IP]"
    );
    exit(2)
}

fn parse<T: std::str::FromStr>(flag: &str, value: &str) -> T {
    value
        .parse()
        .unwrap_or_else(|_| usage(&format!("bad value for {flag}: {value}")))
}

fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let target: SocketAddr = match args.next().map(|a| a.parse()) {
        Some(Ok(t)) => t,
        _ => usage("TARGET must be IP:PORT"),
    };
    let mut o = Options {
        target,
        sockets: 16,
        in_flight: 256,
        seconds: 3.0,
        max_requests: 100_000_000,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--sockets" => o.sockets = parse(&flag, &value),
            "--in-flight" => o.in_flight = parse(&flag, &value),
            "--seconds" => o.seconds = parse(&flag, &value),
            "--max-requests" => o.max_requests = parse(&flag, &value),
            "--bind" => o.bind = parse(&flag, &value),
            _ => usage(&format!("unknown option {flag}")),
        }
    }
    if !o.target.ip().is_loopback() || !o.bind.is_loopback() {
        usage("TARGET and --bind must be loopback addresses");
    }
    if !(1..=256).contains(&o.sockets) || !(o.sockets..=16_384).contains(&o.in_flight) {
        usage("--sockets must be 1-256 and --in-flight from the socket count to 16384");
    }
    if !(o.seconds > 0.0 && o.seconds <= 30.0) {
        usage("--seconds must be in (0, 30]");
    }
    o
}

/// One request in flight.
#[derive(Clone, Copy)]
struct Slot {
    seq: u64,
    sent: Instant,
}

/// A client socket and its share of the requests in flight.
struct Client {
    socket: UdpSocket,
    slots: Vec<Slot>,
    /// Slots whose next request is still to be sent.
    due: Vec<u16>,
}

/// The transaction id of slot `slot` of client `client` at `seq`.
fn transaction(client: usize, slot: usize, seq: u64) -> [u8; 12] {
    let mut t = [0; 12];
    t[..2].copy_from_slice(&(client as u16).to_be_bytes());
    t[2..4].copy_from_slice(&(slot as u16).to_be_bytes());
    t[4..].copy_from_slice(&seq.to_be_bytes());
    t
}

fn request(transaction: [u8; 12]) -> [u8; HEADER] {
    let mut r = [0; HEADER];
    r[..2].copy_from_slice(&BINDING_REQUEST);
    r[4..8].copy_from_slice(&COOKIE);
    r[8..].copy_from_slice(&transaction);
    r
}

/// The (client, slot, seq) a Binding success answer names, if it is one.
fn answered(bytes: &[u8]) -> Option<(usize, usize, u64)> {
    if bytes.len() < HEADER || bytes[..2] != BINDING_SUCCESS || bytes[4..8] != COOKIE {
        return None;
    }
    let client = u16::from_be_bytes([bytes[8], bytes[9]]);
    let slot = u16::from_be_bytes([bytes[10], bytes[11]]);
    let mut seq = [0; 8];
    seq.copy_from_slice(&bytes[12..20]);
    Some((
        usize::from(client),
        usize::from(slot),
        u64::from_be_bytes(seq),
    ))
}

#[derive(Default)]
struct Counts {
    answered: u64,
    lost: u64,
}

fn main() {
    let o = options();
    let per = o.in_flight / o.sockets;
    let start = Instant::now();
    let mut clients: Vec<Client> = (0..o.sockets)
        .map(|c| {
            let socket =
                UdpSocket::bind((o.bind, 0)).unwrap_or_else(|e| usage(&format!("bind: {e}")));
            socket
                .connect(o.target)
                .unwrap_or_else(|e| usage(&format!("connect: {e}")));
            socket
                .set_nonblocking(true)
                .unwrap_or_else(|e| usage(&format!("non-blocking: {e}")));
            let n = per + usize::from(c < o.in_flight % o.sockets);
            Client {
                socket,
                slots: vec![
                    Slot {
                        seq: 0,
                        sent: start
                    };
                    n
                ],
                due: (0..n as u16).collect(),
            }
        })
        .collect();
    let mut batch = Batch::new();
    let mut counts = Counts::default();
    let mut warm = None;
    let mut last_scan = start;
    let deadline = start + WARM_UP + Duration::from_secs_f64(o.seconds);
    let mut pollfds: Vec<libc::pollfd> = clients
        .iter()
        .map(|c| libc::pollfd {
            fd: c.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        let now = Instant::now();
        if warm.is_none() && now >= start + WARM_UP {
            warm = Some((now, counts.answered, counts.lost));
        }
        if now >= deadline || counts.answered >= o.max_requests {
            break;
        }
        for (c, client) in clients.iter_mut().enumerate() {
            let requests: Vec<[u8; HEADER]> = client
                .due
                .drain(..)
                .map(|s| {
                    let slot = &mut client.slots[usize::from(s)];
                    slot.sent = now;
                    request(transaction(c, usize::from(s), slot.seq))
                })
                .collect();
            batch.send(&client.socket, &requests);
        }
        if now.duration_since(last_scan) >= Duration::from_millis(10) {
            last_scan = now;
            for client in &mut clients {
                for (s, slot) in client.slots.iter_mut().enumerate() {
                    if now.duration_since(slot.sent) >= LOST_AFTER
                        && !client.due.contains(&(s as u16))
                    {
                        counts.lost += 1;
                        slot.seq += 1;
                        client.due.push(s as u16);
                    }
                }
            }
        }
        mmsg::poll(&mut pollfds, 10);
        for (c, pfd) in pollfds.iter().enumerate() {
            if pfd.revents & libc::POLLIN == 0 {
                continue;
            }
            let client = &mut clients[c];
            for bytes in batch.recv(&client.socket) {
                let Some((to, slot, seq)) = answered(bytes) else {
                    continue;
                };
                if to != c {
                    continue;
                }
                if let Some(s) = client.slots.get_mut(slot)
                    && s.seq == seq
                {
                    s.seq += 1;
                    counts.answered += 1;
                    client.due.push(slot as u16);
                }
            }
        }
    }
    let end = Instant::now();
    let (from, answered0, lost0) = warm.unwrap_or((start, 0, 0));
    let seconds = end.duration_since(from).as_secs_f64();
    let answered = counts.answered - answered0;
    println!(
        "answered {answered} lost {} seconds {seconds:.3} rate {:.0}",
        counts.lost - lost0,
        answered as f64 / seconds
    );
}
