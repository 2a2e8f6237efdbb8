//! The codes a help desk reads over the phone without "was that a zero or
//! an O?": the room's public part, which the server allocates and pairs
//! by, and the secret part, which only the two people ever see.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The symbols of a code: digits and capitals without 0, 1, I, L, O and U,
/// the ones that sound or look alike (and U, which spells words).
pub const ALPHABET: &[u8; 30] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";

/// How many symbols the room's public part has: 30³ = 27 000 rooms.
pub const CODE_LEN: usize = 3;

/// How many symbols the secret part has: 30⁶ ≈ 729 million secrets, and
/// one guess per PAKE run.
pub const SECRET_LEN: usize = 6;

/// `N` symbols of [`ALPHABET`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbols<const N: usize>([u8; N]);

/// A room's public part, shown as `K7Q`.
pub type Code = Symbols<CODE_LEN>;

/// The secret part of an invitation code, shown as `4MX2TB`. It feeds the
/// PAKE and never reaches a server.
pub type Secret = Symbols<SECRET_LEN>;

/// Why typed symbols are not a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error(
        "{0:?} is not used in codes (codes use 2-9 and A-Z without I, L, O and U; 0 and 1 never appear)"
    )]
    BadCharacter(char),
    #[error("expected {expected} symbols, like {example}; this has {got}")]
    WrongLength {
        expected: usize,
        got: usize,
        example: &'static str,
    },
}

impl<const N: usize> Symbols<N> {
    /// Uniformly random symbols. `random` gives uniform 32-bit values; a
    /// value in the last, incomplete run of 30 is rejected and drawn again,
    /// so every symbol is equally likely.
    pub fn generate(mut random: impl FnMut() -> u32) -> Self {
        Self(std::array::from_fn(|_| {
            uniform_symbol(ALPHABET, &mut random)
        }))
    }

    /// The symbols, without any dash.
    pub fn as_str(&self) -> &str {
        // Every byte comes from ALPHABET, which is ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Reads typed symbols: any case, dashes and spaces ignored; the
    /// symbols come back in order, however many there are.
    pub fn read_typed(s: &str) -> Result<Vec<u8>, CodeError> {
        s.chars()
            .filter(|c| *c != '-' && *c != ' ')
            .map(|c| {
                u8::try_from(c.to_ascii_uppercase())
                    .ok()
                    .filter(|b| ALPHABET.contains(b))
                    .ok_or(CodeError::BadCharacter(c))
            })
            .collect()
    }

    /// Exactly `N` symbols read by [`Symbols::read_typed`].
    pub fn from_symbols(symbols: &[u8], example: &'static str) -> Result<Self, CodeError> {
        <[u8; N]>::try_from(symbols)
            .map(Self)
            .map_err(|_| CodeError::WrongLength {
                expected: N,
                got: symbols.len(),
                example,
            })
    }
}

/// One symbol of `alphabet`, every one equally likely. `random` gives
/// uniform 32-bit values; a value in the last, incomplete run of
/// `alphabet.len()` is rejected and drawn again (no modulo bias).
pub(crate) fn uniform_symbol(alphabet: &[u8], random: &mut impl FnMut() -> u32) -> u8 {
    let symbols = alphabet.len() as u64;
    // The values below the largest multiple of the alphabet's size within 2³².
    let zone = (1 << 32) - (1 << 32) % symbols;
    loop {
        let r = u64::from(random());
        if r < zone {
            return alphabet[(r % symbols) as usize];
        }
    }
}

impl<const N: usize> FromStr for Symbols<N> {
    type Err = CodeError;

    /// Reads a typed code: any case, with or without dashes and spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let example = match N {
            CODE_LEN => "K7Q",
            _ => "4MX2TB",
        };
        Self::from_symbols(&Self::read_typed(s)?, example)
    }
}

impl<const N: usize> fmt::Display for Symbols<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for Symbols<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({self})")
    }
}

impl<const N: usize> Serialize for Symbols<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de, const N: usize> Deserialize<'de> for Symbols<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A deterministic stand-in for a random source (an LCG's high bits), for
/// the tests of codes, passwords and the server that draws them.
#[cfg(test)]
pub(crate) fn lcg(seed: u64) -> impl FnMut() -> u32 + Send + 'static {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 32) as u32
    }
}

