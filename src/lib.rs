//! The workspace's own package: it hosts the examples, the integration and compile-fail tests
//! and the benchmarks of `audit-core`, written as a user of the crate would write them. It is
//! not published and has no API of its own.
