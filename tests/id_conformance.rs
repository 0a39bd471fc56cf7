//! Conformance vectors for the ID text format, kept as data in `tests/data/`.
//!
//! Each file lists valid `(bytes, string)` pairs and invalid strings tagged with the error they
//! must produce. Both alphabets are checked against the `base64` crate as an independent
//! oracle: RFC 4648 §5 base64url for plain IDs, and the same crate with the order-preserving
//! alphabet for sortable IDs.

use std::collections::HashSet;

use audit_core::{AnyId, EventId, ParseIdError, PrefixedId};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use serde_json::Value;

const STANDARD_VECTORS: &str = include_str!("data/ids_standard.json");
const SORTABLE_VECTORS: &str = include_str!("data/ids_sortable.json");

const STANDARD_CHARS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const SORTABLE_CHARS: &str = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

#[derive(PrefixedId)]
#[id(prefix = "user")]
struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
struct WidgetId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "org_member")]
struct OrgMemberId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "a")]
struct OneLetterId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "abcdefghijklmnopqrstuvwxyz012345")]
struct LongestPrefixId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "oevt", sortable)]
struct OrderEventId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "job_run", sortable)]
struct JobRunId([u8; 16]);

/// What parsing gave: the bytes and the re-encoded string, or the error.
type Outcome = Result<([u8; 16], String), ParseIdError>;

fn parse_with<T: PrefixedId>(sortable: bool, input: &str) -> Outcome {
    assert_eq!(
        T::SORTABLE,
        sortable,
        "the vector file's alphabet does not match the type for prefix `{}`",
        T::PREFIX
    );
    T::parse(input).map(|id| (id.to_bytes(), id.to_string()))
}

fn encode_with<T: PrefixedId>(bytes: [u8; 16]) -> (String, String) {
    let id = T::from_bytes(bytes);
    (id.encode().to_string(), id.to_string())
}

/// Parses `input` as the type whose prefix is `prefix`, in the file's alphabet.
fn parse_as(sortable: bool, prefix: &str, input: &str) -> Outcome {
    match prefix {
        "user" => parse_with::<UserId>(sortable, input),
        "wdgt" => parse_with::<WidgetId>(sortable, input),
        "org_member" => parse_with::<OrgMemberId>(sortable, input),
        "a" => parse_with::<OneLetterId>(sortable, input),
        "abcdefghijklmnopqrstuvwxyz012345" => parse_with::<LongestPrefixId>(sortable, input),
        "oevt" => parse_with::<OrderEventId>(sortable, input),
        "job_run" => parse_with::<JobRunId>(sortable, input),
        "evt" => parse_with::<EventId>(sortable, input),
        other => panic!("no test type has the prefix `{other}`"),
    }
}

/// `(encode(), to_string())` of `bytes` as the type whose prefix is `prefix`.
fn encode_as(prefix: &str, bytes: [u8; 16]) -> (String, String) {
    match prefix {
        "user" => encode_with::<UserId>(bytes),
        "wdgt" => encode_with::<WidgetId>(bytes),
        "org_member" => encode_with::<OrgMemberId>(bytes),
        "a" => encode_with::<OneLetterId>(bytes),
        "abcdefghijklmnopqrstuvwxyz012345" => encode_with::<LongestPrefixId>(bytes),
        "oevt" => encode_with::<OrderEventId>(bytes),
        "job_run" => encode_with::<JobRunId>(bytes),
        "evt" => encode_with::<EventId>(bytes),
        other => panic!("no test type has the prefix `{other}`"),
    }
}

/// The oracle: the `base64` crate, with no padding and no trailing bits allowed.
fn oracle(sortable: bool) -> GeneralPurpose {
    if sortable {
        let alphabet = base64::alphabet::Alphabet::new(SORTABLE_CHARS)
            .expect("the sortable alphabet is valid");
        GeneralPurpose::new(
            &alphabet,
            GeneralPurposeConfig::new()
                .with_encode_padding(false)
                .with_decode_padding_mode(DecodePaddingMode::RequireNone),
        )
    } else {
        URL_SAFE_NO_PAD
    }
}

fn hex16(s: &str) -> [u8; 16] {
    assert_eq!(s.len(), 32, "bad hex in a vector: {s}");
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digits");
    }
    out
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector {v} has no string field `{key}`"))
}

fn usize_field(v: &Value, key: &str) -> usize {
    let n = v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("vector {v} has no number field `{key}`"));
    usize::try_from(n).expect("fits in usize")
}

