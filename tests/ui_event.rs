//! Compile-fail (UI) tests for `#[derive(AuditEvent)]` and `#[derive(AuditEntity)]`, one file
//! per diagnostic:
//!
//! - `tests/ui/event/*.rs`: event definitions with one mistake each (and one with several),
//!   each with its `.stderr` snapshot;
//! - `tests/ui/entity/*.rs`: the same for `#[derive(AuditEntity)]`.
//!
//! Most files also use the broken event in `main` (`Envelope::from_event`): the derive emits a
//! stub impl beside its errors, so the snapshot shows that the mistake is the only error.
//!
//! The snapshots depend on the compiler's wording, which is why `rust-toolchain.toml` pins
//! the toolchain. After changing a message, refresh them with
//! `TRYBUILD=overwrite cargo test --test ui_event` and read the diff.

#[test]
fn ui_event() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/event/*.rs");
    t.compile_fail("tests/ui/entity/*.rs");
}
