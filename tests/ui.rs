//! Compile-fail (UI) tests for the derives, one file per diagnostic, in topic folders:
//!
//! - `tests/ui/id/*.rs`: `#[derive(PrefixedId)]` mistakes, each with its `.stderr` snapshot;
//! - `tests/ui/id/pass/*.rs`: inputs that must compile (the edges of the rules, hygiene).
//!
//! Files that make a mistake in the attributes or the struct also use the type in `main`: the
//! derive still emits the type's API beside its errors, so the snapshot shows that the mistake
//! is the only error. `#[derive(AuditEvent)]` and `#[derive(AuditEntity)]` have their own
//! runner, `tests/ui_event.rs` (`tests/ui/event/`, `tests/ui/entity/`); a new topic folder
//! gets its own lines in one of them.
//!
//! The snapshots depend on the compiler's wording, which is why `rust-toolchain.toml` pins
//! the toolchain. After changing a message, refresh them with
//! `TRYBUILD=overwrite cargo test --test ui` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    // `#[derive(PrefixedId)]`
    t.pass("tests/ui/id/pass/*.rs");
    t.compile_fail("tests/ui/id/*.rs");
}
