//! [`SqliteSink`] and [`SqliteLog`]: the embedded, queryable store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

use super::{Batch, Sink, SinkError};
use crate::chain::{Anchor, ChainHead, VerifyError, VerifyReport};
use crate::query::sql::Runs;

mod checkpoint;
mod log;
mod schema;

pub use log::{QueryError, SqliteLog};

/// The page size of a new database.
const PAGE_SIZE: i64 = 16_384;

/// Opens a connection with the settings every handle uses.
fn connect(path: &Path, create: bool) -> Result<Connection, rusqlite::Error> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    if create {
        // For a new database (set before WAL mode; an existing one keeps its size): 16 KiB
        // pages rather than 4 KiB take a third less of the writer's time, with a quarter of
        // the WAL frames, B-tree splits and write calls per event.
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    }
    // WAL: readers run while a writer writes. FULL: a commit is durable when it returns.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // The default page cache (2 MiB) holds little of the indexes queries read: 64 MiB at
    // most, allocated as pages are read.
    conn.pragma_update(None, "cache_size", -65_536)?;
    // Checkpoint every 32 MiB of WAL rather than 4 MiB: index pages that many batches dirty
    // are copied back once per checkpoint, not once per few batches.
    conn.pragma_update(None, "wal_autocheckpoint", 8_192)?;
    Ok(conn)
}

fn corrupt_or_io(path: &Path, doing: &str, e: &rusqlite::Error) -> SinkError {
    SinkError::Corrupt {
        path: path.to_owned(),
        detail: format!("{doing}: {e} (is this an audit SQLite database, written by SqliteSink?)"),
    }
}

/// Stores envelopes in an SQLite database (feature `sqlite`, bundled SQLite): the embedded
/// default, and queryable with [`SqliteLog`].
///
/// - WAL mode, so readers run while the sink writes; each batch is one transaction, durable
///   when it commits (`synchronous = FULL`).
/// - The same hash chain as [`JsonlSink`](super::JsonlSink): each row keeps the envelope as
///   written (with `seq`, `prev_hash` and `hash`), and [`SqliteSink::verify`] checks it.
///   Several writers (processes or sinks) on one file take turns on SQLite's write lock and
///   continue one chain.
/// - What queries need is indexed: the event ID, action and time (microseconds since the Unix
///   epoch) as columns, and every actor (including on-behalf-of), subject and request ID in
///   side tables. ID columns use the `BINARY` collation, so string order is byte order. The
///   rest is in the envelope, readable with SQLite's JSON functions.
/// - Built for a steady write rate as the log grows. The actor, subject and request-id side
///   tables are keyed by index *run* (65,536 consecutive events) first, so a batch inserts into
///   the few pages of the current run rather than one random page of a whole index per ID;
///   a query seeks once per run, newest first, and stops when its page is full. A thread of
///   the sink copies the WAL back into the database file while the writer goes on. New
///   databases use 16 KiB pages. On a 2-core machine: about 100k events/s, sustained past a
///   million events, and under half a millisecond for the newest 50 events of an actor or a
///   subject among a million (warm cache).
/// - Larger batches ([`AuditorBuilder::batch_size`](crate::AuditorBuilder::batch_size), 8192
///   by default) cost less per event: each transaction rewrites the run's pages it touches.
/// - A database written by an older audit-core (layout version 1) is upgraded in place when a
///   sink opens it ([`SqliteLog`] refuses it and changes nothing); one written by a newer
///   audit-core is refused with its version.
///
/// The tables, for reading the log with SQL (layout version 2):
///
/// | table | columns | key |
/// | --- | --- | --- |
/// | `audit_events` | `seq`, `id`, `action`, `occurred_at` (microseconds since the Unix epoch), `hash`, `envelope` (the JSON line, with `prev_hash`) | `seq` |
/// | `audit_actors`, `audit_subjects`, `audit_requests` | `run`, `actor_id` / `subject_id` / `request_id`, `seq` | `(run, id, seq)`; `run` is `seq >> run_bits` |
/// | `audit_runs` | `run` | the runs that hold rows |
/// | `audit_meta` | `key`, `value`: `layout`, `run_bits`, and after retention `cut_seq` and `cut_hash` | `key` |
///
/// What a row does not repeat is in its envelope: `SELECT seq, envelope ->> '$.outcome' FROM
/// audit_events WHERE envelope ->> '$.actor.id' = 'user_...'` reads without an index;
/// [`SqliteLog`] queries through the side tables.
///
/// ```standalone_crate
/// use audit_core::{Auditor, sink::SqliteSink, query::Query};
/// # let dir = std::env::temp_dir().join(format!("audit-sqlite-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let path = dir.join("audit.db");
/// let sink = SqliteSink::open(&path)?;
/// let log = sink.log()?;                       // a reader, for queries
/// let auditor = Auditor::builder().sink(sink).build()?;
/// // ... auditor.emit(...) ...
/// let page = log.query(&Query::new().action("widget.*"))?;
/// assert!(page.events.is_empty());
/// assert_eq!(SqliteSink::verify(&path)?.events, 0);
/// # drop(auditor);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteSink {
    // Stopped before the writer closes, which then checkpoints what is left.
    _checkpointer: checkpoint::Checkpointer,
    conn: Connection,
    path: PathBuf,
    runs: Runs,
}

