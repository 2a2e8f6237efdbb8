//! The RFC 5780 and RFC 3489 attributes that stun-types lacks, written on its
//! attribute traits.

use std::net::SocketAddr;

use stun_types::attribute::{AttributeType, MappedSocketAddr, RawAttribute};
use stun_types::message::StunParseError;
use stun_types::prelude::*;

/// Defines an attribute whose value is a plain (non-XOR) address, encoded as
/// MAPPED-ADDRESS is (RFC 8489 §14.1).
macro_rules! address_attribute {
    ($(#[$doc:meta])* $name:ident, $code:literal, $label:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(MappedSocketAddr);

        impl $name {
            pub fn new(addr: SocketAddr) -> Self {
                Self(MappedSocketAddr::new(addr))
            }

            pub fn addr(&self) -> SocketAddr {
                self.0.addr()
            }
        }

        impl AttributeStaticType for $name {
            const TYPE: AttributeType = AttributeType::new($code);
        }

        impl Attribute for $name {
            fn get_type(&self) -> AttributeType {
                Self::TYPE
            }

            fn length(&self) -> u16 {
                self.0.length()
            }
        }

        impl AttributeWrite for $name {
            fn to_raw(&self) -> RawAttribute<'_> {
                self.0.to_raw(Self::TYPE)
            }

            fn write_into_unchecked(&self, dest: &mut [u8]) {
                let offset = self.write_header_unchecked(dest);
                self.0.write_into_unchecked(&mut dest[offset..]);
            }
        }

        impl AttributeFromRaw<'_> for $name {
            fn from_raw_ref(raw: &RawAttribute) -> Result<Self, StunParseError> {
                raw.check_type_and_len(Self::TYPE, 8..=20)?;
                MappedSocketAddr::from_raw(raw).map(Self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}: {}", $label, self.addr())
            }
        }
    };
}

address_attribute!(
    /// MAPPED-ADDRESS (RFC 3489 §11.2.1, kept by RFC 8489 §14.1 for old clients).
    MappedAddress,
    0x0001,
    "MAPPED-ADDRESS"
);
address_attribute!(
    /// SOURCE-ADDRESS (RFC 3489 §11.2.5): where the response was sent from.
    SourceAddress,
    0x0004,
    "SOURCE-ADDRESS"
);
address_attribute!(
    /// CHANGED-ADDRESS (RFC 3489 §11.2.3): the server's alternate address and port.
    ChangedAddress,
    0x0005,
    "CHANGED-ADDRESS"
);
address_attribute!(
    /// RESPONSE-ORIGIN (RFC 5780 §7.3): where the response was sent from.
    ResponseOrigin,
    0x802b,
    "RESPONSE-ORIGIN"
);
address_attribute!(
    /// OTHER-ADDRESS (RFC 5780 §7.4): the server's alternate address and port,
    /// both different from the ones the request arrived on.
    OtherAddress,
    0x802c,
    "OTHER-ADDRESS"
);

/// CHANGE-REQUEST (RFC 5780 §7.2): asks the server to answer from its other
/// address ("A" flag, 0x4) and/or other port ("B" flag, 0x2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangeRequest {
    pub change_ip: bool,
    pub change_port: bool,
}

impl ChangeRequest {
    const CHANGE_IP: u32 = 0x4;
    const CHANGE_PORT: u32 = 0x2;

    pub fn new(change_ip: bool, change_port: bool) -> Self {
        Self {
            change_ip,
            change_port,
        }
    }

    fn value(&self) -> u32 {
        let mut value = 0;
        if self.change_ip {
            value |= Self::CHANGE_IP;
        }
        if self.change_port {
            value |= Self::CHANGE_PORT;
        }
        value
    }
}

impl AttributeStaticType for ChangeRequest {
    const TYPE: AttributeType = AttributeType::new(0x0003);
}

impl Attribute for ChangeRequest {
    fn get_type(&self) -> AttributeType {
        Self::TYPE
    }

    fn length(&self) -> u16 {
        4
    }
}