/// Asserts that `draw` gives symbols of `alphabet`, `len` at a time, each
/// about equally likely at every position: 1000 draws a symbol, and a
/// chi-square that a uniform source keeps far below 80 (p < 1e-6
/// otherwise, for the 28 or 29 degrees of freedom of these alphabets).
#[cfg(test)]
pub(crate) fn assert_uniform(alphabet: &[u8], len: usize, mut draw: impl FnMut() -> Vec<u8>) {
    let expected = 1000.0;
    let mut counts = vec![vec![0u32; alphabet.len()]; len];
    for _ in 0..alphabet.len() * 1000 {
        for (position, byte) in draw().iter().enumerate() {
            let index = alphabet
                .iter()
                .position(|a| a == byte)
                .expect("in the alphabet");
            counts[position][index] += 1;
        }
    }
    for row in &counts {
        let chi2: f64 = row
            .iter()
            .map(|&n| (f64::from(n) - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 80.0, "chi-square {chi2} for {row:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_code_displays_as_its_symbols_and_parses_back() {
        let code = Code::generate(lcg(1));
        let shown = code.to_string();
        assert_eq!(shown.len(), 3);
        assert_eq!(shown.parse::<Code>(), Ok(code));
        let secret = Secret::generate(lcg(1));
        assert_eq!(secret.to_string().len(), 6);
        assert_eq!(secret.to_string().parse::<Secret>(), Ok(secret));
    }

    #[test]
    fn parsing_ignores_case_dashes_and_spaces() {
        let code: Code = "ABC".parse().expect("a valid code");
        for typed in ["abc", "a bc", " AbC ", "a-b-c", "ABC-"] {
            assert_eq!(typed.parse::<Code>(), Ok(code), "{typed:?}");
        }
        assert_eq!(code.as_str(), "ABC");
    }

    #[test]
    fn parsing_names_the_bad_character_or_the_wrong_length() {
        let wrong = |got| CodeError::WrongLength {
            expected: 3,
            got,
            example: "K7Q",
        };
        assert_eq!("AB0".parse::<Code>(), Err(CodeError::BadCharacter('0')));
        assert_eq!("doe".parse::<Code>(), Err(CodeError::BadCharacter('o')));
        assert_eq!("A_B".parse::<Code>(), Err(CodeError::BadCharacter('_')));
        assert_eq!("ABÉ".parse::<Code>(), Err(CodeError::BadCharacter('É')));
        assert_eq!("AB".parse::<Code>(), Err(wrong(2)));
        assert_eq!("ABC-D".parse::<Code>(), Err(wrong(4)));
        assert_eq!("".parse::<Code>(), Err(wrong(0)));
        let long = "A".repeat(100_000);
        assert_eq!(long.parse::<Code>(), Err(wrong(100_000)));
        let message = "ABI".parse::<Code>().expect_err("I").to_string();
        assert!(message.contains("'I'"), "{message}");
        let message = "AB".parse::<Code>().expect_err("short").to_string();
        assert!(message.contains("like K7Q"), "{message}");
    }

    #[test]
    fn serde_uses_the_display_form_and_refuses_bad_codes() {
        let code: Code = "XYZ".parse().expect("a valid code");
        let json = serde_json::to_string(&code).expect("serialize");
        assert_eq!(json, "\"XYZ\"");
        assert_eq!(serde_json::from_str::<Code>("\"xyz\"").ok(), Some(code));
        let err = serde_json::from_str::<Code>("\"XYO\"").expect_err("O");
        assert!(err.to_string().contains("'O'"), "{err}");
        assert!(serde_json::from_str::<Code>("42").is_err());
    }

    #[test]
    fn generation_rejects_the_biased_tail_of_the_u32_range() {
        // The sixteen values at the top of the range would favour the first
        // symbols; they are drawn again.
        let mut values = [u32::MAX, u32::MAX - 1, u32::MAX - 15, 0, 1, 2, 3, 4, 5].into_iter();
        let code = Secret::generate(|| values.next().unwrap_or(0));
        assert_eq!(code.as_str(), "234567");
        // The largest accepted value maps to the last symbol.
        let top = u32::MAX - 16;
        assert_eq!(top % 30, 29);
        assert_eq!(Secret::generate(|| top).as_str(), "ZZZZZZ");
    }

    #[test]
    fn every_symbol_is_about_equally_likely_at_every_position() {
        let mut random = lcg(42);
        assert_uniform(ALPHABET, SECRET_LEN, || {
            Secret::generate(&mut random).as_str().as_bytes().to_vec()
        });
    }

    #[test]
    fn consecutive_codes_differ() {
        let mut random = lcg(7);
        let codes: std::collections::HashSet<Secret> =
            (0..1000).map(|_| Secret::generate(&mut random)).collect();
        assert_eq!(codes.len(), 1000);
    }
}
