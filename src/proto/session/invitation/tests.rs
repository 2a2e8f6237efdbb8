use super::*;

const NOW: u64 = 1_714_572_189;

fn sample() -> Invitation {
    Invitation::new(
        "Alice",
        "help.example.org:3479",
        "K7Q".parse().unwrap(),
        SessionId::from_bytes([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ]),
        Role::Novice,
        NOW,
    )
}

/// `sample()`'s file with one attribute's value replaced, or the attribute
/// gone (`None`).
fn with(attribute: &str, value: Option<&str>) -> String {
    let xml = sample().to_xml();
    let key = format!(" {attribute}=\"");
    let start = xml.find(&key).expect("the attribute");
    let end = start + key.len() + xml[start + key.len()..].find('"').expect("its end") + 1;
    let replacement = value.map_or(String::new(), |v| format!(" {attribute}=\"{v}\""));
    format!("{}{replacement}{}", &xml[..start], &xml[end..])
}

/// A Windows Remote Assistance invitation, as msra.exe saves one (made-up
/// values in the shape of [MS-RAI] §6): UTF-16LE with a byte order mark.
const WINDOWS_FILE: &str = concat!(
    r#"<?xml version="1.0" encoding="Unicode" ?><UPLOADINFO TYPE="Escalated">"#,
    r#"<UPLOADDATA USERNAME="jdoe" "#,
    r#"RCTICKET="65538,1,192.0.2.10:3389;DESKTOP-7F3K:3389,*,Zm9vYmFyYmF6cXV4cXV1eA==,*,*,c2hhMWhhc2hoYXNoaGFzaGhhc2g=" "#,
    r#"RCTICKETENCRYPTED="1" DtStart="1714572189" DtLength="360" PassStub="Wq7*kP_x2Lm9Rb" L="0" />"#,
    r#"</UPLOADINFO>"#,
);

/// The second type ([MS-RAI] §6): the connection string encrypted in
/// LHTICKET.
const WINDOWS_TYPE_2: &str = concat!(
    r#"<?xml version="1.0"?>"#,
    "\n<UPLOADINFO TYPE=\"Escalated\">\n",
    r#"  <UPLOADDATA USERNAME="jdoe" LHTICKET="4A1F0C7E9B3D22A85E6F01B4C9D3E7A2" "#,
    r#"RCTICKET="65538,1,,*,*,*,*,*" RCTICKETENCRYPTED="1" DtStart="1714572189" DtLength="360" L="0"/>"#,
    "\n</UPLOADINFO>\n",
);

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

#[test]
fn an_invitation_reads_back_as_written() {
    let invitation = sample();
    let xml = invitation.to_xml();
    assert_eq!(Invitation::from_xml(&xml), Ok(invitation.clone()));
    assert_eq!(
        Invitation::from_bytes(xml.as_bytes()),
        Ok(invitation.clone())
    );
    assert_eq!(
        Invitation::from_bytes(&utf16le_with_bom(&xml)),
        Ok(invitation.clone())
    );
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<UPLOADINFO TYPE=\"Escalated\">\n  <UPLOADDATA\n"),
        "{xml}"
    );
    for attribute in [
        r#"USERNAME="Alice""#,
        r#"DtStart="1714572189""#,
        r#"DtLength="360""#,
        r#"PROTOCOL="ranat/2""#,
        r#"RENDEZVOUS="help.example.org:3479""#,
        r#"ROOM="K7Q""#,
        r#"SESSIONID="00112233445566778899aabbccddeeff""#,
        r#"INVITER="novice""#,
    ] {
        assert!(xml.contains(attribute), "{attribute} in {xml}");
    }

    let reverse = Invitation {
        username: "Help desk <Ops & Co> \"Q\"".into(),
        rendezvous: "[2001:db8::7]:3479".into(),
        inviter: Role::Helper,
        lifetime: Duration::from_secs(90),
        ..sample()
    };
    let read = Invitation::from_xml(&reverse.to_xml()).unwrap();
    assert_eq!(read.username, reverse.username);
    assert_eq!(read.rendezvous, reverse.rendezvous);
    assert_eq!(read.inviter, Role::Helper);
    assert_eq!(
        read.lifetime,
        Duration::from_secs(120),
        "whole minutes, rounded up"
    );
}

#[test]
fn the_file_holds_no_secret() {
    let xml = sample().to_xml();
    for secret_name in ["PassStub", "RCTICKET", "PASSWORD", "SECRET"] {
        assert!(!xml.contains(secret_name), "{secret_name} in {xml}");
    }
}

