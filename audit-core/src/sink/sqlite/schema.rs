//! The SQLite store's tables, their version, and the upgrade from older versions.
//!
//! `audit_meta` holds the layout's version under the key `layout` (not `PRAGMA
//! user_version`, which belongs to whatever else may live in the file):
//!
//! - **1** (before the version was recorded): side tables keyed by `(id, seq)`
//!   and an index on `audit_events.request_id`. Each event inserted into one random page of
//!   each of those indexes, so a batch rewrote thousands of pages and the write rate fell as
//!   the database grew.
//! - **2**: the side tables (`audit_actors`, `audit_subjects`, `audit_requests`) are keyed by
//!   `(run, id, seq)`, `run` being `seq >> bits` (`bits` kept in `audit_meta` as `run_bits`),
//!   and `audit_runs` lists the runs. A batch inserts into the pages of the current run only.
//!   See [`crate::query::sql`] for how queries read them. `audit_events` keeps only what
//!   queries and the chain read beside the envelope: `seq`, `id`, `action`, `occurred_at` (as
//!   microseconds since the Unix epoch) and `hash`. The rest (outcome, actor, request id,
//!   previous hash) is in the envelope, readable with SQLite's JSON functions
//!   (`envelope ->> '$.outcome'`); every byte a row does not repeat is a byte less to write.

use rusqlite::{Connection, OptionalExtension};

use crate::query::sql::Runs;

/// The layout this code reads and writes.
pub(super) const VERSION: i64 = 2;

const SIDE_TABLES: &str = "
CREATE TABLE audit_runs (
    run             INTEGER PRIMARY KEY
);
CREATE TABLE audit_actors (
    run             INTEGER NOT NULL,
    actor_id        TEXT NOT NULL COLLATE BINARY,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (run, actor_id, seq)
) WITHOUT ROWID;
CREATE TABLE audit_subjects (
    run             INTEGER NOT NULL,
    subject_id      TEXT NOT NULL COLLATE BINARY,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (run, subject_id, seq)
) WITHOUT ROWID;
CREATE TABLE audit_requests (
    run             INTEGER NOT NULL,
    request_id      TEXT NOT NULL COLLATE BINARY,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (run, request_id, seq)
) WITHOUT ROWID;
";

const EVENTS: &str = "
CREATE TABLE audit_events (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL COLLATE BINARY UNIQUE,
    action          TEXT NOT NULL COLLATE BINARY,
    occurred_at     INTEGER NOT NULL,
    hash            TEXT NOT NULL,
    envelope        TEXT NOT NULL
);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_time ON audit_events (occurred_at);
";

const META: &str = "
CREATE TABLE audit_meta (
    key             TEXT PRIMARY KEY,
    value           TEXT NOT NULL
);
";

/// What [`prepare`] found wrong.
#[derive(Debug)]
pub(super) enum SchemaError {
    Sqlite(rusqlite::Error),
    /// The file has no audit tables, and may not create them.
    NotAudit,
    /// Written by a newer version of this crate.
    Newer(i64),
    /// An older layout, which only a sink upgrades.
    Older,
    /// `audit_meta` holds a `layout` that is not a number.
    Layout(String),
    /// `audit_meta` holds no usable `run_bits`.
    RunBits(Option<String>),
    /// The file is shorter than its header says, and no WAL holds the rest.
    Truncated {
        bytes: u64,
        pages: u64,
        page_size: u64,
    },
}

impl From<rusqlite::Error> for SchemaError {
    fn from(e: rusqlite::Error) -> Self {
        SchemaError::Sqlite(e)
    }
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaError::Sqlite(e) => e.fmt(f),
            SchemaError::NotAudit => f.write_str("it has no audit_events table"),
            SchemaError::Newer(v) => write!(
                f,
                "its layout is version {v}, newer than this audit-core reads (version \
                 {VERSION}): upgrade audit-core"
            ),
            SchemaError::Older => write!(
                f,
                "its layout is version 1, written by an older audit-core: open it once with \
                 SqliteSink::open, which upgrades it to version {VERSION} in place"
            ),
            SchemaError::Layout(found) => write!(
                f,
                "its audit_meta should hold the layout version, a number, but holds {found:?}"
            ),
            SchemaError::Truncated {
                bytes,
                pages,
                page_size,
            } => write!(
                f,
                "the SQLite file holds {bytes} bytes, but its header counts {pages} pages of \
                 {page_size} bytes: it was truncated (restore it from a backup)"
            ),
            SchemaError::RunBits(found) => match found {
                Some(found) => write!(
                    f,
                    "its audit_meta should hold run_bits, a number from 0 to 62, but holds \
                     {found:?}"
                ),
                None => f.write_str("its audit_meta has no run_bits, the size of its index runs"),
            },
        }
    }
}

