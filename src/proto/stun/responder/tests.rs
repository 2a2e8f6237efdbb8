use super::*;
use crate::proto::stun::{
    ChangedAddress, MappedAddress, OtherAddress, ResponseOrigin, SourceAddress,
};
use stun_types::attribute::{Fingerprint, RawAttribute, UnknownAttributes, XorMappedAddress};
use stun_types::message::{
    BINDING, MAGIC_COOKIE, MessageClass, MessageType, MessageWriteVec, TransactionId,
};

const P: &str = "198.51.100.1:3478";
const A: &str = "198.51.100.2:3479";
const CLIENT: &str = "203.0.113.9:40000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn full() -> Responder {
    Responder::new(ResponderConfig::new(addr(P), Some(addr(A))).unwrap())
}

fn request(attrs: &[&dyn AttributeWrite]) -> Vec<u8> {
    let mut msg = Message::builder_request(BINDING, MessageWriteVec::new());
    for a in attrs {
        msg.add_attribute(*a).unwrap();
    }
    msg.finish()
}

/// A transmit with its socket read back as the endpoint it sends from.
#[derive(Debug, PartialEq)]
struct Sent {
    source: SocketAddr,
    destination: SocketAddr,
    payload: Vec<u8>,
}

/// Binds `r` as a driver would, and offers it `bytes` on `local`.
fn answer(r: &mut Responder, local: &str, bytes: &[u8]) -> Option<Sent> {
    let now = Instant::now();
    while let Some((socket, bind)) = r.poll_bind() {
        let Bind::At(at) = bind else {
            panic!("a responder binds its own endpoints: {bind:?}")
        };
        r.handle_bound(now, socket, at);
    }
    let socket = r.socket(addr(local)).unwrap();
    r.handle_input(now, socket, addr(CLIENT), bytes);
    let t = r.poll_transmit()?;
    Some(Sent {
        source: r.endpoint(t.socket).unwrap(),
        destination: t.destination,
        payload: t.payload,
    })
}

#[test]
fn config_requires_distinct_ip_and_port() {
    assert!(ResponderConfig::new(addr(P), Some(addr("198.51.100.1:3479"))).is_err());
    assert!(ResponderConfig::new(addr(P), Some(addr("198.51.100.2:3478"))).is_err());
    assert!(ResponderConfig::new(addr(P), Some(addr("[2001:db8::1]:3479"))).is_err());
    assert_eq!(
        ResponderConfig::new(addr(P), Some(addr(A)))
            .unwrap()
            .endpoints()
            .len(),
        4
    );
}

#[test]
fn plain_binding_answers_from_the_same_endpoint_with_rfc5780_attributes() {
    let mut r = full();
    let t = answer(&mut r, P, &request(&[])).unwrap();
    assert_eq!(t.source, addr(P));
    assert_eq!(t.destination, addr(CLIENT));
    let m = Message::from_bytes(&t.payload).unwrap();
    assert!(m.has_class(MessageClass::Success));
    let xor = m.attribute::<XorMappedAddress>().unwrap();
    assert_eq!(xor.addr(m.transaction_id()), addr(CLIENT));
    assert_eq!(m.attribute::<MappedAddress>().unwrap().addr(), addr(CLIENT));
    assert_eq!(m.attribute::<ResponseOrigin>().unwrap().addr(), addr(P));
    assert_eq!(m.attribute::<OtherAddress>().unwrap().addr(), addr(A));
}

#[test]
fn change_request_moves_the_source() {
    let cases = [
        (P, (true, true), A),
        (P, (true, false), "198.51.100.2:3478"),
        (P, (false, true), "198.51.100.1:3479"),
        // Relative to where the request arrived (RFC 5780 §6.1).
        (A, (true, true), P),
        ("198.51.100.2:3478", (false, true), A),
    ];
    for (local, (ip, port), expected) in cases {
        let mut r = full();
        let t = answer(&mut r, local, &request(&[&ChangeRequest::new(ip, port)])).unwrap();
        assert_eq!(t.source, addr(expected), "{local} {ip} {port}");
        let m = Message::from_bytes(&t.payload).unwrap();
        assert_eq!(
            m.attribute::<ResponseOrigin>().unwrap().addr(),
            addr(expected)
        );
    }
}