impl AttributeWrite for ChangeRequest {
    fn to_raw(&self) -> RawAttribute<'_> {
        RawAttribute::new(Self::TYPE, &self.value().to_be_bytes()).into_owned()
    }

    fn write_into_unchecked(&self, dest: &mut [u8]) {
        let offset = self.write_header_unchecked(dest);
        dest[offset..offset + 4].copy_from_slice(&self.value().to_be_bytes());
    }
}

impl AttributeFromRaw<'_> for ChangeRequest {
    /// Unknown flag bits are ignored, as RFC 5780 §7.2 leaves them unused.
    fn from_raw_ref(raw: &RawAttribute) -> Result<Self, StunParseError> {
        raw.check_type_and_len(Self::TYPE, 4..=4)?;
        let value = u32::from_be_bytes([raw.value[0], raw.value[1], raw.value[2], raw.value[3]]);
        Ok(Self {
            change_ip: value & Self::CHANGE_IP != 0,
            change_port: value & Self::CHANGE_PORT != 0,
        })
    }
}

/// RESPONSE-PORT (RFC 5780 §7.5): asks the server to send the response to
/// this port of the request's source address. The value is the port and two
/// bytes of padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePort(pub u16);

impl AttributeStaticType for ResponsePort {
    const TYPE: AttributeType = AttributeType::new(0x0027);
}

impl Attribute for ResponsePort {
    fn get_type(&self) -> AttributeType {
        Self::TYPE
    }

    fn length(&self) -> u16 {
        4
    }
}

impl AttributeWrite for ResponsePort {
    fn to_raw(&self) -> RawAttribute<'_> {
        let [hi, lo] = self.0.to_be_bytes();
        RawAttribute::new(Self::TYPE, &[hi, lo, 0, 0]).into_owned()
    }

    fn write_into_unchecked(&self, dest: &mut [u8]) {
        let offset = self.write_header_unchecked(dest);
        dest[offset..offset + 2].copy_from_slice(&self.0.to_be_bytes());
        dest[offset + 2..offset + 4].fill(0);
    }
}

impl AttributeFromRaw<'_> for ResponsePort {
    fn from_raw_ref(raw: &RawAttribute) -> Result<Self, StunParseError> {
        // RFC 5780 §7.5 gives a 2-byte port padded to 4; accept both forms.
        raw.check_type_and_len(Self::TYPE, 2..=4)?;
        Ok(Self(u16::from_be_bytes([raw.value[0], raw.value[1]])))
    }
}

/// PADDING (RFC 5780 §7.6): pads a request or response to a given size, to
/// test fragmentation. The content is zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding(pub u16);

impl Padding {
    /// The largest padding ranat sends or honours: a response padded this far
    /// still fits a 1500-byte Ethernet frame only when fragmented, which is
    /// exactly what the attribute exists to test.
    pub const MAX: u16 = 1500;
}

impl AttributeStaticType for Padding {
    const TYPE: AttributeType = AttributeType::new(0x0026);
}

impl Attribute for Padding {
    fn get_type(&self) -> AttributeType {
        Self::TYPE
    }

    fn length(&self) -> u16 {
        self.0
    }
}

impl AttributeWrite for Padding {
    fn to_raw(&self) -> RawAttribute<'_> {
        RawAttribute::new(Self::TYPE, &vec![0; usize::from(self.0)]).into_owned()
    }

    fn write_into_unchecked(&self, dest: &mut [u8]) {
        let offset = self.write_header_unchecked(dest);
        let end = offset + usize::from(self.0);
        dest[offset..end].fill(0);
    }
}

impl AttributeFromRaw<'_> for Padding {
    fn from_raw_ref(raw: &RawAttribute) -> Result<Self, StunParseError> {
        raw.check_type_and_len(Self::TYPE, ..=usize::from(u16::MAX))?;
        Ok(Self(raw.value.len() as u16))
    }
}

