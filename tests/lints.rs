//! The derives' output is lint-clean in a strict user crate: this file must compile under the
//! lints below, and pass `cargo clippy --all-targets -- -D warnings`.
//!
//! The names a derive's output might pick up by accident are shadowed below; generated code
//! must use absolute paths. Keep one section per derive.
#![deny(missing_docs, unused_qualifications, clippy::pedantic)]
#![deny(warnings)]

use audit_core::PrefixedId;

// Shadowing names, beside every derive in this file.
#[allow(dead_code)]
struct Result;
#[allow(dead_code)]
struct Ok;
#[allow(dead_code)]
struct Option;
#[allow(dead_code)]
struct Some;
#[allow(dead_code)]
struct None;
#[allow(dead_code)]
struct Vec;
#[allow(dead_code)]
struct String;

// ---------------------------------------------------------------------------------------------
// #[derive(PrefixedId)]

/// A public plain ID.
#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

/// A public ID with an entity name.
#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

/// A public sortable ID.
#[derive(PrefixedId)]
#[id(prefix = "oevt", sortable)]
pub struct OrderEventId([u8; 16]);

// A private ID, without docs.
#[derive(PrefixedId)]
#[id(prefix = "sess")]
struct SessionId([u8; 16]);

#[test]
fn prefixed_ids() {
    let user = UserId::new();
    assert_eq!(UserId::parse(&user.to_string()).expect("valid"), user);
    assert_eq!(<WidgetId as PrefixedId>::NAME, "widget");
    let (a, b) = (OrderEventId::new(), OrderEventId::new());
    assert!(a < b);
    let session = SessionId::from_bytes([7; 16]);
    assert_eq!(session.to_bytes(), [7; 16]);
    assert!(session.encode().starts_with("sess_"));
}
