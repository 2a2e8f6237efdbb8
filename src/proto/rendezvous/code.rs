//! The short code that pairs two clients: six symbols a help desk can read
//! over the phone without "was that a zero or an O?".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The symbols of a code: digits and capitals without 0, 1, I, L, O and U,
/// the ones that sound or look alike (and U, which spells words).
pub const ALPHABET: &[u8; 30] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";

/// How many symbols a code has: 30⁶ ≈ 729 million codes.
pub const CODE_LEN: usize = 6;

/// A rendezvous code, shown as `ABC-DEF`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code([u8; CODE_LEN]);

/// Why a typed code is not a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error(
        "{0:?} is not used in codes (codes use 2-9 and A-Z without I, L, O and U; 0 and 1 never appear)"
    )]
    BadCharacter(char),
    #[error("a code has {CODE_LEN} symbols, like ABC-DEF; this one has {0}")]
    WrongLength(usize),
}

impl Code {
    /// A uniformly random code. `random` gives uniform 32-bit values; a value
    /// in the last, incomplete run of 30 is rejected and drawn again, so
    /// every symbol is equally likely.
    pub fn generate(mut random: impl FnMut() -> u32) -> Code {
        const SYMBOLS: u64 = ALPHABET.len() as u64;
        // The values below the largest multiple of 30 within 2³².
        const ZONE: u64 = (1 << 32) - (1 << 32) % SYMBOLS;
        let mut symbols = [0; CODE_LEN];
        for symbol in &mut symbols {
            let value = loop {
                let r = u64::from(random());
                if r < ZONE {
                    break r;
                }
            };
            *symbol = ALPHABET[(value % SYMBOLS) as usize];
        }
        Code(symbols)
    }

    /// The six symbols, without the dash.
    pub fn as_str(&self) -> &str {
        // Every byte comes from ALPHABET, which is ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl FromStr for Code {
    type Err = CodeError;

    /// Reads a typed code: any case, with or without dashes and spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut symbols = [0; CODE_LEN];
        let mut len = 0;
        for c in s.chars().filter(|c| *c != '-' && *c != ' ') {
            let upper = c.to_ascii_uppercase();
            let Some(byte) = u8::try_from(upper).ok().filter(|b| ALPHABET.contains(b)) else {
                return Err(CodeError::BadCharacter(c));
            };
            if let Some(slot) = symbols.get_mut(len) {
                *slot = byte;
            }
            len += 1;
        }
        if len != CODE_LEN {
            return Err(CodeError::WrongLength(len));
        }
        Ok(Code(symbols))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, second) = self.as_str().split_at(CODE_LEN / 2);
        write!(f, "{first}-{second}")
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({self})")
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stand-in for a random source (an LCG's high bits).
    fn lcg(seed: u32) -> impl FnMut() -> u32 {
        let mut state = u64::from(seed);
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 32) as u32
        }
    }

    #[test]
    fn the_alphabet_has_no_ambiguous_symbols_and_no_repeats() {
        for bad in b"01ILOU" {
            assert!(!ALPHABET.contains(bad), "{}", char::from(*bad));
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), 30);
    }

    #[test]
    fn a_code_displays_as_two_groups_of_three_and_parses_back() {
        let code = Code::generate(lcg(1));
        let shown = code.to_string();
        assert_eq!(shown.len(), 7);
        assert_eq!(&shown[3..4], "-");
        assert_eq!(shown.parse::<Code>(), Ok(code));
    }

    #[test]
    fn parsing_ignores_case_dashes_and_spaces() {
        let code: Code = "ABC-DEF".parse().expect("a valid code");
        for typed in ["abcdef", "abc def", " AbC-dEf ", "a-b-c-d-e-f", "ABCDEF"] {
            assert_eq!(typed.parse::<Code>(), Ok(code), "{typed:?}");
        }
        assert_eq!(code.as_str(), "ABCDEF");
    }

    #[test]
    fn parsing_names_the_bad_character_or_the_wrong_length() {
        assert_eq!("ABC-DE0".parse::<Code>(), Err(CodeError::BadCharacter('0')));
        assert_eq!("abc-doe".parse::<Code>(), Err(CodeError::BadCharacter('o')));
        assert_eq!("ABC_DEF".parse::<Code>(), Err(CodeError::BadCharacter('_')));
        assert_eq!("ABCDÉF".parse::<Code>(), Err(CodeError::BadCharacter('É')));
        assert_eq!("ABC-DE".parse::<Code>(), Err(CodeError::WrongLength(5)));
        assert_eq!("ABC-DEFG".parse::<Code>(), Err(CodeError::WrongLength(7)));
        assert_eq!("".parse::<Code>(), Err(CodeError::WrongLength(0)));
        let long = "A".repeat(100_000);
        assert_eq!(long.parse::<Code>(), Err(CodeError::WrongLength(100_000)));
        let message = "ABC-DEI".parse::<Code>().expect_err("I").to_string();
        assert!(message.contains("'I'"), "{message}");
    }

    #[test]
    fn serde_uses_the_display_form_and_refuses_bad_codes() {
        let code: Code = "XYZ-234".parse().expect("a valid code");
        let json = serde_json::to_string(&code).expect("serialize");
        assert_eq!(json, "\"XYZ-234\"");
        assert_eq!(serde_json::from_str::<Code>("\"xyz234\"").ok(), Some(code));
        let err = serde_json::from_str::<Code>("\"XYZ-23O\"").expect_err("O");
        assert!(err.to_string().contains("'O'"), "{err}");
        assert!(serde_json::from_str::<Code>("42").is_err());
    }

    #[test]
    fn generation_rejects_the_biased_tail_of_the_u32_range() {
        // The sixteen values at the top of the range would favour the first
        // symbols; they are drawn again.
        let mut values = [u32::MAX, u32::MAX - 1, u32::MAX - 15, 0, 1, 2, 3, 4, 5].into_iter();
        let code = Code::generate(|| values.next().unwrap_or(0));
        assert_eq!(code.as_str(), "234567");
        // The largest accepted value maps to the last symbol.
        let top = u32::MAX - 16;
        assert_eq!(top % 30, 29);
        assert_eq!(Code::generate(|| top).as_str(), "ZZZZZZ");
    }

    #[test]
    fn every_symbol_is_about_equally_likely_at_every_position() {
        let mut random = lcg(42);
        let draws = 30_000;
        let mut counts = [[0u32; 30]; CODE_LEN];
        for _ in 0..draws {
            let code = Code::generate(&mut random);
            for (position, byte) in code.0.iter().enumerate() {
                let index = ALPHABET
                    .iter()
                    .position(|a| a == byte)
                    .expect("in alphabet");
                counts[position][index] += 1;
            }
        }
        // Expected 1000 per cell; a chi-square over 29 degrees of freedom
        // stays far below 80 for a uniform source (p < 1e-6 otherwise).
        for row in &counts {
            let chi2: f64 = row
                .iter()
                .map(|&n| (f64::from(n) - 1000.0).powi(2) / 1000.0)
                .sum();
            assert!(chi2 < 80.0, "chi-square {chi2} for {row:?}");
        }
    }

    #[test]
    fn consecutive_codes_differ() {
        let mut random = lcg(7);
        let codes: std::collections::HashSet<Code> =
            (0..1000).map(|_| Code::generate(&mut random)).collect();
        assert_eq!(codes.len(), 1000);
    }
}
