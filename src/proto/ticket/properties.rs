//! Properties over arbitrary and damaged tickets: reading never panics,
//! a damaged ticket is refused or read (never half-read), only the right
//! password opens LHTICKET, and what is sealed is what opens.

use proptest::prelude::*;

use super::tests::seal;
use super::*;

const TYPE1: &str = include_str!("../../../tests/data/tickets/freerdp-type1.msrcincident");
const TYPE2: &str = include_str!("../../../tests/data/tickets/freerdp-type2.msrcincident");
const OFFER: &str = include_str!("../../../tests/data/tickets/freerdp-offer.xml");

/// A ticket damaged one of three ways.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<usize>().prop_map(Damage::Truncate),
        (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Damage::Flip(at, mask)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Damage::Insert(at, bytes)),
    ]
}

fn apply(bytes: &[u8], damage: &Damage) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match damage {
        Damage::Truncate(at) => out.truncate(at % (bytes.len() + 1)),
        Damage::Flip(at, mask) => out[at % bytes.len()] ^= mask,
        Damage::Insert(at, more) => {
            let at = at % (bytes.len() + 1);
            out.splice(at..at, more.iter().copied());
        }
    }
    out
}

fn listener() -> impl Strategy<Value = (String, u16)> {
    (
        prop_oneof![
            any::<std::net::Ipv4Addr>().prop_map(|ip| ip.to_string()),
            any::<std::net::Ipv6Addr>().prop_map(|ip| ip.to_string()),
            "[A-Za-z][A-Za-z0-9_.-]{0,20}",
        ],
        1..=u16::MAX,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Ticket::from_bytes(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(<[A-Za-z]{1,3}( [A-Za-z]{1,3}=\"[^\"<]{0,8}\")*/?>|</[A-Za-z]{1,3}>|[^<]{0,8})*") {
        let _ = Ticket::parse(&text);
        let _ = ConnectionString1::parse(&text);
        let _ = ConnectionString2::parse(&text);
    }

    #[test]
    fn a_damaged_ticket_is_refused_or_read_whole(
        which in 0..3usize,
        damage in damage(),
        password in "[A-Z0-9]{0,14}",
    ) {
        let original = [TYPE1, TYPE2, OFFER][which].as_bytes();
        if let Ok(ticket) = Ticket::from_bytes(&apply(original, &damage)) {
            // Whatever was read is whole: every listener has its address
            // and port, and opening it never panics.
            let _ = ticket.unlock(&password);
            if let Some(one) = &ticket.connection1 {
                prop_assert!(!one.addresses.is_empty());
            }
        }
    }

    #[test]
    fn only_the_right_password_opens_what_was_sealed(
        listeners in prop::collection::vec(listener(), 1..8),
        password in "[B-DF-HJ-NP-TV-Z2-9]{12}",
        wrong in "[B-DF-HJ-NP-TV-Z2-9]{12}",
        pass_stub in "[A-Za-z0-9*_!@#$&^()=+-]{14}",
    ) {
        let ls: String = listeners
            .iter()
            .map(|(n, p)| format!("<L P=\"{p}\" N=\"{n}\"/>"))
            .collect();
        let plain = format!("<E><A KH=\"k\" ID=\"i\"/><C><T ID=\"1\" SID=\"0\">{ls}</T></C></E>");
        let sealed: String = seal(&password, &plain.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let file = format!(
            "<UPLOADINFO TYPE=\"Escalated\"><UPLOADDATA USERNAME=\"u\" LHTICKET=\"{sealed}\" PassStub=\"{}\"/></UPLOADINFO>",
            document_text(&pass_stub)
        );
        let ticket = Ticket::parse(&file).unwrap();
        let opened = ticket.unlock(&password).unwrap();
        let got: Vec<(String, u16)> = opened
            .connection2
            .unwrap()
            .listeners()
            .map(|l| (l.address.clone(), l.port))
            .collect();
        prop_assert_eq!(got, listeners);
        prop_assert_eq!(opened.pass_stub_proof.unwrap(), pass_stub_proof(&password, &pass_stub));
        if wrong != password {
            prop_assert!(ticket.unlock(&wrong).is_err());
        }
    }
}

/// `text` as an XML attribute value.
fn document_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}
