//! Deleting a mapping: RFC 6886 §3.4, RFC 6887 §15.

use super::*;

#[test]
fn deletes_a_pcp_mapping() {
    let t0 = Instant::now();
    let mapping = Mapping {
        protocol: Protocol::Pcp,
        external: SocketAddrV4::new(EXTERNAL, 50000),
        internal_port: PORT,
        lifetime: 120,
        epoch: EPOCH,
    };
    let mut m = PortMapper::delete(config(), Some(&mapping), t0).unwrap();
    let sent = drain(&mut m);
    assert_eq!(classify(&sent[0]), Sent::PcpDelete);
    assert_eq!(sent[0].payload[24..36], NONCE);
    // A late answer to the creation request is not the confirmation.
    let creation = pcp::MapRequest::new(CLIENT, NONCE, Transport::Udp, PORT, 0, 120);
    let old = testing::pcp_answer(&creation.encode(), 0, 120, mapping.external);
    m.handle_input(t0, CONTROL, server(), &old);
    assert_eq!(m.outcome(), None);
    assert_eq!(m.stale_answers(), 1);
    let zero = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
    m.handle_input(
        t0,
        CONTROL,
        server(),
        &testing::pcp_answer(&sent[0].payload, 0, 0, zero),
    );
    assert_eq!(
        m.outcome(),
        Some(&Ok(Mapping {
            protocol: Protocol::Pcp,
            external: zero,
            internal_port: PORT,
            lifetime: 0,
            epoch: EPOCH,
        }))
    );
}

#[test]
fn deletes_a_natpmp_mapping_without_asking_for_the_address() {
    let t0 = Instant::now();
    let mapping = Mapping {
        protocol: Protocol::NatPmp,
        external: SocketAddrV4::new(EXTERNAL, 50001),
        internal_port: 40001,
        lifetime: 60,
        epoch: EPOCH,
    };
    let mut m = PortMapper::delete(config(), Some(&mapping), t0).unwrap();
    let sent = drain(&mut m);
    assert_eq!(sent[0].payload, [0, 1, 0, 0, 0x9c, 0x41, 0, 0, 0, 0, 0, 0]);
    // §3.4: a deletion is confirmed with external port 0 and lifetime 0.
    let answer = testing::natpmp_map_answer(&sent[0].payload, 0, 0, 0);
    m.handle_input(t0, CONTROL, server(), &answer);
    assert!(matches!(
        m.outcome(),
        Some(Ok(Mapping {
            protocol: Protocol::NatPmp,
            internal_port: 40001,
            lifetime: 0,
            ..
        }))
    ));
}

#[test]
fn deleting_after_an_error_runs_the_whole_plan() {
    let t0 = Instant::now();
    let mut m = PortMapper::delete(config(), None, t0).unwrap();
    let (sent, ended) = run_unanswered(&mut m, t0);
    assert_eq!(
        sent,
        [
            (ms(0), Sent::PcpDelete),
            (ms(250), Sent::PcpDelete),
            (ms(750), Sent::PcpDelete),
            (ms(1100), Sent::NatPmpDelete),
            (ms(1350), Sent::NatPmpDelete),
            (ms(1850), Sent::NatPmpDelete),
        ]
    );
    assert_eq!(ended, ms(2000));
    assert!(matches!(
        m.outcome(),
        Some(Err(PortMapError::NoAnswer { .. }))
    ));
    // The same, answered by a NAT-PMP-only gateway.
    let mut m = PortMapper::delete(config(), None, t0).unwrap();
    drain(&mut m);
    m.handle_input(t0, CONTROL, server(), &testing::natpmp_refusal());
    let sent = drain(&mut m);
    assert_eq!(classify(&sent[0]), Sent::NatPmpDelete);
    m.handle_input(
        t0,
        CONTROL,
        server(),
        &testing::natpmp_map_answer(&sent[0].payload, 0, 0, 0),
    );
    assert!(matches!(m.outcome(), Some(Ok(Mapping { lifetime: 0, .. }))));
}
