//! Placeholder until the SQLite issue lands.
fn main() {}
