//! [`PostgresLog`]: queries, retention and verification on the Postgres store.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, PgPool, Row};

use super::{PgError, store};
use crate::chain::{Anchor, Break, ChainHead, GENESIS_HASH, Verifier, VerifyError, VerifyReport};
use crate::query::sql::{Dialect, Param, SqlQuery};
use crate::query::{Page, Query};
use crate::sink::RetentionReport;
use crate::{Envelope, EventId, Timestamp};

/// Reads (and prunes) the audit log stored in Postgres; made by
/// [`PostgresAudit::log`](super::PostgresAudit::log). Cheap to clone.
#[derive(Clone)]
pub struct PostgresLog {
    pool: PgPool,
    sql: Arc<store::Statements>,
}

impl std::fmt::Debug for PostgresLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresLog")
            .field("schema", &self.sql.schema)
            .finish_non_exhaustive()
    }
}

fn parse(seq: i64, json: &str) -> Result<Envelope, PgError> {
    serde_json::from_str(json).map_err(|e| PgError::Corrupt {
        seq: u64::try_from(seq).unwrap_or(0),
        detail: e.to_string(),
    })
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    params: &[Param],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for p in params {
        q = match p {
            Param::Text(t) => q.bind(t.clone()),
            Param::Int(i) => q.bind(*i),
        };
    }
    q
}

impl PostgresLog {
    pub(super) fn new(pool: PgPool, sql: Arc<store::Statements>) -> Self {
        PostgresLog { pool, sql }
    }

    fn tables(&self) -> String {
        format!("{}.", self.sql.schema)
    }