/// The input of an invalid vector: `input`, then `then_repeat: [s, n]` appended `n` times.
fn invalid_input(v: &Value) -> String {
    let mut input = str_field(v, "input").to_owned();
    if let Some(rep) = v.get("then_repeat") {
        let s = rep[0].as_str().expect("then_repeat[0] is a string");
        let n = rep[1].as_u64().expect("then_repeat[1] is a number");
        input.push_str(&s.repeat(usize::try_from(n).expect("fits in usize")));
    }
    input
}

fn short(s: &str) -> String {
    if s.len() <= 80 {
        format!("{s:?}")
    } else {
        let end = (0..=80).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        format!("{:?}… ({} bytes)", &s[..end], s.len())
    }
}

/// Checks that `err` is the error a vector names, with the fields it gives.
fn check_error(err: &ParseIdError, v: &Value, prefix: &str, input: &str) {
    let kind = str_field(v, "error");
    let ctx = || format!("input {} ({})", short(input), str_field(v, "note"));
    match (kind, err) {
        ("Empty", ParseIdError::Empty) | ("NonCanonical", ParseIdError::NonCanonical) => {}
        ("WrongPrefix", ParseIdError::WrongPrefix { expected, found }) => {
            assert_eq!(*expected, prefix, "{}", ctx());
            assert_eq!(found.as_str(), str_field(v, "found"), "{}", ctx());
            assert!(found.as_str().len() <= 32, "{}", ctx());
        }
        ("WrongLength", ParseIdError::WrongLength { expected, found }) => {
            assert_eq!(*expected, usize_field(v, "expected"), "{}", ctx());
            assert_eq!(*expected, prefix.len() + 23, "{}", ctx());
            assert_eq!(*found, usize_field(v, "found"), "{}", ctx());
            assert_eq!(*found, input.len(), "{}", ctx());
        }
        ("InvalidCharacter", ParseIdError::InvalidCharacter { index, found }) => {
            assert_eq!(*index, usize_field(v, "index"), "{}", ctx());
            let want: Vec<char> = str_field(v, "found").chars().collect();
            assert_eq!(want.len(), 1, "a vector's `found` is one character: {v}");
            assert_eq!(*found, want[0], "{}", ctx());
            // The index points at that character in the input.
            assert_eq!(input[*index..].chars().next(), Some(*found), "{}", ctx());
        }
        _ => panic!("{}: expected {kind}, got {err:?}", ctx()),
    }
    // A message says something, and never echoes a long input.
    let message = err.to_string();
    assert!(!message.is_empty(), "{}", ctx());
    assert!(
        message.len() < 200,
        "{}: message too long: {message}",
        ctx()
    );
}

