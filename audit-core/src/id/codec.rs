//! The fixed-size text codec: 16 bytes <-> 22 base64url characters, in two alphabets.
//!
//! The codec is written out for its one shape instead of going through a general base64
//! engine: the suffix is always 22 characters, so encoding and decoding are straight-line code
//! over lookup tables, every error can name the index of the offending character in the whole
//! input, and the canonical-form check is one mask. The conformance vectors and property tests
//! check it against the `base64` crate.

use super::{EncodedId, ParseIdError, Snippet};

/// Length of the encoded suffix of every ID.
pub(crate) const SUFFIX_LEN: usize = 22;
/// Longest prefix the derive accepts.
pub(crate) const MAX_PREFIX_LEN: usize = 32;
/// Longest encoded ID: prefix, `_`, suffix.
pub(crate) const MAX_ENCODED_LEN: usize = MAX_PREFIX_LEN + 1 + SUFFIX_LEN;

/// RFC 4648 §5 base64url, used by plain IDs so that any language can decode them.
const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// The same 64 characters in ASCII order, used by sortable IDs: string order = byte order.
const SORTABLE: &[u8; 64] = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

const INVALID: u8 = 0xFF;

const fn decode_table(alphabet: &[u8; 64]) -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
}

static STANDARD_DECODE: [u8; 256] = decode_table(STANDARD);
static SORTABLE_DECODE: [u8; 256] = decode_table(SORTABLE);

/// The two alphabets an ID can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alphabet {
    /// RFC 4648 §5 base64url.
    Standard,
    /// Order-preserving base64url.
    Sortable,
}

impl Alphabet {
    pub(crate) const fn for_sortable(sortable: bool) -> Self {
        if sortable {
            Alphabet::Sortable
        } else {
            Alphabet::Standard
        }
    }

    #[inline]
    fn chars(self) -> &'static [u8; 64] {
        match self {
            Alphabet::Standard => STANDARD,
            Alphabet::Sortable => SORTABLE,
        }
    }

    #[inline]
    fn table(self) -> &'static [u8; 256] {
        match self {
            Alphabet::Standard => &STANDARD_DECODE,
            Alphabet::Sortable => &SORTABLE_DECODE,
        }
    }
}

/// Writes the 22-character suffix of `bytes` into `out`.
#[inline]
pub(crate) fn encode_suffix(bytes: &[u8; 16], alphabet: Alphabet, out: &mut [u8; SUFFIX_LEN]) {
    let chars = alphabet.chars();
    let mut group = 0;
    while group < 5 {
        let b = &bytes[group * 3..group * 3 + 3];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let o = &mut out[group * 4..group * 4 + 4];
        o[0] = chars[(n >> 18) as usize & 63];
        o[1] = chars[(n >> 12) as usize & 63];
        o[2] = chars[(n >> 6) as usize & 63];
        o[3] = chars[n as usize & 63];
        group += 1;
    }
    let last = bytes[15];
    out[20] = chars[usize::from(last >> 2)];
    out[21] = chars[usize::from(last & 3) << 4];
}

/// Encodes `prefix_suffix` into a stack buffer.
#[inline]
pub(crate) fn encode(prefix: &'static str, alphabet: Alphabet, bytes: &[u8; 16]) -> EncodedId {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    // A prefix longer than the derive allows can only come from a hand-written impl; keep
    // its last 32 bytes' worth out rather than panic (the derive rejects such prefixes).
    let p = prefix.len().min(MAX_PREFIX_LEN);
    buf[..p].copy_from_slice(&prefix.as_bytes()[..p]);
    buf[p] = b'_';
    let mut suffix = [0u8; SUFFIX_LEN];
    encode_suffix(bytes, alphabet, &mut suffix);
    buf[p + 1..p + 1 + SUFFIX_LEN].copy_from_slice(&suffix);
    // `p + 1 + SUFFIX_LEN <= MAX_ENCODED_LEN = 55`, which fits in a u8.
    #[allow(clippy::cast_possible_truncation)]
    let len = (p + 1 + SUFFIX_LEN) as u8;
    EncodedId { buf, len }
}

