//! The process-wide registry of ID types, and [`AnyId`], an ID of any registered type.
//!
//! Every type that derives [`PrefixedId`] registers itself (prefix, name, sortable, Rust type
//! name and `TypeId`) through [`inventory`](https://docs.rs/inventory) at link time, which also
//! works on wasm. [`registered`] iterates the registrations; [`check_unique_prefixes`] reports
//! every pair of types that share a prefix (`Auditor::builder().build()` runs it).
//!
//! A type is registered only if its crate is linked into the program: a crate none of whose
//! items the program uses is not linked, and its IDs are then missing from the registry. To
//! force it, reference any item of that crate, for example `use my_ids as _;` in the binary,
//! or call a function of it.
//!
//! ```
//! use audit_core::{AnyId, PrefixedId};
//!
//! #[derive(PrefixedId)]
//! #[id(prefix = "acct", name = "account")]
//! pub struct AccountId([u8; 16]);
//!
//! let id = AccountId::new();
//! let any = AnyId::parse(&id.to_string())?;
//! assert_eq!(any.prefix(), "acct");
//! assert!(any.is::<AccountId>());
//! assert_eq!(any.downcast::<AccountId>(), Some(id));
//! assert!(audit_core::ids::registered().any(|r| r.prefix() == "acct"));
//! # Ok::<(), audit_core::ParseIdError>(())
//! ```

use std::any::TypeId;
use std::fmt;

use crate::id::codec::{self, Alphabet, SUFFIX_LEN};
use crate::{EncodedId, ParseIdError, PrefixedId, Snippet};

/// One ID type in the registry.
#[derive(Clone, Copy)]
pub struct IdRegistration {
    prefix: &'static str,
    name: &'static str,
    sortable: bool,
    type_name: fn() -> &'static str,
    type_id: fn() -> TypeId,
}

inventory::collect!(IdRegistration);

impl IdRegistration {
    /// The registration of `T` (the derive submits it).
    #[must_use]
    pub const fn of<T: PrefixedId>() -> Self {
        IdRegistration {
            prefix: T::PREFIX,
            name: T::NAME,
            sortable: T::SORTABLE,
            type_name: std::any::type_name::<T>,
            type_id: TypeId::of::<T>,
        }
    }

    /// The type's prefix.
    #[must_use]
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }

    /// The entity's type name in logs.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether the type's IDs are time-ordered.
    #[must_use]
    pub fn sortable(&self) -> bool {
        self.sortable
    }

    /// The Rust type's name, as [`std::any::type_name`] gives it.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        (self.type_name)()
    }

    /// The Rust type's `TypeId`.
    #[must_use]
    pub fn type_id(&self) -> TypeId {
        (self.type_id)()
    }

    fn alphabet(&self) -> Alphabet {
        Alphabet::for_sortable(self.sortable)
    }
}

impl fmt::Debug for IdRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdRegistration")
            .field("prefix", &self.prefix)
            .field("name", &self.name)
            .field("sortable", &self.sortable)
            .field("type_name", &self.type_name())
            .finish_non_exhaustive()
    }
}

/// Every registered ID type, in no particular order. [`EventId`](crate::EventId) is one.
pub fn registered() -> impl Iterator<Item = &'static IdRegistration> + Clone {
    inventory::iter::<IdRegistration>.into_iter()
}

/// Two or more ID types share a prefix, so an ID string cannot tell which type it is.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DuplicatePrefixError {
    /// Each pair of Rust type names that share a prefix, with that prefix.
    pub pairs: Vec<(&'static str, &'static str, &'static str)>,
}

impl fmt::Display for DuplicatePrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ID prefixes must be unique, but ")?;
        for (i, (prefix, a, b)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "`{a}` and `{b}` both use the prefix `{prefix}`")?;
        }
        f.write_str(": give each type its own `#[id(prefix = \"...\")]`")
    }
}

impl std::error::Error for DuplicatePrefixError {}

/// Checks that no two registered ID types share a prefix.
///
/// # Errors
///
/// A [`DuplicatePrefixError`] naming every pair of types that share a prefix.
pub fn check_unique_prefixes() -> Result<(), DuplicatePrefixError> {
    let mut all: Vec<&IdRegistration> = registered().collect();
    all.sort_by(|a, b| {
        a.prefix
            .cmp(b.prefix)
            .then_with(|| a.type_name().cmp(b.type_name()))
    });
    let mut pairs = Vec::new();
    for (i, a) in all.iter().enumerate() {
        for b in all[i + 1..].iter().take_while(|b| b.prefix == a.prefix) {
            pairs.push((a.prefix, a.type_name(), b.type_name()));
        }
    }
    if pairs.is_empty() {
        Ok(())
    } else {
        Err(DuplicatePrefixError { pairs })
    }
}

/// An ID of any registered type, resolved by its prefix.
///
/// Useful where a value may name several kinds of entity: an API path that takes any ID, or
/// the subjects of a log query.
#[derive(Clone, Copy)]
pub struct AnyId {
    registration: &'static IdRegistration,
    bytes: [u8; 16],
}

impl AnyId {
    /// Parses an ID of any registered type.
    ///
    /// # Errors
    ///
    /// [`ParseIdError::UnknownPrefix`] (with the closest registered prefix as a suggestion)
    /// when no type uses the prefix, [`ParseIdError::AmbiguousPrefix`] when several do, or
    /// the error the type's own parser gives.
    pub fn parse(s: &str) -> Result<AnyId, ParseIdError> {
        Self::resolve(s, registered())
    }