#[test]
fn response_port_only_changes_the_port_of_the_requester() {
    let mut r = full();
    let t = answer(&mut r, P, &request(&[&ResponsePort(41000)])).unwrap();
    assert_eq!(t.destination, addr("203.0.113.9:41000"));
    let zero = answer(&mut r, P, &request(&[&ResponsePort(0)])).unwrap();
    assert_eq!(zero.destination, addr(CLIENT));
    assert!(
        Message::from_bytes(&zero.payload)
            .unwrap()
            .has_class(MessageClass::Error)
    );
}

#[test]
fn padding_never_makes_the_answer_larger_than_the_request() {
    let mut r = full();
    let req = request(&[&Padding(1000)]);
    let t = answer(&mut r, P, &req).unwrap();
    assert!(t.payload.len() <= req.len());
    assert!(t.payload.len() > 900);
    let tiny = request(&[&Padding(0)]);
    let t = answer(&mut r, P, &tiny).unwrap();
    assert!(
        Message::from_bytes(&t.payload)
            .unwrap()
            .has_attribute(Padding::TYPE)
    );
    // PADDING with RESPONSE-PORT is refused (RFC 5780 §6.1).
    let both = request(&[&Padding(400), &ResponsePort(41000)]);
    let t = answer(&mut r, P, &both).unwrap();
    assert_eq!(t.destination, addr(CLIENT));
    let m = Message::from_bytes(&t.payload).unwrap();
    assert_eq!(m.attribute::<ErrorCode>().unwrap().code(), 400);
}

#[test]
fn basic_mode_has_no_other_address_and_refuses_changes() {
    let mut r = Responder::new(ResponderConfig::new(addr(P), None).unwrap());
    let t = answer(&mut r, P, &request(&[])).unwrap();
    let m = Message::from_bytes(&t.payload).unwrap();
    assert!(!m.has_attribute(OtherAddress::TYPE));
    // A CHANGE-REQUEST with no flags is a plain request (RFC 3489 clients send it).
    let t = answer(&mut r, P, &request(&[&ChangeRequest::default()])).unwrap();
    assert!(
        Message::from_bytes(&t.payload)
            .unwrap()
            .has_class(MessageClass::Success)
    );
    let t = answer(&mut r, P, &request(&[&ChangeRequest::new(true, false)])).unwrap();
    let m = Message::from_bytes(&t.payload).unwrap();
    assert_eq!(m.attribute::<ErrorCode>().unwrap().code(), 420);
    assert_eq!(t.source, addr(P));
}

#[test]
fn unknown_comprehension_required_attribute_gets_420_listing_it() {
    let mut r = full();
    // RESPONSE-ADDRESS (RFC 3489) would send to a third party: never honoured.
    let response_address = MappedAddress::new(addr("192.0.2.99:53"));
    let mut msg = Message::builder_request(BINDING, MessageWriteVec::new());
    let raw = response_address.to_raw();
    let bytes = raw.to_bytes();
    let mut patched = bytes.clone();
    patched[1] = 0x02;
    msg.push_data(&patched);
    let mut req = msg.finish();
    let body = (req.len() - 20) as u16;
    req[2..4].copy_from_slice(&body.to_be_bytes());
    let t = answer(&mut r, P, &req).unwrap();
    assert_eq!(t.destination, addr(CLIENT));
    let m = Message::from_bytes(&t.payload).unwrap();
    assert_eq!(m.attribute::<ErrorCode>().unwrap().code(), 420);
    let unknown = m.attribute::<UnknownAttributes>().unwrap();
    assert!(unknown.has_attribute(AttributeType::new(0x0002)));
}

