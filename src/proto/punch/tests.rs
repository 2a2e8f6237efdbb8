//! The punch between two machines wired back to back (no NAT; the NAT
//! cases run in `crate::sim`), and against hostile input.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::proto::machine::{Bind, Machine, SocketId, Transmit};

fn creds(seed: u8) -> Credentials {
    let mut n = seed;
    Credentials::generate(|| {
        n = n.wrapping_mul(29).wrapping_add(11);
        n
    })
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A punch bound at `local`, gathered without a server, its one candidate
/// the host address.
fn ready(seed: u64, own: Credentials, local: SocketAddr, now: Instant) -> Punch {
    let mut p = Punch::new(PunchConfig::new(own, None), seed);
    while let Some((id, _)) = p.poll_bind() {
        p.handle_bound(now, id, local);
    }
    assert_eq!(p.local_candidates(), Some(&[][..]));
    p
}

fn host(a: SocketAddr) -> Candidate {
    Candidate {
        address: a,
        kind: CandidateKind::Host,
    }
}

/// A punch with an IPv6 socket, bound at `v4` and `v6`, gathered without
/// a server.
fn dual(seed: u64, own: Credentials, v4: SocketAddr, v6: SocketAddr, now: Instant) -> Punch {
    let mut config = PunchConfig::new(own, None);
    config.ipv6 = true;
    let mut p = Punch::new(config, seed);
    while let Some((id, _)) = p.poll_bind() {
        p.handle_bound(now, id, if id == SocketId(0) { v4 } else { v6 });
    }
    assert_eq!(p.ipv6_socket(), Some(SocketId(1)));
    p
}

/// Delivers every packet at once between `a` (at `la`) and `b` (at `lb`),
/// dropping those `drop` refuses; returns the time both were done.
fn run(
    a: &mut Punch,
    la: SocketAddr,
    b: &mut Punch,
    lb: SocketAddr,
    start: Instant,
    drop: impl Fn(&Transmit, bool) -> bool,
) -> Instant {
    run_sockets(a, &[la], b, &[lb], start, drop)
}

/// [`run`] for sides with several sockets: socket `i` of `a` is bound at
/// `la[i]`, and a packet reaches the socket of the other side bound at its
/// destination. `wire` sees every packet that has one (true: from `a`)
/// and drops it by answering true.
fn run_sockets(
    a: &mut Punch,
    la: &[SocketAddr],
    b: &mut Punch,
    lb: &[SocketAddr],
    start: Instant,
    mut wire: impl FnMut(&Transmit, bool) -> bool,
) -> Instant {
    let mut now = start;
    for _ in 0..10_000 {
        let mut moved = false;
        while let Some(t) = a.poll_transmit() {
            moved = true;
            if let Some(to) = lb.iter().position(|l| *l == t.destination)
                && !wire(&t, true)
            {
                let from = la[usize::from(t.socket.0)];
                b.handle_input(now, SocketId(to as u16), from, &t.payload);
            }
        }
        while let Some(t) = b.poll_transmit() {
            moved = true;
            if let Some(to) = la.iter().position(|l| *l == t.destination)
                && !wire(&t, false)
            {
                let from = lb[usize::from(t.socket.0)];
                a.handle_input(now, SocketId(to as u16), from, &t.payload);
            }
        }
        if a.is_done() && b.is_done() {
            return now;
        }
        if moved {
            continue;
        }
        let Some(next) = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
        else {
            return now;
        };
        now = next;
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    panic!("the punch never ended");
}

#[test]
fn two_open_hosts_connect_in_one_round_trip() {
    let now = Instant::now();
    let (ca, cb) = (creds(1), creds(2));
    let (la, lb) = (addr("198.51.100.7:5000"), addr("198.51.100.8:6000"));
    let mut a = ready(1, ca.clone(), la, now);
    let mut b = ready(2, cb.clone(), lb, now);
    a.start(now, cb, &[host(lb)]);
    b.start(now, ca, &[host(la)]);
    let end = run(&mut a, la, &mut b, lb, now, |_, _| false);
    for (p, remote) in [(&a, lb), (&b, la)] {
        let Some(PunchOutcome::Connected(path)) = p.outcome() else {
            panic!("{:?}", p.outcome());
        };
        assert_eq!(path.remote, remote);
        assert_eq!(path.kind, CandidateKind::Host);
        assert_eq!(path.after, Duration::ZERO);
    }
    assert_eq!(
        end - now,
        Timing::default().linger,
        "done once the linger is over"
    );
}

#[test]
fn a_side_that_starts_late_is_still_met() {
    let now = Instant::now();
    let (ca, cb) = (creds(1), creds(2));
    let (la, lb) = (addr("198.51.100.7:5000"), addr("198.51.100.8:6000"));
    let mut a = ready(1, ca.clone(), la, now);
    let mut b = ready(2, cb.clone(), lb, now);
    a.start(now, cb, &[host(lb)]);
    // B learns the candidates 1.2 s later; A's checks until then are lost.
    let late = now + Duration::from_millis(1200);
    let mut t = now;
    while t < late {
        while a.poll_transmit().is_some() {}
        t = a.poll_timeout().unwrap().min(late);
        a.handle_timeout(t);
    }
    b.start(late, ca, &[host(la)]);
    run(&mut a, la, &mut b, lb, late, |_, _| false);
    assert!(matches!(a.outcome(), Some(PunchOutcome::Connected(_))));
    assert!(matches!(b.outcome(), Some(PunchOutcome::Connected(_))));
}

#[test]
fn wrong_credentials_never_connect_and_the_deadline_holds() {
    let now = Instant::now();
    let (ca, cb, stranger) = (creds(1), creds(2), creds(3));
    let (la, lb) = (addr("198.51.100.7:5000"), addr("198.51.100.8:6000"));
    let mut a = ready(1, ca.clone(), la, now);
    let mut b = ready(2, cb, lb, now);
    // A believes B holds other credentials (a forged rendezvous answer).
    a.start(now, stranger, &[host(lb)]);
    b.start(now, ca, &[host(la)]);
    let end = run(&mut a, la, &mut b, lb, now, |_, _| false);
    assert_eq!(end - now, Timing::default().deadline);
    let Some(PunchOutcome::Failed(fa)) = a.outcome() else {
        panic!("{:?}", a.outcome())
    };
    assert!(fa.strangers > 0, "B's checks are strangers to A: {fa:?}");
    assert!(matches!(b.outcome(), Some(PunchOutcome::Failed(_))));
    // Rounds back off: far fewer checks than one per interval.
    assert!(fa.checks_sent <= 12, "{fa:?}");
}

#[test]
fn an_answer_from_elsewhere_proves_nothing() {
    let now = Instant::now();
    let (ca, cb) = (creds(1), creds(2));
    let (la, lb) = (addr("198.51.100.7:5000"), addr("198.51.100.8:6000"));
    let mut a = ready(1, ca.clone(), la, now);
    let mut b = ready(2, cb.clone(), lb, now);
    a.start(now, cb, &[host(lb)]);
    b.start(now, ca, &[host(la)]);
    // B's packets reach A from another port, as a NAT with a fresh
    // mapping would send them; A's checks to B are dropped.
    let shifted = addr("198.51.100.8:6001");
    let mut t = now;
    for _ in 0..200 {
        while a.poll_transmit().is_some() {}
        while let Some(x) = b.poll_transmit() {
            a.handle_input(t, SocketId(0), shifted, &x.payload);
        }
        match a.poll_timeout() {
            Some(next) if !a.is_done() => {
                t = next;
                a.handle_timeout(t);
                b.handle_timeout(t);
            }
            _ => break,
        }
    }
    // A heard B's checks and answered them, and its triggered checks to
    // the shifted source went nowhere: no path.
    let Some(PunchOutcome::Failed(f)) = a.outcome() else {
        panic!("{:?}", a.outcome())
    };
    assert!(f.checks_heard > 0, "{f:?}");
}

#[test]
fn gathering_learns_the_mapped_endpoint_and_the_guesses() {
    use crate::proto::stun::{Responder, ResponderConfig};
    let now = Instant::now();
    let server = addr("198.51.100.1:3478");
    let mapped = addr("203.0.113.5:20000");
    for (guess, sockets, predicted) in [
        (None, 1, None),
        (Some(PortGuess::Sequential { delta: 1 }), 1, Some(20001)),
        (Some(PortGuess::Sequential { delta: -2 }), 1, Some(19998)),
        (Some(PortGuess::Preserving), 1, Some(40001)),
    ] {
        let mut config = PunchConfig::new(creds(1), Some(server));
        config.guess = guess;
        config.sockets = sockets;
        let mut p = Punch::new(config, 5);
        let mut port = 40000;
        while let Some((id, _)) = p.poll_bind() {
            p.handle_bound(now, id, addr(&format!("10.0.0.2:{port}")));
            port += 1;
        }
        let mut responder = Responder::new(ResponderConfig::new(server, None).unwrap());
        let t = p.poll_transmit().expect("a Binding to the server");
        assert_eq!((t.socket, t.destination), (SocketId(0), server));
        responder.handle_input(now, SocketId(0), mapped, &t.payload);
        let answer = responder.poll_transmit().unwrap();
        // Hostile datagrams first: ignored.
        p.handle_input(now, SocketId(0), server, b"garbage");
        p.handle_input(
            now,
            SocketId(0),
            addr("198.51.100.66:3478"),
            &answer.payload,
        );
        assert!(p.local_candidates().is_none());
        p.handle_input(now, SocketId(0), server, &answer.payload);
        let mut want = vec![Candidate {
            address: mapped,
            kind: CandidateKind::ServerReflexive,
        }];
        if let Some(port) = predicted {
            want.push(Candidate {
                address: SocketAddr::new(mapped.ip(), port),
                kind: CandidateKind::Predicted,
            });
        }
        assert_eq!(p.local_candidates(), Some(&want[..]), "{guess:?}");
    }
}

#[test]
fn a_silent_server_ends_gathering_with_no_candidates() {
    let now = Instant::now();
    let mut p = Punch::new(
        PunchConfig::new(creds(1), Some(addr("198.51.100.1:3478"))),
        5,
    );
    while let Some((id, _)) = p.poll_bind() {
        p.handle_bound(now, id, addr("10.0.0.2:40000"));
    }
    let mut t = now;
    while let Some(next) = p.poll_timeout() {
        while p.poll_transmit().is_some() {}
        t = next;
        p.handle_timeout(t);
    }
    assert_eq!(p.local_candidates(), Some(&[][..]));
    assert!(p.gather_note().is_some());
    assert!(t - now < Duration::from_secs(5), "{:?}", t - now);
}

#[test]
fn spray_probes_distinct_ports_at_the_stated_rate() {
    let now = Instant::now();
    let mut config = PunchConfig::new(creds(1), None);
    config.spray = Some(Spray {
        probes: 256,
        rate: 100,
    });
    let mut p = Punch::new(config, 9);
    while let Some((id, _)) = p.poll_bind() {
        p.handle_bound(now, id, addr("10.0.0.2:40000"));
    }
    let peer = addr("203.0.113.9:30000");
    p.start(
        now,
        creds(2),
        &[Candidate {
            address: peer,
            kind: CandidateKind::ServerReflexive,
        }],
    );
    let mut ports = std::collections::BTreeSet::new();
    let mut t = now;
    let mut last_probe = now;
    while !p.is_done() {
        while let Some(x) = p.poll_transmit() {
            if x.destination != peer {
                assert_eq!(x.destination.ip(), peer.ip());
                assert!(x.destination.port() >= 1024);
                assert!(ports.insert(x.destination.port()), "a port probed twice");
                last_probe = t;
            }
        }
        t = p.poll_timeout().unwrap();
        p.handle_timeout(t);
    }
    assert!(ports.len() >= 255, "{}", ports.len());
    let took = last_probe - now;
    assert!(
        (Duration::from_millis(2500)..=Duration::from_millis(2600)).contains(&took),
        "{took:?}"
    );
}

#[test]
fn a_deadline_set_before_the_start_ends_the_checks_then_and_not_after_it() {
    let run = |deadline: Option<Duration>, set_after_start: bool| {
        let now = Instant::now();
        let mut p = Punch::new(PunchConfig::new(creds(1), None), 3);
        while let Some((id, _)) = p.poll_bind() {
            p.handle_bound(now, id, addr("10.0.0.2:40000"));
        }
        if let (Some(d), false) = (deadline, set_after_start) {
            p.set_deadline(d);
        }
        let peer = Candidate {
            address: addr("203.0.113.9:30000"),
            kind: CandidateKind::ServerReflexive,
        };
        p.start(now, creds(2), &[peer]);
        if let (Some(d), true) = (deadline, set_after_start) {
            p.set_deadline(d);
        }
        let mut t = now;
        while !p.is_done() {
            while p.poll_transmit().is_some() {}
            t = p.poll_timeout().expect("a timer while checking");
            p.handle_timeout(t);
        }
        assert!(matches!(p.outcome(), Some(PunchOutcome::Failed(_))));
        t - now
    };
    let default = Timing::default().deadline;
    assert_eq!(run(None, false), default);
    assert_eq!(
        run(Some(Duration::from_millis(1600)), false),
        Duration::from_millis(1600)
    );
    assert_eq!(
        run(Some(Duration::from_millis(1600)), true),
        default,
        "too late to change"
    );
}

const TEREDO: &str = "[2001:0:c633:6428:8000:63bf:3fff:fdd2]";

fn candidate(address: &str, kind: CandidateKind) -> Candidate {
    Candidate {
        address: addr(address),
        kind,
    }
}

fn connected(p: &Punch) -> &Path {
    match p.outcome() {
        Some(PunchOutcome::Connected(path)) => path,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_ipv6_socket_comes_after_the_others_at_the_ipv6_wildcard() {
    let server = addr("198.51.100.1:3478");
    for (guess, v6) in [(None, 1), (Some(PortGuess::Preserving), 2)] {
        let mut config = PunchConfig::new(creds(1), Some(server));
        config.guess = guess;
        config.ipv6 = true;
        let mut p = Punch::new(config, 5);
        let binds: Vec<_> = std::iter::from_fn(|| p.poll_bind()).collect();
        let mut want: Vec<_> = (0..v6)
            .map(|i| (SocketId(i), Bind::Toward(server)))
            .collect();
        want.push((SocketId(v6), Bind::At(addr("[::]:0"))));
        assert_eq!(binds, want);
        assert_eq!(p.ipv6_socket(), Some(SocketId(v6)));
    }
    let p = Punch::new(PunchConfig::new(creds(1), Some(server)), 5);
    assert_eq!(p.ipv6_socket(), None, "off by default");
}

#[test]
fn ipv6_pairs_go_only_from_the_ipv6_socket_and_ipv4_never_from_it() {
    let now = Instant::now();
    let (ca, cb) = (creds(1), creds(2));
    let la = [addr("198.51.100.7:5000"), addr("[2001:db8::7]:5001")];
    let lb = [addr("198.51.100.8:6000"), addr("[2001:db8::8]:6001")];
    let mut a = dual(1, ca.clone(), la[0], la[1], now);
    let mut b = dual(2, cb.clone(), lb[0], lb[1], now);
    let both = |l: &[SocketAddr]| [host(l[0]), host(l[1])];
    a.start(now, cb, &both(&lb));
    b.start(now, ca, &both(&la));
    let mut sent = Vec::new();
    run_sockets(&mut a, &la, &mut b, &lb, now, |t, from_a| {
        sent.push((from_a, t.socket, t.destination));
        false
    });
    assert!(sent.len() >= 8, "checks and answers both ways: {sent:?}");
    for (_, socket, destination) in &sent {
        assert_eq!(
            *socket == SocketId(1),
            destination.is_ipv6(),
            "{socket:?} to {destination}"
        );
    }
    // The IPv6 pair goes first, so it wins.
    for (p, remote) in [(&a, lb[1]), (&b, la[1])] {
        let path = connected(p);
        assert_eq!((path.socket, path.remote), (SocketId(1), remote));
        assert_eq!(path.kind, CandidateKind::Host);
    }
}

#[test]
fn an_ipv6_host_candidate_connects_where_ipv4_is_lost() {
    let now = Instant::now();
    let (ca, cb) = (creds(1), creds(2));
    let la = [addr("198.51.100.7:5000"), addr("[2001:db8::7]:5001")];
    let lb = [addr("198.51.100.8:6000"), addr("[2001:db8::8]:6001")];
    let mut a = dual(1, ca.clone(), la[0], la[1], now);
    let mut b = dual(2, cb.clone(), lb[0], lb[1], now);
    a.start(now, cb, &[host(lb[0]), host(lb[1])]);
    // B knows nothing of A: it answers A's checks on the socket they came
    // in on and checks back at their source, a peer-reflexive pair.
    b.start(now, ca, &[]);
    run_sockets(&mut a, &la, &mut b, &lb, now, |t, _| {
        t.destination.is_ipv4()
    });
    let path = connected(&a);
    assert_eq!((path.socket, path.remote), (SocketId(1), lb[1]));
    assert_eq!(path.local, Some(la[1]));
    let path = connected(&b);
    assert_eq!((path.socket, path.remote), (SocketId(1), la[1]));
    assert_eq!(path.kind, CandidateKind::PeerReflexive);
}

#[test]
fn ipv4_reaching_the_ipv6_socket_is_never_answered() {
    let now = Instant::now();
    let (ca, cb) = (creds(1), creds(2));
    let la = [addr("198.51.100.7:5000"), addr("[2001:db8::7]:5001")];
    let mut a = dual(1, ca.clone(), la[0], la[1], now);
    let mut b = ready(2, cb.clone(), addr("198.51.100.8:6000"), now);
    a.start(now, cb.clone(), &[]);
    b.start(now, ca, &[host(addr("198.51.100.7:5001"))]);
    let check = b.poll_transmit().expect("B's check").payload;
    while a.poll_transmit().is_some() {}
    // How a dual-stack socket sees an IPv4 source, and the bare form.
    for from in ["[::ffff:198.51.100.8]:6000", "198.51.100.8:6000"] {
        a.handle_input(now, SocketId(1), addr(from), &check);
        assert_eq!(a.poll_transmit(), None, "from {from}");
    }
    while !a.is_done() {
        while a.poll_transmit().is_some() {}
        let t = a.poll_timeout().expect("a timer while checking");
        a.handle_timeout(t);
    }
    let Some(PunchOutcome::Failed(f)) = a.outcome() else {
        panic!("{:?}", a.outcome())
    };
    assert_eq!((f.checks_heard, f.strangers), (0, 2), "{f:?}");
}

/// A punch with IPv6 on (sockets at 10.0.0.2:40000 and
/// [2001:db8::2]:40001), gathered through a STUN server that saw it at
/// `public`.
fn dual_behind(public: SocketAddr, now: Instant) -> Punch {
    use crate::proto::stun::{Responder, ResponderConfig};
    let server = addr("198.51.100.1:3478");
    let mut config = PunchConfig::new(creds(1), Some(server));
    config.ipv6 = true;
    let mut p = Punch::new(config, 5);
    let locals = [addr("10.0.0.2:40000"), addr("[2001:db8::2]:40001")];
    while let Some((id, _)) = p.poll_bind() {
        p.handle_bound(now, id, locals[usize::from(id.0)]);
    }
    let mut responder = Responder::new(ResponderConfig::new(server, None).unwrap());
    let t = p.poll_transmit().expect("a Binding to the server");
    assert_eq!(t.socket, SocketId(0), "gathering stays on socket 0");
    responder.handle_input(now, SocketId(0), public, &t.payload);
    let answer = responder.poll_transmit().unwrap();
    p.handle_input(now, SocketId(0), server, &answer.payload);
    assert!(p.local_candidates().is_some());
    p
}

#[test]
fn ipv6_hosts_go_first_teredo_last_and_both_cross_public_addresses() {
    let peer = [
        candidate(&format!("{TEREDO}:7001"), CandidateKind::Teredo),
        candidate("10.0.0.9:7000", CandidateKind::Host),
        candidate("203.0.113.9:30000", CandidateKind::ServerReflexive),
        candidate("[2001:db8::9]:7001", CandidateKind::Host),
        candidate("203.0.113.9:30001", CandidateKind::Predicted),
        candidate("203.0.113.9:31000", CandidateKind::PortMapped),
    ];
    let round = |public: &str| {
        let now = Instant::now();
        let mut p = dual_behind(addr(public), now);
        p.start(now, creds(2), &peer);
        std::iter::from_fn(|| p.poll_transmit())
            .map(|t| (t.socket.0, t.destination.to_string()))
            .collect::<Vec<_>>()
    };
    let teredo = format!("{TEREDO}:7001");
    let s = |x: &str| x.to_string();
    // Behind another public address: the IPv4 host candidate is left out,
    // the IPv6 host and Teredo ones are not.
    assert_eq!(
        round("203.0.113.5:20000"),
        [
            (1, s("[2001:db8::9]:7001")),
            (0, s("203.0.113.9:30001")),
            (0, s("203.0.113.9:31000")),
            (0, s("203.0.113.9:30000")),
            (1, teredo.clone()),
        ]
    );
    // Behind the same one: the IPv4 host candidate too, before Teredo.
    assert_eq!(
        round("203.0.113.9:20000"),
        [
            (1, s("[2001:db8::9]:7001")),
            (0, s("203.0.113.9:30001")),
            (0, s("203.0.113.9:31000")),
            (0, s("203.0.113.9:30000")),
            (0, s("10.0.0.9:7000")),
            (1, teredo),
        ]
    );
}
