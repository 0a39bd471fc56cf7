//! Every ID parser, fed arbitrary input: no panic, a successful parse re-encodes to exactly
//! the input (canonical-only parsing), and an error message stays short whatever the input's
//! length (it never echoes more than a short snippet of it).
//!
//! ```sh
//! cd fuzz && cargo +nightly fuzz run parse_id
//! ```

#![no_main]

use audit_core::{AnyId, ParseIdError, PrefixedId, Snippet};
use libfuzzer_sys::fuzz_target;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "oevt", sortable)]
pub struct OrderEventId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "a_rather_long_prefix_of_32_chars", name = "long")]
pub struct LongId([u8; 16]);

/// The longest message template (without the pieces below) is under 100 bytes.
const TEMPLATE_BUDGET: usize = 100;
/// The input a message may echo: one snippet, plus its `…` marker.
const ECHO_BUDGET: usize = Snippet::CAPACITY + '…'.len_utf8();
/// A prefix a message may name: the expected one, or a suggestion (at most 32 bytes).
const PREFIX_BUDGET: usize = 32;

fn check_error(input: &str, err: &ParseIdError) {
    let message = err.to_string();
    assert!(
        message.len() <= TEMPLATE_BUDGET + ECHO_BUDGET + PREFIX_BUDGET,
        "error message of {} bytes for an input of {} bytes: {message}",
        message.len(),
        input.len(),
    );
}

fn check_typed<T: PrefixedId>(input: &str) {
    match T::parse(input) {
        Ok(id) => {
            assert_eq!(&*id.encode(), input, "parse accepted a non-canonical form");
            assert_eq!(id.to_string(), input);
            assert_eq!(T::from_bytes(id.to_bytes()), id);
        }
        Err(err) => check_error(input, &err),
    }
}

fn check_any(input: &str) {
    match AnyId::parse(input) {
        Ok(any) => {
            assert_eq!(&*any.encode(), input, "AnyId accepted a non-canonical form");
            let typed_ok = UserId::parse(input).is_ok()
                || OrderEventId::parse(input).is_ok()
                || LongId::parse(input).is_ok()
                || audit_core::EventId::parse(input).is_ok();
            assert!(typed_ok, "AnyId accepted what no typed parser accepts");
        }
        Err(err) => check_error(input, &err),
    }
}

fn check_serde(data: &[u8], input: Option<&str>) {
    // The raw bytes as a JSON document: any JSON value must be handled without a panic, and
    // what deserializes must round-trip.
    if let Ok(id) = serde_json::from_slice::<UserId>(data) {
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(
            serde_json::from_str::<UserId>(&json).expect("round trip"),
            id
        );
    }
    // The input as a JSON string: same verdict as `parse`, and a short error.
    if let Some(input) = input {
        let json = serde_json::to_string(input).expect("serialize a str");
        match (serde_json::from_str::<UserId>(&json), UserId::parse(input)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(err), Err(_)) => {
                let message = err.to_string();
                // serde_json appends " at line 1 column N".
                assert!(
                    message.len() <= TEMPLATE_BUDGET + ECHO_BUDGET + PREFIX_BUDGET + 40,
                    "serde error of {} bytes: {message}",
                    message.len()
                );
            }
            (a, b) => panic!("serde and parse disagree: {a:?} vs {b:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = std::str::from_utf8(data).ok();
    if let Some(input) = input {
        check_typed::<UserId>(input);
        check_typed::<OrderEventId>(input);
        check_typed::<LongId>(input);
        check_any(input);
    }
    check_serde(data, input);
});
