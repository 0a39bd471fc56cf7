//! [`SqliteSink`] and [`SqliteLog`]: the embedded, queryable store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

use super::{Batch, RetentionReport, Sink, SinkError};
use crate::chain::{Anchor, ChainHead, Verifier, VerifyError, VerifyReport};
use crate::query::sql::{Param, Placeholder, SqlQuery};
use crate::query::{ActionFilter, Page, Query};
use crate::{Envelope, EventId, Timestamp};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_events (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL COLLATE BINARY UNIQUE,
    action          TEXT NOT NULL COLLATE BINARY,
    occurred_at     TEXT NOT NULL COLLATE BINARY,
    outcome         TEXT NOT NULL,
    actor_type      TEXT NOT NULL,
    actor_id        TEXT NOT NULL COLLATE BINARY,
    request_id      TEXT COLLATE BINARY,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL,
    envelope        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_action ON audit_events (action, seq);
CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events (occurred_at);
CREATE INDEX IF NOT EXISTS audit_events_request ON audit_events (request_id) WHERE request_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS audit_actors (
    actor_id        TEXT NOT NULL COLLATE BINARY,
    seq             INTEGER NOT NULL REFERENCES audit_events (seq) ON DELETE CASCADE,
    PRIMARY KEY (actor_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_subjects (
    subject_id      TEXT NOT NULL COLLATE BINARY,
    seq             INTEGER NOT NULL REFERENCES audit_events (seq) ON DELETE CASCADE,
    PRIMARY KEY (subject_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_actors_seq ON audit_actors (seq);
CREATE INDEX IF NOT EXISTS audit_subjects_seq ON audit_subjects (seq);
CREATE TABLE IF NOT EXISTS audit_meta (
    key             TEXT PRIMARY KEY,
    value           TEXT NOT NULL
);
";

/// Opens a connection with the settings every handle uses.
fn connect(path: &Path, create: bool) -> Result<Connection, rusqlite::Error> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // WAL: readers run while a writer writes. FULL: a commit is durable when it returns.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The default page cache (2 MiB) holds little of the actor and subject indexes, which
    // inserts touch at random places: 64 MiB at most, allocated as pages are read.
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
/// - What queries need sits in indexed columns: the event ID, action, time, actor, request id,
///   and side tables of every actor (including on-behalf-of) and subject ID. ID columns use
///   the `BINARY` collation, so string order is byte order.
/// - Throughput is bound by SQLite's page writes: each event lands on its own pages of the
///   actor, subject and request-id indexes, and every page a transaction changes is written
///   to the WAL whole. A batch is one transaction, so larger batches cost less per event
///   ([`AuditorBuilder::batch_size`](crate::AuditorBuilder::batch_size), 8192 by default;
///   raise it for bulk imports). On a 2-core machine: about 50k events/s into a new
///   database, 30k/s at 300k events, 20k/s on average up to a million.
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
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSink")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteSink {
    /// Opens (or creates) the database and its schema.
    ///
    /// # Errors
    ///
    /// A [`SinkError`] when the file cannot be opened or is not an SQLite database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SinkError> {
        let path = path.as_ref().to_owned();
        let conn = connect(&path, true).map_err(|e| corrupt_or_io(&path, "opening", &e))?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| corrupt_or_io(&path, "creating the audit schema", &e))?;
        Ok(SqliteSink { conn, path })
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

impl Sink for SqliteSink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        let path = self.path.clone();
        let db = |doing: &str| {
            let doing = doing.to_owned();
            let path = path.clone();
            move |e: rusqlite::Error| {
                SinkError::io(
                    format!("{doing} {}", path.display()),
                    std::io::Error::other(e),
                )
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
                    "INSERT INTO audit_events (seq, id, action, occurred_at, outcome, actor_type, \
                     actor_id, request_id, prev_hash, hash, envelope) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(db("preparing an insert into"))?;
            let mut actor = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO audit_actors (actor_id, seq) VALUES (?1, ?2)",
                )
                .map_err(db("preparing an insert into"))?;
            let mut subject = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO audit_subjects (subject_id, seq) VALUES (?1, ?2)",
                )
                .map_err(db("preparing an insert into"))?;
            let mut json = Vec::with_capacity(1024);
            let mut actors: Vec<(&str, i64)> = Vec::with_capacity(batch.len());
            let mut subjects: Vec<(&str, i64)> = Vec::with_capacity(batch.len());
            for sealed in batch.sealed() {
                let envelope = sealed.envelope();
                let forms = sealed.writable()?;
                json.clear();
                let ChainHead { seq, hash } = forms.link(&head, &mut json);
                // serde_json writes UTF-8.
                let json = std::str::from_utf8(&json).unwrap_or_default();
                let seq_i = to_i64(seq);
                event
                    .execute(params![
                        seq_i,
                        envelope.id.encode().as_str(),
                        envelope.action.as_ref(),
                        envelope.occurred_at.to_string(),
                        envelope.outcome.as_str(),
                        envelope.actor.kind.as_ref(),
                        envelope.actor.id,
                        envelope.context.request_id_str(),
                        head.hash,
                        hash,
                        json,
                    ])
                    .map_err(db("inserting an event into"))?;
                actors.push((envelope.actor.id.as_str(), seq_i));
                if let Some(principal) = &envelope.actor.on_behalf_of {
                    actors.push((principal.id.as_str(), seq_i));
                }
                subjects.extend(envelope.subjects.iter().map(|s| (s.id.as_str(), seq_i)));
                head = ChainHead { seq, hash };
            }
            // The side tables' keys are random (which actor, which subject): inserted in key
            // order, consecutive rows land on the same or the next leaf page, which is then
            // still in cache, rather than anywhere in the index.
            actors.sort_unstable();
            subjects.sort_unstable();
            for (id, seq) in actors {
                actor
                    .execute(params![id, seq])
                    .map_err(db("inserting an actor into"))?;
            }
            for (id, seq) in subjects {
                subject
                    .execute(params![id, seq])
                    .map_err(db("inserting a subject into"))?;
            }
        }
        tx.commit().map_err(db("committing to"))?;
        Ok(())
    }

    fn __writes_sealed_forms(&self) -> bool {
        true
    }

    fn name(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

/// Why a query on a stored log failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum QueryError {
    /// The database could not be opened or read.
    Database {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A stored envelope is not valid JSON of an envelope.
    Corrupt {
        /// The row's `seq`.
        seq: u64,
        /// What the parser said.
        detail: String,
    },
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Database { path, source } => write!(
                f,
                "cannot read the audit database {}: {source} (is it an audit SQLite database, \
                 written by SqliteSink?)",
                path.display()
            ),
            QueryError::Corrupt { seq, detail } => {
                write!(
                    f,
                    "the stored event at seq {seq} is not a valid envelope: {detail}"
                )
            }
        }
    }
}

impl std::error::Error for QueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QueryError::Database { source, .. } => Some(source),
            QueryError::Corrupt { .. } => None,
        }
    }
}

