//! Property tests for the ID codec: round-trips, order, canonical parsing of any input, and
//! agreement with the `base64` crate.

use audit_core::{AnyId, ParseIdError, PrefixedId};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use proptest::prelude::*;

#[derive(PrefixedId)]
#[id(prefix = "user")]
struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "org_member")]
struct OrgMemberId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "oevt", sortable)]
struct OrderEventId([u8; 16]);

const STANDARD_CHARS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const SORTABLE_CHARS: &str = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn sortable_oracle() -> GeneralPurpose {
    let alphabet =
        base64::alphabet::Alphabet::new(SORTABLE_CHARS).expect("the sortable alphabet is valid");
    GeneralPurpose::new(
        &alphabet,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone),
    )
}

/// Characters near the valid shape: both alphabets, base64's `+/=`, whitespace, and
/// multi-byte characters of every UTF-8 width.
fn near_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => proptest::sample::select(STANDARD_CHARS.chars().collect::<Vec<_>>()),
        1 => proptest::sample::select(vec!['+', '/', '=', ' ', '\n', '\0', '.', 'é', '€', '😀', '\u{7f}']),
        1 => any::<char>(),
    ]
}

fn near_string(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(near_char(), len).prop_map(|v| v.into_iter().collect())
}

/// Parses `s` as `T`; a success must re-encode to exactly `s` (one string per ID), a failure
/// must have a short message.
fn parse_is_canonical<T: PrefixedId>(s: &str) -> Result<Option<T>, TestCaseError> {
    match T::parse(s) {
        Ok(id) => {
            prop_assert_eq!(id.to_string(), s, "parsed, but is not the canonical form");
            prop_assert_eq!(&*id.encode(), s);
            Ok(Some(id))
        }
        Err(err) => {
            let message = err.to_string();
            prop_assert!(message.len() < 200, "message too long: {}", message);
            if s.is_empty() {
                prop_assert_eq!(err, ParseIdError::Empty);
            }
            Ok(None)
        }
    }
}

