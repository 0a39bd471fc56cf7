//! The [`Auditor`]: stamps, serializes and delivers events to sinks.
//!
//! Each sink has a queue and a worker thread of its own. `emit` builds the envelope in the
//! caller's thread (so a bad event is the caller's error), appends it to every sink's queue,
//! and then:
//!
//! - **synchronously** (the default), waits until every sink has written it. A worker takes
//!   everything queued as one batch, so concurrent emitters share one write and one `fsync`
//!   (group commit);
//! - **in the background** (`.background(capacity)`), returns at once. A full queue returns
//!   [`EmitError::Full`] (or blocks, with `.block_when_full(true)`, for synchronous
//!   programs); [`Auditor::emit_async`] waits for room without blocking an executor.
//!
//! Work is split so that a sink's single worker does as little per event as it can: the
//! emitting thread renders the event, and for the chained sinks also writes the envelope's
//! JSON line and hashes the chain-independent part of its canonical form; the worker hashes
//! the chain position, writes and syncs. It takes up to
//! [`batch_size`](AuditorBuilder::batch_size) events per batch (default 8192), and in
//! background mode waits up to [`linger`](AuditorBuilder::linger) (default 1 ms) for a batch
//! to fill, so that emitters wake it once per half batch rather than once per event.
//!
//! A failing sink is retried with exponential backoff, with the same batch, until it
//! succeeds: events are never dropped. The failure is reported: [`Auditor::flush`] and a
//! synchronous `emit` return it (the events stay queued), and [`Auditor::stats`] counts it.
//! At shutdown ([`Auditor::shutdown`], or dropping the last clone) the queues are drained;
//! events a sink still refuses after the shutdown attempts are returned in the report.
//!
//! **When is an event durable?** In synchronous mode, when `emit` returns `Ok` (for a sink
//! whose writes are durable, such as [`JsonlSink`](crate::sink::JsonlSink) with its default
//! policy). In background mode, when a later [`Auditor::flush`] returns `Ok`. Events still
//! queued in memory are lost if the process dies.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::envelope::EventError;
use crate::envelope::sealed::Sealed;
use crate::sink::{Batch, Sink, SinkError};
use crate::{AuditEvent, Context, Envelope, EventId};

/// Emits audit events. Cheap to clone (clones share the queues and workers), `Send + Sync`.
///
/// ```standalone_crate
/// use audit_core::{Auditor, AuditEvent, Context, EntityRef, PrefixedId, sink::MemorySink};
/// # #[derive(PrefixedId)]
/// # #[id(prefix = "user")]
/// # pub struct UserId([u8; 16]);
/// # #[derive(AuditEvent)]
/// # #[audit(action = "user.logged_in", message = "{actor} logged in")]
/// # pub struct LoggedIn { #[audit(actor, subject)] pub user: EntityRef<UserId> }
///
/// let memory = MemorySink::new();
/// let auditor = Auditor::builder().sink(memory.clone()).build()?;
/// let ctx = Context::new().request_id("req-1");
/// let id = auditor.emit_with(&ctx, LoggedIn { user: EntityRef::new(UserId::new(), "Alice") })?;
/// auditor.flush()?;
/// assert_eq!(memory.last().unwrap().id, id);
/// assert_eq!(memory.last().unwrap().context.request_id_str(), Some("req-1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Auditor {
    inner: Arc<Inner>,
}

struct Inner {
    sinks: Vec<Arc<Shared>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    mode: Mode,
    emitted: AtomicU64,
    /// Whether some sink writes sealed forms, so that emitters compute them.
    seal: bool,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Sync,
    Background { capacity: usize, block: bool },
}

/// How a failing sink is retried.
#[derive(Clone, Copy, Debug)]
struct Retry {
    initial: Duration,
    max: Duration,
    shutdown_attempts: u32,
}

/// One sink's queue and progress, shared by emitters and its worker.
struct Shared {
    name: String,
    state: Mutex<State>,
    /// Wakes the worker: work queued, flush requested, closing.
    work: Condvar,
    /// Wakes emitters and flushers: progress, room, failure.
    progress: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Arc<Sealed>>,
    /// Tickets issued: one per envelope queued, from 1.
    enqueued: u64,
    /// Every ticket up to this one is written.
    written: u64,
    /// Every ticket up to this one is flushed.
    flushed: u64,
    /// Flush every ticket up to this one.
    flush_target: u64,
    /// Failed attempts so far.
    failures: u64,
    /// Batches written on a retry.
    retries: u64,
    /// The error of the last failed attempt, until the next success.
    failing: Option<Arc<SinkError>>,
    last_error: Option<Arc<SinkError>>,
    closing: bool,
    /// Envelopes the sink still refused when shutdown gave up.
    abandoned: Vec<Envelope>,
    /// The first ticket shutdown gave up on: it and every later ticket count as settled in
    /// `written` and `flushed`, but were not delivered.
    abandoned_from: Option<u64>,
    /// Async emitters and flushers waiting for progress.
    wakers: Vec<Waker>,
    /// Envelopes written, for the next emitter to free (see [`Worker::write`]).
    spent: Vec<Arc<Sealed>>,
    /// What the worker is waiting for, so that emitters wake it only when it must be.
    waiting: Waiting,
}