    /// One page of the events matching `query`, newest first.
    ///
    /// # Errors
    ///
    /// A [`PgError`] when Postgres fails or a stored envelope is corrupt.
    pub async fn query(&self, query: &Query) -> Result<Page, PgError> {
        let sql = SqlQuery::build(query, &self.tables(), Dialect::Postgres);
        let limit = query.limit_value();
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql.page(limit + 1))), &sql.params)
            .fetch_all(&self.pool)
            .await?;
        let more = rows.len() > limit;
        let mut events = Vec::with_capacity(limit);
        for row in rows.into_iter().take(limit) {
            let seq: i64 = row.try_get(0)?;
            let json: String = row.try_get(1)?;
            events.push(parse(seq, &json)?);
        }
        Ok(Page::of(events, more))
    }

    /// How many events match `query` (its cursor and limit are ignored).
    ///
    /// # Errors
    ///
    /// A [`PgError`] when Postgres fails.
    pub async fn count(&self, query: &Query) -> Result<u64, PgError> {
        let mut q = query.clone();
        q.after = None;
        let sql = SqlQuery::build(&q, &self.tables(), Dialect::Postgres);
        let row = bind_all(sqlx::query(AssertSqlSafe(sql.count())), &sql.params)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0))
    }

    /// The event with this ID, if stored in the chain.
    ///
    /// # Errors
    ///
    /// A [`PgError`] when Postgres fails.
    pub async fn get(&self, id: EventId) -> Result<Option<Envelope>, PgError> {
        let text = format!(
            "SELECT seq, envelope FROM {}.audit_events WHERE id = $1",
            self.sql.schema
        );
        let row = sqlx::query(AssertSqlSafe(text))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(parse(row.try_get(0)?, &row.try_get::<String, _>(1)?)?)),
            None => Ok(None),
        }
    }

    /// Events still in the outbox: committed by their transaction, not relayed yet.
    ///
    /// # Errors
    ///
    /// A [`PgError`] when Postgres fails.
    pub async fn outbox_len(&self) -> Result<u64, PgError> {
        let text = format!("SELECT count(*) FROM {}.audit_outbox", self.sql.schema);
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(text))
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Deletes the events that occurred before `t`, from the start of the chain up to the
    /// first event at or after `t`, and records the cut point, from which
    /// [`verify`](PostgresLog::verify) then starts.
    ///
    /// # Errors
    ///
    /// A [`PgError`] when Postgres fails.
    pub async fn delete_before(&self, t: Timestamp) -> Result<RetentionReport, PgError> {
        let s = &self.sql.schema;
        let mut tx = self.pool.begin().await?;
        sqlx::query(AssertSqlSafe(Arc::clone(&self.sql.lock_head)))
            .fetch_one(&mut *tx)
            .await?;
        let first_kept: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT min(seq) FROM {s}.audit_events WHERE occurred_at >= $1"
        )))
        .bind(t.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let last_removed = sqlx::query(AssertSqlSafe(format!(
            "SELECT seq, hash FROM {s}.audit_events WHERE seq < coalesce($1, 9223372036854775807) \
             ORDER BY seq DESC LIMIT 1"
        )))
        .bind(first_kept)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = last_removed else {
            let cut = self.cut_point(&mut tx).await?;
            tx.commit().await?;
            return Ok(RetentionReport { deleted: 0, cut });
        };
        let cut_seq: i64 = row.try_get(0)?;
        let cut_hash: String = row.try_get(1)?;
        let deleted = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {s}.audit_events WHERE seq <= $1"
        )))
        .bind(cut_seq)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {s}.audit_chain_head SET cut_seq = $1, cut_hash = $2 WHERE singleton"
        )))
        .bind(cut_seq)
        .bind(&cut_hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RetentionReport {
            deleted,
            cut: ChainHead {
                seq: u64::try_from(cut_seq).unwrap_or(0),
                hash: cut_hash,
            },
        })
    }

    async fn cut_point(&self, conn: &mut sqlx::PgConnection) -> Result<ChainHead, PgError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT cut_seq, cut_hash FROM {}.audit_chain_head WHERE singleton",
            self.sql.schema
        )))
        .fetch_optional(conn)
        .await?;
        Ok(match row {
            Some(row) => ChainHead {
                seq: u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0),
                hash: row.try_get(1)?,
            },
            None => ChainHead {
                seq: 0,
                hash: GENESIS_HASH.to_owned(),
            },
        })
    }

    /// Verifies the chain from the cut point (or seq 1), checking that each row's indexed
    /// columns and actor/subject entries agree with its envelope, and against `anchor` if
    /// given.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] naming the first broken `seq`.
    pub async fn verify(&self, anchor: Option<&Anchor>) -> Result<VerifyReport, VerifyError> {
        let io = |e: PgError| VerifyError::Io(std::io::Error::other(e));
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| io(PgError::Database(e)))?;
        let start = self.cut_point(&mut conn).await.map_err(io)?;
        let mut verifier = Verifier::starting_after(start);
        if let Some(anchor) = anchor {
            verifier.check_anchor_at(anchor)?;
        }
        let s = &self.sql.schema;
        let page = format!(
            "SELECT e.seq, e.id, e.action, e.occurred_at, e.actor_id, e.envelope, \
             (SELECT coalesce(string_agg(DISTINCT subject_id, ' ' ORDER BY subject_id), '') \
              FROM {s}.audit_subjects x WHERE x.seq = e.seq), \
             (SELECT coalesce(string_agg(DISTINCT actor_id, ' ' ORDER BY actor_id), '') \
              FROM {s}.audit_actors a WHERE a.seq = e.seq) \
             FROM {s}.audit_events e WHERE e.seq > $1 ORDER BY e.seq LIMIT 1000"
        );
        let mut after: i64 = -1;
        loop {
            let rows = sqlx::query(AssertSqlSafe(page.clone()))
                .bind(after)
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| io(PgError::Database(e)))?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let get = |i: usize| -> Result<String, VerifyError> {
                    row.try_get::<String, _>(i)
                        .map_err(|e| io(PgError::Database(e)))
                };
                let seq: i64 = row.try_get(0).map_err(|e| io(PgError::Database(e)))?;
                after = seq;
                // The link, and the stored text exactly as written.
                let envelope = verifier.push_stored(get(5)?.as_bytes())?;
                let subjects = id_set(envelope.subjects.iter().map(|x| x.id.as_str()));
                let actors = id_set(
                    std::iter::once(envelope.actor.id.as_str())
                        .chain(envelope.actor.on_behalf_of.iter().map(|o| o.id.as_str())),
                );
                let matches = envelope.seq == u64::try_from(seq).ok()
                    && get(1)? == envelope.id.to_string()
                    && get(2)? == envelope.action
                    && get(3)? == envelope.occurred_at.to_string()
                    && get(4)? == envelope.actor.id
                    && get(6)? == subjects
                    && get(7)? == actors;
                if !matches {
                    return Err(VerifyError::Broken {
                        seq: verifier.head().seq,
                        why: Break::Unreadable(
                            "its indexed columns or actor/subject entries do not match the \
                             stored envelope: they were edited"
                                .to_owned(),
                        ),
                    });
                }
                if let Some(anchor) = anchor {
                    verifier.check_anchor_at(anchor)?;
                }
            }
        }
        verifier.finish(anchor)
    }
}

fn id_set<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids.join(" ")
}
