//! Postgres (feature `postgres`): [`PostgresSink`], emitting inside the caller's own
//! transaction ([`PostgresAudit::emit_in`]) with an outbox and its [`OutboxRelay`], and
//! queries on the stored log ([`PostgresLog`]).
//!
//! # Guarantees
//!
//! - **Direct writes** (`Auditor::builder().sink(postgres.sink(url)?)`): each batch is one
//!   transaction; an event is durable in Postgres when `emit` (synchronous mode) or `flush`
//!   (background mode) returns.
//! - **In the caller's transaction** (`postgres.emit_in(&mut *tx, &ctx, event).await?`): the
//!   envelope is written to the `audit_outbox` table by the caller's transaction, so it exists
//!   if and only if that transaction commits: an event for a rolled-back change never exists,
//!   and a committed change always has its event. The [`OutboxRelay`] then moves committed
//!   events into the hash-chained `audit_events` table, in the order their commits became
//!   visible, and hands them to an auditor with the other sinks. The relay forwards a batch
//!   (and waits until it is written) before it deletes it from the outbox in the same
//!   transaction that chains it: a crash in between forwards it again, so other sinks see each
//!   event **at least once** and should deduplicate by event ID (the NATS sink does). An
//!   event joins the Postgres chain exactly once.
//! - **The chain** is kept valid under concurrent writers: every writer (sink or relay) takes
//!   the row lock of the single `audit_chain_head` row for its transaction, so appends are
//!   serialized, and an event whose ID is already stored is skipped (a retried batch never
//!   doubles an event). The envelope is stored as text (`text`, not `jsonb`), exactly as
//!   hashed. ID columns use `COLLATE "C"`, so string order is byte order.
//!
//! All tables live in one Postgres schema (default `audit`), created idempotently.
//!
//! ```no_run
//! # async fn doc(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
//! use audit_core::{Auditor, Context, sink::postgres::PostgresAudit, sink::MemorySink};
//! # use audit_core::{AuditEvent, EntityRef, PrefixedId};
//! # #[derive(PrefixedId)]
//! # #[id(prefix = "user")]
//! # pub struct UserId([u8; 16]);
//! # #[derive(AuditEvent)]
//! # #[audit(action = "user.renamed")]
//! # pub struct UserRenamed { #[audit(actor, subject)] pub user: EntityRef<UserId>, pub name: String }
//! let postgres = PostgresAudit::new();
//! postgres.migrate(&pool).await?;
//!
//! // Relay committed events to the other sinks (here a memory sink).
//! let others = Auditor::builder().sink(MemorySink::new()).build()?;
//! let relay = postgres.relay("postgres://localhost/app", others)?;
//!
//! let mut tx = pool.begin().await?;
//! // ... the business change, in `tx` ...
//! let user = EntityRef::new(UserId::new(), "Alice");
//! postgres
//!     .emit_in(&mut *tx, &Context::new(), UserRenamed { user, name: "Alicia".into() })
//!     .await?;
//! tx.commit().await?; // the event exists now, and only now
//! # relay.stop();
//! # Ok(()) }
//! ```

mod log;
mod outbox;
mod store;

use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub use log::PostgresLog;
pub use outbox::{OutboxRelay, PgEmitError};

use super::{Batch, Sink, SinkError};

/// The audit tables in one Postgres schema: creates them, and makes the sink, the outbox
/// relay and the log that use them.
#[derive(Clone, Debug)]
pub struct PostgresAudit {
    sql: Arc<store::Statements>,
}

impl Default for PostgresAudit {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a Postgres operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum PgError {
    /// The schema name is not a plain lowercase identifier.
    BadSchema(String),
    /// Postgres or the connection failed.
    Database(sqlx::Error),
    /// A stored envelope is not valid JSON of an envelope.
    Corrupt {
        /// The row's `seq`.
        seq: u64,
        /// What the parser said.
        detail: String,
    },
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PgError::BadSchema(s) => write!(
                f,
                "`{s}` is not a usable schema name: expected 1 to 63 characters of a-z, 0-9 and \
                 _, starting with a letter"
            ),
            PgError::Database(e) => write!(f, "Postgres: {e}"),
            PgError::Corrupt { seq, detail } => {
                write!(
                    f,
                    "the stored event at seq {seq} is not a valid envelope: {detail}"
                )
            }
        }
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PgError::Database(e) => Some(e),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for PgError {
    fn from(e: sqlx::Error) -> Self {
        PgError::Database(e)
    }
}

impl PostgresAudit {
    /// The tables in the schema `audit`.
    #[must_use]
    pub fn new() -> Self {
        PostgresAudit {
            sql: Arc::new(store::Statements::new("audit")),
        }
    }

