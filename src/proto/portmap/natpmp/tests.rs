use super::*;

const UDP_MAP: Request = Request::Map {
    transport: Transport::Udp,
    internal_port: 0x1234,
    suggested_external_port: 0x1234,
    lifetime: 7200,
};

#[test]
fn external_address_request_is_two_bytes() {
    // RFC 6886 §3.2: Vers = 0, OP = 0.
    assert_eq!(Request::ExternalAddress.encode(), [0x00, 0x00]);
}

#[test]
fn map_request_layout() {
    // RFC 6886 §3.3: vers, op, reserved(16), internal port, suggested
    // external port, lifetime(32). 7200 s = 0x1c20.
    assert_eq!(
        UDP_MAP.encode(),
        [
            0x00, 0x01, 0x00, 0x00, 0x12, 0x34, 0x12, 0x34, 0x00, 0x00, 0x1c, 0x20
        ]
    );
    let tcp = Request::map(Transport::Tcp, 80, 8080, 0x0102_0304);
    assert_eq!(
        tcp.encode(),
        [
            0x00, 0x02, 0x00, 0x00, 0x00, 0x50, 0x1f, 0x90, 0x01, 0x02, 0x03, 0x04
        ]
    );
}

#[test]
fn delete_request_zeroes_port_and_lifetime() {
    // RFC 6886 §3.4: lifetime 0, suggested external port 0.
    assert_eq!(
        Request::delete(Transport::Udp, 40000).encode(),
        [
            0x00, 0x01, 0x00, 0x00, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
        ]
    );
}

#[test]
fn decodes_external_address_answer() {
    let answer = [0, 128, 0, 0, 0, 0, 0x01, 0x00, 203, 0, 113, 7];
    assert_eq!(
        Request::ExternalAddress.decode_response(&answer),
        Ok(Response::ExternalAddress {
            epoch: 256,
            address: Ipv4Addr::new(203, 0, 113, 7),
        })
    );
}

#[test]
fn decodes_map_answer_and_deletion_answer() {
    let answer = [
        0, 129, 0, 0, 0, 0, 0, 9, 0x12, 0x34, 0xc3, 0x50, 0, 0, 0x0e, 0x10,
    ];
    assert_eq!(
        UDP_MAP.decode_response(&answer),
        Ok(Response::Map {
            epoch: 9,
            internal_port: 0x1234,
            external_port: 50000,
            lifetime: 3600,
        })
    );
    // §3.4: a deletion is confirmed with external port 0 and lifetime 0.
    let deleted = [0, 129, 0, 0, 0, 0, 0, 9, 0x12, 0x34, 0, 0, 0, 0, 0, 0];
    let del = Request::delete(Transport::Udp, 0x1234);
    assert_eq!(
        del.decode_response(&deleted),
        Ok(Response::Map {
            epoch: 9,
            internal_port: 0x1234,
            external_port: 0,
            lifetime: 0,
        })
    );
}

#[test]
fn every_result_code_is_named_and_unknown_ones_kept() {
    let names = [
        (0, "Success"),
        (1, "Unsupported Version"),
        (2, "Not Authorized/Refused"),
        (3, "Network Failure"),
        (4, "Out of resources"),
        (5, "Unsupported opcode"),
    ];
    for (code, name) in names {
        let rc = ResultCode::from_u16(code);
        assert_eq!(rc.name(), name);
        assert_eq!(rc.code(), code);
        assert!(rc.to_string().starts_with(&format!("{name} ({code}): ")));
    }
    assert_eq!(ResultCode::from_u16(6), ResultCode::Other(6));
    assert_eq!(ResultCode::from_u16(0xffff).code(), 0xffff);
    for code in 1..=7u16 {
        // Full-length and header-only error answers both decode.
        let [hi, lo] = code.to_be_bytes();
        let short = [0, 129, hi, lo, 0, 0, 0, 1];
        let mut full = short.to_vec();
        full.extend_from_slice(&[0x12, 0x34, 0, 0, 0, 0, 0, 0]);
        let expected = Ok(Response::Failure {
            epoch: 1,
            code: ResultCode::from_u16(code),
        });
        assert_eq!(UDP_MAP.decode_response(&short), expected);
        assert_eq!(UDP_MAP.decode_response(&full), expected);
    }
}