/// What a sink's worker is doing, as far as emitters need to know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Waiting {
    /// Working: it looks at the queue before it waits again.
    #[default]
    Busy,
    /// Waiting for an event: the next one wakes it.
    Idle,
    /// Waiting for a batch to fill: an emitter wakes it once this many are queued.
    Lingering(usize),
}

/// At most this many written envelopes wait for emitters to free them; past it, the worker
/// frees them itself.
const SPENT_MAX: usize = 65_536;

/// How many written envelopes one `emit` frees at most: a few microseconds, however large
/// the batches.
const SPENT_PER_EMIT: usize = 64;

/// How many written envelopes an idle worker frees before it looks at its queue again (about
/// a millisecond): new events wait for a chunk, not for the whole list.
const SPENT_PER_IDLE_PASS: usize = 1_024;

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // State stays consistent across a panic (no invariant spans an unwind); keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify_progress(&self, state: &mut State) {
        self.progress.notify_all();
        for waker in state.wakers.drain(..) {
            waker.wake();
        }
    }
}

/// Builds an [`Auditor`].
#[must_use]
pub struct AuditorBuilder {
    sinks: Vec<Box<dyn Sink>>,
    mode: Mode,
    /// `block_when_full`, kept apart so that it applies whether it is set before or after
    /// `background`.
    block: bool,
    batch_size: usize,
    linger: Duration,
    retry: Retry,
}

impl Default for AuditorBuilder {
    fn default() -> Self {
        AuditorBuilder {
            sinks: Vec::new(),
            mode: Mode::Sync,
            block: false,
            batch_size: 8192,
            linger: Duration::from_millis(1),
            retry: Retry {
                initial: Duration::from_millis(10),
                max: Duration::from_secs(5),
                shutdown_attempts: 3,
            },
        }
    }
}

impl fmt::Debug for AuditorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditorBuilder")
            .field(
                "sinks",
                &self.sinks.iter().map(Sink::name).collect::<Vec<_>>(),
            )
            .field("mode", &self.mode)
            .field("batch_size", &self.batch_size)
            .field("linger", &self.linger)
            .finish_non_exhaustive()
    }
}

impl AuditorBuilder {
    /// Adds a sink. Every event goes to every sink.
    pub fn sink(mut self, sink: impl Sink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Delivers in the background, with a queue of `capacity` events per sink: `emit`
    /// returns once the event is queued. See the [module docs](self).
    pub fn background(mut self, capacity: usize) -> Self {
        self.mode = Mode::Background {
            capacity: capacity.max(1),
            block: self.block,
        };
        self
    }

    /// In background mode, makes `emit` wait for room instead of returning
    /// [`EmitError::Full`]. For synchronous programs only: never block an async executor.
    /// It may be set before or after [`background`](AuditorBuilder::background); in
    /// synchronous mode it has no effect.
    pub fn block_when_full(mut self, block: bool) -> Self {
        self.block = block;
        if let Mode::Background { capacity, .. } = self.mode {
            self.mode = Mode::Background { capacity, block };
        }
        self
    }

    /// The most envelopes a sink receives in one batch (default 8192). Larger batches cost
    /// less per event: an SQLite or Postgres sink writes a batch in one transaction, and the
    /// index pages it changes are written once per transaction, however many of its events
    /// land on them.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// In background mode, how long a sink's worker waits for more events when it finds
    /// fewer than half a batch queued (default 1 ms; zero writes at once). Larger batches
    /// cost less per event, and emitters rarely have to wake the worker; a flush, a full
    /// batch or shutdown ends the wait. Synchronous mode never waits: `emit` is waiting.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// The backoff between attempts of a failing sink: doubling from `initial` up to `max`
    /// (defaults: 10 ms, 5 s).
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry.initial = initial;
        self.retry.max = max.max(initial);
        self
    }

    /// How many more attempts a failing sink gets at shutdown before its queued events are
    /// returned in the [`ShutdownReport`] (default 3).
    pub fn shutdown_attempts(mut self, attempts: u32) -> Self {
        self.retry.shutdown_attempts = attempts.max(1);
        self
    }