#[test]
fn windows_remote_assistance_invitations_are_recognised() {
    for text in [WINDOWS_FILE, WINDOWS_TYPE_2] {
        assert_eq!(
            Invitation::from_xml(text),
            Err(InvitationError::WindowsInvitation)
        );
        assert_eq!(
            Invitation::from_bytes(&utf16le_with_bom(text)),
            Err(InvitationError::WindowsInvitation)
        );
    }
    let message = InvitationError::WindowsInvitation.to_string();
    assert!(
        message.contains("Windows Remote Assistance invitation, not a ranat one"),
        "{message}"
    );
}

#[test]
fn utf16_without_a_byte_order_mark_and_broken_text_are_handled() {
    let bytes: Vec<u8> = WINDOWS_FILE
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(
        Invitation::from_bytes(&bytes),
        Err(InvitationError::WindowsInvitation)
    );
    let mut big_endian = vec![0xFE, 0xFF];
    big_endian.extend(sample().to_xml().encode_utf16().flat_map(u16::to_be_bytes));
    assert_eq!(Invitation::from_bytes(&big_endian), Ok(sample()));
    assert_eq!(
        Invitation::from_bytes(&[0xFF, 0xFE, b'<']),
        Err(InvitationError::NotText)
    );
    assert_eq!(
        Invitation::from_bytes(&[0xFF, 0xFE, 0x00, 0xD8]),
        Err(InvitationError::NotText),
        "a lone surrogate"
    );
    assert_eq!(
        Invitation::from_bytes(b"<UPLOADINFO \xff\xfe>"),
        Err(InvitationError::NotText)
    );
}