/// Decodes a 22-character suffix. `offset` is the suffix's index in the whole input, so that
/// an error names the index a user sees.
#[inline]
pub(crate) fn decode_suffix(
    suffix: &str,
    alphabet: Alphabet,
    offset: usize,
) -> Result<[u8; 16], ParseIdError> {
    if suffix.len() != SUFFIX_LEN {
        return Err(ParseIdError::WrongLength {
            expected: offset + SUFFIX_LEN,
            found: offset + suffix.len(),
        });
    }
    let table = alphabet.table();
    let mut values = [0u8; SUFFIX_LEN];
    let mut bad = false;
    for (v, &c) in values.iter_mut().zip(suffix.as_bytes()) {
        *v = table[usize::from(c)];
        bad |= *v == INVALID;
    }
    if bad {
        let index = values.iter().position(|&v| v == INVALID).unwrap_or(0);
        return Err(invalid_character(suffix, index, offset));
    }
    if values[21] & 0x0F != 0 {
        return Err(ParseIdError::NonCanonical);
    }
    let mut bytes = [0u8; 16];
    for group in 0..5 {
        let v = &values[group * 4..group * 4 + 4];
        let n = (u32::from(v[0]) << 18)
            | (u32::from(v[1]) << 12)
            | (u32::from(v[2]) << 6)
            | u32::from(v[3]);
        // Each shift keeps exactly one byte of a 24-bit group.
        #[allow(clippy::cast_possible_truncation)]
        {
            bytes[group * 3] = (n >> 16) as u8;
            bytes[group * 3 + 1] = (n >> 8) as u8;
            bytes[group * 3 + 2] = n as u8;
        }
    }
    bytes[15] = (values[20] << 2) | (values[21] >> 4);
    Ok(bytes)
}

fn invalid_character(suffix: &str, index: usize, offset: usize) -> ParseIdError {
    // Every valid character is ASCII, so the first invalid byte starts a character.
    let found = suffix
        .get(index..)
        .and_then(|rest| rest.chars().next())
        .unwrap_or(char::REPLACEMENT_CHARACTER);
    ParseIdError::InvalidCharacter {
        index: offset + index,
        found,
    }
}

/// Parses `prefix_suffix` for one known prefix. Rejects a wrong length before reading more
/// than the prefix, so any input is rejected in time bounded by the prefix's length.
#[inline]
pub(crate) fn parse(
    prefix: &'static str,
    alphabet: Alphabet,
    input: &str,
) -> Result<[u8; 16], ParseIdError> {
    let bytes = input.as_bytes();
    let expected_len = prefix.len() + 1 + SUFFIX_LEN;
    if bytes.len() == expected_len {
        if &bytes[..prefix.len()] != prefix.as_bytes() || bytes[prefix.len()] != b'_' {
            // With a `_` where the separator belongs, the prefix is what precedes it; without
            // one, the input has no prefix there (`userx...` must not report `user`).
            let found = if bytes[prefix.len()] == b'_' {
                input.get(..prefix.len()).unwrap_or_default()
            } else {
                prefix_of(input)
            };
            return Err(ParseIdError::WrongPrefix {
                expected: prefix,
                found: Snippet::new(found),
            });
        }
        // The byte at `prefix.len()` is `_`, so the suffix starts on a char boundary.
        let suffix = input.get(prefix.len() + 1..).unwrap_or_default();
        return decode_suffix(suffix, alphabet, prefix.len() + 1);
    }
    if bytes.is_empty() {
        return Err(ParseIdError::Empty);
    }
    // The prefix alone (`user`) has the right prefix and the wrong length.
    let has_prefix =
        bytes.starts_with(prefix.as_bytes()) && bytes.get(prefix.len()).is_none_or(|&b| b == b'_');
    if has_prefix {
        Err(ParseIdError::WrongLength {
            expected: expected_len,
            found: bytes.len(),
        })
    } else {
        Err(ParseIdError::WrongPrefix {
            expected: prefix,
            found: Snippet::new(prefix_of(input)),
        })
    }
}

/// The prefix part of an input whose length does not tell where the prefix ends: up to the
/// first `_` among the first bytes, or the first bytes. Looks at a bounded number of bytes.
pub(crate) fn prefix_of(input: &str) -> &str {
    let window = &input.as_bytes()[..input.len().min(MAX_PREFIX_LEN + 1)];
    let end = window
        .iter()
        .position(|&b| b == b'_')
        .unwrap_or(window.len());
    &input[..floor_char_boundary(input, end)]
}

/// The largest char boundary of `s` at or below `index`.
pub(crate) fn floor_char_boundary(s: &str, index: usize) -> usize {
    let mut i = index.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