impl std::fmt::Debug for SqliteSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSink")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteSink {
    /// Opens (or creates) the database and its tables. A database written by an older
    /// audit-core (layout version 1) is upgraded in place, in one transaction; the audit
    /// tables may share the file with an application's own.
    ///
    /// # Errors
    ///
    /// A [`SinkError`] when the file cannot be opened, is not an SQLite database, is shorter
    /// than its header says (truncated), or was written by a newer audit-core.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SinkError> {
        Self::open_with_runs(path.as_ref(), Runs::DEFAULT)
    }

    /// Opens as [`SqliteSink::open`], creating a new database with index runs of
    /// `2^run_bits` events rather than 65,536: for tests that need many runs in few events.
    #[doc(hidden)]
    pub fn __open_with_run_bits(path: impl AsRef<Path>, run_bits: u32) -> Result<Self, SinkError> {
        Self::open_with_runs(
            path.as_ref(),
            Runs {
                bits: run_bits.min(62),
            },
        )
    }

    fn open_with_runs(path: &Path, runs: Runs) -> Result<Self, SinkError> {
        let path = path.to_owned();
        let mut conn = connect(&path, true).map_err(|e| corrupt_or_io(&path, "opening", &e))?;
        let runs =
            schema::prepare(&mut conn, &path, Some(runs)).map_err(|e| SinkError::Corrupt {
                path: path.clone(),
                detail: format!("preparing the audit tables: {e}"),
            })?;
        let checkpointer = checkpoint::Checkpointer::start(&path, &mut conn)?;
        Ok(SqliteSink {
            _checkpointer: checkpointer,
            conn,
            path,
            runs,
        })
    }

    /// A reader on the same database, for queries while the sink writes.
    ///
    /// # Errors
    ///
    /// A [`QueryError`] when the database cannot be opened.
    pub fn log(&self) -> Result<SqliteLog, QueryError> {
        SqliteLog::open(&self.path)
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Verifies the stored hash chain (from the retention cut point, if any), and that the
    /// indexed columns and side tables agree with the stored envelopes.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] naming the first broken `seq`.
    pub fn verify(path: impl AsRef<Path>) -> Result<VerifyReport, VerifyError> {
        SqliteLog::open(path.as_ref())
            .map_err(|e| VerifyError::Io(std::io::Error::other(e)))?
            .verify(None)
    }

    /// Verifies as [`SqliteSink::verify`], and against a trusted anchor.
    ///
    /// # Errors
    ///
    /// As [`SqliteSink::verify`], plus [`VerifyError::Truncated`] and
    /// [`VerifyError::AnchorMismatch`].
    pub fn verify_with_anchor(
        path: impl AsRef<Path>,
        anchor: &Anchor,
    ) -> Result<VerifyReport, VerifyError> {
        SqliteLog::open(path.as_ref())
            .map_err(|e| VerifyError::Io(std::io::Error::other(e)))?
            .verify(Some(anchor))
    }
}

