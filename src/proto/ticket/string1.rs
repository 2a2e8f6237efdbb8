//! Remote Assistance connection string 1 ([MS-RAI] §2.2.1), the RCTICKET:
//!
//! ```text
//! <ProtocolVersion>,<protocolType>,<machineAddressList>,<assistantAccountPwd>,
//! <RASessionID>,<RASessionName>,<RASessionPwd>,<protocolSpecificParms>
//! 65538,1,172.31.243.138:3389;MIKE_HOME:3389,*,Uj7R…Vc=,*,*,Rcfw…7iU=
//! ```

use schemars::JsonSchema;
use serde::Serialize;

use super::document::shown;

/// One `host:port` of the machine address list: an IPv4 address or a
/// computer name ([MS-RAI] §2.2.1), or a bracketed IPv6 address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

/// A parsed connection string 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ConnectionString1 {
    /// `machineAddressList`, in the order given.
    pub addresses: Vec<HostPort>,
    /// `RASessionID`.
    pub session_id: String,
    /// `protocolSpecificParms`: the hash of the novice's RDP certificate
    /// key.
    pub key_hash: String,
}

/// Why an RCTICKET is not a connection string 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum String1Error {
    #[error("it has {0} comma-separated fields, not 8")]
    Fields(usize),
    #[error("its {field} is {value:?}, not {expected} as [MS-RAI] §2.2.1 requires")]
    Field {
        field: &'static str,
        expected: &'static str,
        value: String,
    },
    #[error("its address {0:?} is not HOST:PORT with a port from 1 to 65535")]
    Address(String),
    #[error("its address list is empty")]
    NoAddress,
}

impl ConnectionString1 {
    pub fn parse(text: &str) -> Result<Self, String1Error> {
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let [
            version,
            kind,
            list,
            account,
            session_id,
            name,
            password,
            key_hash,
        ] = fields.as_slice()
        else {
            return Err(String1Error::Fields(fields.len()));
        };
        let expect = |field, expected: &'static str, value: &str| {
            if value == expected {
                Ok(())
            } else {
                Err(String1Error::Field {
                    field,
                    expected,
                    value: shown(value),
                })
            }
        };
        expect("ProtocolVersion", "65538", version)?;
        expect("protocolType", "1", kind)?;
        expect("assistantAccountPwd", "*", account)?;
        expect("RASessionName", "*", name)?;
        expect("RASessionPwd", "*", password)?;
        let addresses = list
            .split(';')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(host_port)
            .collect::<Result<Vec<_>, _>>()?;
        if addresses.is_empty() {
            return Err(String1Error::NoAddress);
        }
        Ok(Self {
            addresses,
            session_id: session_id.to_string(),
            key_hash: key_hash.to_string(),
        })
    }
}

fn host_port(entry: &str) -> Result<HostPort, String1Error> {
    let bad = || String1Error::Address(shown(entry));
    let (host, port) = entry.rsplit_once(':').ok_or_else(bad)?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or_else(bad)?,
        None if host.contains(':') => return Err(bad()),
        None => host,
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0 && port.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(bad)?;
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    Ok(HostPort {
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_of_ms_rai_parses() {
        let s = ConnectionString1::parse(
            "65538,1,172.31.243.138:3389;MIKE_HOME:3389,*,Uj7RpOlU80SibpRwRZ9+z1vbh7nIgVn89X1AiKp15Vc=,*,*,RcfwecK8dpcT1fjZ6iQ5M0+q7iU=",
        )
        .unwrap();
        assert_eq!(
            s.addresses,
            [
                HostPort {
                    host: "172.31.243.138".into(),
                    port: 3389
                },
                HostPort {
                    host: "MIKE_HOME".into(),
                    port: 3389
                }
            ]
        );
        assert_eq!(s.session_id, "Uj7RpOlU80SibpRwRZ9+z1vbh7nIgVn89X1AiKp15Vc=");
        assert_eq!(s.key_hash, "RcfwecK8dpcT1fjZ6iQ5M0+q7iU=");
    }

    #[test]
    fn bracketed_ipv6_is_read() {
        let s = ConnectionString1::parse("65538,1,[2001:db8::1]:49231,*,id,*,*,kh").unwrap();
        assert_eq!(s.addresses[0].host, "2001:db8::1");
        assert_eq!(s.addresses[0].port, 49231);
    }

    #[test]
    fn malformed_strings_say_what_is_wrong() {
        let cases = [
            ("65538,1,a:1,*,id,*,*", "7 comma-separated fields"),
            ("65537,1,a:1,*,id,*,*,kh", "ProtocolVersion"),
            ("65538,2,a:1,*,id,*,*,kh", "protocolType"),
            ("65538,1,a:1,pw,id,*,*,kh", "assistantAccountPwd"),
            ("65538,1,a,*,id,*,*,kh", "\"a\" is not HOST:PORT"),
            ("65538,1,a:0,*,id,*,*,kh", "\"a:0\""),
            ("65538,1,a:70000,*,id,*,*,kh", "\"a:70000\""),
            ("65538,1,a:+80,*,id,*,*,kh", "\"a:+80\""),
            ("65538,1,::1:80,*,id,*,*,kh", "\"::1:80\""),
            ("65538,1,;,*,id,*,*,kh", "empty"),
        ];
        for (text, expected) in cases {
            let error = ConnectionString1::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
