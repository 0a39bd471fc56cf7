//! Why a string is not an ID.

use std::fmt;

/// Why a string was rejected as an ID.
///
/// Parsing accepts exactly one string per ID, its canonical form, and rejects everything else
/// with one of these. Messages say what was expected and what was found, and never echo more
/// than a short [`Snippet`] of the input.
///
/// ```
/// use audit_core::{ParseIdError, PrefixedId};
///
/// #[derive(PrefixedId)]
/// #[id(prefix = "user")]
/// pub struct UserId([u8; 16]);
///
/// let err = UserId::parse("wdgt_fwz7uz86mmt1Crr2D-jnPA").unwrap_err();
/// assert!(matches!(err, ParseIdError::WrongPrefix { expected: "user", .. }));
/// assert_eq!(err.to_string(), "expected an ID with prefix `user`, found `wdgt`");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseIdError {
    /// The input was empty.
    Empty,
    /// The input does not start with the expected prefix and `_`.
    WrongPrefix {
        /// The prefix the ID type uses.
        expected: &'static str,
        /// The start of the input, up to the first `_` (at most 32 bytes).
        found: Snippet,
    },
    /// The input has the right prefix but not the length of an ID.
    WrongLength {
        /// The length of a valid ID of this type, in bytes: prefix, `_` and 22 characters.
        expected: usize,
        /// The length of the input, in bytes.
        found: usize,
    },
    /// A character of the suffix is not in the ID's base64url alphabet.
    InvalidCharacter {
        /// Byte index of the character in the whole input.
        index: usize,
        /// The character found there.
        found: char,
    },
    /// The last character has bits set that no 16-byte value produces: another string is the
    /// canonical form of the same bytes.
    NonCanonical,
    /// No registered ID type uses this prefix (from [`AnyId`](crate::AnyId)).
    UnknownPrefix {
        /// The prefix of the input (at most 32 bytes).
        found: Snippet,
        /// The closest registered prefix, if one is close.
        suggestion: Option<&'static str>,
    },
    /// Several registered ID types use this prefix (from [`AnyId`](crate::AnyId)); see
    /// [`ids::check_unique_prefixes`](crate::ids::check_unique_prefixes).
    AmbiguousPrefix {
        /// The shared prefix.
        prefix: &'static str,
        /// The Rust type names of the types that share it.
        types: Vec<&'static str>,
    },
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseIdError::Empty => f.write_str("expected an ID, found an empty string"),
            ParseIdError::WrongPrefix { expected, found } => write!(
                f,
                "expected an ID with prefix `{expected}`, found `{found}`"
            ),
            ParseIdError::WrongLength { expected, found } => write!(
                f,
                "expected an ID of {expected} bytes (the prefix, `_` and 22 base64url \
                 characters), found {found} bytes"
            ),
            ParseIdError::InvalidCharacter { index, found } => write!(
                f,
                "invalid character {found:?} at index {index}: an ID suffix uses only \
                 A-Z, a-z, 0-9, `-` and `_`"
            ),
            ParseIdError::NonCanonical => f.write_str(
                "the ID's last character has unused bits set: it is not the canonical form \
                 of any ID",
            ),
            ParseIdError::UnknownPrefix { found, suggestion } => {
                write!(f, "no registered ID type has the prefix `{found}`")?;
                if let Some(s) = suggestion {
                    write!(f, "; did you mean `{s}`?")?;
                }
                Ok(())
            }
            ParseIdError::AmbiguousPrefix { prefix, types } => write!(
                f,
                "the prefix `{prefix}` is registered by several ID types ({}); give each type \
                 its own prefix",
                types.join(", ")
            ),
        }
    }
}

impl std::error::Error for ParseIdError {}

/// A short, owned piece of rejected input, kept without a heap allocation.
///
/// Holds at most 32 bytes, cut at a character boundary; a longer input is marked with `…`
/// when displayed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Snippet {
    buf: [u8; Snippet::CAPACITY],
    len: u8,
    truncated: bool,
}

impl Snippet {
    /// How many bytes of input a snippet keeps.
    pub const CAPACITY: usize = 32;

    /// Keeps the start of `s`, at most [`Snippet::CAPACITY`] bytes.
    ///
    /// ```
    /// let s = audit_core::Snippet::new("abc");
    /// assert_eq!(s.as_str(), "abc");
    /// ```
    #[must_use]
    pub fn new(s: &str) -> Self {
        let end = super::codec::floor_char_boundary(s, Self::CAPACITY);
        let mut buf = [0u8; Self::CAPACITY];
        buf[..end].copy_from_slice(&s.as_bytes()[..end]);
        Snippet {
            buf,
            // `end <= 32`.
            #[allow(clippy::cast_possible_truncation)]
            len: end as u8,
            truncated: end < s.len(),
        }
    }

    /// The kept text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Built from a `str` cut at a char boundary; the fallback is unreachable.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Whether the input was longer than what was kept.
    #[must_use]
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl PartialEq<str> for Snippet {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Snippet {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
