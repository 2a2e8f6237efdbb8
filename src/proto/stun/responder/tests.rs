use super::*;
use stun_types::message::{BINDING, MAGIC_COOKIE, TransactionId};

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
    assert_eq!(m.attribute::<ChangedAddress>().unwrap().addr(), addr(P));
    assert!(!m.has_attribute(XorMappedAddress::TYPE));
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
        r.answer(addr(P), addr(CLIENT), input);
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
