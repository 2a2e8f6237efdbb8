//! Time-limited TURN credentials of the "TURN REST API" kind
//! (draft-uberti-behave-turn-rest-00 §2.2, what coturn checks with
//! `--use-auth-secret`): the username is `EXPIRY:NAME`, EXPIRY in Unix
//! seconds, and the password is base64(HMAC-SHA1(secret, username)). Who
//! knows the shared secret (the rendezvous, the help desk's tools) hands
//! them out; the relay needs no list of users.

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The secret shared by the relay and whoever hands out credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

/// The longest NAME part: a username is a STUN USERNAME (RFC 8489 §14.3,
/// under 513 bytes).
const MAX_NAME: usize = 256;

/// Why a username or a secret is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the relay secret is empty")]
    EmptySecret,
    #[error("a relay username is EXPIRY:NAME, EXPIRY in Unix seconds and NAME 1–256 bytes")]
    Malformed,
    #[error("the relay credentials expired at {expiry} (Unix seconds), before {now}")]
    Expired { expiry: u64, now: u64 },
}

impl Secret {
    /// A secret from its bytes (a file's contents less their trailing
    /// newline, or the flag's value).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, CredentialError> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err(CredentialError::EmptySecret);
        }
        Ok(Self(bytes))
    }

    /// The password of `username`: base64(HMAC-SHA1(secret, username)).
    pub fn password(&self, username: &str) -> String {
        // HMAC takes a key of any length.
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(username.as_bytes());
        BASE64.encode(mac.finalize().into_bytes())
    }

    /// Credentials for `name` valid until `expiry` (Unix seconds).
    pub fn issue(&self, name: &str, expiry: u64) -> Result<Credentials, CredentialError> {
        let username = format!("{expiry}:{name}");
        RestUsername::parse(&username)?;
        Ok(Credentials {
            password: self.password(&username),
            username,
        })
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// A username and its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// A username read as `EXPIRY:NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestUsername<'a> {
    /// Unix seconds after which the credentials are refused.
    pub expiry: u64,
    /// Who they were issued to: the unit of the per-user quotas.
    pub name: &'a str,
}

impl<'a> RestUsername<'a> {
    /// Splits at the first colon, as coturn does.
    pub fn parse(username: &'a str) -> Result<Self, CredentialError> {
        let (expiry, name) = username.split_once(':').ok_or(CredentialError::Malformed)?;
        let digits = !expiry.is_empty() && expiry.bytes().all(|b| b.is_ascii_digit());
        let expiry = expiry
            .parse()
            .ok()
            .filter(|_| digits)
            .ok_or(CredentialError::Malformed)?;
        if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(CredentialError::Malformed);
        }
        Ok(Self { expiry, name })
    }

    /// Refuses credentials whose expiry is before `now` (Unix seconds).
    pub fn check(self, now: u64) -> Result<Self, CredentialError> {
        if self.expiry < now {
            return Err(CredentialError::Expired {
                expiry: self.expiry,
                now,
            });
        }
        Ok(self)
    }
}

/// Reads Unix time off the machines' monotonic clock: the caller says once
/// what Unix time it was at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnixClock {
    at: Instant,
    unix: Duration,
}

impl UnixClock {
    /// At `at` it was `unix` since the Unix epoch.
    pub fn new(at: Instant, unix: Duration) -> Self {
        Self { at, unix }
    }

    /// The instant of the anchor.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// Unix seconds at `now` (an instant before the anchor reads as the
    /// anchor).
    pub fn seconds(&self, now: Instant) -> u64 {
        (self.unix + now.saturating_duration_since(self.at)).as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_coturns() {
        // base64(HMAC-SHA1("north", "1700000000:novice")), computed apart
        // with Python's hmac module.
        let secret = Secret::new("north").unwrap();
        let c = secret.issue("novice", 1_700_000_000).unwrap();
        assert_eq!(c.username, "1700000000:novice");
        assert_eq!(c.password, "EAu4Z/X9s9XkVm5Z1Z6SBQgbpbI=");
        assert_ne!(
            Secret::new("south").unwrap().password(&c.username),
            c.password
        );
        assert_eq!(format!("{secret:?}"), "Secret(5 bytes)", "never printed");
    }

    #[test]
    fn usernames_are_read_as_expiry_and_name() {
        let u = RestUsername::parse("1700000000:room:7").unwrap();
        assert_eq!(u.expiry, 1_700_000_000);
        assert_eq!(u.name, "room:7");
        for bad in [
            "",
            "novice",
            ":novice",
            "1700000000:",
            "+1:novice",
            "-1:novice",
            "17e8:novice",
            "99999999999999999999999:novice",
            "1:no\nvice",
        ] {
            assert_eq!(
                RestUsername::parse(bad),
                Err(CredentialError::Malformed),
                "{bad:?}"
            );
        }
        let long = format!("1:{}", "n".repeat(MAX_NAME + 1));
        assert_eq!(RestUsername::parse(&long), Err(CredentialError::Malformed));
        assert_eq!(Secret::new(""), Err(CredentialError::EmptySecret));
    }

    #[test]
    fn expired_credentials_are_refused_to_the_second() {
        let u = RestUsername::parse("1000:novice").unwrap();
        assert!(u.check(999).is_ok());
        assert!(u.check(1000).is_ok());
        assert_eq!(
            u.check(1001),
            Err(CredentialError::Expired {
                expiry: 1000,
                now: 1001
            })
        );
    }

    #[test]
    fn the_unix_clock_follows_the_monotonic_one() {
        let t0 = Instant::now();
        let clock = UnixClock::new(t0, Duration::from_secs(1_700_000_000));
        assert_eq!(clock.seconds(t0), 1_700_000_000);
        assert_eq!(
            clock.seconds(t0 + Duration::from_millis(2500)),
            1_700_000_002
        );
    }
}