/// A reader (and retention handle) on an SQLite audit database; open as many as you like,
/// also while a [`SqliteSink`] writes.
pub struct SqliteLog {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteLog {
    /// Opens an existing audit database.
    ///
    /// # Errors
    ///
    /// [`QueryError::Database`] when the file does not exist or is not an audit database.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, QueryError> {
        let path = path.as_ref().to_owned();
        let err = |source| QueryError::Database {
            path: path.clone(),
            source,
        };
        let conn = connect(&path, false).map_err(err)?;
        // Fails on a file that is not an audit database.
        conn.query_row("SELECT count(*) FROM audit_meta", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(err)?;
        Ok(SqliteLog { conn, path })
    }

    fn db_err(&self, source: rusqlite::Error) -> QueryError {
        QueryError::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// One page of the events matching `query`, newest first.
    ///
    /// # Errors
    ///
    /// A [`QueryError`] when the database cannot be read or a stored envelope is corrupt.
    pub fn query(&self, query: &Query) -> Result<Page, QueryError> {
        let limit = query.limit_value();
        let rows = match self.split_by_action(query)? {
            // Each part is newest first; the page is the newest `limit + 1` of them all.
            Some(parts) => {
                let mut rows = Vec::new();
                for part in &parts {
                    rows.extend(self.rows(part, limit + 1)?);
                }
                rows.sort_unstable_by_key(|row| std::cmp::Reverse(row.0));
                rows.truncate(limit + 1);
                rows
            }
            None => self.rows(query, limit + 1)?,
        };
        let more = rows.len() > limit;
        let mut events = Vec::with_capacity(limit);
        for (seq, json) in rows.into_iter().take(limit) {
            events.push(parse(seq, &json)?);
        }
        Ok(Page::of(events, more))
    }

    /// `seq` and envelope text of at most `n` rows matching `query`, newest first.
    fn rows(&self, query: &Query, n: usize) -> Result<Vec<(i64, String)>, QueryError> {
        let sql = SqlQuery::build(query, "", Placeholder::Question);
        let mut stmt = self
            .conn
            .prepare_cached(&sql.page(n))
            .map_err(|e| self.db_err(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(sqlite_params(&sql)), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.db_err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.db_err(e))
    }

    /// An action prefix (`"widget.*"`) read from the events table would have SQLite collect
    /// and sort every matching event for each page (seconds on a million events): the
    /// `(action, seq)` index gives them in action order, not `seq` order. Split such a query
    /// into one query per stored action under the prefix (found with a few index seeks),
    /// each read newest first from the index. `None` when the query is fine as it is (an
    /// actor, subject or request id drives it, or the prefix covers too many actions).
    fn split_by_action(&self, query: &Query) -> Result<Option<Vec<Query>>, QueryError> {
        const MAX_PARTS: usize = 64;
        let Some(ActionFilter::Prefix(prefix)) = &query.action else {
            return Ok(None);
        };
        if query.actor.is_some() || query.subject.is_some() || query.request_id.is_some() {
            return Ok(None);
        }
        let mut upper = prefix.clone();
        upper.pop();
        upper.push('/');
        let mut first = self
            .conn
            .prepare_cached(
                "SELECT min(action) FROM audit_events WHERE action >= ?1 AND action < ?2",
            )
            .map_err(|e| self.db_err(e))?;
        let mut next = self
            .conn
            .prepare_cached(
                "SELECT min(action) FROM audit_events WHERE action > ?1 AND action < ?2",
            )
            .map_err(|e| self.db_err(e))?;
        let mut parts = Vec::new();
        let mut action: Option<String> = first
            .query_row(params![prefix, upper], |r| r.get(0))
            .map_err(|e| self.db_err(e))?;
        while let Some(a) = action {
            if parts.len() == MAX_PARTS {
                return Ok(None);
            }
            action = next
                .query_row(params![a, upper], |r| r.get(0))
                .map_err(|e| self.db_err(e))?;
            let mut part = query.clone();
            part.action = Some(ActionFilter::Exact(a));
            parts.push(part);
        }
        Ok(Some(parts))
    }

    /// How many events match `query` (its cursor and limit are ignored).
    ///
    /// # Errors
    ///
    /// A [`QueryError`] when the database cannot be read.
    pub fn count(&self, query: &Query) -> Result<u64, QueryError> {
        let mut q = query.clone();
        q.after = None;
        let sql = SqlQuery::build(&q, "", Placeholder::Question);
        let text = sql.count();
        let n: i64 = self
            .conn
            .query_row(
                &text,
                rusqlite::params_from_iter(sqlite_params(&sql)),
                |r| r.get(0),
            )
            .map_err(|e| self.db_err(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The event with this ID, if stored.
    ///
    /// # Errors
    ///
    /// A [`QueryError`] when the database cannot be read.
    pub fn get(&self, id: EventId) -> Result<Option<Envelope>, QueryError> {
        let row: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT seq, envelope FROM audit_events WHERE id = ?1",
                [id.encode().as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.db_err(e))?;
        row.map(|(seq, json)| parse(seq, &json)).transpose()
    }

    /// Deletes the events that occurred before `t`, from the start of the log up to the first
    /// event at or after `t`, and records the cut point (`seq` and `hash` of the last removed
    /// event), from which [`SqliteSink::verify`] then starts. Tampering after the cut is still
    /// caught; keep an [`Anchor`] elsewhere to also protect the cut record itself.
    ///
    /// # Errors
    ///
    /// A [`QueryError`] when the database cannot be written.
    pub fn delete_before(&mut self, t: Timestamp) -> Result<RetentionReport, QueryError> {
        let path = self.path.clone();
        let err = |source| QueryError::Database {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let first_kept: Option<i64> = tx
            .query_row(
                "SELECT min(seq) FROM audit_events WHERE occurred_at >= ?1",
                [t.to_string()],
                |r| r.get(0),
            )
            .map_err(err)?;
        let cut_below = match first_kept {
            Some(seq) => seq,
            None => tx
                .query_row(
                    "SELECT coalesce(max(seq), 0) + 1 FROM audit_events",
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?,
        };
        let last_removed: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM audit_events WHERE seq < ?1 ORDER BY seq DESC LIMIT 1",
                [cut_below],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)?;
        let Some((cut_seq, cut_hash)) = last_removed else {
            let cut = cut_point(&tx)
                .map_err(err)?
                .unwrap_or_else(ChainHead::genesis);
            return Ok(RetentionReport { deleted: 0, cut });
        };
        let deleted = tx
            .execute("DELETE FROM audit_events WHERE seq <= ?1", [cut_seq])
            .map_err(err)?;
        tx.execute(
            "INSERT INTO audit_meta (key, value) VALUES ('cut_seq', ?1), ('cut_hash', ?2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![cut_seq.to_string(), cut_hash],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(RetentionReport {
            deleted: deleted as u64,
            cut: ChainHead {
                seq: u64::try_from(cut_seq).unwrap_or(0),
                hash: cut_hash,
            },
        })
    }

    /// Verifies the chain from the cut point (or from seq 1), checking that each row's
    /// indexed columns and side-table entries agree with its envelope.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] naming the first broken `seq`.
    pub fn verify(&self, anchor: Option<&Anchor>) -> Result<VerifyReport, VerifyError> {
        let io = |e: rusqlite::Error| VerifyError::Io(std::io::Error::other(e));
        let start = cut_point(&self.conn).map_err(io)?;
        let mut verifier = match start {
            Some(head) => Verifier::starting_after(head),
            None => Verifier::new(),
        };
        if let Some(anchor) = anchor {
            // An anchor at the cut point is checked against the cut record; one before it
            // fell to retention and cannot be checked.
            verifier.check_anchor_at(anchor)?;
        }
        // Every column and side-table entry a query or the next append reads is compared
        // with the envelope: the ID sets as JSON arrays (names may hold any character).
        let mut stmt = self
            .conn
            .prepare(
                "SELECT e.seq, e.envelope, e.id, e.action, e.occurred_at, e.outcome, \
                 e.actor_type, e.actor_id, e.request_id, e.prev_hash, e.hash, \
                 (SELECT json_group_array(subject_id) FROM (SELECT subject_id FROM \
                 audit_subjects s WHERE s.seq = e.seq ORDER BY subject_id)), \
                 (SELECT json_group_array(actor_id) FROM (SELECT actor_id FROM audit_actors a \
                 WHERE a.seq = e.seq ORDER BY actor_id)) \
                 FROM audit_events e ORDER BY e.seq",
            )
            .map_err(io)?;
        let mut rows = stmt.query([]).map_err(io)?;
        while let Some(row) = rows.next().map_err(io)? {
            let seq: i64 = row.get(0).map_err(io)?;
            let json: String = row.get(1).map_err(io)?;
            // Checks the link, and that the stored text is exactly what the sink wrote (a key
            // the hash does not cover cannot be slipped in).
            let envelope = verifier.push_stored(json.as_bytes())?;
            let text = |i: usize| row.get::<_, Option<String>>(i).map_err(io);
            let ids = |i: usize| -> Result<Vec<String>, VerifyError> {
                Ok(text(i)?
                    .and_then(|j| serde_json::from_str(&j).ok())
                    .unwrap_or_default())
            };
            let columns_match = envelope.seq == u64::try_from(seq).ok()
                && text(2)?.as_deref() == Some(envelope.id.encode().as_str())
                && text(3)?.as_deref() == Some(&*envelope.action)
                && text(4)? == Some(envelope.occurred_at.to_string())
                && text(5)?.as_deref() == Some(envelope.outcome.as_str())
                && text(6)?.as_deref() == Some(&*envelope.actor.kind)
                && text(7)?.as_deref() == Some(envelope.actor.id.as_str())
                && text(8)?.as_deref() == envelope.context.request_id_str()
                && text(9)? == envelope.prev_hash
                && text(10)? == envelope.hash
                && ids(11)? == id_set(envelope.subjects.iter().map(|s| s.id.as_str()))
                && ids(12)?
                    == id_set(
                        std::iter::once(envelope.actor.id.as_str())
                            .chain(envelope.actor.on_behalf_of.iter().map(|o| o.id.as_str())),
                    );
            if !columns_match {
                return Err(VerifyError::Broken {
                    seq: verifier.head().seq,
                    why: crate::chain::Break::Unreadable(
                        "its indexed columns or actor/subject entries do not match the stored \
                         envelope: they were edited"
                            .to_owned(),
                    ),
                });
            }
            // The text is what the sink wrote: a key the hash does not cover (ignored when
            // parsing) or a reformatting is an edit too.
            if serde_json::to_string(&envelope).ok().as_deref() != Some(json.as_str()) {
                return Err(VerifyError::Broken {
                    seq: verifier.head().seq,
                    why: crate::chain::Break::Unreadable(
                        "its stored text is not what the sink wrote: a key was added or the \
                         text was reformatted"
                            .to_owned(),
                    ),
                });
            }
            if let Some(anchor) = anchor {
                verifier.check_anchor_at(anchor)?;
            }
        }
        verifier.finish(anchor)
    }
}

fn sqlite_params(sql: &SqlQuery) -> Vec<rusqlite::types::Value> {
    sql.params
        .iter()
        .map(|p| match p {
            Param::Text(t) => rusqlite::types::Value::Text(t.clone()),
            Param::Int(i) => rusqlite::types::Value::Integer(*i),
        })
        .collect()
}

/// The distinct IDs, sorted by bytes (as the verify query lists them).
fn id_set<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter().map(str::to_owned).collect()
}

fn parse(seq: i64, json: &str) -> Result<Envelope, QueryError> {
    serde_json::from_str(json).map_err(|e| QueryError::Corrupt {
        seq: u64::try_from(seq).unwrap_or(0),
        detail: e.to_string(),
    })
}
