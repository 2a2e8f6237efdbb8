use super::*;
use crate::proto::portmap::pcp::Nonce;
use crate::proto::portmap::testing::{self, EPOCH};
use crate::proto::portmap::{RefusalCode, unusable_external};

mod deletion;
mod refusals;
mod timing;

const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const PORT: u16 = 40000;
const NONCE: Nonce = [9; 12];
const EXTERNAL: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);

fn server() -> SocketAddr {
    "192.168.1.1:5351".parse().unwrap()
}

fn config() -> PortMapConfig {
    PortMapConfig::new(GATEWAY, CLIENT, PORT, NONCE)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    PcpMap,
    PcpDelete,
    NatPmpAddress,
    NatPmpMap,
    NatPmpDelete,
}

fn classify(t: &Transmit) -> Sent {
    assert_eq!(t.destination, server());
    let p = &t.payload;
    match (p[0], p[1]) {
        (2, 1) if p[4..8] == [0; 4] => Sent::PcpDelete,
        (2, 1) => Sent::PcpMap,
        (0, 0) => Sent::NatPmpAddress,
        (0, 1) if p[8..12] == [0; 4] => Sent::NatPmpDelete,
        (0, 1) => Sent::NatPmpMap,
        other => panic!("unexpected request {other:?}"),
    }
}

/// Drains the transmits, checking their destination.
fn drain(m: &mut PortMapper) -> Vec<Transmit> {
    std::iter::from_fn(|| m.poll_transmit()).collect()
}

/// Runs the machine with no answers until it ends: what it sent and when
/// (relative to `t0`), and when it ended.
fn run_unanswered(m: &mut PortMapper, t0: Instant) -> (Vec<(Duration, Sent)>, Duration) {
    let mut sent = Vec::new();
    let mut now = t0;
    for _ in 0..100 {
        for t in drain(m) {
            sent.push((now - t0, classify(&t)));
        }
        match m.poll_timeout() {
            Some(at) => {
                assert!(at >= now, "timeout in the past");
                now = at;
                m.handle_timeout(now);
            }
            None => return (sent, now - t0),
        }
    }
    panic!("machine did not end: sent {sent:?}");
}

fn pcp_success(request: &Transmit) -> Vec<u8> {
    testing::pcp_answer(&request.payload, 0, 120, SocketAddrV4::new(EXTERNAL, 50000))
}

#[test]
fn pcp_success_on_the_first_request() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    let sent = drain(&mut m);
    assert_eq!(sent.len(), 1);
    assert_eq!(classify(&sent[0]), Sent::PcpMap);
    m.handle_input(t0 + ms(3), CONTROL, server(), &pcp_success(&sent[0]));
    assert_eq!(
        m.outcome(),
        Some(&Ok(Mapping {
            protocol: Protocol::Pcp,
            external: SocketAddrV4::new(EXTERNAL, 50000),
            internal_port: PORT,
            lifetime: 120,
            epoch: EPOCH,
        }))
    );
    assert_eq!(m.poll_timeout(), None);
    assert!(drain(&mut m).is_empty());
}

#[test]
fn unsupported_version_switches_to_natpmp_at_once() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    drain(&mut m);
    let t1 = t0 + ms(20);
    m.handle_input(t1, CONTROL, server(), &testing::natpmp_refusal());
    assert_eq!(m.pcp_refused_version(), Some(0));
    let sent = drain(&mut m);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].payload, [0, 0]);
    // NAT-PMP now retransmits on its own schedule, from t1.
    assert_eq!(m.poll_timeout(), Some(t1 + ms(250)));
    // The refusal of a PCP retransmission is not evidence of anything.
    m.handle_input(t1 + ms(1), CONTROL, server(), &[0, 0, 0, 1, 0, 0, 3, 232]);
    assert_eq!(m.stale_answers(), 1);
    let t2 = t1 + ms(2);
    m.handle_input(t2, CONTROL, server(), &testing::natpmp_address(EXTERNAL));
    let sent = drain(&mut m);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].payload,
        [0, 1, 0, 0, 0x9c, 0x40, 0, 0, 0, 0, 0, 120]
    );
    assert_eq!(m.poll_timeout(), Some(t2 + ms(250)));
    // A repeated answer to opcode 0 is a duplicate, not a bad answer.
    m.handle_input(t2, CONTROL, server(), &testing::natpmp_address(EXTERNAL));
    assert_eq!(m.stale_answers(), 2);
    let answer = testing::natpmp_map_answer(&sent[0].payload, 0, 50001, 60);
    m.handle_input(t2 + ms(2), CONTROL, server(), &answer);
    assert_eq!(
        m.outcome(),
        Some(&Ok(Mapping {
            protocol: Protocol::NatPmp,
            external: SocketAddrV4::new(EXTERNAL, 50001),
            internal_port: PORT,
            lifetime: 60,
            epoch: EPOCH,
        }))
    );
}

