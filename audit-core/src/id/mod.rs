//! Typed, prefixed IDs: the [`PrefixedId`] trait, its text form and its errors.

pub(crate) mod codec;
mod error;
pub(crate) mod random;
pub(crate) mod serde_impl;
pub(crate) mod sortable;

use std::fmt;
use std::hash::Hash;
use std::ops::Deref;

pub use error::{ParseIdError, Snippet};

use codec::Alphabet;

/// A typed ID: a type prefix, `_`, then 16 bytes in base64url (22 characters, no padding).
///
/// `user_8hWAb-kHmq5nmfE-xPggAA` is a `UserId`: the prefix says what the ID names, and the 128
/// random bits say nothing about how many users there are. The same string is the primary key,
/// the API value and the value in the audit log.
///
/// Implement it with the derive, on a tuple struct holding one `[u8; 16]`:
///
/// ```
/// use audit_core::PrefixedId;
///
/// #[derive(PrefixedId)]
/// #[id(prefix = "user")]
/// pub struct UserId([u8; 16]);
///
/// #[derive(PrefixedId)]
/// #[id(prefix = "wdgt", name = "widget")] // `name`: the entity's type in logs (default: the prefix)
/// pub struct WidgetId([u8; 16]);
///
/// #[derive(PrefixedId)]
/// #[id(prefix = "oevt", sortable)] // time-ordered, see below
/// pub struct OrderEventId([u8; 16]);
///
/// let id = WidgetId::parse("wdgt_fwz7uz86mmt1Crr2D-jnPA")?;
/// assert_eq!(id.to_string(), "wdgt_fwz7uz86mmt1Crr2D-jnPA");
/// assert_eq!(WidgetId::PREFIX, "wdgt");
/// assert_eq!(<WidgetId as PrefixedId>::NAME, "widget");
/// assert_eq!(std::mem::size_of::<WidgetId>(), 16);
/// # Ok::<(), audit_core::ParseIdError>(())
/// ```
///
/// # What the derive generates
///
/// - inherent items, usable without importing this trait: `PREFIX`, `new()` (128 bits from a
///   CSPRNG), `from_bytes([u8; 16])`, `to_bytes()`, `parse(&str)` and `encode()` (the text
///   form in a stack buffer that derefs to `&str`, with no heap allocation);
/// - `Display` (the text form), `FromStr`, `TryFrom<&str>`, and `Debug` showing the text form;
/// - `Clone`, `Copy`, `PartialEq`, `Eq`, `Hash`, `PartialOrd` and `Ord` (byte order). Do not
///   add the std derives beside `PrefixedId`: they would conflict with these;
/// - `Serialize` and `Deserialize` (serde): the text form in human-readable formats such as
///   JSON, the 16 bytes in binary ones. Deserializing accepts a string, 16 bytes or a sequence
///   of 16 numbers whatever the format claims, and its errors name the expected prefix;
/// - an impl of this trait, and a registration in the process-wide registry (see
///   [`ids`](crate::ids)).
///
/// # Attributes
///
/// `#[id(prefix = "...")]` is required: 1 to 32 characters of `a-z`, `0-9` and `_`, starting
/// with a letter and not ending with `_`. `evt` is reserved for [`EventId`]. `name = "..."`
/// sets [`NAME`](PrefixedId::NAME); `sortable` makes time-ordered IDs; `crate = path` names
/// this crate when it was renamed in `Cargo.toml`.
///
/// # Parsing
///
/// Parsing accepts exactly one string per ID, the canonical form, and rejects everything else
/// with a [`ParseIdError`]. Since base64url itself contains `_`, the suffix is the fixed-length
/// 22-character tail. No input panics, and an input of the wrong length is rejected without
/// being read.
///
/// # Sortable IDs
///
/// With `sortable`, the 16 bytes follow the UUIDv7 layout of RFC 9562: 48 bits of Unix
/// milliseconds, a 12-bit counter and 62 random bits. IDs made in one process are strictly
/// increasing: the clock never goes back, IDs in the same millisecond take the next counter
/// value, and a counter overflow borrows the next millisecond. Across processes, order is as
/// good as the clocks. Sortable IDs are encoded with an order-preserving variant of the
/// base64url alphabet (`-0-9A-Z_a-z`, the same 64 characters in ASCII order), so string order,
/// byte order and creation order agree, and a TEXT primary key of sortable IDs inserts in index
/// order. Plain IDs use standard base64url, so that any language decodes them.
///
/// String order equals byte order under a binary collation only: declare ID columns
/// `COLLATE "C"` in Postgres and `BINARY` in SQLite. Case-insensitive collations (MySQL's
/// `_ci` ones) make distinct IDs compare equal.
///
/// # Randomness
///
/// Random bits come from a thread-local ChaCha12 generator seeded by the operating system,
/// reseeded every 64 KiB and in the child of a `fork`, so a forked process never repeats its
/// parent's IDs; there is no system call per ID.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a prefixed ID type",
    label = "not a `PrefixedId`",
    note = "an ID type is a tuple struct deriving it: `#[derive(PrefixedId)] #[id(prefix = \"user\")] pub struct UserId([u8; 16]);`"
)]
pub trait PrefixedId:
    Copy + Eq + Ord + Hash + fmt::Debug + fmt::Display + Send + Sync + 'static
{
    /// The type prefix, written before `_` in the text form.
    const PREFIX: &'static str;
    /// The entity's type name in audit logs (`"widget"` for `wdgt_...`).
    const NAME: &'static str;
    /// Whether IDs are time-ordered (UUIDv7 layout, order-preserving alphabet).
    const SORTABLE: bool;

    /// The ID holding these 16 bytes.
    fn from_bytes(bytes: [u8; 16]) -> Self;

    /// The 16 bytes of this ID.
    fn to_bytes(&self) -> [u8; 16];

    /// A new ID: 128 random bits, or a time-ordered value for sortable types.
    #[inline]
    #[must_use]
    fn new() -> Self {
        Self::from_bytes(generate(Self::SORTABLE))
    }

    /// Parses the canonical text form.
    ///
    /// # Errors
    ///
    /// A [`ParseIdError`] that says what was wrong: the prefix, the length, a character, or a
    /// non-canonical last character.
    #[inline]
    fn parse(s: &str) -> Result<Self, ParseIdError> {
        codec::parse(Self::PREFIX, Alphabet::for_sortable(Self::SORTABLE), s).map(Self::from_bytes)
    }

    /// The text form, in a stack buffer.
    #[inline]
    fn encode(&self) -> EncodedId {
        codec::encode(
            Self::PREFIX,
            Alphabet::for_sortable(Self::SORTABLE),
            &self.to_bytes(),
        )
    }

    /// For a sortable ID, the Unix time in milliseconds when it was made (as good as the
    /// clock of the process that made it); `None` for a plain ID.
    fn timestamp_ms(&self) -> Option<u64> {
        Self::SORTABLE.then(|| sortable::timestamp_ms(&self.to_bytes()))
    }
}

