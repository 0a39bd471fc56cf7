//! The generated code names only absolute paths: local items that shadow the prelude, and a
//! renamed `audit_core` passed with `crate = ...`, do not break it.
#![deny(unused_qualifications)]

extern crate audit_core as audit;

#[allow(dead_code)]
struct Result;
#[allow(dead_code)]
struct Ok;
#[allow(dead_code)]
struct Option;
#[allow(dead_code)]
struct Some;
#[allow(dead_code)]
struct Clone;
#[allow(dead_code)]
struct Default;

mod core {}
mod serde {}
mod inventory {}

#[derive(audit::PrefixedId)]
#[id(prefix = "user", crate = audit)]
pub struct UserId([u8; 16]);

fn main() {
    let id = UserId::new();
    let text = id.to_string();
    assert_eq!(UserId::parse(&text).ok(), ::core::option::Option::Some(id));
}
