use super::*;
use crate::proto::portmap::testing;

const NONCE: Nonce = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);

fn request() -> MapRequest {
    MapRequest::new(CLIENT, NONCE, Transport::Udp, 40000, 0, 7200)
}

fn ext(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

#[rustfmt::skip]
const REQUEST_BYTES: [u8; 60] = [
    // §7.1: version 2, R=0 opcode MAP, reserved, lifetime 7200.
    0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x20,
    // Client IP ::ffff:192.168.1.10.
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 10,
    // §11.1: nonce, protocol 17, reserved, internal port 40000, suggested
    // port 0, suggested address ::ffff:0.0.0.0.
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    17, 0, 0, 0, 0x9c, 0x40, 0x00, 0x00,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0,
];

#[rustfmt::skip]
const ANSWER_BYTES: [u8; 60] = [
    // §7.2: version 2, R=1 opcode MAP, reserved, SUCCESS, lifetime 3600,
    // epoch 1234, reserved.
    0x02, 0x81, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x00, 0x04, 0xd2,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    // §11.1: nonce, protocol, reserved, internal port 40000, assigned
    // port 50000, assigned address ::ffff:203.0.113.7.
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    17, 0, 0, 0, 0x9c, 0x40, 0xc3, 0x50,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7,
];

#[test]
fn map_request_layout() {
    assert_eq!(request().encode(), REQUEST_BYTES);
}

#[test]
fn suggested_endpoint_and_tcp_are_encoded() {
    let mut r = MapRequest::new(CLIENT, NONCE, Transport::Tcp, 80, 8080, 60);
    r.suggested_external = ext("198.51.100.9:8080");
    let bytes = r.encode();
    assert_eq!(bytes[36], 6);
    assert_eq!(bytes[40..44], [0x00, 0x50, 0x1f, 0x90]);
    assert_eq!(bytes[54..60], [0xff, 0xff, 198, 51, 100, 9]);
}

#[test]
fn delete_request_is_lifetime_zero_with_all_zeros_suggestion() {
    // §15, and §15.1 as corrected by erratum 3621.
    let bytes = MapRequest::delete(CLIENT, NONCE, Transport::Udp, 40000).encode();
    let mut expected = REQUEST_BYTES;
    expected[4..8].fill(0);
    assert_eq!(bytes, expected);
}

#[test]
fn decodes_success() {
    assert_eq!(
        request().decode_response(&ANSWER_BYTES),
        Ok(Response::Map(MapResponse {
            lifetime: 3600,
            epoch: 1234,
            external: ext("203.0.113.7:50000"),
            options: vec![],
        }))
    );
}

#[test]
fn every_result_code_is_named_and_decoded() {
    let names = [
        "SUCCESS",
        "UNSUPP_VERSION",
        "NOT_AUTHORIZED",
        "MALFORMED_REQUEST",
        "UNSUPP_OPCODE",
        "UNSUPP_OPTION",
        "MALFORMED_OPTION",
        "NETWORK_FAILURE",
        "NO_RESOURCES",
        "UNSUPP_PROTOCOL",
        "USER_EX_QUOTA",
        "CANNOT_PROVIDE_EXTERNAL",
        "ADDRESS_MISMATCH",
        "EXCESSIVE_REMOTE_PEERS",
    ];
    for (code, name) in names.iter().enumerate() {
        let code = code as u8;
        let rc = ResultCode::from_u8(code);
        assert_eq!(rc.name(), *name);
        assert_eq!(rc.code(), code);
        assert!(rc.to_string().starts_with(&format!("{name} ({code}): ")));
        if code > 0 {
            let answer = testing::pcp_answer(&REQUEST_BYTES, code, 30, ext("0.0.0.0:0"));
            assert_eq!(
                request().decode_response(&answer),
                Ok(Response::Failure {
                    code: rc,
                    lifetime: 30,
                    epoch: testing::EPOCH
                })
            );
        }
    }
    assert_eq!(ResultCode::from_u8(14), ResultCode::Other(14));
    assert_eq!(ResultCode::Other(200).code(), 200);
    assert!(
        ResultCode::AddressMismatch
            .to_string()
            .contains("double NAT")
    );
}

#[test]
fn header_only_error_is_accepted_but_header_only_success_is_not() {
    let mut header = ANSWER_BYTES[..24].to_vec();
    header[3] = 3;
    assert_eq!(
        request().decode_response(&header),
        Ok(Response::Failure {
            code: ResultCode::MalformedRequest,
            lifetime: 3600,
            epoch: 1234
        })
    );
    assert_eq!(
        request().decode_response(&ANSWER_BYTES[..24]),
        Err(DecodeError::TruncatedBody(24))
    );
}

#[test]
fn recognises_natpmp_only_gateways() {
    // RFC 6886 §3.5 draws opcode 0; miniupnpd answers 128 + 1.
    for op in [0x00, 0x81] {
        let answer = [0, op, 0, 1, 0, 0, 0, 42];
        assert_eq!(
            request().decode_response(&answer),
            Ok(Response::NatPmpOnly { epoch: 42 })
        );
    }
    assert_eq!(
        request().decode_response(&[0, 0x81, 0, 1, 0, 0, 0]),
        Err(DecodeError::TooShort(7))
    );
    // Version 0 but another result code, or another opcode: not a refusal.
    for answer in [[0, 0x81, 0, 2, 0, 0, 0, 42], [0, 0x82, 0, 1, 0, 0, 0, 42]] {
        assert_eq!(
            request().decode_response(&answer),
            Err(DecodeError::NatPmpAnswer)
        );
    }
}

#[test]
fn recognises_other_pcp_versions() {
    let mut answer = ANSWER_BYTES[..24].to_vec();
    answer[0] = 1;
    answer[3] = 1;
    assert_eq!(
        request().decode_response(&answer),
        Ok(Response::OtherVersion {
            version: 1,
            epoch: 1234
        })
    );
    let mut answer = ANSWER_BYTES;
    answer[0] = 3;
    assert_eq!(
        request().decode_response(&answer),
        Err(DecodeError::WrongVersion(3))
    );
}

#[test]
fn refuses_requests_and_wrong_opcodes() {
    assert_eq!(
        request().decode_response(&REQUEST_BYTES),
        Err(DecodeError::NotAResponse)
    );
    let mut peer = ANSWER_BYTES;
    peer[1] = 0x82;
    assert_eq!(
        request().decode_response(&peer),
        Err(DecodeError::WrongOpcode(2))
    );
}

#[test]
fn refuses_bad_lengths() {
    for len in 0..4 {
        assert_eq!(
            request().decode_response(&ANSWER_BYTES[..len]),
            Err(DecodeError::TooShort(len))
        );
    }
    for len in 4..24 {
        assert_eq!(
            request().decode_response(&ANSWER_BYTES[..len]),
            Err(DecodeError::TooShort(len))
        );
    }
    for len in (28..60).step_by(4) {
        assert_eq!(
            request().decode_response(&ANSWER_BYTES[..len]),
            Err(DecodeError::TruncatedBody(len))
        );
    }
    assert_eq!(
        request().decode_response(&ANSWER_BYTES[..59]),
        Err(DecodeError::NotMultipleOf4(59))
    );
    let mut long = ANSWER_BYTES.to_vec();
    long.resize(1104, 0);
    assert_eq!(
        request().decode_response(&long),
        Err(DecodeError::TooLong(1104))
    );
}

#[test]
fn refuses_answers_to_other_requests() {
    let mut nonce = ANSWER_BYTES;
    nonce[35] ^= 1;
    assert_eq!(
        request().decode_response(&nonce),
        Err(DecodeError::NonceMismatch)
    );
    let mut tcp = ANSWER_BYTES;
    tcp[36] = 6;
    assert_eq!(
        request().decode_response(&tcp),
        Err(DecodeError::ProtocolMismatch {
            expected: 17,
            got: 6
        })
    );
    let mut port = ANSWER_BYTES;
    port[41] = 0x41;
    assert_eq!(
        request().decode_response(&port),
        Err(DecodeError::InternalPortMismatch {
            expected: 40000,
            got: 40001
        })
    );
    // An error answer is matched the same way.
    nonce[3] = 2;
    assert_eq!(
        request().decode_response(&nonce),
        Err(DecodeError::NonceMismatch)
    );
}

#[test]
fn refuses_unusable_external_endpoints() {
    for bad in ["0.0.0.0:50000", "224.1.2.3:50000", "255.255.255.255:50000"] {
        let answer = testing::pcp_answer(&REQUEST_BYTES, 0, 3600, ext(bad));
        assert!(
            matches!(
                request().decode_response(&answer),
                Err(DecodeError::UnusableExternal { address, .. }) if address == *ext(bad).ip()
            ),
            "{bad} accepted"
        );
    }
    let answer = testing::pcp_answer(&REQUEST_BYTES, 0, 3600, ext("203.0.113.7:0"));
    assert_eq!(
        request().decode_response(&answer),
        Err(DecodeError::ExternalPortZero)
    );
    let mut v6 = ANSWER_BYTES;
    v6[44..60].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
    assert!(matches!(
        request().decode_response(&v6),
        Err(DecodeError::ExternalNotIpv4(_))
    ));
    // Only the full 96-bit prefix makes an address IPv4-mapped (§5).
    let mut almost = ANSWER_BYTES;
    almost[44] = 1;
    assert!(matches!(
        request().decode_response(&almost),
        Err(DecodeError::ExternalNotIpv4(_))
    ));
}

#[test]
fn deletion_answer_echoes_all_zeros() {
    let del = MapRequest::delete(CLIENT, NONCE, Transport::Udp, 40000);
    let answer = testing::pcp_answer(&del.encode(), 0, 0, ext("0.0.0.0:0"));
    let expected = Ok(Response::Map(MapResponse {
        lifetime: 0,
        epoch: testing::EPOCH,
        external: ext("0.0.0.0:0"),
        options: vec![],
    }));
    assert_eq!(del.decode_response(&answer), expected);
    // Some servers write `::` instead of `::ffff:0.0.0.0`.
    let mut plain = answer.clone();
    plain[54..56].fill(0);
    assert_eq!(del.decode_response(&plain), expected);
}

#[test]
fn walks_options() {
    let mut answer = ANSWER_BYTES.to_vec();
    // Option 0x80 with 5 data bytes padded to 8, then option 2 with none.
    answer.extend_from_slice(&[0x80, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0, 2, 0, 0, 0]);
    let Ok(Response::Map(map)) = request().decode_response(&answer) else {
        panic!("options refused")
    };
    assert_eq!(
        map.options,
        [
            PcpOption {
                code: 0x80,
                data: vec![1, 2, 3, 4, 5]
            },
            PcpOption {
                code: 2,
                data: vec![]
            }
        ]
    );
}

#[test]
fn refuses_options_that_overrun() {
    for (option, offset) in [
        (&[0x80, 0, 0, 8, 1, 2, 3, 4][..], 60),
        (&[0x80, 0, 0xff, 0xff][..], 60),
        (&[2, 0, 0, 0, 0x80, 0, 0, 1][..], 64),
    ] {
        let mut answer = ANSWER_BYTES.to_vec();
        answer.extend_from_slice(option);
        assert_eq!(
            request().decode_response(&answer),
            Err(DecodeError::OptionTruncated { offset })
        );
    }
}

#[test]
fn no_input_panics() {
    let mut answer = ANSWER_BYTES.to_vec();
    answer.extend_from_slice(&[0x80, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0]);
    for len in 0..=answer.len() {
        let _ = request().decode_response(&answer[..len]);
    }
    for i in 0..answer.len() {
        for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let mut mutated = answer.clone();
            mutated[i] = v;
            let _ = request().decode_response(&mutated);
        }
    }
}
