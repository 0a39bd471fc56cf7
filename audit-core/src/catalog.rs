//! The event catalog: every event type's schema, registered at link time, and the lock check
//! that keeps schemas from changing under a published `(action, version)`.
//!
//! ```standalone_crate
//! use audit_core::{AuditEvent, EntityRef, PrefixedId, catalog};
//! # #[derive(PrefixedId)]
//! # #[id(prefix = "user")]
//! # pub struct UserId([u8; 16]);
//!
//! #[derive(AuditEvent)]
//! #[audit(action = "user.renamed", version = 2)]
//! pub struct UserRenamed {
//!     #[audit(actor, subject)]
//!     pub user: EntityRef<UserId>,
//!     pub new_name: String,
//! }
//!
//! let schema = catalog::catalog().find(|s| s.action() == "user.renamed").unwrap();
//! assert_eq!(schema.version(), 2);
//! let field = schema.fields().iter().find(|f| f.name() == "new_name").unwrap();
//! assert_eq!(field.type_descriptor(), "String");
//! assert_eq!(field.role(), catalog::FieldRole::Detail);
//! ```
//!
//! # The lock file
//!
//! Call [`check_lock`] from one test of the crate that defines the events:
//!
//! ```no_run
//! #[test]
//! fn audit_schemas_are_locked() {
//!     audit_core::catalog::check_lock("audit.lock.json").unwrap();
//! }
//! ```
//!
//! It fails when an `(action, version)` in the lock file has changed its schema (bump the
//! `version` instead), when an event type is not in the lock file yet, or when two event types
//! share an `(action, version)`. With `AUDIT_UPDATE_LOCK=1` in the environment it rewrites the
//! file instead (keeping entries of versions no longer in the code, so an old version cannot be
//! reused with another schema). Commit the file.
//!
//! # JSON Schema
//!
//! With the `schemars` feature, `envelope_json_schema` and `details_json_schema` give the
//! JSON Schema of an event type's envelope and details, and `json_schemas` those of every
//! registered event. Every detail type must then implement `schemars::JsonSchema` (IDs,
//! [`Redacted`](crate::Redacted), [`Timestamp`](crate::Timestamp) and
//! [`Outcome`](crate::Outcome) do).
//!
//! Type descriptors are the field types as written in the source, with whitespace normalized:
//! stable across compiler versions, but `String` and `std::string::String` differ.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a field of an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldRole {
    /// The actor.
    Actor,
    /// A subject.
    Subject,
    /// Both the actor and a subject.
    ActorAndSubject,
    /// A detail.
    Detail,
    /// The outcome.
    Outcome,
    /// Kept out of the envelope.
    Skipped,
}

/// One field of an event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSchema {
    name: &'static str,
    ty: &'static str,
    role: FieldRole,
    subject_role: Option<&'static str>,
    redacted: bool,
}

impl FieldSchema {
    #[doc(hidden)]
    #[must_use]
    pub const fn __new(
        name: &'static str,
        ty: &'static str,
        role: FieldRole,
        subject_role: Option<&'static str>,
        redacted: bool,
    ) -> Self {
        FieldSchema {
            name,
            ty,
            role,
            subject_role,
            redacted,
        }
    }

    /// The field's name (the key under `details` for a detail).
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The field's type as written in the source, whitespace normalized.
    #[must_use]
    pub fn type_descriptor(&self) -> &'static str {
        self.ty
    }

    /// What the field is.
    #[must_use]
    pub fn role(&self) -> FieldRole {
        self.role
    }

    /// For a subject, its role in the envelope.
    #[must_use]
    pub fn subject_role(&self) -> Option<&'static str> {
        self.subject_role
    }

    /// Whether the field is `Redacted<_>`: its value never reaches the log.
    #[must_use]
    pub fn redacted(&self) -> bool {
        self.redacted
    }
}

/// The schema of one event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventSchema {
    action: &'static str,
    version: u32,
    type_name: &'static str,
    message: Option<&'static str>,
    fields: &'static [FieldSchema],
}

impl EventSchema {
    #[doc(hidden)]
    #[must_use]
    pub const fn __new(
        action: &'static str,
        version: u32,
        type_name: &'static str,
        message: Option<&'static str>,
        fields: &'static [FieldSchema],
    ) -> Self {
        EventSchema {
            action,
            version,
            type_name,
            message,
            fields,
        }
    }