    /// Starts the sinks' workers.
    ///
    /// # Errors
    ///
    /// [`BuildError`] when no sink was added, when two ID types share a prefix or two event
    /// types share an `(action, version)`, or when a worker thread cannot start.
    pub fn build(self) -> Result<Auditor, BuildError> {
        if self.sinks.is_empty() {
            return Err(BuildError::NoSink);
        }
        crate::ids::check_unique_prefixes().map_err(BuildError::DuplicatePrefix)?;
        crate::catalog::check_unique_actions().map_err(BuildError::DuplicateAction)?;
        let mut shared = Vec::new();
        let mut workers = Vec::new();
        let seal = self.sinks.iter().any(Sink::__writes_sealed_forms);
        let linger = match self.mode {
            Mode::Background { capacity, .. } if !self.linger.is_zero() => Some(Linger {
                wait: self.linger,
                until: (self.batch_size / 2).min(capacity / 2).max(1),
            }),
            _ => None,
        };
        for sink in self.sinks {
            let s = Arc::new(Shared {
                name: sink.name(),
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                progress: Condvar::new(),
            });
            let worker = Worker {
                shared: Arc::clone(&s),
                sink,
                batch_size: self.batch_size,
                linger,
                retry: self.retry,
                batch: Vec::new(),
            };
            let handle = std::thread::Builder::new()
                .name(format!("audit-sink-{}", shared.len()))
                .spawn(move || worker.run());
            match handle {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    let inner = Inner {
                        sinks: shared,
                        workers: Mutex::new(workers),
                        mode: self.mode,
                        emitted: AtomicU64::new(0),
                        seal,
                    };
                    inner.close();
                    return Err(BuildError::Spawn(e));
                }
            }
            shared.push(s);
        }
        Ok(Auditor {
            inner: Arc::new(Inner {
                sinks: shared,
                workers: Mutex::new(workers),
                mode: self.mode,
                emitted: AtomicU64::new(0),
                seal,
            }),
        })
    }
}

/// Why an [`Auditor`] could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// No sink was added: events would go nowhere.
    NoSink,
    /// Two ID types share a prefix.
    DuplicatePrefix(crate::ids::DuplicatePrefixError),
    /// Two event types share an `(action, version)`.
    DuplicateAction(crate::catalog::LockError),
    /// A worker thread could not start.
    Spawn(std::io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoSink => f.write_str(
                "the auditor has no sink: add one with `Auditor::builder().sink(...)`, such as \
                 `JsonlSink::open(path)?` or `MemorySink::new()` in tests",
            ),
            BuildError::DuplicatePrefix(e) => fmt::Display::fmt(e, f),
            BuildError::DuplicateAction(e) => fmt::Display::fmt(e, f),
            BuildError::Spawn(e) => write!(f, "cannot start a sink worker thread: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::DuplicatePrefix(e) => Some(e),
            BuildError::DuplicateAction(e) => Some(e),
            BuildError::Spawn(e) => Some(e),
            BuildError::NoSink => None,
        }
    }
}

/// Why `emit` did not complete.
#[derive(Debug)]
#[non_exhaustive]
pub enum EmitError {
    /// The event could not become an envelope; nothing was queued.
    Event(EventError),
    /// Background mode: a sink's queue is full; nothing was queued. Retry later, call
    /// `emit_async`, or configure `block_when_full`.
    Full {
        /// The sink whose queue is full.
        sink: String,
        /// The queue's capacity.
        capacity: usize,
    },
    /// Synchronous mode: the event is queued but a sink failed to write it. It stays queued
    /// and is retried; `flush` reports when it is written.
    NotDurable {
        /// The queued event.
        id: EventId,
        /// The failing sink.
        sink: String,
        /// Its last error.
        source: Arc<SinkError>,
    },
    /// The auditor was shut down; nothing was queued.
    ShutDown,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::Event(e) => fmt::Display::fmt(e, f),
            EmitError::Full { sink, capacity } => write!(
                f,
                "the queue of sink `{sink}` is full ({capacity} events): the event was not \
                 queued; retry, use `emit_async`, or build with `block_when_full(true)`"
            ),
            EmitError::NotDurable { id, sink, source } => write!(
                f,
                "event {id} is queued but sink `{sink}` failed to write it ({source}); it will \
                 be retried"
            ),
            EmitError::ShutDown => f.write_str("the auditor was shut down"),
        }
    }
}

