//! [`Redacted`]: a value kept out of every output.

use std::fmt;

use serde::{Serialize, Serializer};

/// The text every output shows in place of a redacted value.
pub const REDACTED: &str = "[redacted]";

/// A value the program uses but the audit log never shows.
///
/// `Debug`, `Display` and `Serialize` all print `[redacted]`, so no path (a sink, a `{:?}`, the
/// message template, a user's own serde impl) can leak it; [`expose`](Redacted::expose) gives
/// the program the value. In an event's schema the field is marked redacted.
///
/// ```
/// use audit_core::Redacted;
///
/// let card = Redacted::new(String::from("4242"));
/// assert_eq!(card.expose(), "4242");
/// assert_eq!(format!("{card} {card:?}"), "[redacted] [redacted]");
/// assert_eq!(serde_json::to_string(&card).unwrap(), r#""[redacted]""#);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps a value.
    pub const fn new(value: T) -> Self {
        Redacted(value)
    }

    /// The value, for the program's own use. Never log what this returns.
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(value: T) -> Self {
        Redacted(value)
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> Serialize for Redacted<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}
