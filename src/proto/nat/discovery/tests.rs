use super::*;
use stun_types::attribute::XorMappedAddress;

use crate::proto::stun::{OtherAddress, ResponseOrigin};

const P: &str = "198.51.100.1:3478";
const A: &str = "198.51.100.2:3479";
const CLIENT_IP: [u8; 4] = [203, 0, 113, 9];

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The endpoint of the server (`P` and `A`, two addresses × two ports)
/// that `endpoint` becomes when IP and/or port are changed.
fn moved(endpoint: SocketAddr, ip: bool, port: bool) -> SocketAddr {
    let (p, a) = (addr(P), addr(A));
    let other_ip = if endpoint.ip() == p.ip() {
        a.ip()
    } else {
        p.ip()
    };
    let other_port = if endpoint.port() == p.port() {
        a.port()
    } else {
        p.port()
    };
    SocketAddr::new(
        if ip { other_ip } else { endpoint.ip() },
        if port { other_port } else { endpoint.port() },
    )
}

/// Runs a discovery (no burst, no hairpin, no NAT) against a hand-made
/// full-mode server that honours CHANGE-REQUEST and gives as OTHER-ADDRESS
/// `other(received_on, sent_from)`.
fn discover(other: impl Fn(SocketAddr, SocketAddr) -> SocketAddr) -> Observation {
    let mut config = DiscoveryConfig::new(addr(P));
    config.burst = 0;
    config.hairpin = false;
    let mut d = Discovery::new(config, 7);
    let now = Instant::now();
    let mut locals = Vec::new();
    while let Some((socket, bind)) = d.poll_bind() {
        assert_eq!(bind, Bind::Toward(addr(P)));
        let local = SocketAddr::from((CLIENT_IP, 40000 + socket.0));
        locals.push(local);
        d.handle_bound(now, socket, local);
    }
    let mut answered = 0;
    while let Some(t) = d.poll_transmit() {
        let request = Message::from_bytes(&t.payload).unwrap();
        let change = request
            .raw_attribute(ChangeRequest::TYPE)
            .map(|raw| ChangeRequest::from_raw_ref(&raw).unwrap())
            .unwrap_or_default();
        let source = moved(t.destination, change.change_ip, change.change_port);
        let mapped = locals[usize::from(t.socket.0)];
        let mut answer = Message::builder_success(&request, MessageWriteVec::new());
        answer
            .add_attribute(&XorMappedAddress::new(mapped, request.transaction_id()))
            .unwrap();
        answer.add_attribute(&ResponseOrigin::new(source)).unwrap();
        answer
            .add_attribute(&OtherAddress::new(other(t.destination, source)))
            .unwrap();
        d.handle_input(now, t.socket, source, &answer.finish());
        answered += 1;
    }
    assert_eq!(answered, 5, "Tests I, II, III and the two filtering tests");
    d.observation().cloned().expect("every test was answered")
}

/// The client takes the alternate from Test I, whose request and answer
/// both use the primary endpoint, so it reads OTHER-ADDRESS right from a
/// server that follows RFC 5780 §7.4 (the alternate of the receiving
/// endpoint, as ranat serve, stuntman and coturn give it), and is not led
/// astray by a server that names the alternate of the answering endpoint
/// in answers sent from elsewhere.
#[test]
fn the_alternate_is_read_from_test_i_whatever_other_answers_say() {
    let rfc = |received_on, _sent_from| moved(received_on, true, true);
    let of_the_source = |_received_on, sent_from| moved(sent_from, true, true);
    for (what, o) in [
        ("RFC 5780", discover(rfc)),
        ("source-relative", discover(of_the_source)),
    ] {
        assert_eq!(o.other_address, Some(addr(A)), "{what}");
        assert_eq!(o.behind_nat, Some(false), "{what}");
        assert_eq!(
            o.mapping,
            Some(MappingBehavior::EndpointIndependent),
            "{what}"
        );
        assert_eq!(
            o.filtering,
            Some(FilteringBehavior::EndpointIndependent),
            "{what}"
        );
        assert!(o.behavior_capable, "{what}");
        assert!(o.notes.is_empty(), "{what}: {:?}", o.notes);
    }
}