#[test]
fn refuses_truncated_and_overlong_answers() {
    let good = [
        0, 129, 0, 0, 0, 0, 0, 9, 0x12, 0x34, 0xc3, 0x50, 0, 0, 0x0e, 0x10,
    ];
    for len in 0..HEADER_LEN {
        assert_eq!(
            UDP_MAP.decode_response(&good[..len]),
            Err(DecodeError::TooShort(len))
        );
    }
    for len in HEADER_LEN..good.len() {
        assert_eq!(
            UDP_MAP.decode_response(&good[..len]),
            Err(DecodeError::WrongLength {
                got: len,
                expected: 16
            })
        );
    }
    let mut long = good.to_vec();
    long.push(0);
    assert_eq!(
        UDP_MAP.decode_response(&long),
        Err(DecodeError::WrongLength {
            got: 17,
            expected: 16
        })
    );
    let addr_long = [0, 128, 0, 0, 0, 0, 0, 1, 203, 0, 113, 7, 0, 0, 0, 0];
    assert_eq!(
        Request::ExternalAddress.decode_response(&addr_long),
        Err(DecodeError::WrongLength {
            got: 16,
            expected: 12
        })
    );
    // An error answer is 8 bytes or the full length, nothing between.
    let odd_error = [0, 129, 0, 2, 0, 0, 0, 1, 0x12, 0x34];
    assert_eq!(
        UDP_MAP.decode_response(&odd_error),
        Err(DecodeError::WrongErrorLength { got: 10, full: 16 })
    );
}

#[test]
fn refuses_wrong_version_and_opcode() {
    let pcp = [
        2, 129, 0, 0, 0, 0, 0, 9, 0x12, 0x34, 0xc3, 0x50, 0, 0, 0x0e, 0x10,
    ];
    assert_eq!(
        UDP_MAP.decode_response(&pcp),
        Err(DecodeError::WrongVersion(2))
    );
    // A TCP answer to a UDP request, a request echoed back, and the
    // external-address answer to a mapping request.
    for (op, len) in [(130u8, 16usize), (1, 16), (128, 12)] {
        let mut answer = vec![
            0, op, 0, 0, 0, 0, 0, 9, 0x12, 0x34, 0xc3, 0x50, 0, 0, 0x0e, 0x10,
        ];
        answer.truncate(len);
        assert_eq!(
            UDP_MAP.decode_response(&answer),
            Err(DecodeError::WrongOpcode {
                expected: 129,
                got: op
            })
        );
    }
}

#[test]
fn refuses_answers_for_another_internal_port() {
    let other = [
        0, 129, 0, 0, 0, 0, 0, 9, 0x12, 0x35, 0xc3, 0x50, 0, 0, 0x0e, 0x10,
    ];
    assert_eq!(
        UDP_MAP.decode_response(&other),
        Err(DecodeError::InternalPortMismatch {
            expected: 0x1234,
            got: 0x1235
        })
    );
    let other_error = [0, 129, 0, 3, 0, 0, 0, 9, 0x12, 0x35, 0, 0, 0, 0, 0, 0];
    assert!(matches!(
        UDP_MAP.decode_response(&other_error),
        Err(DecodeError::InternalPortMismatch { .. })
    ));
}

#[test]
fn refuses_live_mapping_without_external_port() {
    let answer = [0, 129, 0, 0, 0, 0, 0, 9, 0x12, 0x34, 0, 0, 0, 0, 0x0e, 0x10];
    assert_eq!(
        UDP_MAP.decode_response(&answer),
        Err(DecodeError::ExternalPortZero)
    );
}

#[test]
fn refuses_non_unicast_external_addresses() {
    for ip in [
        [0, 0, 0, 0],
        [224, 0, 0, 1],
        [255, 255, 255, 255],
        [127, 0, 0, 1],
    ] {
        let mut answer = vec![0, 128, 0, 0, 0, 0, 0, 1];
        answer.extend_from_slice(&ip);
        assert!(
            matches!(
                Request::ExternalAddress.decode_response(&answer),
                Err(DecodeError::UnusableExternal { address, .. }) if address == Ipv4Addr::from(ip)
            ),
            "{ip:?} accepted"
        );
    }
    // Only a success answer's address counts (§3.2: undefined otherwise).
    let refused = [0, 128, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0];
    assert_eq!(
        Request::ExternalAddress.decode_response(&refused),
        Ok(Response::Failure {
            epoch: 1,
            code: ResultCode::NetworkFailure
        })
    );
}

#[test]
fn error_messages_name_the_problem() {
    let err = UDP_MAP
        .decode_response(&[0, 129, 0, 0, 0, 0, 0, 9, 0x12, 0x35, 1, 1, 0, 0, 0, 1])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "NAT-PMP answer is for internal port 4661, but the request was for 4660"
    );
}

#[test]
fn no_input_panics() {
    let answers: [(Request, &[u8]); 2] = [
        (
            UDP_MAP,
            &[
                0, 129, 0, 0, 0, 0, 0, 9, 0x12, 0x34, 0xc3, 0x50, 0, 0, 0x0e, 0x10,
            ],
        ),
        (
            Request::ExternalAddress,
            &[0, 128, 0, 0, 0, 0, 0, 1, 203, 0, 113, 7],
        ),
    ];
    for (request, answer) in answers {
        for len in 0..=answer.len() {
            let _ = request.decode_response(&answer[..len]);
        }
        for i in 0..answer.len() {
            for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut mutated = answer.to_vec();
                mutated[i] = v;
                let _ = request.decode_response(&mutated);
            }
        }
    }
}