    /// The dotted action name.
    #[must_use]
    pub fn action(&self) -> &'static str {
        self.action
    }

    /// The schema version.
    #[must_use]
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The Rust type's path (`module::Type`).
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The message template, if any.
    #[must_use]
    pub fn message(&self) -> Option<&'static str> {
        self.message
    }

    /// The fields, in declaration order.
    #[must_use]
    pub fn fields(&self) -> &'static [FieldSchema] {
        self.fields
    }

    /// The names of the redacted fields.
    pub fn redacted_fields(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().filter(|f| f.redacted).map(|f| f.name)
    }

    fn lock_entry(&self) -> LockEntry {
        LockEntry {
            message: self.message.map(str::to_owned),
            fields: self
                .fields
                .iter()
                .map(|f| LockField {
                    name: f.name.to_owned(),
                    ty: f.ty.to_owned(),
                    role: f.role,
                    subject_role: f.subject_role.map(str::to_owned),
                    redacted: f.redacted,
                })
                .collect(),
        }
    }
}

/// One event type in the catalog (the derive submits it).
#[doc(hidden)]
pub struct EventRegistration(pub &'static EventSchema);

inventory::collect!(EventRegistration);

/// Every event type linked into the program, in no particular order.
///
/// As with IDs, a crate none of whose items the program uses is not linked, and its events
/// are then missing: reference any item of it to force it in.
pub fn catalog() -> impl Iterator<Item = &'static EventSchema> + Clone {
    inventory::iter::<EventRegistration>
        .into_iter()
        .map(|r| r.0)
}