#[test]
fn another_pcp_version_also_falls_back() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    let sent = drain(&mut m);
    let mut answer = testing::pcp_answer(&sent[0].payload, 1, 0, SocketAddrV4::new(EXTERNAL, 0));
    answer[0] = 1;
    m.handle_input(t0, CONTROL, server(), &answer);
    assert_eq!(m.pcp_refused_version(), Some(1));
    assert_eq!(classify(&drain(&mut m)[0]), Sent::NatPmpAddress);
    // And if NAT-PMP then stays silent, the verdict says so.
    m.handle_timeout(t0 + ms(2000));
    let Some(Err(e)) = m.outcome() else {
        panic!("no error")
    };
    assert!(matches!(
        e,
        PortMapError::NoCommonVersion {
            server_version: 1,
            ..
        }
    ));
    assert!(e.to_string().contains("it speaks PCP version 1 only"));
}

#[test]
fn datagrams_from_elsewhere_are_ignored_and_counted() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    let sent = drain(&mut m);
    let good = pcp_success(&sent[0]);
    for from in [
        "192.168.1.1:5350",
        "192.168.1.2:5351",
        "[::ffff:192.168.1.2]:5351",
    ] {
        m.handle_input(t0, CONTROL, from.parse().unwrap(), &good);
    }
    assert_eq!(m.outcome(), None);
    assert_eq!(m.stray_datagrams(), 3);
    // The gateway seen through a dual-stack socket is still the gateway.
    let mut dual = PortMapper::new(config(), t0).unwrap();
    dual.handle_input(
        t0,
        CONTROL,
        "[::ffff:192.168.1.1]:5351".parse().unwrap(),
        &good,
    );
    assert!(matches!(dual.outcome(), Some(Ok(_))));
    m.handle_timeout(t0 + ms(2000));
    let Some(Err(e)) = m.outcome() else {
        panic!("no error")
    };
    assert_eq!(
        *e,
        PortMapError::NoAnswer {
            server: server(),
            waited: ms(2000),
            stray: 3
        }
    );
    assert!(
        e.to_string()
            .ends_with("(3 datagrams from other sources were ignored)")
    );
}

#[test]
fn bad_answers_are_ignored_but_kept_as_evidence() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    let sent = drain(&mut m);
    let mut other_nonce = pcp_success(&sent[0]);
    other_nonce[24] ^= 0xff;
    m.handle_input(t0, CONTROL, server(), &other_nonce);
    m.handle_input(t0, CONTROL, server(), &[]);
    m.handle_input(t0, CONTROL, server(), &other_nonce);
    assert_eq!(m.outcome(), None);
    // A good answer still wins after bad ones.
    let mut m2 = PortMapper::new(config(), t0).unwrap();
    m2.handle_input(t0, CONTROL, server(), &other_nonce);
    m2.handle_input(t0, CONTROL, server(), &pcp_success(&sent[0]));
    assert!(matches!(m2.outcome(), Some(Ok(_))));
    // Without one, the last bad answer is the verdict.
    m.handle_timeout(t0 + ms(2000));
    assert_eq!(
        m.outcome(),
        Some(&Err(PortMapError::Malformed(
            "PCP answer carries another request's mapping nonce".into()
        )))
    );
}

#[test]
fn a_late_pcp_answer_still_counts_during_natpmp() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    let first = drain(&mut m).remove(0);
    m.handle_timeout(t0 + ms(1100));
    assert_eq!(classify(&drain(&mut m)[0]), Sent::NatPmpAddress);
    m.handle_input(t0 + ms(1200), CONTROL, server(), &pcp_success(&first));
    assert!(matches!(
        m.outcome(),
        Some(Ok(Mapping {
            protocol: Protocol::Pcp,
            ..
        }))
    ));
}