/// The chain head: the last row, or the retention cut point when every row was removed.
fn head(tx: &Transaction<'_>) -> Result<ChainHead, rusqlite::Error> {
    let last = tx
        .query_row(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?;
    if let Some((seq, hash)) = last {
        return Ok(ChainHead {
            seq: u64::try_from(seq).unwrap_or(0),
            hash,
        });
    }
    Ok(cut_point(tx)?.unwrap_or_else(ChainHead::genesis))
}

fn cut_point(conn: &Connection) -> Result<Option<ChainHead>, rusqlite::Error> {
    let seq: Option<String> = conn
        .query_row(
            "SELECT value FROM audit_meta WHERE key = 'cut_seq'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let hash: Option<String> = conn
        .query_row(
            "SELECT value FROM audit_meta WHERE key = 'cut_hash'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match (seq.and_then(|s| s.parse().ok()), hash) {
        (Some(seq), Some(hash)) => Some(ChainHead { seq, hash }),
        _ => None,
    })
}

fn to_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

impl SqliteSink {
    /// Appends a batch in one transaction. With `skip_stored`, envelopes whose ID is already
    /// stored (or earlier in the batch) are left out; without, such an envelope fails the
    /// batch with [`AppendError::Duplicate`], at no cost to batches without one.
    fn append(&mut self, batch: &Batch<'_>, skip_stored: bool) -> Result<(), AppendError> {
        let path = self.path.clone();
        let db = |doing: &str| {
            let doing = doing.to_owned();
            let path = path.clone();
            move |e: rusqlite::Error| {
                AppendError::Failed(SinkError::io(
                    format!("{doing} {}", path.display()),
                    std::io::Error::other(e),
                ))
            }
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("starting a transaction on"))?;
        let mut head = head(&tx).map_err(db("reading the chain head of"))?;
        {
            let mut event = tx
                .prepare_cached(
                    "INSERT INTO audit_events (seq, id, action, occurred_at, hash, envelope) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(db("preparing an insert into"))?;
            // Only on the second attempt: the usual batch pays nothing for it.
            let mut stored = skip_stored
                .then(|| tx.prepare_cached("SELECT 1 FROM audit_events WHERE id = ?1"))
                .transpose()
                .map_err(db("preparing a query on"))?;
            let mut seen = std::collections::HashSet::new();
            let mut json = Vec::with_capacity(1024);
            let mut entries = SideEntries::with_capacity(batch.len(), self.runs);
            for sealed in batch.sealed() {
                let envelope = sealed.envelope();
                let id = envelope.id.encode();
                if let Some(stored) = &mut stored
                    && (!seen.insert(envelope.id)
                        || stored
                            .exists([id.as_str()])
                            .map_err(db("looking up an event in"))?)
                {
                    continue;
                }
                let forms = sealed.writable().map_err(AppendError::Failed)?;
                json.clear();
                let ChainHead { seq, hash } = forms.link(&head, &mut json);
                // serde_json writes UTF-8.
                let json = std::str::from_utf8(&json).unwrap_or_default();
                let seq_i = to_i64(seq);
                event
                    .execute(params![
                        seq_i,
                        id.as_str(),
                        envelope.action.as_ref(),
                        envelope.occurred_at.unix_micros(),
                        hash,
                        json,
                    ])
                    .map_err(|e| match e.sqlite_error() {
                        Some(e) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
                            AppendError::Duplicate
                        }
                        _ => db("inserting an event into")(e),
                    })?;
                entries.add(envelope, seq_i);
                head = ChainHead { seq, hash };
            }
            entries
                .insert(&tx)
                .map_err(db("inserting index entries into"))?;
        }
        tx.commit().map_err(db("committing to"))?;
        Ok(())
    }
}

/// Why [`SqliteSink::append`] did not append a batch.
enum AppendError {
    /// An envelope's ID is stored already.
    Duplicate,
    Failed(SinkError),
}

impl Sink for SqliteSink {
    /// Appends the batch in one transaction. An envelope whose ID is stored already (one
    /// delivered again, by a relay that delivers at least once or a caller that retries) is
    /// skipped, as the Postgres sink does: it is in the chain once.
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        match self.append(&batch, false) {
            Ok(()) => Ok(()),
            Err(AppendError::Failed(e)) => Err(e),
            Err(AppendError::Duplicate) => match self.append(&batch, true) {
                Ok(()) => Ok(()),
                Err(AppendError::Failed(e)) => Err(e),
                Err(AppendError::Duplicate) => Err(SinkError::io(
                    format!("appending to {}", self.path.display()),
                    std::io::Error::other("an event ID is stored twice after skipping stored IDs"),
                )),
            },
        }
    }

    fn __writes_sealed_forms(&self) -> bool {
        true
    }

    fn name(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

/// A batch's side-table rows: `(run, id, seq)` of every actor, subject and request ID.
struct SideEntries<'a> {
    runs: Runs,
    actors: Vec<(i64, &'a str, i64)>,
    subjects: Vec<(i64, &'a str, i64)>,
    requests: Vec<(i64, &'a str, i64)>,
}

impl<'a> SideEntries<'a> {
    fn with_capacity(n: usize, runs: Runs) -> Self {
        SideEntries {
            runs,
            actors: Vec::with_capacity(n + n / 8),
            subjects: Vec::with_capacity(n + n / 4),
            requests: Vec::with_capacity(n),
        }
    }

    fn add(&mut self, envelope: &'a crate::Envelope, seq: i64) {
        let run = self.runs.of(seq);
        self.actors.push((run, envelope.actor.id.as_str(), seq));
        if let Some(principal) = &envelope.actor.on_behalf_of {
            self.actors.push((run, principal.id.as_str(), seq));
        }
        self.subjects
            .extend(envelope.subjects.iter().map(|s| (run, s.id.as_str(), seq)));
        if let Some(r) = envelope.context.request_id_str() {
            self.requests.push((run, r, seq));
        }
    }

    /// Inserts the rows in key order, so that consecutive rows land on the same or the next
    /// page of the current run, and records the runs.
    fn insert(mut self, tx: &Transaction<'_>) -> Result<(), rusqlite::Error> {
        /// Rows per statement: one statement run inserts many rows.
        const ROWS: usize = 64;
        for (table, rows) in [
            ("audit_actors (run, actor_id, seq)", &mut self.actors),
            ("audit_subjects (run, subject_id, seq)", &mut self.subjects),
            ("audit_requests (run, request_id, seq)", &mut self.requests),
        ] {
            rows.sort_unstable();
            let sql = |n: usize| {
                let values = vec!["(?, ?, ?)"; n].join(", ");
                format!("INSERT OR IGNORE INTO {table} VALUES {values}")
            };
            let mut chunks = rows.chunks_exact(ROWS);
            let mut many = tx.prepare_cached(&sql(ROWS))?;
            for chunk in &mut chunks {
                for (i, (run, id, seq)) in chunk.iter().enumerate() {
                    many.raw_bind_parameter(3 * i + 1, run)?;
                    many.raw_bind_parameter(3 * i + 2, id)?;
                    many.raw_bind_parameter(3 * i + 3, seq)?;
                }
                many.raw_execute()?;
            }
            let mut one = tx.prepare_cached(&sql(1))?;
            for (run, id, seq) in chunks.remainder() {
                one.execute(params![run, id, seq])?;
            }
        }
        // Every event has an actor row, sorted by run above: one group per run.
        let mut stmt = tx.prepare_cached("INSERT OR IGNORE INTO audit_runs (run) VALUES (?1)")?;
        for same_run in self.actors.chunk_by(|a, b| a.0 == b.0) {
            stmt.execute([same_run[0].0])?;
        }
        Ok(())
    }
}