/// Why the catalog does not match its lock file.
#[derive(Debug)]
#[non_exhaustive]
pub enum LockError {
    /// Two or more event types share an `(action, version)`.
    Duplicate {
        /// The action.
        action: &'static str,
        /// The version.
        version: u32,
        /// The Rust types that share it.
        types: Vec<&'static str>,
    },
    /// The lock file is out of date; each line says what changed and what to do.
    Mismatch {
        /// The lock file.
        path: PathBuf,
        /// One line per problem.
        problems: Vec<String>,
    },
    /// The lock file could not be read or written.
    Io {
        /// The lock file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The lock file is not valid JSON of the expected shape.
    Parse {
        /// The lock file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Duplicate {
                action,
                version,
                types,
            } => write!(
                f,
                "`{action}` version {version} is defined by several event types ({}): give each \
                 its own action or version",
                types.join(", ")
            ),
            LockError::Mismatch { path, problems } => {
                write!(f, "the event catalog does not match {}:", path.display())?;
                for p in problems {
                    write!(f, "\n  - {p}")?;
                }
                write!(
                    f,
                    "\nIf the change is intended and no event of that version was ever written, \
                     rerun with AUDIT_UPDATE_LOCK=1 to rewrite the lock file."
                )
            }
            LockError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LockError::Parse { path, source } => write!(
                f,
                "{} is not a valid audit lock file: {source}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Io { source, .. } => Some(source),
            LockError::Parse { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LockEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    fields: Vec<LockField>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LockField {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    role: FieldRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject_role: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    redacted: bool,
}

fn key(action: &str, version: u32) -> String {
    format!("{action}@{version}")
}

/// Checks the catalog against two or more event types sharing an `(action, version)`.
///
/// # Errors
///
/// [`LockError::Duplicate`] for the first shared pair.
pub fn check_unique_actions() -> Result<(), LockError> {
    let mut seen: BTreeMap<(&str, u32), Vec<&'static str>> = BTreeMap::new();
    for s in catalog() {
        seen.entry((s.action, s.version))
            .or_default()
            .push(s.type_name);
    }
    for ((action, version), mut types) in seen {
        if types.len() > 1 {
            types.sort_unstable();
            return Err(LockError::Duplicate {
                action,
                version,
                types,
            });
        }
    }
    Ok(())
}

/// What [`check_lock`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockReport {
    /// Event schemas checked.
    pub checked: usize,
    /// Entries written, when the file was rewritten (`AUDIT_UPDATE_LOCK=1`).
    pub updated: Vec<String>,
}

/// Compares the catalog with the lock file at `path`, or rewrites the file when the
/// environment has `AUDIT_UPDATE_LOCK=1`. See the [module docs](self).
///
/// # Errors
///
/// A [`LockError`] that says which `(action, version)` changed, is missing or is shared.
pub fn check_lock(path: impl AsRef<Path>) -> Result<LockReport, LockError> {
    let update = std::env::var_os("AUDIT_UPDATE_LOCK").is_some_and(|v| v == "1");
    check_lock_with(path, update)
}

/// [`check_lock`] with the update mode given rather than read from `AUDIT_UPDATE_LOCK`: for
/// tests that run in parallel threads of one process, and for tools with their own flag.
///
/// ```no_run
/// let report = audit_core::catalog::check_lock_with("audit.lock.json", false)?;
/// assert!(report.updated.is_empty());
/// # Ok::<(), audit_core::catalog::LockError>(())
/// ```
///
/// # Errors
///
/// As [`check_lock`].
pub fn check_lock_with(path: impl AsRef<Path>, update: bool) -> Result<LockReport, LockError> {
    check_schemas(path.as_ref(), catalog(), update)
}

fn check_schemas(
    path: &Path,
    schemas: impl Iterator<Item = &'static EventSchema> + Clone,
    update: bool,
) -> Result<LockReport, LockError> {
    check_unique_actions()?;
    let mut locked: BTreeMap<String, LockEntry> = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|source| LockError::Parse {
            path: path.to_owned(),
            source,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(source) => {
            return Err(LockError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut problems = Vec::new();
    let mut updated = Vec::new();
    let mut checked = 0;
    let mut current: Vec<&EventSchema> = schemas.collect();
    current.sort_by_key(|s| (s.action, s.version));
    for schema in current {
        checked += 1;
        let k = key(schema.action, schema.version);
        let entry = schema.lock_entry();
        match locked.get(&k) {
            Some(old) if *old == entry => {}
            Some(old) => {
                problems.push(format!(
                    "`{}` version {} ({}) changed its schema without a version bump: {}; bump \
                     `version` to {}",
                    schema.action,
                    schema.version,
                    schema.type_name,
                    describe_change(old, &entry),
                    schema.version + 1
                ));
                updated.push(k.clone());
            }
            None => {
                problems.push(format!(
                    "`{}` version {} ({}) is not in the lock file yet",
                    schema.action, schema.version, schema.type_name
                ));
                updated.push(k.clone());
            }
        }
        if update {
            locked.insert(k, entry);
        }
    }
    if update {
        if !updated.is_empty() {
            let mut text = serde_json::to_string_pretty(&locked).unwrap_or_default();
            text.push('\n');
            std::fs::write(path, text).map_err(|source| LockError::Io {
                path: path.to_owned(),
                source,
            })?;
        }
        return Ok(LockReport { checked, updated });
    }
    if problems.is_empty() {
        Ok(LockReport {
            checked,
            updated: Vec::new(),
        })
    } else {
        Err(LockError::Mismatch {
            path: path.to_owned(),
            problems,
        })
    }
}

fn describe_change(old: &LockEntry, new: &LockEntry) -> String {
    let mut changes = Vec::new();
    if old.message != new.message {
        changes.push(format!(
            "the message template changed from {} to {}",
            quoted(old.message.as_deref()),
            quoted(new.message.as_deref())
        ));
    }
    for f in &new.fields {
        match old.fields.iter().find(|o| o.name == f.name) {
            None => changes.push(format!("field `{}` was added", f.name)),
            Some(o) if o.ty != f.ty || o.role != f.role => changes.push(format!(
                "field `{}` changed from `{}` ({:?}) to `{}` ({:?})",
                f.name, o.ty, o.role, f.ty, f.role
            )),
            Some(o) if o.subject_role != f.subject_role => changes.push(format!(
                "the subject role of field `{}` changed from {} to {}",
                f.name,
                quoted(o.subject_role.as_deref()),
                quoted(f.subject_role.as_deref())
            )),
            Some(o) if o.redacted != f.redacted => changes.push(format!(
                "field `{}` is {} redacted",
                f.name,
                if f.redacted { "now" } else { "no longer" }
            )),
            Some(_) => {}
        }
    }
    for o in &old.fields {
        if !new.fields.iter().any(|f| f.name == o.name) {
            changes.push(format!("field `{}` was removed", o.name));
        }
    }
    if changes.is_empty() {
        changes.push("the field order changed".to_owned());
    }
    changes.join(", ")
}

#[cfg(feature = "schemars")]
mod json_schema;
#[cfg(feature = "schemars")]
pub use json_schema::{
    DetailsSchema, SchemaRegistration, details_json_schema, envelope_json_schema, json_schemas,
};
#[cfg(feature = "schemars")]
#[doc(hidden)]
pub use json_schema::{details_object, id_schema};

/// `"text"`, or `none`.
fn quoted(text: Option<&str>) -> String {
    text.map_or_else(|| "none".to_owned(), |t| format!("{t:?}"))
}
