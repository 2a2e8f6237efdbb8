//! The code a person reads aloud: `K7Q-4MX2TB`, the room's public part
//! (allocated by the server) and the secret part (drawn by the side that
//! made the room, never sent to the server).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::proto::rendezvous::{CODE_LEN, Code, CodeError, SECRET_LEN, Secret, Symbols};

/// How long a code is good for: a code is read out over the phone and
/// used at once, so its room lives ten minutes (an invitation file lives
/// [`FILE_LIFETIME`](super::FILE_LIFETIME)).
pub const CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// An invitation code.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InviteCode {
    pub room: Code,
    pub secret: Secret,
}

/// Why typed text is not an invitation code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteCodeError {
    #[error(transparent)]
    Symbols(#[from] CodeError),
    #[error("a code has 9 symbols, like K7Q-4MX2TB; this one has {0}")]
    WrongLength(usize),
}

impl FromStr for InviteCode {
    type Err = InviteCodeError;

    /// Reads a typed code: any case, with or without dashes and spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let symbols = Symbols::<CODE_LEN>::read_typed(s)?;
        if symbols.len() != CODE_LEN + SECRET_LEN {
            return Err(InviteCodeError::WrongLength(symbols.len()));
        }
        let (room, secret) = symbols.split_at(CODE_LEN);
        Ok(Self {
            room: Code::from_symbols(room, "K7Q")?,
            secret: Secret::from_symbols(secret, "4MX2TB")?,
        })
    }
}

impl fmt::Display for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.room, self.secret)
    }
}

/// The secret part never reaches a log through `{:?}`.
impl fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InviteCode({}-******)", self.room)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_forgivingly_and_shows_with_one_dash() {
        let code: InviteCode = "K7Q-4MX2TB".parse().unwrap();
        assert_eq!(code.room.as_str(), "K7Q");
        assert_eq!(code.secret.as_str(), "4MX2TB");
        for typed in ["k7q4mx2tb", "K7Q 4MX 2TB", " k7q-4mx-2tb "] {
            assert_eq!(typed.parse::<InviteCode>(), Ok(code), "{typed:?}");
        }
        assert_eq!(code.to_string(), "K7Q-4MX2TB");
        assert!(
            !format!("{code:?}").contains("4MX2TB"),
            "the secret is not debug-printed"
        );
    }

    #[test]
    fn short_long_and_bad_codes_are_explained() {
        assert_eq!(
            "ABC-DEF".parse::<InviteCode>(),
            Err(InviteCodeError::WrongLength(6))
        );
        assert_eq!(
            "K7Q-4MX2TBZZ".parse::<InviteCode>(),
            Err(InviteCodeError::WrongLength(11))
        );
        let err = "K7Q-4MX2T0".parse::<InviteCode>().unwrap_err();
        assert_eq!(err, InviteCodeError::Symbols(CodeError::BadCharacter('0')));
        assert!(
            "ABC"
                .parse::<InviteCode>()
                .unwrap_err()
                .to_string()
                .contains("like K7Q-4MX2TB")
        );
    }
}