#[test]
fn classic_rfc3489_request_gets_a_classic_answer() {
    let mut req = request(&[&ChangeRequest::new(true, true)]);
    req[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let mut r = full();
    let t = answer(&mut r, P, &req).unwrap();
    assert_eq!(t.source, addr(A));
    assert_eq!(&t.payload[4..20], &req[4..20], "own transaction id echoed");
    let d = Datagram::parse(&t.payload).unwrap();
    let m = d.message().unwrap();
    assert_eq!(m.attribute::<MappedAddress>().unwrap().addr(), addr(CLIENT));
    assert_eq!(m.attribute::<SourceAddress>().unwrap().addr(), addr(A));
    // RFC 3489 §11.2.3: where the answer would come from with both flags
    // set, relative to where the request arrived, not to where it left from.
    assert_eq!(m.attribute::<ChangedAddress>().unwrap().addr(), addr(A));
    assert!(!m.has_attribute(XorMappedAddress::TYPE));
}

/// The four endpoints, and for each the one differing in both IP and port.
const ALTERNATES: [(&str, &str); 4] = [
    (P, A),
    ("198.51.100.1:3479", "198.51.100.2:3478"),
    ("198.51.100.2:3478", "198.51.100.1:3479"),
    (A, P),
];

/// The endpoint `local` becomes when IP and/or port are changed.
fn moved(local: &str, ip: bool, port: bool) -> SocketAddr {
    let local = addr(local);
    let (p, a) = (addr(P), addr(A));
    let other_ip = if local.ip() == p.ip() { a.ip() } else { p.ip() };
    let other_port = if local.port() == p.port() {
        a.port()
    } else {
        p.port()
    };
    SocketAddr::new(
        if ip { other_ip } else { local.ip() },
        if port { other_port } else { local.port() },
    )
}

/// RFC 5780 §7.4: OTHER-ADDRESS is "the source IP address and port that
/// would be used if the client requested the 'change IP' and 'change port'
/// behavior", so it names the alternate of the endpoint the request arrived
/// on, also in answers that a CHANGE-REQUEST (§6.1) sends from elsewhere.
#[test]
fn other_address_is_the_alternate_of_the_receiving_endpoint_whatever_the_change() {
    for (local, alternate) in ALTERNATES {
        for (ip, port) in [(false, false), (true, false), (false, true), (true, true)] {
            let what = format!("arrived on {local}, change IP {ip}, change port {port}");
            let mut r = full();
            let t = answer(&mut r, local, &request(&[&ChangeRequest::new(ip, port)])).unwrap();
            assert_eq!(t.source, moved(local, ip, port), "{what}");
            let m = Message::from_bytes(&t.payload).unwrap();
            assert!(m.has_class(MessageClass::Success), "{what}");
            assert_eq!(
                m.attribute::<ResponseOrigin>().unwrap().addr(),
                t.source,
                "{what}"
            );
            let other = m.attribute::<OtherAddress>().unwrap().addr();
            assert_eq!(other, addr(alternate), "{what}");
            let local = addr(local);
            assert!(
                other.ip() != local.ip() && other.port() != local.port(),
                "{what}: OTHER-ADDRESS {other} must differ in both IP and port"
            );
        }
    }
}

/// RFC 3489 §11.2.3: CHANGED-ADDRESS is where answers "would have been sent
/// from if the 'change IP' and 'change port' flags had been set", and "is
/// always present in a Binding Response, independent of the value of the
/// flags": the alternate of the endpoint the request arrived on.
#[test]
fn changed_address_is_the_alternate_of_the_receiving_endpoint_whatever_the_change() {
    for (local, alternate) in ALTERNATES {
        for (ip, port) in [(false, false), (true, false), (false, true), (true, true)] {
            let what = format!("arrived on {local}, change IP {ip}, change port {port}");
            let mut req = request(&[&ChangeRequest::new(ip, port)]);
            req[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
            let mut r = full();
            let t = answer(&mut r, local, &req).unwrap();
            assert_eq!(t.source, moved(local, ip, port), "{what}");
            let d = Datagram::parse(&t.payload).unwrap();
            let m = d.message().unwrap();
            assert_eq!(
                m.attribute::<SourceAddress>().unwrap().addr(),
                t.source,
                "{what}"
            );
            assert_eq!(
                m.attribute::<ChangedAddress>().unwrap().addr(),
                addr(alternate),
                "{what}"
            );
            assert!(!m.has_attribute(OtherAddress::TYPE), "{what}");
        }
    }
}

#[test]
fn fingerprint_is_mirrored() {
    let mut msg = Message::builder_request(BINDING, MessageWriteVec::new());
    msg.add_fingerprint().unwrap();
    let mut r = full();
    let t = answer(&mut r, P, &msg.finish()).unwrap();
    assert!(
        Message::from_bytes(&t.payload)
            .unwrap()
            .has_attribute(Fingerprint::TYPE)
    );
}

#[test]
fn hostile_input_is_counted_and_never_answered() {
    let mut r = full();
    let mut wrong_cookie_response = Message::builder_success(
        &Message::from_bytes(&request(&[])).unwrap(),
        MessageWriteVec::new(),
    )
    .finish();
    wrong_cookie_response[4] ^= 0xff;
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0; 19],
        request(&[])[..19].to_vec(),
        vec![0xff; 100],
        vec![0; 4096],
        wrong_cookie_response,
    ];
    for input in &inputs {
        r.handle_input(Instant::now(), SocketId(0), addr(CLIENT), input);
        assert_eq!(r.poll_transmit(), None, "{input:?}");
    }
    let stats = r.stats();
    assert_eq!(stats.responses + stats.error_responses, 0);
    assert_eq!(stats.malformed + stats.ignored, inputs.len() as u64);
}