impl std::error::Error for EmitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EmitError::Event(e) => Some(e),
            EmitError::NotDurable { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

impl From<EventError> for EmitError {
    fn from(e: EventError) -> Self {
        EmitError::Event(e)
    }
}

/// Why `flush` did not complete: a sink failed while flushing. Its events stay queued and
/// are retried; call `flush` again.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FlushError {
    /// The failing sink.
    pub sink: String,
    /// Events emitted before the flush that the sink has not written yet.
    pub pending: u64,
    /// Its last error.
    pub source: Arc<SinkError>,
}

impl fmt::Display for FlushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sink `{}` failed ({}); {} events are still queued and will be retried",
            self.sink, self.source, self.pending
        )
    }
}

impl std::error::Error for FlushError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Counters of an auditor, per sink.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Events emitted (queued to every sink).
    pub emitted: u64,
    /// One entry per sink, in the order they were added.
    pub sinks: Vec<SinkStats>,
}

/// Counters of one sink.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SinkStats {
    /// The sink's name.
    pub name: String,
    /// Events written.
    pub written: u64,
    /// Events queued, not written yet.
    pub pending: u64,
    /// Batches that were written after failing at least once.
    pub retried: u64,
    /// Failed attempts.
    pub failed: u64,
    /// Events given up at shutdown, returned in the [`ShutdownReport`].
    pub undelivered: u64,
    /// The last error, if the sink is failing now.
    pub failing: Option<String>,
}

/// What [`Auditor::shutdown`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Counters at the end.
    pub stats: Stats,
    /// Envelopes that a sink still refused after the shutdown attempts, with the sink's name
    /// and last error: they were not delivered there.
    pub undelivered: Vec<(String, Envelope)>,
    /// The last error of each sink that had one.
    pub errors: Vec<(String, Arc<SinkError>)>,
}

impl ShutdownReport {
    /// Whether every event reached every sink.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.undelivered.is_empty()
    }
}

impl Auditor {
    /// A builder; add at least one sink.
    pub fn builder() -> AuditorBuilder {
        AuditorBuilder::default()
    }

    /// Emits `event` with the context in scope (see [`context`](crate::context)); returns its
    /// ID.
    ///
    /// # Errors
    ///
    /// An [`EmitError`]; see the [module docs](self).
    #[allow(clippy::needless_pass_by_value)] // The event is spent: it cannot be emitted twice.
    pub fn emit<E: AuditEvent>(&self, event: E) -> Result<EventId, EmitError> {
        self.emit_with(&crate::context::current(), event)
    }

    /// Emits `event` with `context`; returns its ID.
    ///
    /// # Errors
    ///
    /// An [`EmitError`]; see the [module docs](self).
    pub fn emit_with<E: AuditEvent>(
        &self,
        context: &Context,
        event: E,
    ) -> Result<EventId, EmitError> {
        let envelope = self
            .inner
            .seal(Envelope::of(event, context)?, Origin::Event)?;
        self.deliver(&envelope)
    }

    /// Emits an envelope built with [`Envelope::from_event`], for instance after changing its
    /// outcome.
    ///
    /// # Errors
    ///
    /// An [`EmitError`]; see the [module docs](self).
    pub fn emit_envelope(&self, envelope: Envelope) -> Result<EventId, EmitError> {
        self.deliver(&self.inner.seal(envelope, Origin::Given)?)
    }

    fn deliver(&self, envelope: &Arc<Sealed>) -> Result<EventId, EmitError> {
        let id = envelope.envelope().id;
        match self.inner.mode {
            Mode::Sync => {
                let tickets = self.inner.enqueue(envelope, None)?;
                self.inner.wait_written(id, &tickets)?;
            }
            Mode::Background { capacity, block } => loop {
                match self.inner.enqueue(envelope, Some(capacity)) {
                    Err(EmitError::Full { .. }) if block => self.inner.wait_room(capacity),
                    Err(e) => return Err(e),
                    Ok(_) => break,
                }
            },
        }
        Ok(id)
    }

    /// Emits `event` with the context in scope without blocking the executor: in synchronous
    /// mode it waits (asynchronously) until every sink has written the event, in background
    /// mode for room in a full queue.
    ///
    /// # Errors
    ///
    /// As [`Auditor::emit`], never [`EmitError::Full`].
    pub async fn emit_async<E: AuditEvent>(&self, event: E) -> Result<EventId, EmitError> {
        let context = crate::context::current();
        self.emit_with_async(&context, event).await
    }

    /// Emits `event` with `context`, waiting for room without blocking the executor.
    ///
    /// # Errors
    ///
    /// As [`Auditor::emit_with`], never [`EmitError::Full`].
    pub async fn emit_with_async<E: AuditEvent>(
        &self,
        context: &Context,
        event: E,
    ) -> Result<EventId, EmitError> {
        let envelope = self
            .inner
            .seal(Envelope::of(event, context)?, Origin::Event)?;
        self.deliver_async(envelope).await
    }

