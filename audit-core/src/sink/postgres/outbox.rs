//! Emitting inside the caller's transaction: the outbox, and the relay that moves committed
//! events into the chain and on to the other sinks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::{PgError, PostgresAudit, store};
use crate::envelope::EventError;
use crate::envelope::sealed::Sealed;
use crate::sink::SinkError;
use crate::{AuditEvent, Auditor, Context, Envelope, EventId};

/// Why [`PostgresAudit::emit_in`] failed. The caller's transaction decides what happens
/// next: roll it back, or go on without the event.
#[derive(Debug)]
#[non_exhaustive]
pub enum PgEmitError {
    /// The event could not become an envelope.
    Event(EventError),
    /// The insert into the outbox failed.
    Database(sqlx::Error),
}

impl std::fmt::Display for PgEmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PgEmitError::Event(e) => std::fmt::Display::fmt(e, f),
            PgEmitError::Database(e) => write!(f, "writing the audit event to the outbox: {e}"),
        }
    }
}

impl std::error::Error for PgEmitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PgEmitError::Event(e) => Some(e),
            PgEmitError::Database(e) => Some(e),
        }
    }
}

impl PostgresAudit {
    /// Writes `event` into the outbox through `conn`, normally the caller's open transaction
    /// (`&mut *tx`): the event exists if and only if that transaction commits. Returns its ID.
    ///
    /// # Errors
    ///
    /// [`PgEmitError`] when the event does not serialize or the insert fails (which aborts
    /// the caller's transaction, as any failed statement does in Postgres).
    pub async fn emit_in<E: AuditEvent>(
        &self,
        conn: &mut PgConnection,
        context: &Context,
        event: E,
    ) -> Result<EventId, PgEmitError> {
        let envelope = Envelope::from_event(&event, context).map_err(PgEmitError::Event)?;
        self.emit_envelope_in(conn, &envelope).await
    }

    /// Writes a built envelope into the outbox through `conn`; see
    /// [`emit_in`](PostgresAudit::emit_in).
    ///
    /// # Errors
    ///
    /// [`PgEmitError::Database`] when the insert fails.
    pub async fn emit_envelope_in(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> Result<EventId, PgEmitError> {
        sqlx::query(AssertSqlSafe(Arc::clone(&self.sql.insert_outbox)))
            .bind(envelope.id.to_string())
            .bind(envelope.to_json())
            .execute(conn)
            .await
            .map_err(PgEmitError::Database)?;
        Ok(envelope.id)
    }

    /// Starts the outbox relay on a thread of its own: it polls the outbox, hands committed
    /// events to `others` (an auditor with the other sinks, not this Postgres store), waits
    /// until they are written, then chains them into `audit_events` and deletes them from the
    /// outbox in one transaction. Also creates the tables if missing.
    ///
    /// # Errors
    ///
    /// A [`SinkError`] when Postgres cannot be reached or the thread cannot start.
    pub fn relay(&self, url: &str, others: Auditor) -> Result<OutboxRelay, SinkError> {
        self.relay_with(url, others, Duration::from_millis(100))
    }

    /// As [`relay`](PostgresAudit::relay), polling an empty outbox every `poll_every`.
    ///
    /// # Errors
    ///
    /// As [`relay`](PostgresAudit::relay).
    pub fn relay_with(
        &self,
        url: &str,
        others: Auditor,
        poll_every: Duration,
    ) -> Result<OutboxRelay, SinkError> {
        let sql = Arc::clone(&self.sql);
        let (runtime, pool) = super::start(url, &sql)?;
        let shared = Arc::new(RelayShared::default());
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("audit-outbox-relay".to_owned())
            .spawn(move || {
                runtime.block_on(run(&pool, &sql, &others, &thread_shared, poll_every));
            })
            .map_err(|e| SinkError::io("starting the outbox relay thread", e))?;
        Ok(OutboxRelay {
            shared,
            thread: Some(thread),
        })
    }
}

#[derive(Default)]
struct RelayShared {
    stop: AtomicBool,
    relayed: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// The running outbox relay; stops (after a last pass) when dropped or by
/// [`stop`](OutboxRelay::stop).
pub struct OutboxRelay {
    shared: Arc<RelayShared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay")
            .field("relayed", &self.relayed())
            .field("failures", &self.failures())
            .finish_non_exhaustive()
    }
}

impl OutboxRelay {
    /// Events moved from the outbox into the chain so far.
    #[must_use]
    pub fn relayed(&self) -> u64 {
        self.shared.relayed.load(Ordering::Relaxed)
    }

