//! The Postgres tables and the chained append shared by the sink and the outbox relay.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::PgError;
use crate::Envelope;
use crate::chain::{ChainHead, GENESIS_HASH};
use crate::envelope::sealed::Sealed;

/// SQL with the schema name filled in, built once.
#[derive(Debug)]
pub(super) struct Statements {
    pub(super) schema: String,
    pub(super) migrate: Arc<str>,
    pub(super) lock_head: Arc<str>,
    pub(super) existing: Arc<str>,
    pub(super) insert_events: Arc<str>,
    pub(super) insert_actors: Arc<str>,
    pub(super) insert_subjects: Arc<str>,
    pub(super) update_head: Arc<str>,
    pub(super) insert_outbox: Arc<str>,
    pub(super) take_outbox: Arc<str>,
    pub(super) delete_outbox: Arc<str>,
}

impl Statements {
    pub(super) fn new(schema: &str) -> Self {
        let s = schema;
        let migrate = format!(
            r#"
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.audit_events (
    seq         BIGINT PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    action      TEXT COLLATE "C" NOT NULL,
    occurred_at TEXT COLLATE "C" NOT NULL,
    outcome     TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT COLLATE "C" NOT NULL,
    request_id  TEXT COLLATE "C",
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    envelope    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_action ON {s}.audit_events (action, seq);
CREATE INDEX IF NOT EXISTS audit_events_time ON {s}.audit_events (occurred_at);
CREATE INDEX IF NOT EXISTS audit_events_request ON {s}.audit_events (request_id) WHERE request_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.audit_actors (
    actor_id    TEXT COLLATE "C" NOT NULL,
    seq         BIGINT NOT NULL REFERENCES {s}.audit_events (seq) ON DELETE CASCADE,
    PRIMARY KEY (actor_id, seq)
);
CREATE INDEX IF NOT EXISTS audit_actors_seq ON {s}.audit_actors (seq);
CREATE TABLE IF NOT EXISTS {s}.audit_subjects (
    subject_id  TEXT COLLATE "C" NOT NULL,
    seq         BIGINT NOT NULL REFERENCES {s}.audit_events (seq) ON DELETE CASCADE,
    PRIMARY KEY (subject_id, seq)
);
CREATE INDEX IF NOT EXISTS audit_subjects_seq ON {s}.audit_subjects (seq);
CREATE TABLE IF NOT EXISTS {s}.audit_chain_head (
    singleton   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    cut_seq     BIGINT NOT NULL DEFAULT 0,
    cut_hash    TEXT NOT NULL DEFAULT '{GENESIS_HASH}'
);
INSERT INTO {s}.audit_chain_head (singleton, seq, hash) VALUES (TRUE, 0, '{GENESIS_HASH}')
    ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS {s}.audit_outbox (
    outbox_seq  BIGSERIAL PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    envelope    TEXT NOT NULL
);
"#
        );
        let sql = |text: String| -> Arc<str> { Arc::from(text) };
        Statements {
            schema: s.to_owned(),
            migrate: sql(migrate),
            lock_head: sql(format!(
                "SELECT seq, hash FROM {s}.audit_chain_head WHERE singleton FOR UPDATE"
            )),
            existing: sql(format!(
                "SELECT id FROM {s}.audit_events WHERE id = ANY($1)"
            )),
            insert_events: sql(format!(
                "INSERT INTO {s}.audit_events (seq, id, action, occurred_at, outcome, \
                 actor_type, actor_id, request_id, prev_hash, hash, envelope) \
                 SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], \
                 $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], \
                 $11::TEXT[])"
            )),
            insert_actors: sql(format!(
                "INSERT INTO {s}.audit_actors (actor_id, seq) \
                 SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[]) ON CONFLICT DO NOTHING"
            )),
            insert_subjects: sql(format!(
                "INSERT INTO {s}.audit_subjects (subject_id, seq) \
                 SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[]) ON CONFLICT DO NOTHING"
            )),
            update_head: sql(format!(
                "UPDATE {s}.audit_chain_head SET seq = $1, hash = $2 WHERE singleton"
            )),
            insert_outbox: sql(format!(
                "INSERT INTO {s}.audit_outbox (id, envelope) VALUES ($1, $2)"
            )),
            take_outbox: sql(format!(
                "SELECT outbox_seq, envelope FROM {s}.audit_outbox ORDER BY outbox_seq \
                 LIMIT $1 FOR UPDATE SKIP LOCKED"
            )),
            delete_outbox: sql(format!(
                "DELETE FROM {s}.audit_outbox WHERE outbox_seq = ANY($1)"
            )),
        }
    }
}

/// Creates the schema and tables, serialized by an advisory lock so that concurrent
/// migrations do not race on `CREATE ... IF NOT EXISTS`.
pub(super) async fn migrate(conn: &mut PgConnection, sql: &Statements) -> Result<(), PgError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(7361696407217041920)")
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(AssertSqlSafe(Arc::clone(&sql.migrate)))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

fn seq_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// Appends envelopes to the chain in the caller's transaction: takes the head row lock, skips
/// envelopes whose ID is already stored, inserts the rest with bulk statements.
pub(super) async fn append<'a>(
    conn: &mut PgConnection,
    sql: &Statements,
    envelopes: impl Iterator<Item = &'a Sealed>,
) -> Result<u64, PgError> {
    let envelopes: Vec<&Sealed> = envelopes.collect();
    if envelopes.is_empty() {
        return Ok(0);
    }
    let row = sqlx::query(AssertSqlSafe(Arc::clone(&sql.lock_head)))
        .fetch_one(&mut *conn)
        .await?;
    let mut head = ChainHead {
        seq: u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0),
        hash: row.try_get(1)?,
    };
    let ids: Vec<String> = envelopes
        .iter()
        .map(|e| e.envelope().id.to_string())
        .collect();
    let existing: std::collections::HashSet<String> =
        sqlx::query_scalar::<_, String>(AssertSqlSafe(Arc::clone(&sql.existing)))
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();

    let mut rows = Rows::default();
    let mut line = Vec::with_capacity(1024);
    for (sealed, id) in envelopes.iter().zip(ids) {
        if existing.contains(&id) {
            continue;
        }
        let forms = sealed.forms().map_err(|reason| PgError::Corrupt {
            seq: head.seq + 1,
            detail: format!("the envelope {id} cannot be chained: {reason}"),
        })?;
        line.clear();
        let ChainHead { seq, hash } = forms.link(&head, &mut line);
        // The line is UTF-8: written from `str`s and JSON text.
        let json = String::from_utf8_lossy(&line).into_owned();
        rows.push(sealed.envelope(), id, seq_i64(seq), &head.hash, &hash, json);
        head = ChainHead { seq, hash };
    }
    if rows.seqs.is_empty() {
        return Ok(0);
    }
    let appended = rows.seqs.len() as u64;
    rows.insert(conn, sql).await?;
    sqlx::query(AssertSqlSafe(Arc::clone(&sql.update_head)))
        .bind(seq_i64(head.seq))
        .bind(&head.hash)
        .execute(&mut *conn)
        .await?;
    Ok(appended)
}