    /// Emits a built envelope (see [`Auditor::emit_envelope`]) without blocking the
    /// executor: in synchronous mode it waits for the sinks to write it, in background mode
    /// for room in the queues.
    ///
    /// # Errors
    ///
    /// As [`Auditor::emit_envelope`], never [`EmitError::Full`].
    pub async fn emit_envelope_async(&self, envelope: Envelope) -> Result<EventId, EmitError> {
        let envelope = self.inner.seal(envelope, Origin::Given)?;
        self.deliver_async(envelope).await
    }

    async fn deliver_async(&self, envelope: Arc<Sealed>) -> Result<EventId, EmitError> {
        let id = envelope.envelope().id;
        match self.inner.mode {
            Mode::Sync => {
                let tickets = self.inner.enqueue(&envelope, None)?;
                WrittenFuture {
                    inner: &self.inner,
                    id,
                    tickets: &tickets,
                    next: 0,
                }
                .await?;
                Ok(id)
            }
            Mode::Background { capacity, .. } => {
                RoomFuture {
                    inner: &self.inner,
                    envelope: &envelope,
                    capacity,
                }
                .await?;
                Ok(id)
            }
        }
    }

    /// Returns when every event emitted before the call is written and flushed (durable) in
    /// every sink.
    ///
    /// # Errors
    ///
    /// A [`FlushError`] when a sink fails meanwhile; its events stay queued and are retried.
    pub fn flush(&self) -> Result<(), FlushError> {
        for shared in &self.inner.sinks {
            let (target, failures) = request_flush(shared);
            let mut state = shared.lock();
            loop {
                if let Some(result) = flush_done(shared, &state, target, failures) {
                    result?;
                    break;
                }
                state = shared
                    .progress
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        Ok(())
    }

    /// As [`Auditor::flush`], without blocking the executor.
    ///
    /// # Errors
    ///
    /// As [`Auditor::flush`].
    pub async fn flush_async(&self) -> Result<(), FlushError> {
        for shared in &self.inner.sinks {
            let (target, failures) = request_flush(shared);
            FlushFuture {
                shared,
                target,
                failures,
            }
            .await?;
        }
        Ok(())
    }

    /// Counters: emitted, and per sink written, pending, retried, failed.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Drains every queue, stops the workers and reports. Later emits return
    /// [`EmitError::ShutDown`]. Dropping the last clone of an auditor does the same, without
    /// the report.
    #[must_use]
    pub fn shutdown(&self) -> ShutdownReport {
        self.inner.close();
        let mut report = ShutdownReport {
            stats: self.inner.stats(),
            ..ShutdownReport::default()
        };
        for shared in &self.inner.sinks {
            let mut state = shared.lock();
            for envelope in state.abandoned.drain(..) {
                report.undelivered.push((shared.name.clone(), envelope));
            }
            if let Some(e) = &state.last_error {
                report.errors.push((shared.name.clone(), Arc::clone(e)));
            }
        }
        report
    }
}

impl fmt::Debug for Auditor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auditor")
            .field("mode", &self.inner.mode)
            .field("stats", &self.inner.stats())
            .finish()
    }
}

fn request_flush(shared: &Shared) -> (u64, u64) {
    let mut state = shared.lock();
    let target = state.enqueued;
    state.flush_target = state.flush_target.max(target);
    let failures = state.failures;
    shared.work.notify_one();
    (target, failures)
}

/// `Some` when the envelope with `ticket` is written, failed (a failure after it was queued),
/// or was given up at shutdown; `None` while it waits.
fn written(
    shared: &Shared,
    state: &State,
    id: EventId,
    ticket: u64,
    failures: u64,
) -> Option<Result<(), EmitError>> {
    if state.written < ticket {
        let failed = state.failures > failures;
        let source = failed
            .then(|| state.failing.clone().or_else(|| state.last_error.clone()))
            .flatten()?;
        return Some(Err(EmitError::NotDurable {
            id,
            sink: shared.name.clone(),
            source,
        }));
    }
    if state.abandoned_from.is_some_and(|from| ticket >= from) {
        // Settled by a shutdown that gave up on the sink: not written.
        return Some(Err(match state.last_error.clone() {
            Some(source) => EmitError::NotDurable {
                id,
                sink: shared.name.clone(),
                source,
            },
            None => EmitError::ShutDown,
        }));
    }
    Some(Ok(()))
}

/// Registers `waker` for progress on a sink, once.
fn register(state: &mut State, waker: &Waker) {
    if !state.wakers.iter().any(|w| w.will_wake(waker)) {
        state.wakers.push(waker.clone());
    }
}

