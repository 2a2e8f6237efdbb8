//! The password that goes with an invitation file, by another channel (a
//! phone call, a chat), as Windows Remote Assistance's does: twelve
//! symbols of RA's own alphabet (session.md §1). It keys the PAKE; it is
//! never written into the file.

use std::fmt;
use std::str::FromStr;

use crate::proto::rendezvous::uniform_symbol;

/// Remote Assistance's password symbols: capitals without vowels, digits
/// without 0 and 1 (session.md §1).
pub const PASSWORD_ALPHABET: &[u8; 29] = b"BCDFGHJKLMNPQRSTVWXYZ23456789";

/// How many symbols a password has, as in Easy Connect: 29¹² ≈ 2⁵⁸.
pub const PASSWORD_LEN: usize = 12;

/// An invitation's password, shown as its twelve symbols.
#[derive(Clone, PartialEq, Eq)]
pub struct Password([u8; PASSWORD_LEN]);

/// Why typed text is not a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error(
        "{0:?} is not used in passwords (they use only BCDFGHJKLMNPQRSTVWXYZ and 2-9: no vowels, no 0 or 1)"
    )]
    BadSymbol(char),
    #[error("a password has 12 symbols; this one has {0}")]
    WrongLength(usize),
}

impl Password {
    /// A uniformly random password. `random` gives uniform 32-bit values;
    /// the 16 values at the top of the range, which would favour the
    /// first symbols, are drawn again.
    pub fn generate(mut random: impl FnMut() -> u32) -> Self {
        Self(std::array::from_fn(|_| {
            uniform_symbol(PASSWORD_ALPHABET, &mut random)
        }))
    }

    /// The symbols, without any separator.
    pub fn as_str(&self) -> &str {
        // Every byte comes from PASSWORD_ALPHABET, which is ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The symbols, as the PAKE takes them.
    pub(crate) fn symbols(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for Password {
    type Err = PasswordError;

    /// Reads a typed password: any case, spaces (and other white space,
    /// as a pasted line brings) and dashes ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut symbols = [0; PASSWORD_LEN];
        let mut count = 0;
        for c in s.chars().filter(|c| *c != '-' && !c.is_whitespace()) {
            let symbol = u8::try_from(c.to_ascii_uppercase())
                .ok()
                .filter(|b| PASSWORD_ALPHABET.contains(b))
                .ok_or(PasswordError::BadSymbol(c))?;
            if let Some(slot) = symbols.get_mut(count) {
                *slot = symbol;
            }
            count += 1;
        }
        if count != PASSWORD_LEN {
            return Err(PasswordError::WrongLength(count));
        }
        Ok(Self(symbols))
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The password never reaches a log through `{:?}`.
impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(************)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::rendezvous::{assert_uniform, lcg};

    #[test]
    fn the_alphabet_is_remote_assistances() {
        for bad in b"AEIOU01" {
            assert!(!PASSWORD_ALPHABET.contains(bad), "{}", char::from(*bad));
        }
        let mut sorted = PASSWORD_ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 29);
    }

    #[test]
    fn a_password_shows_as_its_symbols_and_reads_back_forgivingly() {
        let password = Password::generate(lcg(1));
        let shown = password.to_string();
        assert_eq!(shown.len(), PASSWORD_LEN);
        assert_eq!(shown.parse::<Password>(), Ok(password.clone()));
        let typed: Password = "bcdf-ghjk-lmnp".parse().unwrap();
        assert_eq!(typed.as_str(), "BCDFGHJKLMNP");
        for same in [
            "BCDF GHJK LMNP",
            " bcdfghjklmnp\n",
            "B-C-D-F-G-H-J-K-L-M-N-P",
        ] {
            assert_eq!(same.parse::<Password>(), Ok(typed.clone()), "{same:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let password: Password = "BCDFGHJKLMNP".parse().unwrap();
        let debug = format!("{password:?}");
        assert!(!debug.contains("BCDF"), "{debug}");
        assert!(debug.starts_with("Password("), "{debug}");
    }

    #[test]
    fn wrong_lengths_and_foreign_symbols_are_explained() {
        assert_eq!(
            "BCDFGHJKLMN".parse::<Password>(),
            Err(PasswordError::WrongLength(11))
        );
        assert_eq!(
            "BCDFGHJKLMNPQ".parse::<Password>(),
            Err(PasswordError::WrongLength(13))
        );
        assert_eq!("".parse::<Password>(), Err(PasswordError::WrongLength(0)));
        let long = "B".repeat(100_000);
        assert_eq!(
            long.parse::<Password>(),
            Err(PasswordError::WrongLength(100_000))
        );
        assert_eq!(
            "BCDFGHJKLMN0".parse::<Password>(),
            Err(PasswordError::BadSymbol('0'))
        );
        assert_eq!(
            "bcdfghjklmna".parse::<Password>(),
            Err(PasswordError::BadSymbol('a'))
        );
        assert_eq!(
            "BCDFGHJKLMNÉ".parse::<Password>(),
            Err(PasswordError::BadSymbol('É'))
        );
        let message = "BCDFGHJKLMNE".parse::<Password>().unwrap_err().to_string();
        assert!(
            message.contains("'E'") && message.contains("no vowels"),
            "{message}"
        );
        let message = "BCD".parse::<Password>().unwrap_err().to_string();
        assert!(
            message.contains("12 symbols") && message.contains('3'),
            "{message}"
        );
    }

    #[test]
    fn generation_rejects_the_biased_tail_of_the_u32_range() {
        // 2³² = 148 102 320 × 29 + 16: the top 16 values are drawn again.
        let mut values = [
            u32::MAX,
            u32::MAX - 15,
            0,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            9,
            10,
            11,
        ]
        .into_iter();
        let password = Password::generate(|| values.next().unwrap_or(0));
        assert_eq!(password.as_str(), "BCDFGHJKLMNP");
        let top = u32::MAX - 16;
        assert_eq!(top % 29, 28);
        assert_eq!(Password::generate(|| top).as_str(), "999999999999");
    }

    #[test]
    fn every_symbol_is_about_equally_likely_at_every_position() {
        let mut random = lcg(42);
        assert_uniform(PASSWORD_ALPHABET, PASSWORD_LEN, || {
            Password::generate(&mut random).as_str().as_bytes().to_vec()
        });
    }
}