    /// Failed relay passes so far (each is retried).
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::Relaxed)
    }

    /// The error of the last failed pass, until a pass succeeds.
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        self.shared
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops after a last pass over the outbox, and waits for the thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for OutboxRelay {
    fn drop(&mut self) {
        self.halt();
    }
}

const RELAY_BATCH: i64 = 500;

async fn run(
    pool: &sqlx::PgPool,
    sql: &store::Statements,
    others: &Auditor,
    shared: &RelayShared,
    poll_every: Duration,
) {
    let mut backoff = poll_every;
    loop {
        let stopping = shared.stop.load(Ordering::Relaxed);
        match pass(pool, sql, others).await {
            Ok(n) => {
                shared.relayed.fetch_add(n, Ordering::Relaxed);
                *shared
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                backoff = poll_every;
                if n > 0 {
                    continue;
                }
                if stopping {
                    return;
                }
                tokio::time::sleep(poll_every).await;
            }
            Err(e) => {
                shared.failures.fetch_add(1, Ordering::Relaxed);
                *shared
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
                if stopping {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Why a relay pass failed.
#[derive(Debug)]
enum PassError {
    Pg(PgError),
    Forward(String),
}

impl std::fmt::Display for PassError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassError::Pg(e) => std::fmt::Display::fmt(e, f),
            PassError::Forward(e) => write!(f, "forwarding to the other sinks: {e}"),
        }
    }
}

impl From<sqlx::Error> for PassError {
    fn from(e: sqlx::Error) -> Self {
        PassError::Pg(PgError::Database(e))
    }
}

impl From<PgError> for PassError {
    fn from(e: PgError) -> Self {
        PassError::Pg(e)
    }
}

/// One pass: takes committed outbox rows, forwards them, chains and deletes them.
async fn pass(
    pool: &sqlx::PgPool,
    sql: &store::Statements,
    others: &Auditor,
) -> Result<u64, PassError> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(AssertSqlSafe(Arc::clone(&sql.take_outbox)))
        .bind(RELAY_BATCH)
        .fetch_all(&mut *tx)
        .await?;
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let mut outbox_seqs = Vec::with_capacity(rows.len());
    let mut envelopes = Vec::with_capacity(rows.len());
    for row in rows {
        let outbox_seq: i64 = row.try_get(0)?;
        let text: String = row.try_get(1)?;
        let envelope: Envelope = serde_json::from_str(&text).map_err(|e| PgError::Corrupt {
            seq: u64::try_from(outbox_seq).unwrap_or(0),
            detail: format!("outbox row {outbox_seq}: {e}"),
        })?;
        outbox_seqs.push(outbox_seq);
        envelopes.push(envelope);
    }
    // Forward first, and wait until the other sinks hold the events: a crash after this
    // point forwards them again (at least once), never loses them.
    for envelope in &envelopes {
        match others.emit_envelope(envelope.clone()) {
            Ok(_) | Err(crate::EmitError::NotDurable { .. }) => {}
            Err(e) => return Err(PassError::Forward(e.to_string())),
        }
    }
    others
        .flush()
        .map_err(|e| PassError::Forward(e.to_string()))?;
    let sealed: Vec<Sealed> = envelopes.into_iter().map(Sealed::new).collect();
    store::append(&mut tx, sql, sealed.iter()).await?;
    sqlx::query(AssertSqlSafe(Arc::clone(&sql.delete_outbox)))
        .bind(&outbox_seqs)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(sealed.len() as u64)
}