/// The columns of a bulk insert, one vector per column (bound as Postgres arrays).
#[derive(Default)]
struct Rows {
    seqs: Vec<i64>,
    ids: Vec<String>,
    actions: Vec<String>,
    times: Vec<String>,
    outcomes: Vec<String>,
    actor_types: Vec<String>,
    actor_ids: Vec<String>,
    request_ids: Vec<Option<String>>,
    prev_hashes: Vec<String>,
    hashes: Vec<String>,
    envelopes: Vec<String>,
    actor_index: (Vec<String>, Vec<i64>),
    subject_index: (Vec<String>, Vec<i64>),
}

impl Rows {
    fn push(
        &mut self,
        envelope: &Envelope,
        id: String,
        seq: i64,
        prev_hash: &str,
        hash: &str,
        json: String,
    ) {
        self.seqs.push(seq);
        self.ids.push(id);
        self.actions.push(envelope.action.to_string());
        self.times.push(envelope.occurred_at.to_string());
        self.outcomes.push(envelope.outcome.as_str().to_owned());
        self.actor_types.push(envelope.actor.kind.to_string());
        self.actor_ids.push(envelope.actor.id.clone());
        self.request_ids
            .push(envelope.context.request_id_str().map(str::to_owned));
        self.prev_hashes.push(prev_hash.to_owned());
        self.hashes.push(hash.to_owned());
        self.envelopes.push(json);
        let actors = std::iter::once(&envelope.actor.id)
            .chain(envelope.actor.on_behalf_of.iter().map(|o| &o.id));
        for actor in actors {
            self.actor_index.0.push(actor.clone());
            self.actor_index.1.push(seq);
        }
        for subject in &envelope.subjects {
            self.subject_index.0.push(subject.id.clone());
            self.subject_index.1.push(seq);
        }
    }

    async fn insert(self, conn: &mut PgConnection, sql: &Statements) -> Result<(), PgError> {
        sqlx::query(AssertSqlSafe(Arc::clone(&sql.insert_events)))
            .bind(&self.seqs)
            .bind(&self.ids)
            .bind(&self.actions)
            .bind(&self.times)
            .bind(&self.outcomes)
            .bind(&self.actor_types)
            .bind(&self.actor_ids)
            .bind(&self.request_ids)
            .bind(&self.prev_hashes)
            .bind(&self.hashes)
            .bind(&self.envelopes)
            .execute(&mut *conn)
            .await?;
        sqlx::query(AssertSqlSafe(Arc::clone(&sql.insert_actors)))
            .bind(&self.actor_index.0)
            .bind(&self.actor_index.1)
            .execute(&mut *conn)
            .await?;
        if !self.subject_index.0.is_empty() {
            sqlx::query(AssertSqlSafe(Arc::clone(&sql.insert_subjects)))
                .bind(&self.subject_index.0)
                .bind(&self.subject_index.1)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}