/// `Some` when a flush up to `target` has finished or failed.
fn flush_done(
    shared: &Shared,
    state: &State,
    target: u64,
    failures: u64,
) -> Option<Result<(), FlushError>> {
    if let (Some(from), Some(source)) = (state.abandoned_from, &state.last_error)
        && target >= from
    {
        // Shutdown gave up on some of the events this flush waits for: they count as
        // settled, but were not written.
        return Some(Err(FlushError {
            sink: shared.name.clone(),
            pending: target + 1 - from,
            source: Arc::clone(source),
        }));
    }
    if state.flushed >= target {
        return Some(Ok(()));
    }
    if let Some(source) = state.failing.as_ref().filter(|_| state.failures > failures) {
        return Some(Err(FlushError {
            sink: shared.name.clone(),
            pending: target.saturating_sub(state.written),
            source: Arc::clone(source),
        }));
    }
    None
}

/// Where an envelope comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Built here from an event: its details passed the I-JSON check, so it has forms.
    Event,
    /// Given by the caller, who may have set any details.
    Given,
}

impl Inner {
    /// Seals an envelope for the queues. Computes its forms here, in the emitting thread,
    /// when a sink writes them, and always for an envelope the caller built: one that has
    /// none (details no canonical JSON can carry) is refused here, whatever the sinks,
    /// rather than retried forever by a chained sink.
    fn seal(&self, envelope: Envelope, origin: Origin) -> Result<Arc<Sealed>, EmitError> {
        let sealed = Sealed::new(envelope);
        if (self.seal || origin == Origin::Given)
            && let Err(reason) = sealed.forms()
        {
            let envelope = sealed.envelope();
            return Err(EmitError::Event(EventError::Unchainable {
                id: envelope.id,
                action: envelope.action.to_string(),
                reason: reason.to_owned(),
            }));
        }
        Ok(Arc::new(sealed))
    }

    /// Queues the envelope on every sink; returns each sink's ticket and failure count.
    /// With a capacity, checks every queue for room first, so an event is queued everywhere
    /// or nowhere.
    fn enqueue(
        &self,
        envelope: &Arc<Sealed>,
        capacity: Option<usize>,
    ) -> Result<Vec<(u64, u64)>, EmitError> {
        // Every sink's lock at once, taken in sink order (no other path holds two), so that
        // an event is queued on every sink or on none, and a full queue is never overshot by
        // emitters that checked it at the same time.
        let mut states: Vec<MutexGuard<'_, State>> =
            self.sinks.iter().map(|shared| shared.lock()).collect();
        for (shared, state) in self.sinks.iter().zip(&states) {
            if state.closing {
                return Err(EmitError::ShutDown);
            }
            if let Some(capacity) = capacity
                && state.queue.len() >= capacity
            {
                return Err(EmitError::Full {
                    sink: shared.name.clone(),
                    capacity,
                });
            }
        }
        let mut tickets = Vec::with_capacity(self.sinks.len());
        // Freed when this function returns, after the locks.
        let mut spent = Vec::new();
        for (shared, state) in self.sinks.iter().zip(&mut states) {
            if !state.spent.is_empty() {
                let keep = state.spent.len().saturating_sub(SPENT_PER_EMIT);
                spent.push(state.spent.split_off(keep));
            }
            state.queue.push_back(Arc::clone(envelope));
            state.enqueued += 1;
            tickets.push((state.enqueued, state.failures));
            let wake = match state.waiting {
                Waiting::Busy => false,
                Waiting::Idle => true,
                Waiting::Lingering(until) => state.queue.len() >= until,
            };
            if wake {
                // A wake-up is a system call: one per idle period or filled batch, not one
                // per event.
                state.waiting = Waiting::Busy;
                shared.work.notify_one();
            }
        }
        drop(states);
        self.emitted.fetch_add(1, Ordering::Relaxed);
        Ok(tickets)
    }