#[test]
fn missing_attributes_are_named() {
    for attribute in [
        "USERNAME",
        "DtStart",
        "DtLength",
        "PROTOCOL",
        "RENDEZVOUS",
        "ROOM",
        "SESSIONID",
        "INVITER",
    ] {
        let err = Invitation::from_xml(&with(attribute, None)).unwrap_err();
        assert_eq!(err, InvitationError::Missing(attribute));
        assert!(err.to_string().contains(attribute), "{err}");
    }
    let no_type = sample()
        .to_xml()
        .replace(r#"<UPLOADINFO TYPE="Escalated">"#, "<UPLOADINFO>");
    assert_eq!(
        Invitation::from_xml(&no_type),
        Err(InvitationError::Missing("TYPE"))
    );
    assert_eq!(
        Invitation::from_xml(r#"<UPLOADINFO TYPE="Escalated"></UPLOADINFO>"#),
        Err(InvitationError::Missing("UPLOADDATA"))
    );
}

#[test]
fn garbled_attributes_are_named_with_what_was_expected() {
    let cases = [
        ("DtStart", "yesterday"),
        ("DtStart", "-5"),
        ("DtStart", " 1714572189"),
        ("DtStart", "99999999999999999999999"),
        ("DtLength", "6h"),
        ("DtLength", "4294967296"),
        ("ROOM", "K0Q"),
        ("ROOM", "K7QX"),
        ("SESSIONID", "0011"),
        ("SESSIONID", "zz112233445566778899aabbccddeeff"),
        ("SESSIONID", "+0112233445566778899aabbccddeeff"),
        ("INVITER", "expert"),
        ("USERNAME", "tab&#9;bed"),
        ("USERNAME", "del\u{7f}"),
        ("USERNAME", &"x".repeat(65)),
        ("RENDEZVOUS", ""),
        ("RENDEZVOUS", "help example org"),
    ];
    for (attribute, value) in cases {
        let err = Invitation::from_xml(&with(attribute, Some(value))).unwrap_err();
        let InvitationError::Garbled {
            attribute: named, ..
        } = &err
        else {
            panic!("{attribute}={value:?}: {err:?}");
        };
        assert_eq!(*named, attribute, "{err}");
        assert!(err.to_string().contains("should be"), "{err}");
    }
    let err = Invitation::from_xml(&with("ROOM", Some("K0Q"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the invitation's ROOM should be a room like K7Q, not \"K0Q\""
    );
    let long = Invitation::from_xml(&with("INVITER", Some(&"y".repeat(1000))))
        .unwrap_err()
        .to_string();
    assert!(long.len() < 200, "the value is cut short: {long}");
    let other_type = sample()
        .to_xml()
        .replace(r#"TYPE="Escalated""#, r#"TYPE="Unsolicited""#);
    assert_eq!(
        Invitation::from_xml(&other_type),
        Err(InvitationError::Garbled {
            attribute: "TYPE",
            expected: "Escalated",
            value: "Unsolicited".into()
        })
    );
}

#[test]
fn another_protocol_or_document_is_refused_clearly() {
    assert_eq!(
        Invitation::from_xml(&with("PROTOCOL", Some("ranat/3"))),
        Err(InvitationError::UnsupportedProtocol("ranat/3".into()))
    );
    assert_eq!(
        Invitation::from_xml("<html><body>hello</body></html>"),
        Err(InvitationError::NotAnInvitation("html".into()))
    );
    let two = sample().to_xml().replace(
        "</UPLOADINFO>",
        "<UPLOADDATA PROTOCOL=\"ranat/2\"/></UPLOADINFO>",
    );
    assert_eq!(
        Invitation::from_xml(&two),
        Err(InvitationError::TwoUploadData)
    );
    let extra = sample().to_xml().replace(
        "</UPLOADINFO>",
        "<NOTE>from the help desk</NOTE></UPLOADINFO>",
    );
    assert_eq!(
        Invitation::from_xml(&extra),
        Ok(sample()),
        "other elements are ignored"
    );
}

#[test]
fn broken_xml_is_refused_with_the_parsers_reason() {
    let xml = sample().to_xml();
    for broken in [
        "",
        "not xml at all",
        &xml[..xml.len() / 2],
        &xml.replace("/>", ">"),
        &format!("{xml}<UPLOADINFO/>"),
        &xml.replace("INVITER=", "INVITER=\"helper\" INVITER="),
        &xml.replace("Alice", "&unknown;"),
    ] {
        let err = Invitation::from_xml(broken).unwrap_err();
        assert!(
            matches!(err, InvitationError::Xml(_)),
            "{broken:?}: {err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("the invitation is not well-formed XML")
        );
    }
}

#[test]
fn hostile_files_are_refused_without_expanding_or_recursing() {
    let huge = format!("{}{}", sample().to_xml(), " ".repeat(MAX_INVITATION_SIZE));
    assert_eq!(
        Invitation::from_xml(&huge),
        Err(InvitationError::TooLarge { size: huge.len() })
    );
    assert_eq!(
        Invitation::from_bytes(huge.as_bytes()),
        Err(InvitationError::TooLarge { size: huge.len() })
    );

    let depth = 9_000;
    let nested = format!(
        "<UPLOADINFO TYPE=\"Escalated\">{}{}</UPLOADINFO>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    assert!(nested.len() < MAX_INVITATION_SIZE);
    assert_eq!(Invitation::from_xml(&nested), Err(InvitationError::TooDeep));

    let laughs = concat!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE UPLOADINFO [\n",
        " <!ENTITY lol \"lol\">\n",
        " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n",
        " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n",
        "]>\n<UPLOADINFO TYPE=\"Escalated\"><UPLOADDATA USERNAME=\"&lol3;\"/></UPLOADINFO>",
    );
    assert_eq!(Invitation::from_xml(laughs), Err(InvitationError::Doctype));
    let external = concat!(
        "<!DOCTYPE UPLOADINFO [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
        "<UPLOADINFO TYPE=\"Escalated\"><UPLOADDATA USERNAME=\"&xxe;\"/></UPLOADINFO>",
    );
    assert_eq!(
        Invitation::from_xml(external),
        Err(InvitationError::Doctype)
    );

    let attributes: String = (0..2000).map(|i| format!(" A{i}=\"x\"")).collect();
    let crowded = format!("<UPLOADINFO TYPE=\"Escalated\"><UPLOADDATA{attributes}/></UPLOADINFO>");
    assert!(matches!(
        Invitation::from_xml(&crowded),
        Err(InvitationError::Xml(_))
    ));
}

#[test]
fn freshness_is_checked_against_both_ends_of_the_lifetime() {
    let invitation = sample();
    assert_eq!(invitation.expires_at(), NOW + 6 * 60 * 60);
    assert_eq!(invitation.check_fresh(NOW), Ok(()));
    assert_eq!(invitation.check_fresh(invitation.expires_at() - 1), Ok(()));
    assert_eq!(
        invitation.check_fresh(invitation.expires_at()),
        Err(InvitationError::Expired {
            expired_at: invitation.expires_at(),
            now: invitation.expires_at()
        })
    );
    let late = invitation
        .check_fresh(invitation.expires_at() + 90 * 60)
        .unwrap_err();
    assert!(
        late.to_string().contains("expired 90 minute(s) ago"),
        "{late}"
    );

    let skew = MAX_CLOCK_SKEW.as_secs();
    assert_eq!(invitation.check_fresh(NOW - skew), Ok(()), "a clock behind");
    let early = invitation.check_fresh(NOW - skew - 1).unwrap_err();
    assert_eq!(
        early,
        InvitationError::FromTheFuture {
            created_at: NOW,
            now: NOW - skew - 1
        }
    );
    assert!(early.to_string().contains("check the clocks"), "{early}");

    let forever = Invitation {
        created_at: u64::MAX - 10,
        lifetime: Duration::from_secs(u64::MAX),
        ..sample()
    };
    assert_eq!(forever.expires_at(), u64::MAX, "no overflow");
}