#[test]
fn the_outcome_is_final() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    let sent = drain(&mut m);
    m.handle_input(t0, CONTROL, server(), &pcp_success(&sent[0]));
    let before = m.outcome().cloned();
    let refusal = testing::pcp_answer(
        &sent[0].payload,
        2,
        30,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
    );
    m.handle_input(t0, CONTROL, server(), &refusal);
    m.handle_timeout(t0 + ms(5000));
    assert_eq!(m.outcome().cloned(), before);
    assert!(drain(&mut m).is_empty());
}

#[test]
fn refuses_configurations_it_cannot_run() {
    let t0 = Instant::now();
    let with = |f: fn(&mut PortMapConfig)| {
        let mut c = config();
        f(&mut c);
        PortMapper::new(c, t0).err()
    };
    assert_eq!(
        with(|c| c.internal_port = 0),
        Some(ConfigError::InternalPortZero)
    );
    assert_eq!(with(|c| c.lifetime = 0), Some(ConfigError::LifetimeZero));
    assert_eq!(
        with(|c| c.gateway = Ipv4Addr::UNSPECIFIED),
        Some(ConfigError::BadGateway(Ipv4Addr::UNSPECIFIED))
    );
    assert_eq!(
        with(|c| c.client = Ipv4Addr::BROADCAST),
        Some(ConfigError::BadClient(Ipv4Addr::BROADCAST))
    );
    assert!(matches!(
        with(|c| c.timing.rto = Duration::ZERO),
        Some(ConfigError::BadTiming(_))
    ));
    assert!(matches!(
        with(|c| c.timing.deadline = Duration::MAX),
        Some(ConfigError::BadTiming(_))
    ));
    assert_eq!(with(|_| ()), None);
}

/// Every truncation and many one-byte corruptions of every answer, offered
/// to machines in each stage: nothing panics, and a corrupted answer never
/// yields a mapping other than the one a clean answer gives.
#[test]
fn hostile_datagrams_never_panic_or_forge_a_mapping() {
    let t0 = Instant::now();
    let fresh = || {
        let mut m = PortMapper::new(config(), t0).unwrap();
        let sent = drain(&mut m);
        (m, sent)
    };
    let in_natpmp_map = || {
        let (mut m, _) = fresh();
        m.handle_input(t0, CONTROL, server(), &testing::natpmp_refusal());
        m.handle_input(t0, CONTROL, server(), &testing::natpmp_address(EXTERNAL));
        let sent = drain(&mut m);
        assert_eq!(classify(&sent[1]), Sent::NatPmpMap);
        (m, sent)
    };
    let (_, pcp_sent) = fresh();
    let (_, natpmp_sent) = in_natpmp_map();
    let answers = [
        pcp_success(&pcp_sent[0]),
        testing::natpmp_refusal(),
        testing::natpmp_address(EXTERNAL),
        testing::natpmp_map_answer(&natpmp_sent[1].payload, 0, 50000, 120),
    ];
    for answer in &answers {
        let mut variants: Vec<Vec<u8>> = (0..answer.len()).map(|n| answer[..n].to_vec()).collect();
        for i in 0..answer.len() {
            for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut mutated = answer.clone();
                mutated[i] = v;
                variants.push(mutated);
            }
        }
        for variant in &variants {
            for (mut m, _) in [fresh(), in_natpmp_map()] {
                m.handle_input(t0, CONTROL, server(), variant);
                m.handle_timeout(t0 + ms(2000));
                if let Some(Ok(mapping)) = m.outcome() {
                    assert_eq!(mapping.internal_port, PORT);
                    assert!(unusable_external(*mapping.external.ip()).is_none());
                    assert_ne!(mapping.external.port(), 0);
                }
                assert!(m.is_done());
            }
        }
    }
}

#[test]
fn a_closed_port_5351_ends_the_exchange_at_once() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    drain(&mut m);
    let elsewhere: SocketAddr = "192.168.1.2:5351".parse().unwrap();
    m.handle_unreachable(t0 + ms(3), CONTROL, elsewhere);
    assert_eq!(m.outcome(), None, "another host's refusal says nothing");
    m.handle_unreachable(t0 + ms(3), SocketId(7), server());
    assert_eq!(m.outcome(), None, "not the control socket");
    m.handle_unreachable(t0 + ms(3), CONTROL, server());
    assert_eq!(
        m.outcome(),
        Some(&Err(PortMapError::PortUnreachable { server: server() }))
    );
    assert!(m.is_done());
    assert_eq!(m.poll_timeout(), None);
    assert!(drain(&mut m).is_empty(), "nothing more is sent");
}
