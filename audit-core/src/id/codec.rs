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
        // `i < 64` fits in a u8; `usize::from` is not const.
        #[allow(clippy::cast_possible_truncation)]
        {
            table[alphabet[i] as usize] = i as u8;
        }
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
    // Every index is masked to 6 bits, so no lookup needs a bounds check (and no cast to
    // `usize` loses a bit that matters).
    #[allow(clippy::cast_possible_truncation)]
    let char_at = |bits: u64| chars[bits as usize & 63];
    // The 128 bits as two big-endian halves held in registers: characters 0 to 9 take the top
    // 60 bits of `hi`, character 10 its last 4 bits and the top 2 bits of `lo`, 11 to 20 the
    // next 60 bits of `lo`, and 21 its last 2 bits followed by 4 zero bits.
    let n = u128::from_be_bytes(*bytes);
    // Each cast keeps one half of the 128 bits.
    #[allow(clippy::cast_possible_truncation)]
    let (hi, lo) = ((n >> 64) as u64, n as u64);
    let (head, tail) = out.split_at_mut(11);
    for (i, o) in head[..10].iter_mut().enumerate() {
        *o = char_at(hi >> (58 - 6 * i));
    }
    head[10] = char_at((hi << 2) | (lo >> 62));
    for (i, o) in tail[..10].iter_mut().enumerate() {
        *o = char_at(lo >> (56 - 6 * i));
    }
    tail[10] = char_at((lo & 3) << 4);
}

/// Encodes `prefix_suffix` into a stack buffer.
///
/// Always inlined: in each type's `encode` the prefix is then a constant, and copying it
/// takes a store or two instead of a call to `memcpy`.
#[allow(clippy::inline_always)]
#[inline(always)]
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

/// Decodes the 22 characters of a canonical suffix, or returns `None` when a character is
/// outside the alphabet or the last one has unused bits set ([`decode_suffix`] then says
/// which).
#[allow(clippy::inline_always)]
#[inline(always)]
fn decode_canonical(chars: &[u8; SUFFIX_LEN], alphabet: Alphabet) -> Option<[u8; 16]> {
    let table = alphabet.table();
    let value = |i: usize| u64::from(table[usize::from(chars[i])]);
    // Three independent accumulators of 8, 8 and 6 characters (48, 48 and 36 bits), so the
    // lookups do not wait on each other. Valid values are below 64 and `INVALID` is 0xFF: one
    // OR of every value says whether any character is invalid.
    let (mut first, mut second, mut last, mut seen) = (0, 0, 0, 0);
    for i in 0..8 {
        let (v1, v2) = (value(i), value(8 + i));
        seen |= v1 | v2;
        first = (first << 6) | v1;
        second = (second << 6) | v2;
    }
    for i in 16..SUFFIX_LEN {
        let v = value(i);
        seen |= v;
        last = (last << 6) | v;
    }
    // The last character holds the last 2 bits of the last byte, then 4 unused bits that the
    // canonical form leaves at 0.
    if seen > 63 || last & 0x0F != 0 {
        return None;
    }
    // 48 + 48 + 32 bits: bytes 0..6, 6..12 and 12..16.
    let n = (u128::from(first) << 80) | (u128::from(second) << 32) | u128::from(last >> 4);
    Some(n.to_be_bytes())
}

/// Decodes a 22-character suffix. `offset` is the suffix's index in the whole input, so that
/// an error names the index a user sees.
pub(crate) fn decode_suffix(
    suffix: &str,
    alphabet: Alphabet,
    offset: usize,
) -> Result<[u8; 16], ParseIdError> {
    let Ok(chars) = <&[u8; SUFFIX_LEN]>::try_from(suffix.as_bytes()) else {
        return Err(ParseIdError::WrongLength {
            expected: offset + SUFFIX_LEN,
            found: offset + suffix.len(),
        });
    };
    if let Some(bytes) = decode_canonical(chars, alphabet) {
        return Ok(bytes);
    }
    let table = alphabet.table();
    match chars.iter().position(|&c| table[usize::from(c)] == INVALID) {
        Some(index) => Err(invalid_character(suffix, index, offset)),
        None => Err(ParseIdError::NonCanonical),
    }
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
///
/// Small enough to inline: the canonical form of an ID is checked and decoded here (with the
/// prefix a constant in each type's `parse`), and everything else goes to [`parse_error`],
/// out of line, which works out what is wrong.
#[inline]
pub(crate) fn parse(
    prefix: &'static str,
    alphabet: Alphabet,
    input: &str,
) -> Result<[u8; 16], ParseIdError> {
    if let Some([b'_', suffix @ ..]) = input.as_bytes().strip_prefix(prefix.as_bytes())
        && let Ok(chars) = <&[u8; SUFFIX_LEN]>::try_from(suffix)
        && let Some(bytes) = decode_canonical(chars, alphabet)
    {
        return Ok(bytes);
    }
    parse_error(prefix, alphabet, input)
}

/// The error for an input that is not the canonical form of an ID with this prefix.
#[cold]
#[inline(never)]
fn parse_error(
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