    fn wait_written(&self, id: EventId, tickets: &[(u64, u64)]) -> Result<(), EmitError> {
        for (shared, &(ticket, failures)) in self.sinks.iter().zip(tickets) {
            let mut state = shared.lock();
            loop {
                if let Some(result) = written(shared, &state, id, ticket, failures) {
                    result?;
                    break;
                }
                state = shared
                    .progress
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        Ok(())
    }

    /// Waits until no queue is full (or shutdown starts). Sinks are told apart by position,
    /// not by name: two sinks may share one.
    fn wait_room(&self, capacity: usize) {
        for shared in &self.sinks {
            let mut state = shared.lock();
            while state.queue.len() >= capacity && !state.closing {
                state = shared
                    .progress
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }

    fn stats(&self) -> Stats {
        Stats {
            emitted: self.emitted.load(Ordering::Relaxed),
            sinks: self
                .sinks
                .iter()
                .map(|shared| {
                    let state = shared.lock();
                    let undelivered = state
                        .abandoned_from
                        .map_or(0, |from| state.enqueued + 1 - from);
                    SinkStats {
                        name: shared.name.clone(),
                        written: state.written - undelivered,
                        pending: state.enqueued - state.written,
                        undelivered,
                        retried: state.retries,
                        failed: state.failures,
                        failing: state.failing.as_ref().map(ToString::to_string),
                    }
                })
                .collect(),
        }
    }

    /// Marks every sink closing, wakes the workers and waits for them to drain and flush.
    fn close(&self) {
        for shared in &self.sinks {
            let mut state = shared.lock();
            // A last flush, so that a sink that syncs only on flush is durable at shutdown,
            // and a later `flush` has nothing to wait for.
            state.flush_target = state.flush_target.max(state.enqueued);
            state.closing = true;
            shared.work.notify_all();
            shared.notify_progress(&mut state);
        }
        let workers: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.workers.lock().unwrap_or_else(PoisonError::into_inner));
        for worker in workers {
            // A worker catches sink panics; a panic here is a bug in the worker itself.
            let _ = worker.join();
        }
        for shared in &self.sinks {
            let mut state = shared.lock();
            shared.notify_progress(&mut state);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}

/// Waits for room in every queue, then queues.
struct RoomFuture<'a> {
    inner: &'a Inner,
    envelope: &'a Arc<Sealed>,
    capacity: usize,
}

impl Future for RoomFuture<'_> {
    type Output = Result<(), EmitError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.inner.enqueue(self.envelope, Some(self.capacity)) {
            Ok(_) => Poll::Ready(Ok(())),
            Err(EmitError::Full { .. }) => {
                // Wait on a queue that is still full (by position: two sinks may share a
                // name); if none is, room appeared since the check: poll again at once.
                for shared in &self.inner.sinks {
                    let mut state = shared.lock();
                    if state.queue.len() >= self.capacity && !state.closing {
                        register(&mut state, cx.waker());
                        return Poll::Pending;
                    }
                }
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// Waits until every sink has written one envelope (synchronous mode, async caller).
struct WrittenFuture<'a> {
    inner: &'a Inner,
    id: EventId,
    tickets: &'a [(u64, u64)],
    /// The first sink not known to have written it yet.
    next: usize,
}

impl Future for WrittenFuture<'_> {
    type Output = Result<(), EmitError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        while let Some(&(ticket, failures)) = self.tickets.get(self.next) {
            let shared = &self.inner.sinks[self.next];
            let mut state = shared.lock();
            match written(shared, &state, self.id, ticket, failures) {
                Some(Ok(())) => {
                    drop(state);
                    self.next += 1;
                }
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => {
                    register(&mut state, cx.waker());
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Waits for one sink's flush.
struct FlushFuture<'a> {
    shared: &'a Shared,
    target: u64,
    failures: u64,
}

impl Future for FlushFuture<'_> {
    type Output = Result<(), FlushError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut state = self.shared.lock();
        if let Some(result) = flush_done(self.shared, &state, self.target, self.failures) {
            return Poll::Ready(result);
        }
        register(&mut state, cx.waker());
        Poll::Pending
    }
}

/// A sink's worker: takes batches off the queue, writes them, flushes on request.
struct Worker {
    shared: Arc<Shared>,
    sink: Box<dyn Sink>,
    batch_size: usize,
    /// Background mode: how long to wait for a batch to fill.
    linger: Option<Linger>,
    retry: Retry,
    /// The batch being written; its allocation is reused from batch to batch.
    batch: Vec<Arc<Sealed>>,
}

/// How long a worker waits for a batch to fill, and how many events end the wait.
#[derive(Clone, Copy, Debug)]
struct Linger {
    wait: Duration,
    until: usize,
}

enum Job {
    /// Write `self.batch`.
    Write,
    Flush(u64),
    Stop,
}

impl Worker {
    fn run(mut self) {
        loop {
            match self.next_job() {
                Job::Write => {
                    let mut batch = std::mem::take(&mut self.batch);
                    self.write(&mut batch);
                    // Drops what `write` did not hand back, outside the lock; keeps the
                    // allocation.
                    batch.clear();
                    self.batch = batch;
                }
                Job::Flush(upto) => self.flush(upto),
                Job::Stop => return,
            }
        }
    }

    fn next_job(&mut self) -> Job {
        let mut state = self.shared.lock();
        let mut lingered = false;
        loop {
            // A flush goes first once everything it waits for is written, so that emitters
            // that keep the queue busy do not starve it.
            if state.flush_target > state.flushed
                && (state.written >= state.flush_target || state.queue.is_empty())
            {
                return Job::Flush(state.written);
            }
            if !state.queue.is_empty() {
                if let Some(linger) = self.linger
                    && !lingered
                    && state.queue.len() < linger.until
                    && !state.closing
                    && state.flush_target <= state.flushed
                {
                    lingered = true;
                    state.waiting = Waiting::Lingering(linger.until);
                    state = self
                        .shared
                        .work
                        .wait_timeout(state, linger.wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    state.waiting = Waiting::Busy;
                    continue;
                }
                let n = state.queue.len().min(self.batch_size);
                self.batch.extend(state.queue.drain(..n));
                return Job::Write;
            }
            if !state.spent.is_empty() {
                // Idle or stopping: no emitter is around to free them, and none competes
                // with us now. A chunk at a time, so that events queued meanwhile are written
                // first.
                let keep = state.spent.len().saturating_sub(SPENT_PER_IDLE_PASS);
                let spent = state.spent.split_off(keep);
                drop(state);
                drop(spent);
                state = self.shared.lock();
                continue;
            }
            if state.closing {
                return Job::Stop;
            }
            state.waiting = Waiting::Idle;
            state = self
                .shared
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.waiting = Waiting::Busy;
        }
    }

    /// Writes a batch. Written envelopes go back to the emitters, who free a few each time
    /// they queue an event (the rest when this worker is idle): the memory goes back to the
    /// emitting threads, rather than every free in this thread contending with their
    /// allocations for the allocator's per-thread heaps (glibc's arenas take a lock for a
    /// foreign free).
    fn write(&mut self, batch: &mut Vec<Arc<Sealed>>) {
        let sink = &mut self.sink;
        let ok = attempt(&self.shared, self.retry, || {
            guarded(|| sink.write(Batch::new(batch)))
        });
        let mut state = self.shared.lock();
        if ok {
            state.written += batch.len() as u64;
            if state.spent.len() < SPENT_MAX {
                state.spent.append(batch);
            }
        } else {
            // Shutdown gave up on this sink: report what it did not take, and count the
            // tickets as settled so nobody waits for them.
            let from = state.written + 1;
            state.abandoned_from.get_or_insert(from);
            state
                .abandoned
                .extend(batch.iter().map(|e| e.envelope().clone()));
            let rest: Vec<Arc<Sealed>> = state.queue.drain(..).collect();
            state
                .abandoned
                .extend(rest.iter().map(|e| e.envelope().clone()));
            state.written = state.enqueued;
            state.flushed = state.enqueued;
        }
        self.shared.notify_progress(&mut state);
    }

    fn flush(&mut self, upto: u64) {
        let sink = &mut self.sink;
        let ok = attempt(&self.shared, self.retry, || guarded(|| sink.flush()));
        let mut state = self.shared.lock();
        if ok {
            state.flushed = state.flushed.max(upto);
        } else {
            state.flushed = state.flush_target;
        }
        self.shared.notify_progress(&mut state);
    }
}

/// Runs `op` until it succeeds, with backoff; reports each failure. Returns `false` only
/// when shutting down and the shutdown attempts are used up.
fn attempt(shared: &Shared, retry: Retry, mut op: impl FnMut() -> Result<(), SinkError>) -> bool {
    let mut delay = retry.initial;
    let mut failed_attempts = 0u32;
    let mut closing_attempts = 0u32;
    loop {
        match op() {
            Ok(()) => {
                let mut state = shared.lock();
                if failed_attempts > 0 {
                    state.retries += 1;
                }
                state.failing = None;
                return true;
            }
            Err(e) => {
                failed_attempts += 1;
                let e = Arc::new(e);
                let mut state = shared.lock();
                state.failures += 1;
                state.failing = Some(Arc::clone(&e));
                state.last_error = Some(e);
                shared.notify_progress(&mut state);
                if state.closing {
                    closing_attempts += 1;
                    if closing_attempts >= retry.shutdown_attempts {
                        return false;
                    }
                }
                // Sleep, but wake early when shutdown starts.
                let (guard, _) = shared
                    .work
                    .wait_timeout_while(state, delay, |s| !s.closing)
                    .unwrap_or_else(PoisonError::into_inner);
                drop(guard);
                delay = (delay * 2).min(retry.max);
            }
        }
    }
}

/// Runs a sink call, turning a panic into an error so the worker survives and retries.
fn guarded(op: impl FnOnce() -> Result<(), SinkError>) -> Result<(), SinkError> {
    catch_unwind(AssertUnwindSafe(op)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        Err(SinkError::other(format!("the sink panicked: {what}")))
    })
}