    /// The tables in another schema (a plain lowercase identifier).
    ///
    /// # Errors
    ///
    /// [`PgError::BadSchema`] for any other name.
    pub fn in_schema(schema: &str) -> Result<Self, PgError> {
        let mut chars = schema.chars();
        let ok = schema.len() <= 63
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(PgError::BadSchema(schema.to_owned()));
        }
        Ok(PostgresAudit {
            sql: Arc::new(store::Statements::new(schema)),
        })
    }

    /// The schema's name.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.sql.schema
    }

    /// Creates the schema and tables if missing; safe to run concurrently and repeatedly.
    ///
    /// # Errors
    ///
    /// [`PgError::Database`] when Postgres refuses.
    pub async fn migrate(&self, pool: &PgPool) -> Result<(), PgError> {
        let mut conn = pool.acquire().await?;
        store::migrate(&mut conn, &self.sql).await
    }

    /// A sink writing directly into the chained table, with its own connection pool and
    /// runtime (it is called from the auditor's worker thread). Creates the tables if
    /// missing.
    ///
    /// # Errors
    ///
    /// A [`SinkError`] when Postgres cannot be reached or refuses.
    pub fn sink(&self, url: &str) -> Result<PostgresSink, SinkError> {
        let sql = Arc::clone(&self.sql);
        let (runtime, pool) = start(url, &sql)?;
        Ok(PostgresSink {
            runtime,
            pool,
            sql,
            name: format!("postgres:{}", self.sql.schema),
        })
    }

    /// Reads the stored log.
    #[must_use]
    pub fn log(&self, pool: PgPool) -> PostgresLog {
        PostgresLog::new(pool, Arc::clone(&self.sql))
    }
}

/// A runtime of the sink's own and a pool connected on it, with the tables created. Runs on
/// a thread of its own, so that it works when called from inside an async runtime too.
fn start(
    url: &str,
    sql: &store::Statements,
) -> Result<(tokio::runtime::Runtime, PgPool), SinkError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| SinkError::io("starting the Postgres runtime", e))?;
                let pool = runtime
                    .block_on(async {
                        let pool = connect(url).await?;
                        let mut conn = pool.acquire().await?;
                        store::migrate(&mut conn, sql).await?;
                        drop(conn);
                        Ok::<_, PgError>(pool)
                    })
                    .map_err(SinkError::other)?;
                Ok((runtime, pool))
            })
            .join()
            .unwrap_or_else(|_| Err(SinkError::other("the Postgres setup thread panicked")))
    })
}

async fn connect(url: &str) -> Result<PgPool, PgError> {
    let options: PgConnectOptions = url.parse()?;
    Ok(PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(options)
        .await?)
}

/// Writes envelopes into the chained `audit_events` table, one transaction per batch. Made by
/// [`PostgresAudit::sink`].
pub struct PostgresSink {
    runtime: tokio::runtime::Runtime,
    pool: PgPool,
    sql: Arc<store::Statements>,
    name: String,
}

impl std::fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSink")
            .field("schema", &self.sql.schema)
            .finish_non_exhaustive()
    }
}

impl Sink for PostgresSink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        let pool = &self.pool;
        let sql = &self.sql;
        self.runtime
            .block_on(async {
                let mut tx = pool.begin().await?;
                store::append(&mut tx, sql, batch.sealed()).await?;
                tx.commit().await?;
                Ok::<_, PgError>(())
            })
            .map_err(SinkError::other)
    }

    fn __writes_sealed_forms(&self) -> bool {
        true
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}
