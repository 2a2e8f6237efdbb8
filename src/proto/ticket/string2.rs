//! Remote Assistance connection string 2 ([MS-RAI] §2.2.2): the XML that
//! LHTICKET encrypts and that Offer Remote Assistance delivers bare.
//!
//! ```xml
//! <E>
//!   <A KH="BNRj…+HA=" ID="+ULZ…dmLL"/>
//!   <C>
//!     <T ID="1" SID="0">
//!       <L P="49228" N="fe80::1032:53d9:5a01:909b%3"/>
//!       <L P="49230" N="192.168.1.200"/>
//!     </T>
//!   </C>
//! </E>
//! ```

use schemars::JsonSchema;
use serde::Serialize;

use super::document::{self, DocumentError, Element, Limits, decimal, shown};

/// The caps a connection string 2 is read under (a real one holds a
/// handful of listeners and is under 2 KiB).
pub const LIMITS: Limits = Limits {
    size: 64 * 1024,
    depth: 8,
    elements: 256,
};

/// One listener `<L P N [U]>`: an address and TCP port the novice's
/// machine listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Listener {
    /// `N`: an IPv4 or IPv6 address (link-local ones with the novice's
    /// zone index, `%3`), or a name.
    pub address: String,
    /// `P`.
    pub port: u16,
    /// `U`, when present, shown as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub u: Option<String>,
}

/// One transport `<T ID SID>` and its listeners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Transport {
    pub id: Option<u32>,
    pub sid: Option<u32>,
    pub listeners: Vec<Listener>,
}

/// A parsed connection string 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ConnectionString2 {
    /// `A/@KH`: the hash of the novice's certificate key (SHA-1).
    pub key_hash: Option<String>,
    /// `A/@KH2`: the same as SHA-256 (`sha256:…`), newer Windows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_hash2: Option<String>,
    /// `A/@ID`: the session's identifier.
    pub session_id: Option<String>,
    pub transports: Vec<Transport>,
}

/// Why a text is not a connection string 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum String2Error {
    #[error("{0}")]
    Document(#[from] DocumentError),
    #[error("its root element is <{0}>, not <E>")]
    Root(String),
    #[error("it has no <A> element")]
    NoA,
    #[error("<{element}>'s {attribute} should be {expected}, not {value:?}")]
    Garbled {
        element: &'static str,
        attribute: &'static str,
        expected: &'static str,
        value: String,
    },
    #[error("an <L> has no {0}")]
    Missing(&'static str),
}

impl ConnectionString2 {
    pub fn parse(text: &str) -> Result<Self, String2Error> {
        Self::from_elements(&document::elements(text, LIMITS)?)
    }

    /// From a document's elements; the first must be the root `<E>`.
    pub fn from_elements(elements: &[Element]) -> Result<Self, String2Error> {
        let root = elements.first().map(|e| e.name.as_str()).unwrap_or("");
        if root != "E" {
            return Err(String2Error::Root(shown(root)));
        }
        let child_of = |index: usize, name: &'static str| {
            elements
                .iter()
                .enumerate()
                .filter(move |(_, e)| e.parent == Some(index) && e.name == name)
        };
        let (_, a) = child_of(0, "A").next().ok_or(String2Error::NoA)?;
        let mut transports = Vec::new();
        for (c, _) in child_of(0, "C") {
            for (t, transport) in child_of(c, "T") {
                let mut listeners = Vec::new();
                for (_, l) in child_of(t, "L") {
                    listeners.push(listener(l)?);
                }
                transports.push(Transport {
                    id: number(transport, "T", "ID")?,
                    sid: number(transport, "T", "SID")?,
                    listeners,
                });
            }
        }
        Ok(Self {
            key_hash: a.get("KH").map(str::to_string),
            key_hash2: a.get("KH2").map(str::to_string),
            session_id: a.get("ID").map(str::to_string),
            transports,
        })
    }

    /// Every listener of every transport, in order.
    pub fn listeners(&self) -> impl Iterator<Item = &Listener> {
        self.transports.iter().flat_map(|t| &t.listeners)
    }
}

fn listener(l: &Element) -> Result<Listener, String2Error> {
    let port = l.get("P").ok_or(String2Error::Missing("P (port)"))?;
    let port = decimal(port)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .ok_or_else(|| String2Error::Garbled {
            element: "L",
            attribute: "P",
            expected: "a port from 1 to 65535",
            value: shown(port),
        })?;
    let address = l.get("N").ok_or(String2Error::Missing("N (address)"))?;
    if address.is_empty() || address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(String2Error::Garbled {
            element: "L",
            attribute: "N",
            expected: "an address or a name",
            value: shown(address),
        });
    }
    Ok(Listener {
        address: address.to_string(),
        port,
        u: l.get("U").map(str::to_string),
    })
}

fn number(
    element: &Element,
    name: &'static str,
    attribute: &'static str,
) -> Result<Option<u32>, String2Error> {
    element
        .get(attribute)
        .map(|value| {
            decimal(value)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| String2Error::Garbled {
                    element: name,
                    attribute,
                    expected: "a number",
                    value: shown(value),
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The connection string 2 FreeRDP's tests carry (newer Windows: KH2).
    #[test]
    fn freerdps_sample_parses() {
        let s = ConnectionString2::parse(
            "<E>\n<A KH=\"YiKwWUY8Ioq5NB3wAQHSbs5kwrM=\"\nKH2=\"sha256:wKSAkAV3sBfa9WpuRFJcP9q1twJc6wOBuoJ9tsyXwpk=\"\nID=\"8rYm30RBW8/4dAWoUsWbFCF5jno/7jr5tNpHQc2goLbw4uuBBJvLsU02YYLlBMg5\"/>\n<C>\n<T ID=\"1\" SID=\"1440550163\">\n<L P=\"49749\" N=\"2001:4898:1a:5:79e2:3356:9b22:3470\"/>\n<L P=\"49751\" N=\"172.31.250.64\"/>\n</T>\n</C>\n</E>",
        )
        .unwrap();
        assert_eq!(s.key_hash.as_deref(), Some("YiKwWUY8Ioq5NB3wAQHSbs5kwrM="));
        assert!(s.key_hash2.as_deref().unwrap().starts_with("sha256:"));
        assert_eq!(s.transports.len(), 1);
        assert_eq!(s.transports[0].sid, Some(1_440_550_163));
        let listeners: Vec<_> = s
            .listeners()
            .map(|l| (l.address.as_str(), l.port))
            .collect();
        assert_eq!(
            listeners,
            [
                ("2001:4898:1a:5:79e2:3356:9b22:3470", 49749),
                ("172.31.250.64", 49751)
            ]
        );
    }

    #[test]
    fn malformed_strings_say_what_is_wrong() {
        let cases = [
            ("<X/>", "root element is <X>"),
            ("<E><C/></E>", "no <A>"),
            ("<E><A/><C><T><L N=\"1.2.3.4\"/></T></C></E>", "no P"),
            ("<E><A/><C><T><L P=\"1\"/></T></C></E>", "no N"),
            (
                "<E><A/><C><T><L P=\"0\" N=\"a\"/></T></C></E>",
                "P should be",
            ),
            (
                "<E><A/><C><T><L P=\"99999\" N=\"a\"/></T></C></E>",
                "P should be",
            ),
            ("<E><A/><C><T ID=\"x\"/></C></E>", "ID should be a number"),
            (
                "<E><A/><C><T><L P=\"1\" N=\"a b\"/></T></C></E>",
                "N should be",
            ),
            ("<E><A/>", "not well-formed"),
        ];
        for (text, expected) in cases {
            let error = ConnectionString2::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