fn any_id_is_canonical(s: &str) -> Result<(), TestCaseError> {
    if let Ok(any) = AnyId::parse(s) {
        prop_assert_eq!(any.to_string(), s);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn plain_round_trip(bytes in any::<[u8; 16]>()) {
        let id = UserId::from_bytes(bytes);
        let s = id.to_string();
        prop_assert_eq!(s.len(), 27);
        prop_assert!(s.starts_with("user_"));
        let back = UserId::parse(&s).expect("a displayed ID parses");
        prop_assert_eq!(back.to_bytes(), bytes);
        prop_assert_eq!(back, id);
        let org = OrgMemberId::from_bytes(bytes);
        prop_assert_eq!(OrgMemberId::parse(&org.to_string()).expect("parses").to_bytes(), bytes);
    }

    #[test]
    fn sortable_round_trip(bytes in any::<[u8; 16]>()) {
        let id = OrderEventId::from_bytes(bytes);
        let s = id.encode();
        prop_assert_eq!(s.len(), 27);
        prop_assert_eq!(OrderEventId::parse(&s).expect("parses").to_bytes(), bytes);
        prop_assert_eq!(s.as_str(), id.to_string());
    }

    #[test]
    fn sortable_string_order_is_byte_order(a in any::<[u8; 16]>(), b in any::<[u8; 16]>()) {
        let (ia, ib) = (OrderEventId::from_bytes(a), OrderEventId::from_bytes(b));
        prop_assert_eq!(ia.to_string().cmp(&ib.to_string()), a.cmp(&b));
        prop_assert_eq!(ia.cmp(&ib), a.cmp(&b));
    }

    /// Pairs that share a long common prefix stress the character boundaries.
    #[test]
    fn sortable_order_for_close_pairs(a in any::<[u8; 16]>(), i in 0usize..16, x in any::<u8>()) {
        let mut b = a;
        b[i] = x;
        let (sa, sb) = (OrderEventId::from_bytes(a).to_string(), OrderEventId::from_bytes(b).to_string());
        prop_assert_eq!(sa.cmp(&sb), a.cmp(&b));
    }

    #[test]
    fn standard_alphabet_agrees_with_base64(bytes in any::<[u8; 16]>()) {
        let s = UserId::from_bytes(bytes).to_string();
        prop_assert_eq!(&s[5..], URL_SAFE_NO_PAD.encode(bytes));
    }

    #[test]
    fn sortable_alphabet_agrees_with_base64(bytes in any::<[u8; 16]>()) {
        let s = OrderEventId::from_bytes(bytes).to_string();
        prop_assert_eq!(&s[5..], sortable_oracle().encode(bytes));
    }

    /// Any 22 characters of the alphabet: the crate and the base64 crate accept the same
    /// suffixes (the canonical ones) and decode them to the same bytes.
    #[test]
    fn decoding_agrees_with_base64(suffix in "[A-Za-z0-9_-]{22}") {
        let ours = UserId::parse(&format!("user_{suffix}")).map(|id| id.to_bytes());
        let theirs = URL_SAFE_NO_PAD.decode(&suffix);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => prop_assert_eq!(&a[..], &b[..]),
            (Err(ParseIdError::NonCanonical), Err(_)) => {}
            _ => prop_assert!(false, "user_{}: ours {:?}, base64 {:?}", suffix, ours, theirs),
        }
        let ours = OrderEventId::parse(&format!("oevt_{suffix}")).map(|id| id.to_bytes());
        let theirs = sortable_oracle().decode(&suffix);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => prop_assert_eq!(&a[..], &b[..]),
            (Err(ParseIdError::NonCanonical), Err(_)) => {}
            _ => prop_assert!(false, "oevt_{}: ours {:?}, base64 {:?}", suffix, ours, theirs),
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        parse_is_canonical::<UserId>(&s)?;
        parse_is_canonical::<OrgMemberId>(&s)?;
        parse_is_canonical::<OrderEventId>(&s)?;
        any_id_is_canonical(&s)?;
    }

    /// The right prefix and 22 characters drawn near the alphabet: the byte length may or may
    /// not match.
    #[test]
    fn prefix_and_22_near_chars(suffix in near_string(22..23)) {
        let s = format!("user_{suffix}");
        let valid_chars = suffix.chars().all(|c| STANDARD_CHARS.contains(c));
        let parsed = parse_is_canonical::<UserId>(&s)?;
        if !valid_chars {
            prop_assert!(parsed.is_none(), "{:?} parsed", s);
        }
        parse_is_canonical::<OrderEventId>(&format!("oevt_{suffix}"))?;
        parse_is_canonical::<OrgMemberId>(&format!("org_member_{suffix}"))?;
        any_id_is_canonical(&s)?;
    }

    /// The right prefix, then any length of characters near the alphabet.
    #[test]
    fn prefix_and_any_length(suffix in near_string(0..40)) {
        let s = format!("user_{suffix}");
        if let Some(id) = parse_is_canonical::<UserId>(&s)? {
            prop_assert_eq!(suffix.len(), 22);
            prop_assert_eq!(id.to_string(), s.as_str());
        } else if suffix.len() != 22 {
            prop_assert_eq!(
                UserId::parse(&s),
                Err(ParseIdError::WrongLength { expected: 27, found: s.len() })
            );
        }
        parse_is_canonical::<OrderEventId>(&format!("oevt_{suffix}"))?;
        any_id_is_canonical(&s)?;
    }

    /// Strings of any length made of alphabet characters and `_`, so that the separator and
    /// the prefix land anywhere.
    #[test]
    fn near_strings_of_any_length(s in near_string(0..60)) {
        parse_is_canonical::<UserId>(&s)?;
        parse_is_canonical::<OrgMemberId>(&s)?;
        parse_is_canonical::<OrderEventId>(&s)?;
        any_id_is_canonical(&s)?;
    }

    /// One character of a valid ID replaced: rejected, or a different ID whose canonical form
    /// is the mutated string.
    #[test]
    fn mutated_valid_ids(bytes in any::<[u8; 16]>(), at in 0usize..27, c in near_char()) {
        let valid = UserId::from_bytes(bytes).to_string();
        let mut s: String = valid.chars().take(at).collect();
        s.push(c);
        s.extend(valid.chars().skip(at + 1));
        if let Some(id) = parse_is_canonical::<UserId>(&s)? {
            prop_assert_eq!(id.to_bytes() == bytes, s == valid);
        }
        any_id_is_canonical(&s)?;
    }
}
