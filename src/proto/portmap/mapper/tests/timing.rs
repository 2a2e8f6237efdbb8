//! When the machine sends, and that it always ends by the deadline.

use super::*;

#[test]
fn silence_retransmits_on_schedule_and_ends_within_two_seconds() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    let (sent, ended) = run_unanswered(&mut m, t0);
    assert_eq!(
        sent,
        [
            (ms(0), Sent::PcpMap),
            (ms(250), Sent::PcpMap),
            (ms(750), Sent::PcpMap),
            (ms(1100), Sent::NatPmpAddress),
            (ms(1350), Sent::NatPmpAddress),
            (ms(1850), Sent::NatPmpAddress),
        ]
    );
    assert_eq!(ended, ms(2000));
    let Some(Err(e)) = m.outcome() else {
        panic!("no error")
    };
    assert_eq!(
        *e,
        PortMapError::NoAnswer {
            server: server(),
            waited: ms(2000),
            stray: 0
        }
    );
    assert!(
        e.to_string()
            .starts_with("nothing answered on 192.168.1.1:5351 within 2s")
    );
}

#[test]
fn natpmp_only_gateway_that_then_goes_silent() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    drain(&mut m);
    m.handle_input(t0, CONTROL, server(), &testing::natpmp_refusal());
    let (sent, ended) = run_unanswered(&mut m, t0);
    assert_eq!(
        sent,
        [
            (ms(0), Sent::NatPmpAddress),
            (ms(250), Sent::NatPmpAddress),
            (ms(750), Sent::NatPmpAddress),
            (ms(1750), Sent::NatPmpAddress),
        ]
    );
    assert_eq!(ended, ms(2000));
    let Some(Err(e)) = m.outcome() else {
        panic!("no error")
    };
    assert!(e.to_string().contains("it speaks NAT-PMP only"), "{e}");
}

#[test]
fn natpmp_mapping_unanswered_after_the_address() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    drain(&mut m);
    m.handle_input(t0, CONTROL, server(), &testing::natpmp_refusal());
    drain(&mut m);
    m.handle_input(
        t0 + ms(5),
        CONTROL,
        server(),
        &testing::natpmp_address(EXTERNAL),
    );
    let (sent, ended) = run_unanswered(&mut m, t0);
    assert_eq!(sent.first(), Some(&(ms(0), Sent::NatPmpMap)));
    assert!(sent.iter().all(|(_, s)| *s == Sent::NatPmpMap));
    assert_eq!(ended, ms(2000));
    assert_eq!(
        m.outcome(),
        Some(&Err(PortMapError::MappingUnanswered {
            server: server(),
            external: EXTERNAL,
            waited: ms(2000)
        }))
    );
}

#[test]
fn a_late_driver_gets_one_send_per_call_and_the_deadline_holds() {
    let t0 = Instant::now();
    let mut m = PortMapper::new(config(), t0).unwrap();
    drain(&mut m);
    // Woken 600 ms late: one retransmission, the next one still due at 750 ms.
    m.handle_timeout(t0 + ms(850));
    assert_eq!(drain(&mut m).len(), 1);
    assert_eq!(m.poll_timeout(), Some(t0 + ms(750)));
    m.handle_timeout(t0 + ms(5000));
    assert!(matches!(
        m.outcome(),
        Some(Err(PortMapError::NoAnswer { .. }))
    ));
    assert!(drain(&mut m).is_empty());
}