#[inline]
pub(crate) fn generate(sortable: bool) -> [u8; 16] {
    if sortable {
        sortable::bytes16()
    } else {
        random::bytes16()
    }
}

/// The text form of an ID in a stack buffer; derefs to `&str`.
///
/// ```
/// # use audit_core::PrefixedId;
/// # #[derive(PrefixedId)]
/// # #[id(prefix = "user")]
/// # pub struct UserId([u8; 16]);
/// let id = UserId::from_bytes([0; 16]);
/// let text = id.encode();
/// assert_eq!(&*text, "user_AAAAAAAAAAAAAAAAAAAAAA");
/// ```
#[derive(Clone, Copy)]
pub struct EncodedId {
    buf: [u8; codec::MAX_ENCODED_LEN],
    len: u8,
}

impl EncodedId {
    /// The text form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written into the buffer; the fallback is unreachable.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The text form's bytes, without the UTF-8 check of [`as_str`](Self::as_str).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl Deref for EncodedId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for EncodedId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for EncodedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for EncodedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for EncodedId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EncodedId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The ID of an audit event: prefix `evt`, sortable, so events sort by creation time.
///
/// ```
/// use audit_core::{EventId, PrefixedId};
///
/// let a = EventId::new();
/// let b = EventId::new();
/// assert!(a < b);
/// assert!(a.to_string() < b.to_string());
/// assert!(a.to_string().starts_with("evt_"));
/// ```
pub struct EventId([u8; 16]);

crate::__private::impl_prefixed_id! {
    type = EventId, prefix = "evt", name = "event", sortable = true
}