    /// Parses an ID of one of the given types only, without the registry.
    ///
    /// ```
    /// use audit_core::{AnyId, PrefixedId, ids::IdRegistration};
    /// # #[derive(PrefixedId)]
    /// # #[id(prefix = "user")]
    /// # pub struct UserId([u8; 16]);
    /// # #[derive(PrefixedId)]
    /// # #[id(prefix = "team")]
    /// # pub struct TeamId([u8; 16]);
    /// const ALLOWED: &[IdRegistration] = &[IdRegistration::of::<UserId>(), IdRegistration::of::<TeamId>()];
    /// let id = AnyId::parse_in("user_8hWAb-kHmq5nmfE-xPggAA", ALLOWED)?;
    /// assert!(id.is::<UserId>());
    /// # Ok::<(), audit_core::ParseIdError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`AnyId::parse`], against the given list.
    pub fn parse_in(s: &str, types: &'static [IdRegistration]) -> Result<AnyId, ParseIdError> {
        Self::resolve(s, types.iter())
    }

    fn resolve(
        s: &str,
        candidates: impl Iterator<Item = &'static IdRegistration> + Clone,
    ) -> Result<AnyId, ParseIdError> {
        if s.is_empty() {
            return Err(ParseIdError::Empty);
        }
        // The suffix is the fixed-length tail: when the length allows it, the prefix is what
        // comes before the `_` that precedes the tail. Otherwise take the start of the input up
        // to its first `_`, so that a known prefix with a bad length reports the length.
        let prefix = s
            .len()
            .checked_sub(SUFFIX_LEN + 1)
            .filter(|&i| {
                i > 0
                    && i <= codec::MAX_PREFIX_LEN
                    && s.is_char_boundary(i)
                    && s.as_bytes()[i] == b'_'
            })
            .map_or_else(|| codec::prefix_of(s), |i| &s[..i]);
        let mut matching = candidates.clone().filter(|r| r.prefix == prefix);
        let Some(registration) = matching.next() else {
            return Err(ParseIdError::UnknownPrefix {
                found: Snippet::new(prefix),
                suggestion: closest(prefix, candidates),
            });
        };
        if matching.any(|r| r.type_id() != registration.type_id()) {
            let mut types: Vec<&'static str> = candidates
                .filter(|r| r.prefix == prefix)
                .map(IdRegistration::type_name)
                .collect();
            types.sort_unstable();
            types.dedup();
            return Err(ParseIdError::AmbiguousPrefix {
                prefix: registration.prefix,
                types,
            });
        }
        let bytes = codec::parse(registration.prefix, registration.alphabet(), s)?;
        Ok(AnyId {
            registration,
            bytes,
        })
    }

    /// The prefix of the ID's type.
    #[must_use]
    pub fn prefix(&self) -> &'static str {
        self.registration.prefix
    }

    /// The registration of the ID's type.
    #[must_use]
    pub fn registration(&self) -> &'static IdRegistration {
        self.registration
    }

    /// The ID's 16 bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 16] {
        self.bytes
    }

    /// Whether the ID is a `T`.
    #[must_use]
    pub fn is<T: PrefixedId>(&self) -> bool {
        self.registration.type_id() == TypeId::of::<T>()
    }

    /// The ID as a `T`, if it is one.
    #[must_use]
    pub fn downcast<T: PrefixedId>(&self) -> Option<T> {
        self.is::<T>().then(|| T::from_bytes(self.bytes))
    }

    /// The text form, in a stack buffer.
    #[must_use]
    pub fn encode(&self) -> EncodedId {
        codec::encode(
            self.registration.prefix,
            self.registration.alphabet(),
            &self.bytes,
        )
    }
}

impl<T: PrefixedId> From<T> for AnyId {
    /// Wraps a typed ID; `T` need not be in the registry.
    fn from(id: T) -> Self {
        // Look the type up, so that registration-based methods agree with the typed ID; a
        // type missing from the registry (its crate not linked) gets a leaked registration,
        // made once per type.
        let registration = registered()
            .find(|r| r.type_id() == TypeId::of::<T>())
            .unwrap_or_else(|| leaked_registration::<T>());
        AnyId {
            registration,
            bytes: id.to_bytes(),
        }
    }
}

fn leaked_registration<T: PrefixedId>() -> &'static IdRegistration {
    use std::collections::HashMap;
    use std::sync::{Mutex, PoisonError};
    static LEAKED: Mutex<Option<HashMap<TypeId, &'static IdRegistration>>> = Mutex::new(None);
    let mut map = LEAKED.lock().unwrap_or_else(PoisonError::into_inner);
    map.get_or_insert_with(HashMap::new)
        .entry(TypeId::of::<T>())
        .or_insert_with(|| Box::leak(Box::new(IdRegistration::of::<T>())))
}

impl PartialEq for AnyId {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes && self.registration.type_id() == other.registration.type_id()
    }
}

impl Eq for AnyId {}

impl std::hash::Hash for AnyId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.registration.prefix.hash(state);
        self.bytes.hash(state);
    }
}

impl fmt::Display for AnyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl fmt::Debug for AnyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AnyId")
            .field(&self.encode().as_str())
            .finish()
    }
}

impl std::str::FromStr for AnyId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, ParseIdError> {
        AnyId::parse(s)
    }
}

/// The registered prefix closest to `found`, if it is close enough to be a likely typo.
fn closest(
    found: &str,
    candidates: impl Iterator<Item = &'static IdRegistration>,
) -> Option<&'static str> {
    candidates
        .map(|r| (levenshtein(found, r.prefix), r.prefix))
        .filter(|&(d, p)| d > 0 && d <= (p.len().max(found.len()) / 3).max(1))
        .min()
        .map(|(_, p)| p)
}

/// Edit distance over bytes; inputs are at most 32 bytes (a snippet), so this stays cheap.
fn levenshtein(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