fn check_file(text: &str, sortable: bool) {
    let file: Value = serde_json::from_str(text).expect("the vector file is valid JSON");
    let expected_alphabet = if sortable { "sortable" } else { "standard" };
    assert_eq!(str_field(&file, "alphabet"), expected_alphabet);
    let chars = if sortable {
        SORTABLE_CHARS
    } else {
        STANDARD_CHARS
    };
    assert_eq!(str_field(&file, "chars"), chars);
    let engine = oracle(sortable);

    let valid = file["valid"].as_array().expect("`valid` is an array");
    assert!(valid.len() >= 10, "too few valid vectors");
    let mut seen = HashSet::new();
    let mut by_type: Vec<(String, [u8; 16], String)> = Vec::new();
    for v in valid {
        let id = str_field(v, "id");
        let bytes = hex16(str_field(v, "bytes"));
        assert!(seen.insert(id.to_owned()), "duplicate vector {id}");
        assert!(id.len() > 23, "{id}");
        let (prefix, suffix) = id.split_at(id.len() - 22);
        let prefix = prefix
            .strip_suffix('_')
            .expect("a `_` before the 22-char suffix");

        // The oracle agrees with the vector, both ways.
        assert_eq!(engine.encode(bytes), suffix, "oracle encoding of {id}");
        assert_eq!(
            engine.decode(suffix).expect("oracle decodes"),
            bytes,
            "oracle decoding of {id}"
        );
        if sortable {
            // Second derivation: the standard encoding, mapped character by character.
            let mapped: String = URL_SAFE_NO_PAD
                .encode(bytes)
                .chars()
                .map(|c| {
                    let i = STANDARD_CHARS.find(c).expect("standard char");
                    SORTABLE_CHARS.as_bytes()[i] as char
                })
                .collect();
            assert_eq!(mapped, suffix, "mapped standard encoding of {id}");
        }

        // The crate agrees with the vector, both ways.
        let (parsed, reencoded) = parse_as(sortable, prefix, id)
            .unwrap_or_else(|e| panic!("{id} must parse, got {e:?}: {e}"));
        assert_eq!(parsed, bytes, "parse({id})");
        assert_eq!(reencoded, id);
        let (encoded, displayed) = encode_as(prefix, bytes);
        assert_eq!(encoded, id, "encode() of {}", str_field(v, "bytes"));
        assert_eq!(displayed, id, "Display of {}", str_field(v, "bytes"));

        // Through the registry too.
        let any = AnyId::parse(id).unwrap_or_else(|e| panic!("AnyId::parse({id}): {e}"));
        assert_eq!(any.prefix(), prefix);
        assert_eq!(any.to_bytes(), bytes);
        assert_eq!(any.to_string(), id);

        by_type.push((prefix.to_owned(), bytes, id.to_owned()));
    }
    if sortable {
        // String order = byte order, for every pair of the same type.
        for (pa, ba, sa) in &by_type {
            for (pb, bb, sb) in &by_type {
                if pa == pb {
                    assert_eq!(sa.cmp(sb), ba.cmp(bb), "{sa} vs {sb}");
                }
            }
        }
    }

    let invalid = file["invalid"].as_array().expect("`invalid` is an array");
    assert!(
        invalid.len() >= 30,
        "only {} invalid vectors in the {expected_alphabet} file",
        invalid.len()
    );
    let mut kinds = HashSet::new();
    for v in invalid {
        let prefix = str_field(v, "type");
        let input = invalid_input(v);
        assert!(
            !str_field(v, "note").is_empty(),
            "vector without a note: {v}"
        );
        assert!(
            seen.insert(format!("{prefix} {input}")),
            "duplicate invalid vector {}",
            short(&input)
        );
        kinds.insert(str_field(v, "error").to_owned());
        match parse_as(sortable, prefix, &input) {
            Ok((bytes, _)) => panic!(
                "{} ({}) must be rejected, parsed as {bytes:02x?}",
                short(&input),
                str_field(v, "note")
            ),
            Err(err) => check_error(&err, v, prefix, &input),
        }
        // Where the crate rejects a well-framed suffix, the oracle rejects it too.
        let kind = str_field(v, "error");
        if kind == "InvalidCharacter" || kind == "NonCanonical" {
            let suffix = &input.as_bytes()[prefix.len() + 1..];
            assert!(
                engine.decode(suffix).is_err(),
                "the oracle accepts the suffix of {} ({})",
                short(&input),
                str_field(v, "note")
            );
        }
    }
    for kind in [
        "Empty",
        "WrongPrefix",
        "WrongLength",
        "InvalidCharacter",
        "NonCanonical",
    ] {
        assert!(
            kinds.contains(kind),
            "no {kind} vector in the {expected_alphabet} file"
        );
    }
}

#[test]
fn standard_alphabet_vectors() {
    check_file(STANDARD_VECTORS, false);
}

#[test]
fn sortable_alphabet_vectors() {
    check_file(SORTABLE_VECTORS, true);
}

/// The sortable alphabet is the standard one's 64 characters in ASCII order.
#[test]
fn sortable_alphabet_is_the_standard_one_sorted() {
    let mut standard: Vec<u8> = STANDARD_CHARS.bytes().collect();
    standard.sort_unstable();
    assert_eq!(standard, SORTABLE_CHARS.as_bytes());
    // And the crate uses it: the 64 values 0..63 in the first character, in order.
    let firsts: Vec<u8> = (0u8..64)
        .map(|v| OrderEventId::from_bytes([v << 2; 16]).encode().as_bytes()[5])
        .collect();
    assert_eq!(firsts, SORTABLE_CHARS.as_bytes());
    let firsts: Vec<u8> = (0u8..64)
        .map(|v| UserId::from_bytes([v << 2; 16]).encode().as_bytes()[5])
        .collect();
    assert_eq!(firsts, STANDARD_CHARS.as_bytes());
}

/// The standard example strings of the design document are what the vectors say.
#[test]
fn design_examples() {
    let user = UserId::parse("user_8hWAb-kHmq5nmfE-xPggAA").expect("valid");
    assert_eq!(user.to_bytes(), hex16("f215806fe9079aae6799f13ec4f82000"));
    let widget = WidgetId::parse("wdgt_fwz7uz86mmt1Crr2D-jnPA").expect("valid");
    assert_eq!(widget.to_bytes(), hex16("7f0cfbbb3f3a9a6b750abaf60fe8e73c"));
}
