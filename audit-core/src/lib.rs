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
//! | `sqlite` | `sink::SqliteSink` and `sink::SqliteLog`: the embedded, queryable store with its hash chain, queries and retention (bundled SQLite via rusqlite) |
//! | `rusqlite` | rusqlite's `ToSql` and `FromSql` on every ID: TEXT in canonical form, re-validated on read |
//! | `postgres` | `sink::postgres`: `PostgresSink`, emitting inside the caller's sqlx transaction with an outbox and its relay, and `PostgresLog` queries, retention and verification |
//! | `sqlx-postgres` | sqlx's `Type`, `Encode`, `Decode` and `PgHasArrayType` for Postgres on every ID: TEXT in canonical form, re-validated on decode |
//! | `axum` | `web::AuditLayer`: a tower layer that fills each request's context (request id, client IP behind trusted proxies, user agent, trace id), and the axum extractor for `Context` |
//! | `tracing` | `sink::TracingSink`: every envelope as a `tracing` event |
//! | `nats` | `sink::NatsSink`: publishes every envelope to a NATS JetStream stream on `<prefix>.<action>`, deduplicated by event ID, acknowledged; creates the stream if missing (async-nats, with a small tokio runtime of its own) |
//! | `sqlx-sqlite` | sqlx's `Type`, `Encode` and `Decode` for SQLite on every ID: stored as TEXT in canonical form, re-validated on decode (a `wdgt_` ID never decodes as a `UserId`). It picks no async runtime: enable one (`runtime-tokio`, ...) in your own `sqlx` dependency. It shares one `libsqlite3-sys` with `rusqlite`, so both can be on |
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
mod json;
pub mod query;
pub mod sink;
#[cfg(feature = "axum")]
pub mod web;

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