#[test]
fn indications_and_responses_are_not_answered() {
    let mut r = full();
    let ind = Message::builder(
        MessageType::from_class_method(MessageClass::Indication, BINDING),
        TransactionId::generate(),
        MessageWriteVec::new(),
    )
    .finish();
    assert_eq!(answer(&mut r, P, &ind), None);
    assert_eq!(MAGIC_COOKIE.to_be_bytes(), ind[4..8]);
}

#[test]
fn answers_written_in_place_are_the_machines_and_owe_nothing_to_the_buffer() {
    let padded = request(&[&Padding(400)]);
    let mut classic = request(&[&ChangeRequest::new(true, false)]);
    classic[4..8].copy_from_slice(&[9, 9, 9, 9]);
    let mut unknown = Message::builder_request(BINDING, MessageWriteVec::new());
    unknown
        .add_attribute(&RawAttribute::new(AttributeType::new(0x0002), &[1, 2, 3]))
        .unwrap();
    let mut fingerprinted = Message::builder_request(BINDING, MessageWriteVec::new());
    fingerprinted.add_fingerprint().unwrap();
    let requests = [
        request(&[]),
        request(&[&ChangeRequest::new(true, true)]),
        request(&[&ResponsePort(5000)]),
        padded,
        classic,
        unknown.finish(),
        fingerprinted.finish(),
    ];
    let mut machine = full();
    let mut in_place = full();
    // Stale bytes from an earlier, larger answer: none may show through.
    let mut out = [0xa5; MAX_ANSWER];
    for (i, req) in requests.iter().enumerate() {
        let sent = answer(&mut machine, P, req).unwrap();
        let reply = in_place
            .answer_into(SocketId(0), addr(CLIENT), req, &mut out)
            .unwrap();
        assert_eq!(&out[..reply.len], &sent.payload[..], "request {i}");
        assert_eq!(
            in_place.endpoint(reply.socket),
            Some(sent.source),
            "request {i}"
        );
        assert_eq!(reply.destination, sent.destination, "request {i}");
    }
    assert_eq!(in_place.stats(), machine.stats());
}

#[test]
fn stats_of_responders_sharing_the_work_add_up() {
    let (mut a, mut b) = (full(), full());
    answer(&mut a, P, &request(&[]));
    answer(&mut b, P, &[0; 30]);
    answer(&mut b, P, &request(&[]));
    let mut sum = a.stats();
    sum += b.stats();
    assert_eq!(
        sum,
        ResponderStats {
            requests: 2,
            responses: 2,
            malformed: 1,
            ..ResponderStats::default()
        }
    );
}
