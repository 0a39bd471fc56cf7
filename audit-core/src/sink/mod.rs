//! Sinks: where envelopes go.
//!
//! | sink | for |
//! | --- | --- |
//! | [`MemorySink`] | tests: clones share one store |
//! | [`JsonlSink`] | an append-only file, one envelope per line, with a hash chain |
//! | `SqliteSink` | the embedded, queryable store (feature `sqlite`), with a hash chain |
//! | `TracingSink` | each envelope as a `tracing` event (feature `tracing`) |
//! | `postgres::PostgresSink` | Postgres (feature `postgres`), also inside the caller's transaction |
//! | `NatsSink` | a NATS JetStream stream (feature `nats`), deduplicated by event ID |
//!
//! Implement [`Sink`] for your own. The [`Auditor`](crate::Auditor) gives each sink its own
//! worker thread, so a sink is called from one thread at a time, and a slow sink does not
//! stall the others.
//!
//! ```
//! use audit_core::sink::{Batch, Sink, SinkError};
//!
//! /// Counts events, and keeps nothing.
//! #[derive(Default)]
//! struct Counter(u64);
//!
//! impl Sink for Counter {
//!     fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
//!         self.0 += batch.len() as u64;
//!         Ok(())
//!     }
//! }
//! ```

mod jsonl;
mod memory;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "tracing")]
mod tracing;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// The async-nats crate the [`NatsSink`] is built with, for its stream settings and
/// connection options.
#[cfg(feature = "nats")]
pub use async_nats;
pub use jsonl::{Durability, JsonlSink, TornTail};
pub use memory::MemorySink;
#[cfg(feature = "nats")]
pub use nats::{NatsError, NatsSink, NatsSinkBuilder};
#[cfg(feature = "sqlite")]
pub use sqlite::{QueryError, SqliteLog, SqliteSink};
#[cfg(feature = "tracing")]
pub use tracing::TracingSink;

use crate::Envelope;
use crate::chain::ChainHead;
use crate::envelope::sealed::Sealed;

/// A batch of envelopes handed to [`Sink::write`], in emit order.
#[derive(Clone, Copy)]
pub struct Batch<'a>(&'a [Arc<Sealed>]);

impl<'a> Batch<'a> {
    pub(crate) fn new(envelopes: &'a [Arc<Sealed>]) -> Self {
        Batch(envelopes)
    }

    /// The envelopes, in emit order.
    #[must_use]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a Envelope> + 'a {
        self.0.iter().map(|e| e.envelope())
    }

    /// The envelopes with their serialized forms, in emit order.
    pub(crate) fn sealed(&self) -> impl ExactSizeIterator<Item = &'a Sealed> + 'a {
        self.0.iter().map(|e| &**e)
    }

    /// How many envelopes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the batch is empty (never, when the auditor calls a sink).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|e| &e.id)).finish()
    }
}

/// Where envelopes go.
///
/// The auditor calls a sink from its own worker thread, one call at a time. A failed `write`
/// is retried with the same batch (with backoff) until it succeeds, so `write` must either
/// keep the whole batch or none of it: a sink that may have kept part of a batch must undo
/// it, or skip envelopes it already holds (deduplicate by `id`).
pub trait Sink: Send + 'static {
    /// Stores a batch. When it returns `Ok`, the batch is held, and durable as far as the
    /// sink's durability policy says.
    ///
    /// # Errors
    ///
    /// A [`SinkError`]; the auditor reports it and retries the same batch.
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError>;

    /// Makes every batch written so far durable (an `fsync`, a commit, an acknowledgement).
    /// The default does nothing, for sinks whose `write` is already durable.
    ///
    /// # Errors
    ///
    /// A [`SinkError`]; the auditor reports it and retries.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Whether the sink writes an envelope's serialized forms (its JSON line, its chain
    /// hash), which the auditor then computes in the emitting thread rather than in the
    /// sink's worker. Only audit-core's own sinks can use them.
    #[doc(hidden)]
    fn __writes_sealed_forms(&self) -> bool {
        false
    }

    /// A name for reports and errors; the type's name by default.
    fn name(&self) -> String {
        std::any::type_name::<Self>()
            .rsplit("::")
            .next()
            .unwrap_or("sink")
            .to_owned()
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        (**self).write(batch)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        (**self).flush()
    }
    fn __writes_sealed_forms(&self) -> bool {
        (**self).__writes_sealed_forms()
    }
    fn name(&self) -> String {
        (**self).name()
    }
}

/// What a retention pass (`delete_before`) removed from a queryable store.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetentionReport {
    /// Events removed.
    pub deleted: u64,
    /// The chain point the log now starts after: verification starts from here.
    pub cut: ChainHead,
}

/// Why a sink failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SinkError {
    /// A file operation failed.
    Io {
        /// What the sink was doing, and on which file.
        doing: String,
        /// What the system said.
        source: io::Error,
    },
    /// The stored log is not what the sink expects (not written by it, or damaged).
    Corrupt {
        /// The store.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An envelope could not be written.
    Envelope(String),
    /// Any other failure, from a user's sink.
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl SinkError {
    /// Wraps any error, for a user's own sink.
    pub fn other(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SinkError::Other(err.into())
    }

    pub(crate) fn io(doing: impl Into<String>, source: io::Error) -> Self {
        SinkError::Io {
            doing: doing.into(),
            source,
        }
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkError::Io { doing, source } => write!(f, "{doing}: {source}"),
            SinkError::Corrupt { path, detail } => write!(f, "{}: {detail}", path.display()),
            SinkError::Envelope(why) => write!(f, "cannot write an envelope: {why}"),
            SinkError::Other(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for SinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SinkError::Io { source, .. } => Some(source),
            SinkError::Other(e) => Some(&**e),
            _ => None,
        }
    }
}
