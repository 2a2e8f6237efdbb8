//! Gateways that answer no: PCP and NAT-PMP result codes, ADDRESS_MISMATCH.

use super::*;

#[test]
fn pcp_refusals_end_the_exchange_with_the_code() {
    for code in (1..=13u8).chain([14, 255]) {
        let t0 = Instant::now();
        let mut m = PortMapper::new(config(), t0).unwrap();
        let sent = drain(&mut m);
        let answer = testing::pcp_answer(
            &sent[0].payload,
            code,
            30,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
        );
        m.handle_input(t0, CONTROL, server(), &answer);
        let expected = if code == 12 {
            PortMapError::AddressMismatch { client: CLIENT }
        } else {
            PortMapError::Refused(RefusalCode::Pcp(pcp::ResultCode::from_u8(code)))
        };
        assert_eq!(m.outcome(), Some(&Err(expected)), "code {code}");
        assert_eq!(m.poll_timeout(), None);
    }
}

#[test]
fn address_mismatch_explains_double_nat() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    let sent = drain(&mut m);
    let answer = testing::pcp_answer(
        &sent[0].payload,
        12,
        1800,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
    );
    m.handle_input(t0, CONTROL, server(), &answer);
    let Some(Err(e)) = m.outcome() else {
        panic!("no error")
    };
    let text = e.to_string();
    assert!(
        text.contains("double NAT") && text.contains("192.168.1.10"),
        "{text}"
    );
}

#[test]
fn natpmp_refusals_end_the_exchange_with_the_code() {
    for code in 2..=6u16 {
        let t0 = Instant::now();
        let mut m = PortMapper::new(config(), t0).unwrap();
        drain(&mut m);
        m.handle_input(t0, CONTROL, server(), &testing::natpmp_refusal());
        drain(&mut m);
        m.handle_input(t0, CONTROL, server(), &testing::natpmp_address(EXTERNAL));
        let sent = drain(&mut m);
        let answer = testing::natpmp_map_answer(&sent[0].payload, code, 0, 0);
        m.handle_input(t0, CONTROL, server(), &answer);
        let expected = natpmp::ResultCode::from_u16(code);
        assert_eq!(
            m.outcome(),
            Some(&Err(PortMapError::Refused(RefusalCode::NatPmp(expected))))
        );
        if let Some(Err(e)) = m.outcome() {
            assert!(e.to_string().contains(&format!("NAT-PMP {expected}")));
        }
    }
}

#[test]
fn a_late_pcp_refusal_is_the_verdict_if_natpmp_stays_silent() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    let first = drain(&mut m).remove(0);
    m.handle_timeout(t0 + ms(1100));
    let answer = testing::pcp_answer(
        &first.payload,
        2,
        30,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
    );
    m.handle_input(t0 + ms(1200), CONTROL, server(), &answer);
    assert_eq!(m.outcome(), None, "NAT-PMP may still answer");
    m.handle_timeout(t0 + ms(2000));
    assert_eq!(
        m.outcome(),
        Some(&Err(PortMapError::Refused(RefusalCode::Pcp(
            pcp::ResultCode::NotAuthorized
        ))))
    );
}
