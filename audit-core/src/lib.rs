//! # audit-core
//!
//! Typed, prefixed IDs and compile-time-checked audit events.
//!
//! This crate is the runtime; it re-exports the derive macros of `audit-derive` (feature
//! `derive`, on by default), so a user depends on `audit-core` alone.
//!
//! ## Prefixed IDs
//!
//! ```
//! use audit_core::PrefixedId;
//!
//! #[derive(PrefixedId)]
//! #[id(prefix = "user")]
//! pub struct UserId([u8; 16]);
//!
//! let id = UserId::new();
//! let text = id.to_string();            // "user_" + 22 base64url characters
//! assert!(text.starts_with("user_"));
//! assert_eq!(UserId::parse(&text)?, id);
//! # Ok::<(), audit_core::ParseIdError>(())
//! ```
//!
//! See [`PrefixedId`] for the format, the generated API and the `sortable` option, and the
//! [`ids`] module for the process-wide registry and [`AnyId`].
//!
//! ## Features
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `derive` (default) | the derive macros |
//! | `uuid` | `From` conversions between every ID and `uuid::Uuid` |
#![deny(missing_docs)]
#![warn(unreachable_pub, clippy::pedantic)]
#![allow(clippy::module_name_repetitions)]

// Lets the crate use its own derive output, which names `::audit_core::...` paths.
extern crate self as audit_core;

mod id;

pub mod catalog;
pub mod chain;
pub mod context;
pub mod dispatch;
pub mod envelope;
pub mod event;
pub mod ids;
pub mod query;
pub mod sink;

#[doc(hidden)]
pub mod __private;

pub use context::Context;
pub use dispatch::{Auditor, AuditorBuilder, EmitError, FlushError};
pub use envelope::{Envelope, Outcome, Timestamp};
pub use event::{Actor, AuditEntity, AuditEvent, EntityRef, Redacted};
pub use id::{EncodedId, EventId, ParseIdError, PrefixedId, Snippet};
pub use ids::AnyId;

/// Derives [`PrefixedId`] for a tuple struct holding `[u8; 16]`.
///
/// See the trait's documentation for the attributes and the generated API.
#[cfg(feature = "derive")]
pub use audit_derive::PrefixedId;

/// Derives [`AuditEvent`]; see the [`event`] module for the attributes.
#[cfg(feature = "derive")]
pub use audit_derive::AuditEvent;

/// Derives [`AuditEntity`] for a model with an `#[audit(id)]` and an `#[audit(display)]` field.
#[cfg(feature = "derive")]
pub use audit_derive::AuditEntity;
