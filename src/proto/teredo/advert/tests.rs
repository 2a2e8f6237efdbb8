use super::*;
use crate::proto::teredo::testing::{RaBuilder, hex, mtu_option, prefix_option};

const NONCE: Nonce = [1, 2, 3, 4, 5, 6, 7, 8];

fn server() -> Ipv4Addr {
    Ipv4Addr::new(65, 54, 227, 120)
}

fn mapped() -> SocketAddrV4 {
    "192.0.2.45:40000".parse().unwrap()
}

fn valid() -> RaBuilder {
    RaBuilder::miredo(server(), NONCE, mapped(), RsKind::Restricted)
}

/// An RA as miredo's `SendRA` builds it, written out by hand; its
/// checksum was computed independently of this crate.
fn hand_built() -> Vec<u8> {
    hex("0001 00 00 0102030405060708 00
         0000 63bf 3ffffdd2
         60000000 0038 3a ff
         fe80000000000000 8000 0dd8 bec9 1c87
         fe800000000000000000ffffffffffff
         86 00 799c 00 00 0000 00000000 000007d0
         03 04 40 40 ffffffff ffffffff 00000000 200100004136e3780000000000000000
         05 01 0000 00000500")
}

fn parse(bytes: &[u8]) -> Result<RouterAdvertisement, RaError> {
    RouterAdvertisement::parse(bytes, RsKind::Restricted, &NONCE)
}

#[test]
fn hand_built_ra_parses() {
    let ra = parse(&hand_built()).unwrap();
    assert_eq!(ra.nonce, NONCE);
    assert_eq!(ra.mapped, mapped());
    assert_eq!(ra.server, server());
    assert_eq!(ra.prefix, "2001:0:4136:e378::".parse::<Ipv6Addr>().unwrap());
    assert_eq!(ra.mtu, Some(1280));
    assert_eq!(
        ra.source,
        "fe80::8000:dd8:bec9:1c87".parse::<Ipv6Addr>().unwrap()
    );
}

#[test]
fn test_encoder_matches_the_hand_built_ra() {
    assert_eq!(valid().encode(), hand_built());
}

#[test]
fn valid_ra_gives_the_worked_example_address() {
    let ra = parse(&valid().encode()).unwrap();
    assert_eq!(
        ra.teredo_address(0).to_string(),
        "2001:0:4136:e378:0:63bf:3fff:fdd2"
    );
}

#[test]
fn trailers_after_the_ipv6_packet_are_ignored() {
    let mut b = valid();
    b.trailers = vec![0x01, 0x04, 0xaa, 0xbb, 0xcc, 0xdd];
    assert!(parse(&b.encode()).is_ok());
}

#[test]
fn cone_answer_must_go_to_the_cone_link_local() {
    let cone = RaBuilder::miredo(server(), NONCE, mapped(), RsKind::Cone).encode();
    assert!(RouterAdvertisement::parse(&cone, RsKind::Cone, &NONCE).is_ok());
    assert_eq!(
        parse(&cone),
        Err(RaError::WrongDestination {
            expected: RsKind::Restricted.link_local(),
            found: RsKind::Cone.link_local()
        })
    );
}

fn with(change: impl FnOnce(&mut RaBuilder)) -> Vec<u8> {
    let mut b = valid();
    change(&mut b);
    b.encode()
}

#[test]
fn hostile_headers_are_refused() {
    let not_link_local: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let cases = [
        (with(|b| b.nonce = Some([9; 8])), RaError::NonceMismatch),
        (with(|b| b.nonce = None), RaError::MissingAuth),
        (with(|b| b.confirmation = 1), RaError::ConfirmationSet(1)),
        (with(|b| b.origin = None), RaError::MissingOrigin),
        (with(|b| b.next_header = 59), RaError::NotIcmpv6(59)),
        (with(|b| b.hop_limit = 64), RaError::HopLimit(64)),
        (
            with(|b| b.source = not_link_local),
            RaError::SourceNotLinkLocal(not_link_local),
        ),
        (
            with(|b| b.icmp_type = 133),
            RaError::NotRouterAdvertisement {
                icmp_type: 133,
                code: 0,
            },
        ),
        (
            with(|b| b.code = 1),
            RaError::NotRouterAdvertisement {
                icmp_type: 134,
                code: 1,
            },
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(parse(&bytes), Err(expected));
    }
}

#[test]
fn bad_checksum_is_refused() {
    let mut b = valid();
    b.corrupt_checksum = true;
    assert!(matches!(parse(&b.encode()), Err(RaError::BadChecksum(_))));
    // Flipping any byte of the ICMPv6 message breaks the sum too.
    let good = valid().encode();
    for i in 61..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        assert!(parse(&bad).is_err(), "byte {i}");
    }
}

#[test]
fn hostile_options_are_refused() {
    let p = prefix_option("2001:0:4136:e378::".parse().unwrap(), 64);
    let mut short_prefix = p[..24].to_vec();
    short_prefix[1] = 3;
    let cases: Vec<(Vec<Vec<u8>>, RaError)> = vec![
        (vec![p.clone(), p.clone()], RaError::MultiplePrefixes),
        (vec![mtu_option(1280)], RaError::MissingPrefix),
        (vec![], RaError::MissingPrefix),
        (
            vec![prefix_option("2002:4136:e378::".parse().unwrap(), 64)],
            RaError::NotTeredoPrefix("2002:4136:e378::".parse().unwrap()),
        ),
        (
            vec![prefix_option("3ffe:831f:4136:e378::".parse().unwrap(), 64)],
            RaError::NotTeredoPrefix("3ffe:831f:4136:e378::".parse().unwrap()),
        ),
        (
            vec![prefix_option("2001:0:4136:e378::".parse().unwrap(), 48)],
            RaError::PrefixLength(48),
        ),
        (
            vec![p.clone(), vec![1, 0, 0, 0, 0, 0, 0, 0]],
            RaError::ZeroLengthOption {
                option: 1,
                offset: 48,
            },
        ),
        (
            vec![vec![3, 0]],
            RaError::ZeroLengthOption {
                option: 3,
                offset: 16,
            },
        ),
        (
            vec![p.clone(), vec![1, 2, 0, 0, 0, 0, 0, 0]],
            RaError::OptionTruncated { offset: 48 },
        ),
        (
            vec![p.clone(), vec![1]],
            RaError::OptionTruncated { offset: 48 },
        ),
        (
            vec![short_prefix],
            RaError::MalformedOption {
                option: 3,
                len: 24,
                expected: 32,
            },
        ),
        (vec![p.clone(), mtu_option(1279)], RaError::InvalidMtu(1279)),
        (
            vec![p.clone(), mtu_option(70000)],
            RaError::InvalidMtu(70000),
        ),
    ];
    for (options, expected) in cases {
        let mut b = valid();
        b.options = options;
        assert_eq!(parse(&b.encode()), Err(expected));
    }
}

#[test]
fn unknown_options_are_skipped_and_prefix_host_bits_ignored() {
    let mut b = valid();
    let mut p = prefix_option("2001:0:4136:e378::".parse().unwrap(), 64);
    p[31] = 0x55; // host bits: reserved, ignored
    b.options = vec![vec![1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], p];
    let ra = parse(&b.encode()).unwrap();
    assert_eq!(ra.prefix, "2001:0:4136:e378::".parse::<Ipv6Addr>().unwrap());
    assert_eq!(ra.mtu, None);
}

#[test]
fn every_truncation_is_an_error() {
    let good = valid().encode();
    for n in 0..good.len() {
        assert!(parse(&good[..n]).is_err(), "length {n}");
    }
}

#[test]
fn random_corruption_never_panics_and_never_forges_a_nonce() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(4380);
    let good = valid().encode();
    for _ in 0..20_000 {
        let mut bytes = good.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..bytes.len());
            bytes[i] = rng.random();
        }
        if rng.random_bool(0.2) {
            bytes.truncate(rng.random_range(0..bytes.len()));
        }
        let _ = TeredoPacket::parse(&bytes);
        if let Ok(ra) = parse(&bytes) {
            assert_eq!(ra.nonce, NONCE);
            assert_eq!(ra.prefix.segments()[..2], [0x2001, 0]);
        }
    }
    for _ in 0..5_000 {
        let len = rng.random_range(0..200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        assert!(parse(&bytes).is_err());
    }
}

#[test]
fn oversize_answers_are_refused() {
    assert_eq!(
        parse(&vec![0u8; MAX_DATAGRAM + 1]),
        Err(RaError::Oversize(MAX_DATAGRAM + 1))
    );
    let mut b = valid();
    // 1240 bytes of unknown options push the IPv6 packet past 1280.
    b.options.push({
        let mut o = vec![0u8; 1240];
        o[0] = 200;
        o[1] = 155;
        o
    });
    assert_eq!(parse(&b.encode()), Err(RaError::Ipv6Oversize(1336)));
}
