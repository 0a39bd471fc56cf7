//! [`SqliteLog`]: queries, retention and verification on the SQLite store.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::{connect, cut_point, schema};
use crate::chain::{Anchor, Break, ChainHead, Verifier, VerifyError, VerifyReport};
use crate::query::sql::{Dialect, Param, Runs, SqlQuery};
use crate::query::{ActionFilter, Page, Query};
use crate::sink::RetentionReport;
use crate::{Envelope, EventId, Timestamp};

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
    /// The file is not an audit log this version reads: it has no audit tables, it is
    /// shorter than its header says (truncated), its `audit_meta` lacks what the layout needs,
    /// or an older or newer audit-core wrote it (an older layout is upgraded by
    /// [`SqliteSink::open`](super::SqliteSink::open)).
    Layout {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it.
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
            QueryError::Layout { path, detail } => write!(
                f,
                "{} is not an audit database this version can read: {detail}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for QueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QueryError::Database { source, .. } => Some(source),
            QueryError::Corrupt { .. } | QueryError::Layout { .. } => None,
        }
    }
}

/// A reader (and retention handle) on an SQLite audit database; open as many as you like,
/// also while a [`SqliteSink`](super::SqliteSink) writes.
pub struct SqliteLog {
    conn: Connection,
    path: PathBuf,
    runs: Runs,
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
    /// [`QueryError::Database`] when the file does not exist or cannot be read, and
    /// [`QueryError::Layout`] when it is not an audit database this version reads. A reader
    /// changes nothing: a database written by an older audit-core is upgraded by opening it
    /// once with [`SqliteSink::open`](super::SqliteSink::open).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, QueryError> {
        let path = path.as_ref().to_owned();
        let err = |source| QueryError::Database {
            path: path.clone(),
            source,
        };
        let mut conn = connect(&path, false).map_err(err)?;
        // Fails on a file that is not an audit database; upgrades an older layout.
        let runs = schema::prepare(&mut conn, &path, None).map_err(|e| match e {
            schema::SchemaError::Sqlite(source) => err(source),
            other => QueryError::Layout {
                path: path.clone(),
                detail: other.to_string(),
            },
        })?;
        Ok(SqliteLog { conn, path, runs })
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
        let sql = SqlQuery::build(query, "", Dialect::Sqlite(self.runs));
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
        let sql = SqlQuery::build(&q, "", Dialect::Sqlite(self.runs));
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
    /// event), from which [`SqliteSink::verify`](super::SqliteSink::verify) then starts.
    /// Tampering after the cut is still caught; keep an [`Anchor`] elsewhere to also protect
    /// the cut record itself.
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
                [t.unix_micros()],
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
        // The side tables' rows of the removed events: whole runs below the cut's run, and
        // that run's rows up to the cut. The run itself stays listed while it may hold rows.
        for table in ["audit_actors", "audit_subjects", "audit_requests"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE run <= ?1 AND seq <= ?2"),
                [self.runs.of(cut_seq), cut_seq],
            )
            .map_err(err)?;
        }
        tx.execute(
            "DELETE FROM audit_runs WHERE run < ?1",
            [self.runs.of(cut_seq)],
        )
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
        // One read transaction: every statement below sees the same snapshot, while a sink
        // may go on writing.
        let snapshot = self.conn.unchecked_transaction().map_err(io)?;
        let start = cut_point(&snapshot).map_err(io)?;
        let mut verifier = match start {
            Some(head) => Verifier::starting_after(head),
            None => Verifier::new(),
        };
        if let Some(anchor) = anchor {
            // An anchor at the cut point is checked against the cut record; one before it
            // fell to retention and cannot be checked.
            verifier.check_anchor_at(anchor)?;
        }
        let mut side = SideRows::new(&snapshot, self.runs).map_err(io)?;
        // Every column and side-table row a query or the next append reads is compared with
        // the envelope.
        let mut stmt = snapshot
            .prepare(
                "SELECT seq, envelope, id, action, occurred_at, hash FROM audit_events \
                 ORDER BY seq",
            )
            .map_err(io)?;
        let mut rows = stmt.query([]).map_err(io)?;
        while let Some(row) = rows.next().map_err(io)? {
            let seq: i64 = row.get(0).map_err(io)?;
            let json: String = row.get(1).map_err(io)?;
            // Checks the link, and that the stored text is exactly what the sink wrote (a key
            // the hash does not cover cannot be slipped in).
            let envelope = verifier.push_stored(json.as_bytes())?;
            let broken = |why: &str| VerifyError::Broken {
                seq: envelope.seq.unwrap_or_default(),
                why: Break::Unreadable(why.to_owned()),
            };
            let text = |i: usize| row.get::<_, Option<String>>(i).map_err(io);
            let columns_match = envelope.seq == u64::try_from(seq).ok()
                && text(2)?.as_deref() == Some(envelope.id.encode().as_str())
                && text(3)?.as_deref() == Some(&*envelope.action)
                && row.get::<_, Option<i64>>(4).ok().flatten()
                    == Some(envelope.occurred_at.unix_micros())
                && text(5)? == envelope.hash;
            if !columns_match {
                return Err(broken(
                    "its indexed columns do not match the stored envelope: they were edited",
                ));
            }
            if let Some(found) = side.check(seq, &envelope).map_err(io)? {
                return Err(side_break(found));
            }
            // The text is what the sink wrote: a key the hash does not cover (ignored when
            // parsing) or a reformatting is an edit too.
            if serde_json::to_string(&envelope).ok().as_deref() != Some(json.as_str()) {
                return Err(broken(
                    "its stored text is not what the sink wrote: a key was added or the text \
                     was reformatted",
                ));
            }
            if let Some(anchor) = anchor {
                verifier.check_anchor_at(anchor)?;
            }
        }
        if let Some(found) = side.leftover().map_err(io)? {
            return Err(side_break(found));
        }
        verifier.finish(anchor)
    }
}

