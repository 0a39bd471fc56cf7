//! JSON text written directly into a byte buffer: strings escaped exactly as `serde_json`
//! (and RFC 8785) escape them, eight bytes at a time where nothing needs escaping.
//!
//! Envelope lines and canonical JSON are mostly strings (IDs, names, the message, a user
//! agent) that need no escape at all; scanning them a word at a time and copying them in one
//! piece is most of what writing an envelope costs.

/// Writes `s` as a JSON string: `"`, `\` and control characters escaped (the short forms
/// `\b \t \n \f \r`, else `\u00xx` in lowercase hex), everything else as is.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        if needs_escape(u64::from_le_bytes(word.try_into().unwrap_or_default())) {
            escape_from(out, bytes, &mut start, at, word);
        }
        at += 8;
    }
    let rest = words.remainder();
    // The last few bytes, padded with spaces (which stand as they are) to a whole word.
    let mut last = [b' '; 8];
    last[..rest.len()].copy_from_slice(rest);
    if needs_escape(u64::from_le_bytes(last)) {
        escape_from(out, bytes, &mut start, at, rest);
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Escapes what needs it in `part`, which starts at `at` in `bytes`; everything before
/// `start` is written already.
#[inline]
fn escape_from(out: &mut Vec<u8>, bytes: &[u8], start: &mut usize, at: usize, part: &[u8]) {
    for (k, &b) in part.iter().enumerate() {
        let escape = ESCAPE[usize::from(b)];
        if escape != 0 {
            out.extend_from_slice(&bytes[*start..at + k]);
            write_escape(out, b, escape);
            *start = at + k + 1;
        }
    }
}

/// Whether any byte of `word` is `"`, `\` or below 0x20. Exact: the expressions below are
/// the classic "has a byte less than n" and "has a zero byte" tests, which have no false
/// positives for the word as a whole.
#[inline]
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let q = word ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q & HIGH;
    let b = word ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b & HIGH;
    (control | quote | backslash) != 0
}

/// For each byte: 0 when it stands as is, else the letter of its escape (`u` for `\u00xx`).
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

#[cold]
fn write_escape(out: &mut Vec<u8>, byte: u8, escape: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if escape == b'u' {
        out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0xf)],
        ]);
    } else {
        out.extend_from_slice(&[b'\\', escape]);
    }
}

/// Writes an object whose members are all strings, in the order given. The keys are names
/// that need no escape.
pub(crate) fn write_str_object(out: &mut Vec<u8>, members: &[(&str, &str)]) {
    let mut object = Members::new();
    out.push(b'{');
    for (name, value) in members {
        object.key(out, name);
        write_str(out, value);
    }
    out.push(b'}');
}

/// The members of an object being written: commas between them.
pub(crate) struct Members {
    first: bool,
}

impl Members {
    pub(crate) fn new() -> Self {
        Members { first: true }
    }

    /// Writes the comma before every member but the first, then `"name":`. `name` needs no
    /// escape.
    #[inline]
    pub(crate) fn key(&mut self, out: &mut Vec<u8>, name: &str) {
        if !std::mem::take(&mut self.first) {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
    }
}

/// Writes an IP address as a JSON string, as its `Display` impl (and so serde) writes it.
pub(crate) fn write_ip(out: &mut Vec<u8>, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            out.push(b'"');
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(itoa::Buffer::new().format(octet).as_bytes());
            }
            out.push(b'"');
        }
        std::net::IpAddr::V6(v6) => {
            use std::io::Write as _;
            // Writing into a vector cannot fail.
            let _ = write!(out, "\"{v6}\"");
        }
    }
}

/// Writes an unsigned integer in decimal.
pub(crate) fn write_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::write_str;

    fn ours(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn every_ascii_character_is_escaped_as_serde_json_escapes_it() {
        for b in 0u8..=0x7f {
            let c = char::from(b);
            for s in [
                c.to_string(),
                format!("abcdefg{c}"),
                format!("{c}bcdefghijklmnop"),
                format!("abcdefghijk{c}mnopq"),
            ] {
                assert_eq!(ours(&s), serde_json::to_string(&s).unwrap(), "{b:#x}");
            }
        }
    }

    #[test]
    fn ip_addresses_are_written_as_serde_json_writes_them() {
        for ip in [
            "0.0.0.0",
            "203.0.113.7",
            "255.255.255.255",
            "::1",
            "2001:db8::8:1",
            "::ffff:1.2.3.4",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            super::write_ip(&mut out, ip);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&ip).unwrap()
            );
        }
    }

    #[test]
    fn random_strings_agree_with_serde_json() {
        // A small deterministic generator over a mix of ASCII, controls and multibyte text.
        let alphabet: Vec<char> = "ab \"\\\u{0}\u{1f}\n\t\u{7f}é😀\u{2028}/<>"
            .chars()
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = usize::try_from(state % 40).unwrap();
            let s: String = (0..len)
                .map(|k| {
                    let pick =
                        usize::try_from((state >> (k % 50)) & 0xffff).unwrap() ^ k.wrapping_mul(31);
                    alphabet[pick % alphabet.len()]
                })
                .collect();
            assert_eq!(ours(&s), serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }
}