/// Makes the database ready for this code and returns its runs. With `new_runs` (a sink):
/// creates the tables in a file without them, and upgrades an older layout in one
/// transaction. Without (a reader): refuses both, and changes nothing. A newer layout is
/// always refused.
pub(super) fn prepare(
    conn: &mut Connection,
    path: &std::path::Path,
    new_runs: Option<Runs>,
) -> Result<Runs, SchemaError> {
    check_length(path)?;
    // Cheap and lock-free when the layout is current, the usual case.
    let found = layout(conn);
    if let Ok(Some(VERSION)) = found {
        return runs(conn);
    }
    let Some(new_runs) = new_runs else {
        return match found? {
            Some(v) if v > VERSION => Err(SchemaError::Newer(v)),
            Some(_) => Err(SchemaError::Older),
            None if has_table(conn, "audit_events")? => Err(SchemaError::Older),
            None => Err(SchemaError::NotAudit),
        };
    };
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Read again under the write lock: another connection may have done it meanwhile.
    let runs = match layout(&tx)? {
        Some(VERSION) => return runs(&tx),
        Some(v) if v > VERSION => return Err(SchemaError::Newer(v)),
        _ if !has_table(&tx, "audit_events")? => {
            tx.execute_batch(EVENTS)?;
            if !has_table(&tx, "audit_meta")? {
                tx.execute_batch(META)?;
            }
            tx.execute_batch(SIDE_TABLES)?;
            new_runs
        }
        _ => {
            upgrade_from_1(&tx, Runs::DEFAULT)?;
            Runs::DEFAULT
        }
    };
    tx.execute(
        "INSERT INTO audit_meta (key, value) VALUES ('run_bits', ?1), ('layout', ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [runs.bits.to_string(), VERSION.to_string()],
    )?;
    tx.commit()?;
    Ok(runs)
}

/// The layout version in `audit_meta`; `None` when there is none (or no `audit_meta`).
fn layout(conn: &Connection) -> Result<Option<i64>, SchemaError> {
    if !has_table(conn, "audit_meta")? {
        return Ok(None);
    }
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM audit_meta WHERE key = 'layout'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    value
        .map(|v| v.parse().map_err(|_| SchemaError::Layout(v)))
        .transpose()
}

fn has_table(conn: &Connection, name: &str) -> Result<bool, rusqlite::Error> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The runs recorded in `audit_meta`.
fn runs(conn: &Connection) -> Result<Runs, SchemaError> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM audit_meta WHERE key = 'run_bits'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match value.as_deref().map(str::parse::<u32>) {
        Some(Ok(bits)) if bits <= 62 => Ok(Runs { bits }),
        _ => Err(SchemaError::RunBits(value)),
    }
}

/// A file cut short (a partial copy, a full disk) fails here rather than at some later read:
/// the file must hold every page its header counts, unless a WAL holds pages not yet copied
/// back (a checkpoint writes the header's page first).
fn check_length(path: &std::path::Path) -> Result<(), SchemaError> {
    use std::io::Read;
    let len = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut header = [0_u8; 100];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header));
    // A missing, new or short file is SQLite's to judge (a new one, or not a database).
    if read.is_err() || !header.starts_with(b"SQLite format 3\0") {
        return Ok(());
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    // The page count at 28 is valid when the change counter at 24 matches the one at 92.
    if be32(24) != be32(92) {
        return Ok(());
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    let pages = u64::from(be32(28));
    let bytes = len(path);
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    // The WAL is looked at last: a checkpoint that began after the header was read has one.
    if bytes < pages.saturating_mul(page_size) && len(&wal) == 0 {
        return Err(SchemaError::Truncated {
            bytes,
            pages,
            page_size,
        });
    }
    Ok(())
}

/// Version 1 to 2: the side tables rebuilt with their run, request IDs moved from an index on
/// the events table to a side table, and the events table rebuilt without the columns the
/// envelope repeats. The envelopes, and so the chain, are copied unchanged.
fn upgrade_from_1(tx: &Connection, runs: Runs) -> Result<(), rusqlite::Error> {
    let bits = runs.bits;
    tx.execute_batch(
        "DROP INDEX IF EXISTS audit_events_request;
         DROP INDEX IF EXISTS audit_actors_seq;
         DROP INDEX IF EXISTS audit_subjects_seq;
         DROP INDEX IF EXISTS audit_events_action;
         DROP INDEX IF EXISTS audit_events_time;
         ALTER TABLE audit_actors RENAME TO audit_actors_v1;
         ALTER TABLE audit_subjects RENAME TO audit_subjects_v1;
         ALTER TABLE audit_events RENAME TO audit_events_v1;",
    )?;
    tx.execute_batch(EVENTS)?;
    tx.execute_batch(SIDE_TABLES)?;
    // `occurred_at` was RFC 3339 text with six fractional digits, as `Timestamp` writes it.
    tx.execute_batch(&format!(
        "INSERT INTO audit_events (seq, id, action, occurred_at, hash, envelope)
             SELECT seq, id, action,
                 -- A malformed time becomes 0, which verify then reports at its seq.
                 coalesce(unixepoch(substr(occurred_at, 1, 19)) * 1000000
                     + CAST(substr(occurred_at, 21, 6) AS INTEGER), 0),
                 hash, envelope
             FROM audit_events_v1 ORDER BY seq;
         INSERT INTO audit_runs (run) SELECT DISTINCT seq >> {bits} FROM audit_events;
         INSERT INTO audit_actors (run, actor_id, seq)
             SELECT seq >> {bits}, actor_id, seq FROM audit_actors_v1;
         INSERT INTO audit_subjects (run, subject_id, seq)
             SELECT seq >> {bits}, subject_id, seq FROM audit_subjects_v1;
         INSERT INTO audit_requests (run, request_id, seq)
             SELECT seq >> {bits}, request_id, seq FROM audit_events_v1
             WHERE request_id IS NOT NULL;
         DROP TABLE audit_actors_v1;
         DROP TABLE audit_subjects_v1;
         DROP TABLE audit_events_v1;"
    ))
}
