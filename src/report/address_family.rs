//! The two address families a report speaks of, and their names.

/// An address family of a [`super::ProbeReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4, [`super::ProbeReport::ipv4`].
    Ipv4,
    /// IPv6, [`super::ProbeReport::ipv6`].
    Ipv6,
}

impl Family {
    /// Both families, in report order.
    pub const ALL: [Family; 2] = [Family::Ipv4, Family::Ipv6];

    /// The family's usual name: "IPv4" or "IPv6".
    pub fn name(self) -> &'static str {
        match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
        }
    }

    /// The DNS record that holds this family's addresses: "A" or "AAAA"
    /// (RFC 3596).
    pub fn record_type(self) -> &'static str {
        match self {
            Self::Ipv4 => "A",
            Self::Ipv6 => "AAAA",
        }
    }
}
