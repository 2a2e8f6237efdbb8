//! Tickets whose passwords are public (FreeRDP's test tickets, made by
//! Windows), and broken files.

use super::*;

const TYPE1: &str = include_str!("../../../tests/data/tickets/freerdp-type1.msrcincident");
const TYPE2: &str = include_str!("../../../tests/data/tickets/freerdp-type2.msrcincident");
const TYPE3: &str = include_str!("../../../tests/data/tickets/freerdp-type3.msrcincident");
const OFFER: &str = include_str!("../../../tests/data/tickets/freerdp-offer.xml");

/// LHTICKET as Windows seals it: AES-128-CBC, zero IV, PKCS#7, under the
/// key derived from `password`.
pub(super) fn seal(password: &str, plain: &[u8]) -> Vec<u8> {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    let mut buffer = plain.to_vec();
    buffer.resize(plain.len() + crypto::BLOCK, 0);
    let sealed = cbc::Encryptor::<aes::Aes128>::new(
        &lh_ticket_key(password).into(),
        &[0; crypto::BLOCK].into(),
    )
    .encrypt_padded_mut::<Pkcs7>(&mut buffer, plain.len())
    .expect("room for the padding")
    .len();
    buffer.truncate(sealed);
    buffer
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn listeners(s: &ConnectionString2) -> Vec<(String, u16)> {
    s.listeners().map(|l| (l.address.clone(), l.port)).collect()
}

/// Type 1 (Windows XP style: RCTICKET only), whose attributes lack a
/// space after RCTICKET's value.
#[test]
fn a_type_1_ticket_reads_and_proves_its_password() {
    let ticket = Ticket::parse(TYPE1).unwrap();
    assert_eq!(ticket.shape, TicketShape::Invitation);
    assert_eq!(ticket.username.as_deref(), Some("Administrator"));
    assert_eq!(ticket.created_at, Some(1_314_905_741));
    assert_eq!(ticket.lifetime_minutes, Some(180));
    assert_eq!(ticket.expires_at(), Some(1_314_905_741 + 180 * 60));
    assert_eq!(ticket.rc_ticket_encrypted, Some(true));
    assert_eq!(ticket.low_speed, Some(false));
    let one = ticket.connection1.as_ref().unwrap();
    let hosts: Vec<_> = one
        .addresses
        .iter()
        .map(|a| (a.host.as_str(), a.port))
        .collect();
    assert_eq!(
        hosts,
        [("10.0.3.105", 3389), ("winxpsp3.contoso3.com", 3389)]
    );
    assert_eq!(one.key_hash, "IuaRySSbPDNna4+2mKcsKxsbJFI=");
    let unlocked = ticket.unlock("Password1").unwrap();
    assert_eq!(unlocked.connection2, None);
    assert_eq!(
        hex_of(&unlocked.pass_stub_proof.unwrap()),
        "3c9cae0bce7ab15c8aac01d676045edf3ffaf092e2de368a2017e68a0ded7c90"
    );
}

/// Type 2 (Windows 7: LHTICKET): the password opens connection string 2,
/// whose content FreeRDP's test documents.
#[test]
fn a_type_2_ticket_decrypts_with_its_password() {
    let ticket = Ticket::parse(TYPE2).unwrap();
    assert_eq!(ticket.lh_ticket.as_ref().unwrap().len() % 16, 0);
    assert_eq!(ticket.pass_stub.as_deref(), Some("WB^6HsrIaFmEpi"));
    let unlocked = ticket.unlock("48BJQ853X3B4").unwrap();
    let two = unlocked.connection2.unwrap();
    assert_eq!(
        two.key_hash.as_deref(),
        Some("BNRjdu97DyczQSRuMRrDWoue+HA=")
    );
    assert_eq!(
        two.session_id.as_deref(),
        Some("+ULZ6ifjoCa6cGPMLQiGHRPwkg6VyJqGwxMnO6GcelwUh9a6/FBq3It5ADSndmLL")
    );
    assert_eq!(
        listeners(&two),
        [
            ("fe80::1032:53d9:5a01:909b%3".to_string(), 49228),
            ("fe80::3d8f:9b2d:6b4e:6aa%6".to_string(), 49229),
            ("192.168.1.200".to_string(), 49230),
            ("169.254.6.170".to_string(), 49231),
        ]
    );
    assert_eq!(
        hex_of(&unlocked.pass_stub_proof.unwrap()),
        "777dfaae9028124dd02ede8014221b4ad1f4ec138539d733ac767895b2d857d9"
    );
}

/// A newer ticket: LHTICKET only, no RCTICKET.
#[test]
fn a_ticket_without_rcticket_opens_with_its_password() {
    let ticket = Ticket::parse(TYPE3).unwrap();
    assert_eq!(ticket.connection1, None);
    assert_eq!(ticket.lifetime_minutes, Some(360));
    let unlocked = ticket.unlock("4X638PTVZTKZ").unwrap();
    assert!(unlocked.connection2.unwrap().listeners().count() > 0);
    assert_eq!(
        hex_of(&unlocked.pass_stub_proof.unwrap()),
        "15200496af33c6e01bbf4a15c9c1b871443f2e93a882352b24080655164e9d3b"
    );
}

#[test]
fn a_wrong_password_is_said_so() {
    let ticket = Ticket::parse(TYPE2).unwrap();
    for wrong in ["48BJQ853X3B5", "", "48bjq853x3b4", "password"] {
        let error = ticket.unlock(wrong).unwrap_err();
        assert!(
            error.to_string().starts_with("wrong password"),
            "{wrong}: {error}"
        );
    }
}

#[test]
fn an_offer_s_bare_connection_string_needs_no_password() {
    let ticket = Ticket::parse(OFFER).unwrap();
    assert_eq!(ticket.shape, TicketShape::ConnectionString2);
    assert_eq!(ticket.expires_at(), None);
    assert_eq!(listeners(ticket.connection2.as_ref().unwrap()).len(), 2);
    let unlocked = ticket.unlock("anything").unwrap();
    assert_eq!(
        unlocked,
        Unlocked {
            connection2: None,
            pass_stub_proof: None
        }
    );
}

/// Windows writes the file in UTF-16LE with a byte order mark under
/// `encoding="Unicode"`.
#[test]
fn utf16_files_read_like_utf8_ones() {
    let mut le = vec![0xFF, 0xFE];
    le.extend(TYPE2.encode_utf16().flat_map(u16::to_le_bytes));
    let mut be = vec![0xFE, 0xFF];
    be.extend(TYPE2.encode_utf16().flat_map(u16::to_be_bytes));
    let no_bom: Vec<u8> = TYPE1.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(
        Ticket::from_bytes(&le).unwrap(),
        Ticket::parse(TYPE2).unwrap()
    );
    assert_eq!(
        Ticket::from_bytes(&be).unwrap(),
        Ticket::parse(TYPE2).unwrap()
    );
    assert_eq!(
        Ticket::from_bytes(&no_bom).unwrap(),
        Ticket::parse(TYPE1).unwrap()
    );
}

#[test]
fn entities_in_attributes_are_unescaped() {
    let ticket = Ticket::parse(
        r#"<UPLOADINFO TYPE="Escalated"><UPLOADDATA RCTICKET="65538,1,a:1,*,id,*,*,kh" PassStub="a&amp;b"/></UPLOADINFO>"#,
    )
    .unwrap();
    assert_eq!(ticket.pass_stub.as_deref(), Some("a&b"));
}

#[test]
fn broken_files_say_what_is_wrong() {
    let lh = |hex: &str| {
        format!(r#"<UPLOADINFO TYPE="Escalated"><UPLOADDATA LHTICKET="{hex}"/></UPLOADINFO>"#)
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "not well-formed"),
        (b"hello".to_vec(), "not well-formed"),
        (TYPE2.as_bytes()[..700].to_vec(), "not well-formed"),
        (vec![0xff, 0x00, 0x41], "not text"),
        (b"<html/>".to_vec(), "root element is <html>"),
        (b"<UPLOADINFO><UPLOADDATA/></UPLOADINFO>".to_vec(), "no TYPE"),
        (br#"<UPLOADINFO TYPE="Bug"><UPLOADDATA/></UPLOADINFO>"#.to_vec(), "TYPE is \"Bug\""),
        (br#"<UPLOADINFO TYPE="Escalated"/>"#.to_vec(), "no UPLOADDATA"),
        (
            br#"<UPLOADINFO TYPE="Escalated"><UPLOADDATA USERNAME="x"/></UPLOADINFO>"#.to_vec(),
            "neither RCTICKET nor LHTICKET",
        ),
        (lh("ABC").into_bytes(), "odd number of hex digits (3)"),
        (lh("ZZ").into_bytes(), "not hexadecimal: 'Z' at position 0"),
        (lh("0011").into_bytes(), "2 bytes, not a whole number"),
        (
            br#"<UPLOADINFO TYPE="Escalated"><UPLOADDATA RCTICKET="1,2"/></UPLOADINFO>"#.to_vec(),
            "RCTICKET is not a connection string 1",
        ),
        (
            br#"<UPLOADINFO TYPE="Escalated"><UPLOADDATA RCTICKET="65538,1,a:1,*,id,*,*,kh" DtStart="soon"/></UPLOADINFO>"#.to_vec(),
            "DtStart should be a time in Unix seconds",
        ),
        (
            br#"<UPLOADINFO TYPE="Escalated"><UPLOADDATA RCTICKET="65538,1,a:1,*,id,*,*,kh" L="2"/></UPLOADINFO>"#.to_vec(),
            "L should be 0 or 1",
        ),
        (
            br#"<UPLOADINFO TYPE="Escalated"><UPLOADDATA PROTOCOL="ranat/2" ROOM="K7Q"/></UPLOADINFO>"#.to_vec(),
            "ranat invitation",
        ),
        (
            br#"<!DOCTYPE x [<!ENTITY a "aaaa">]><UPLOADINFO TYPE="Escalated"/>"#.to_vec(),
            "DTD",
        ),
        (vec![b' '; LIMITS.size + 1], "more than the 262144 bytes"),
        (
            format!("{}x{}", "<a>".repeat(20), "</a>".repeat(20)).into_bytes(),
            "more than 8 deep",
        ),
    ];
    for (bytes, expected) in cases {
        let error = Ticket::from_bytes(&bytes).unwrap_err().to_string();
        assert!(
            error.contains(expected),
            "{:?}: {error}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
        );
    }
}

/// An LHTICKET whose plaintext, under the right key, is not UTF-16 or not
/// XML: what an altered ticket gives; said as a wrong password, never
/// shown as text.
#[test]
fn a_sealed_text_that_is_not_a_connection_string_is_refused() {
    let ticket = |sealed: Vec<u8>| Ticket {
        lh_ticket: Some(sealed),
        ..Ticket::bare(TicketShape::Invitation)
    };
    let utf16 = |s: &str| {
        s.encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>()
    };
    let cases = [
        (vec![0x41, 0x00, 0x42], "not UTF-16"),
        (vec![0x00, 0xD8, 0x41, 0x00], "not UTF-16"),
        (utf16("hello"), "not a connection string 2"),
        (utf16("<E><C/></E>"), "not a connection string 2"),
    ];
    for (plain, expected) in cases {
        let error = ticket(seal("pw", &plain))
            .unlock("pw")
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
    }
    let good = utf16("<E><A/><C><T><L P=\"1\" N=\"192.0.2.1\"/></T></C></E>\0");
    let opened = ticket(seal("pw", &good)).unlock("pw").unwrap();
    assert_eq!(
        listeners(&opened.connection2.unwrap()),
        [("192.0.2.1".to_string(), 1)]
    );
}