/// Gives the attributes their names in stun-types' message `Display`.
pub fn register_names() {
    MappedAddress::TYPE.add_name("MAPPED-ADDRESS");
    SourceAddress::TYPE.add_name("SOURCE-ADDRESS");
    ChangedAddress::TYPE.add_name("CHANGED-ADDRESS");
    ResponseOrigin::TYPE.add_name("RESPONSE-ORIGIN");
    OtherAddress::TYPE.add_name("OTHER-ADDRESS");
    ChangeRequest::TYPE.add_name("CHANGE-REQUEST");
    ResponsePort::TYPE.add_name("RESPONSE-PORT");
    Padding::TYPE.add_name("PADDING");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<A>(attr: &A) -> A
    where
        A: AttributeWrite + for<'a> AttributeFromRaw<'a>,
    {
        let raw = attr.to_raw().into_owned();
        let bytes = raw.to_bytes();
        let mut written = vec![0; bytes.len()];
        attr.write_into(&mut written).unwrap();
        assert_eq!(written, bytes, "to_raw and write_into agree");
        let parsed = RawAttribute::from_bytes(&bytes).unwrap();
        A::from_raw_ref(&parsed).unwrap()
    }

    #[test]
    fn change_request_wire_format() {
        // RFC 5780 §7.2: A = 0x4 (change IP), B = 0x2 (change port).
        let both = ChangeRequest::new(true, true);
        assert_eq!(
            both.to_raw().to_bytes(),
            [0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0x06]
        );
        let port = ChangeRequest::new(false, true);
        assert_eq!(
            port.to_raw().to_bytes(),
            [0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0x02]
        );
        assert_eq!(round_trip(&both), both);
        assert_eq!(
            round_trip(&ChangeRequest::default()),
            ChangeRequest::default()
        );
    }

    #[test]
    fn change_request_rejects_wrong_length() {
        let raw = RawAttribute::new(ChangeRequest::TYPE, &[0, 0, 6]);
        assert!(ChangeRequest::from_raw_ref(&raw).is_err());
    }

    #[test]
    fn address_attributes_round_trip_v4_and_v6() {
        let v4: SocketAddr = "198.51.100.7:3479".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::7]:3479".parse().unwrap();
        for addr in [v4, v6] {
            assert_eq!(round_trip(&OtherAddress::new(addr)).addr(), addr);
            assert_eq!(round_trip(&ResponseOrigin::new(addr)).addr(), addr);
            assert_eq!(round_trip(&MappedAddress::new(addr)).addr(), addr);
            assert_eq!(round_trip(&SourceAddress::new(addr)).addr(), addr);
            assert_eq!(round_trip(&ChangedAddress::new(addr)).addr(), addr);
        }
        // Family 1, port 3479, 198.51.100.7.
        assert_eq!(
            OtherAddress::new(v4).to_raw().to_bytes(),
            [0x80, 0x2c, 0, 8, 0, 1, 0x0d, 0x97, 198, 51, 100, 7]
        );
    }

    #[test]
    fn address_attribute_rejects_bad_family_and_length() {
        let bad_family = RawAttribute::new(OtherAddress::TYPE, &[0, 3, 0, 1, 1, 2, 3, 4]);
        assert!(OtherAddress::from_raw_ref(&bad_family).is_err());
        let short = RawAttribute::new(OtherAddress::TYPE, &[0, 1, 0, 1, 1, 2, 3]);
        assert!(OtherAddress::from_raw_ref(&short).is_err());
        let v6_short = RawAttribute::new(OtherAddress::TYPE, &[0, 2, 0, 1, 1, 2, 3, 4]);
        assert!(OtherAddress::from_raw_ref(&v6_short).is_err());
    }

    #[test]
    fn response_port_and_padding() {
        assert_eq!(
            ResponsePort(41000).to_raw().to_bytes(),
            [0x00, 0x27, 0, 4, 0xa0, 0x28, 0, 0]
        );
        assert_eq!(round_trip(&ResponsePort(41000)), ResponsePort(41000));
        let short = RawAttribute::new(ResponsePort::TYPE, &[1]);
        assert!(ResponsePort::from_raw_ref(&short).is_err());
        assert_eq!(round_trip(&Padding(37)), Padding(37));
        assert_eq!(Padding(37).to_raw().to_bytes().len(), 4 + 40);
    }
}