/// A side-table mismatch found by [`SideRows`]: the `seq` it concerns, and why.
fn side_break((seq, why): (i64, String)) -> VerifyError {
    VerifyError::Broken {
        seq: u64::try_from(seq).unwrap_or_default(),
        why: Break::Unreadable(why),
    }
}

/// The side tables' rows, read one run at a time as [`SqliteLog::verify`] walks the events in
/// `seq` order (a run's rows are contiguous in each table's key, but not in `seq` order).
struct SideRows<'c> {
    conn: &'c Connection,
    runs: Runs,
    /// The runs `audit_runs` lists.
    listed: HashSet<i64>,
    /// The run loaded, and its rows by `seq`: actor, subject and request IDs.
    run: Option<i64>,
    rows: [HashMap<i64, Vec<String>>; 3],
    /// Rows seen in each table so far.
    seen: [u64; 3],
}

const SIDE_TABLES: [(&str, &str); 3] = [
    ("audit_actors", "actor_id"),
    ("audit_subjects", "subject_id"),
    ("audit_requests", "request_id"),
];

impl<'c> SideRows<'c> {
    fn new(conn: &'c Connection, runs: Runs) -> Result<Self, rusqlite::Error> {
        let mut stmt = conn.prepare("SELECT run FROM audit_runs")?;
        let listed = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(SideRows {
            conn,
            runs,
            listed,
            run: None,
            rows: Default::default(),
            seen: [0; 3],
        })
    }

    /// Where and why the side tables do not match the events up to `seq`, if they do not:
    /// this event's rows, or a row of the run before that no event claimed.
    fn check(
        &mut self,
        seq: i64,
        envelope: &Envelope,
    ) -> Result<Option<(i64, String)>, rusqlite::Error> {
        let run = self.runs.of(seq);
        if self.run != Some(run) {
            if let Some(stray) = self.unclaimed() {
                return Ok(Some(stray));
            }
            if !self.listed.contains(&run) {
                return Ok(Some((
                    seq,
                    format!(
                        "its run ({run}) is missing from audit_runs, so queries by actor, subject or \
                     request id skip it"
                    ),
                )));
            }
            self.load(run)?;
        }
        let actors = std::iter::once(envelope.actor.id.as_str())
            .chain(envelope.actor.on_behalf_of.iter().map(|o| o.id.as_str()));
        let expected = [
            id_set(actors),
            id_set(envelope.subjects.iter().map(|s| s.id.as_str())),
            id_set(envelope.context.request_id_str().into_iter()),
        ];
        for ((rows, expected), (table, _)) in self.rows.iter_mut().zip(expected).zip(SIDE_TABLES) {
            let mut stored = rows.remove(&seq).unwrap_or_default();
            stored.sort_unstable();
            if stored != expected {
                return Ok(Some((
                    seq,
                    format!(
                        "its rows in {table} ({stored:?}) do not match the stored envelope \
                         ({expected:?}): they were edited"
                    ),
                )));
            }
        }
        Ok(None)
    }

    fn load(&mut self, run: i64) -> Result<(), rusqlite::Error> {
        for (((table, key), rows), seen) in
            SIDE_TABLES.iter().zip(&mut self.rows).zip(&mut self.seen)
        {
            let mut stmt = self
                .conn
                .prepare_cached(&format!("SELECT seq, {key} FROM {table} WHERE run = ?1"))?;
            let mut found = stmt.query([run])?;
            while let Some(row) = found.next()? {
                rows.entry(row.get(0)?).or_default().push(row.get(1)?);
                *seen += 1;
            }
        }
        self.run = Some(run);
        Ok(())
    }

    /// The first row of the loaded run that its events left unclaimed, and why it is wrong.
    fn unclaimed(&self) -> Option<(i64, String)> {
        self.rows
            .iter()
            .zip(SIDE_TABLES)
            .find_map(|(rows, (table, _))| {
                rows.keys().min().map(|&seq| {
                    let why = format!(
                        "{table} has a row for seq {seq}, which is not a stored event: it was \
                         added"
                    );
                    (seq, why)
                })
            })
    }

    /// A row no event claimed, and why it is wrong: left in the last run, or in a run (or
    /// under a `seq`) that no event has.
    fn leftover(&self) -> Result<Option<(i64, String)>, rusqlite::Error> {
        if let Some(stray) = self.unclaimed() {
            return Ok(Some(stray));
        }
        for ((table, _), seen) in SIDE_TABLES.into_iter().zip(self.seen) {
            let total: i64 =
                self.conn
                    .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            if u64::try_from(total).ok() != Some(seen) {
                let seq: i64 = self
                    .conn
                    .query_row(
                        &format!(
                            "SELECT seq FROM {table} WHERE run NOT IN (SELECT DISTINCT seq >> \
                             {bits} FROM audit_events) ORDER BY seq LIMIT 1",
                            bits = self.runs.bits
                        ),
                        [],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or_default();
                let why = format!(
                    "{table} has a row for seq {seq}, which is not a stored event (or not in \
                     that row's run): it was added"
                );
                return Ok(Some((seq, why)));
            }
        }
        Ok(None)
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
