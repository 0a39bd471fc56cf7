//! Queries on a stored audit log: by actor, subject, action, time range and request id,
//! newest first, with keyset paging. The results are envelopes, which carry the display names
//! captured at emit, so rendering them needs no further lookups.
//!
//! ```
//! use audit_core::query::Query;
//! # use audit_core::PrefixedId;
//! # #[derive(PrefixedId)]
//! # #[id(prefix = "user")]
//! # pub struct UserId([u8; 16]);
//! let alice = UserId::new();
//! let q = Query::new().actor(alice).action("widget.*").limit(20);
//! assert_eq!(q.limit_value(), 20);
//! ```

use std::fmt;
use std::str::FromStr;

use crate::{Envelope, Timestamp};

/// Which actions a query matches.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActionFilter {
    /// Exactly this action.
    Exact(String),
    /// Every action starting with this prefix, which ends with `.` (from `"widget.*"`).
    Prefix(String),
}

impl ActionFilter {
    /// `"widget.*"` matches every action under `widget.`; anything else matches exactly.
    #[must_use]
    pub fn parse(pattern: &str) -> Self {
        match pattern.strip_suffix('*') {
            Some(prefix) if prefix.ends_with('.') => ActionFilter::Prefix(prefix.to_owned()),
            _ => ActionFilter::Exact(pattern.to_owned()),
        }
    }

    /// Whether `action` matches.
    #[must_use]
    pub fn matches(&self, action: &str) -> bool {
        match self {
            ActionFilter::Exact(a) => a == action,
            ActionFilter::Prefix(p) => action.starts_with(p.as_str()),
        }
    }
}

/// A position in a result list, for the next page: pass [`Page::next`] to
/// [`Query::after`]. Its text form (`Display`/`FromStr`) can travel in a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(u64);

impl Cursor {
    /// The cursor placed after the event at `seq` (newest-first order).
    #[must_use]
    pub fn after_seq(seq: u64) -> Self {
        Cursor(seq)
    }

    /// The `seq` the next page starts below.
    #[must_use]
    pub fn seq(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

/// A cursor string that is not one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadCursor;

impl fmt::Display for BadCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a page cursor: expected the `next` value of a previous page, like `s1234`")
    }
}

impl std::error::Error for BadCursor {}

impl FromStr for Cursor {
    type Err = BadCursor;
    fn from_str(s: &str) -> Result<Self, BadCursor> {
        s.strip_prefix('s')
            .filter(|d| d.len() <= 20 && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse().ok())
            .map(Cursor)
            .ok_or(BadCursor)
    }
}

/// A query: every filter set must match. Newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub(crate) actor: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) action: Option<ActionFilter>,
    pub(crate) since: Option<Timestamp>,
    pub(crate) until: Option<Timestamp>,
    pub(crate) request_id: Option<String>,
    pub(crate) after: Option<Cursor>,
    pub(crate) limit: Option<usize>,
}

impl Query {
    /// The most events a page holds.
    pub const MAX_LIMIT: usize = 1000;
    /// Events per page when no limit is set.
    pub const DEFAULT_LIMIT: usize = 50;

    /// Matches every event.
    #[must_use]
    pub fn new() -> Self {
        Query::default()
    }

    /// Events whose actor has this ID (or acted on its behalf): a typed ID, an
    /// [`AnyId`](crate::AnyId), or a system actor's name.
    #[must_use]
    pub fn actor(mut self, id: impl fmt::Display) -> Self {
        self.actor = Some(id.to_string());
        self
    }

    /// Events with a subject of this ID.
    #[must_use]
    pub fn subject(mut self, id: impl fmt::Display) -> Self {
        self.subject = Some(id.to_string());
        self
    }

    /// Events of this action; `"widget.*"` matches every action under `widget.`.
    #[must_use]
    pub fn action(mut self, pattern: &str) -> Self {
        self.action = Some(ActionFilter::parse(pattern));
        self
    }

    /// Events that occurred at or after `t`.
    #[must_use]
    pub fn since(mut self, t: Timestamp) -> Self {
        self.since = Some(t);
        self
    }

    /// Events that occurred before `t`.
    #[must_use]
    pub fn until(mut self, t: Timestamp) -> Self {
        self.until = Some(t);
        self
    }

    /// Events emitted with this request id in their context.
    #[must_use]
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// The page after `cursor`.
    #[must_use]
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// At most `n` events per page (1 to [`Query::MAX_LIMIT`]; default
    /// [`Query::DEFAULT_LIMIT`]).
    #[must_use]
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n.clamp(1, Self::MAX_LIMIT));
        self
    }

    /// The page size this query uses.
    #[must_use]
    pub fn limit_value(&self) -> usize {
        self.limit.unwrap_or(Self::DEFAULT_LIMIT)
    }

    /// Whether `envelope` (stored at `seq`) matches every filter but the cursor and the
    /// limit. Stores filter in their own query language; this is the reference they agree
    /// with, usable on envelopes in memory.
    #[must_use]
    pub fn matches(&self, envelope: &Envelope) -> bool {
        let actor_ok = self.actor.as_deref().is_none_or(|a| {
            envelope.actor.id == a
                || envelope
                    .actor
                    .on_behalf_of
                    .as_ref()
                    .is_some_and(|o| o.id == a)
        });
        let subject_ok = self
            .subject
            .as_deref()
            .is_none_or(|s| envelope.subjects.iter().any(|x| x.id == s));
        let action_ok = self
            .action
            .as_ref()
            .is_none_or(|f| f.matches(&envelope.action));
        let since_ok = self.since.is_none_or(|t| envelope.occurred_at >= t);
        let until_ok = self.until.is_none_or(|t| envelope.occurred_at < t);
        let request_ok = self
            .request_id
            .as_deref()
            .is_none_or(|r| envelope.context.request_id_str() == Some(r));
        actor_ok && subject_ok && action_ok && since_ok && until_ok && request_ok
    }
}

/// One page of results, newest first.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Page {
    /// The events.
    pub events: Vec<Envelope>,
    /// The cursor of the next page, or `None` on the last page.
    pub next: Option<Cursor>,
}

impl Page {
    /// A page of `events`, newest first; when `more` rows follow, the cursor continues
    /// after the last event.
    pub(crate) fn of(events: Vec<Envelope>, more: bool) -> Page {
        let next = if more {
            events.last().and_then(|e| e.seq).map(Cursor::after_seq)
        } else {
            None
        };
        Page { events, next }
    }
}

/// Renders envelopes as a plain-text table: time, outcome, action, actor and message.
///
/// ```
/// # use audit_core::Envelope;
/// let events: Vec<Envelope> = Vec::new();
/// let text = audit_core::query::timeline(&events);
/// assert!(text.starts_with("occurred_at"));
/// ```
#[must_use]
pub fn timeline(events: &[Envelope]) -> String {
    let rows: Vec<[String; 5]> = events
        .iter()
        .map(|e| {
            [
                e.occurred_at.to_string(),
                e.outcome.to_string(),
                e.action.to_string(),
                e.actor.to_string(),
                e.message.clone().unwrap_or_else(|| {
                    let subjects: Vec<&str> =
                        e.subjects.iter().map(|s| s.display.as_str()).collect();
                    subjects.join(", ")
                }),
            ]
        })
        .collect();
    let header = ["occurred_at", "outcome", "action", "actor", "message"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 5]| {
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', w - cell.chars().count() + 2));
            }
        }
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
    out
}

/// SQL for the queryable stores: the driving table, the filters and their parameters, shared
/// by the SQLite and Postgres stores so that both answer a [`Query`] the same way.
///
/// The two stores lay out their side tables (one row per actor, subject or request ID of an
/// event) differently:
///
/// - Postgres keys them by `(id, seq)`.
/// - SQLite keys them by `(run, id, seq)`, where `run` is `seq >> bits` ([`Runs`]): a batch then
///   inserts into the few pages of the current run instead of one random page of the whole
///   index per ID, which is what bounded its write rate. `audit_runs` lists the runs, and a
///   query walks them newest first (`run IN (SELECT run FROM audit_runs)` on the leading key
///   column: one index seek per run, in key order, so `ORDER BY` and `LIMIT` still stop early).
#[allow(dead_code)] // Each store feature uses a part.
pub(crate) mod sql {
    use super::{ActionFilter, Query};

    /// How an SQLite database groups its side-table rows into runs: `seq >> bits`. Fixed
    /// when the database is created, and kept in its `audit_meta`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct Runs {
        pub(crate) bits: u32,
    }

    impl Runs {
        /// 65,536 events a run: a batch touches few pages, a query seeks once per run.
        pub(crate) const DEFAULT: Runs = Runs { bits: 16 };

        /// The run holding the side-table rows of the event at `seq`.
        pub(crate) fn of(self, seq: i64) -> i64 {
            seq >> self.bits
        }
    }

    /// Which store the SQL is for.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Dialect {
        /// `?1` placeholders; side tables keyed by `(run, id, seq)`.
        Sqlite(Runs),
        /// `$1` placeholders; side tables keyed by `(id, seq)`.
        Postgres,
    }

    /// A parameter value.
    pub(crate) enum Param {
        Text(String),
        Int(i64),
    }

    /// A side table: one row per actor, subject or request ID of an event.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Side {
        Subjects,
        Actors,
        Requests,
    }

    impl Side {
        fn table(self) -> &'static str {
            match self {
                Side::Subjects => "audit_subjects",
                Side::Actors => "audit_actors",
                Side::Requests => "audit_requests",
            }
        }

        /// The column of its ID.
        fn key(self) -> &'static str {
            match self {
                Side::Subjects => "subject_id",
                Side::Actors => "actor_id",
                Side::Requests => "request_id",
            }
        }

        /// The ID the query asks for in this table.
        fn wanted(self, q: &Query) -> Option<&String> {
            match self {
                Side::Subjects => q.subject.as_ref(),
                Side::Actors => q.actor.as_ref(),
                Side::Requests => q.request_id.as_ref(),
            }
        }
    }

    /// The parts of a `SELECT` answering a query, newest first.
    pub(crate) struct SqlQuery {
        from: String,
        filters: Vec<String>,
        pub(crate) params: Vec<Param>,
        dialect: Dialect,
        /// The side table driving the query (aliased `d`), if any.
        side: Option<Side>,
        /// Whether a filter reads the events table (else a count needs only the side table).
        reads_events: bool,
        tables: String,
    }

    impl SqlQuery {
        /// `tables` prefixes table names (a Postgres schema with its dot, or nothing).
        pub(crate) fn build(q: &Query, tables: &str, dialect: Dialect) -> Self {
            // Drive from the side table of the most selective filter, in seq order. Only
            // SQLite has a side table of request IDs (Postgres indexes the column).
            let side = if q.subject.is_some() {
                Some(Side::Subjects)
            } else if q.actor.is_some() {
                Some(Side::Actors)
            } else if q.request_id.is_some() && matches!(dialect, Dialect::Sqlite(_)) {
                Some(Side::Requests)
            } else {
                None
            };
            let from = match side {
                Some(side) => format!(
                    "{tables}{} d JOIN {tables}audit_events e ON e.seq = d.seq",
                    side.table()
                ),
                None => format!("{tables}audit_events e"),
            };
            let mut sql = SqlQuery {
                from,
                filters: Vec::new(),
                params: Vec::new(),
                dialect,
                side,
                reads_events: false,
                tables: tables.to_owned(),
            };
            if let Some(side) = side {
                if let Dialect::Sqlite(runs) = dialect {
                    // Runs newest first; a cursor also bounds the runs to walk.
                    match q.after {
                        Some(c) => sql.push(
                            &format!(
                                "d.run IN (SELECT run FROM {tables}audit_runs WHERE run <= ?)"
                            ),
                            Param::Int(runs.of(i64::try_from(c.seq()).unwrap_or(i64::MAX))),
                        ),
                        None => sql
                            .filters
                            .push(format!("d.run IN (SELECT run FROM {tables}audit_runs)")),
                    }
                }
                if let Some(id) = side.wanted(q) {
                    sql.push(&format!("d.{} = ?", side.key()), Param::Text(id.clone()));
                }
            }
            if q.subject.is_some()
                && let Some(actor) = &q.actor
            {
                let same_run = if matches!(dialect, Dialect::Sqlite(_)) {
                    "a.run = d.run AND "
                } else {
                    ""
                };
                sql.push(
                    &format!(
                        "EXISTS (SELECT 1 FROM {tables}audit_actors a WHERE {same_run}\
                         a.actor_id = ? AND a.seq = d.seq)"
                    ),
                    Param::Text(actor.clone()),
                );
            }
            sql.push_event_filters(q);
            if let Some(c) = q.after {
                let seq_col = if side.is_some() { "d.seq" } else { "e.seq" };
                sql.push(
                    &format!("{seq_col} < ?"),
                    Param::Int(i64::try_from(c.seq()).unwrap_or(i64::MAX)),
                );
            }
            sql
        }

        /// Adds the filters on the action, the time and the request id.
        fn push_event_filters(&mut self, q: &Query) {
            match &q.action {
                Some(ActionFilter::Exact(a)) => self.push_event("e.action = ?", a.clone()),
                Some(ActionFilter::Prefix(p)) => {
                    // `>= "widget."` and `< "widget/"`: `/` follows `.` in byte order.
                    let mut upper = p.clone();
                    upper.pop();
                    upper.push('/');
                    self.push_event("e.action >= ?", p.clone());
                    self.push_event("e.action < ?", upper);
                }
                None => {}
            }
            // SQLite keeps the time as microseconds since the epoch, Postgres as text.
            let dialect = self.dialect;
            let time = |t: crate::Timestamp| match dialect {
                Dialect::Sqlite(_) => Param::Int(t.unix_micros()),
                Dialect::Postgres => Param::Text(t.to_string()),
            };
            if let Some(t) = q.since {
                self.reads_events = true;
                self.push("e.occurred_at >= ?", time(t));
            }
            if let Some(t) = q.until {
                self.reads_events = true;
                self.push("e.occurred_at < ?", time(t));
            }
            match (&q.request_id, self.side, self.dialect) {
                (Some(_), Some(Side::Requests), _) | (None, ..) => {}
                // SQLite keeps request ids in their side table only.
                (Some(r), Some(_), Dialect::Sqlite(_)) => {
                    let filter = format!(
                        "EXISTS (SELECT 1 FROM {}audit_requests r WHERE r.run = d.run AND \
                         r.request_id = ? AND r.seq = d.seq)",
                        self.tables
                    );
                    self.push(&filter, Param::Text(r.clone()));
                }
                (Some(r), ..) => self.push_event("e.request_id = ?", r.clone()),
            }
        }

        /// Adds a filter on the events table.
        fn push_event(&mut self, filter: &str, value: String) {
            self.reads_events = true;
            self.push(filter, Param::Text(value));
        }

        /// Adds a filter with one `?`, numbered in the store's placeholder style.
        fn push(&mut self, filter: &str, value: Param) {
            self.params.push(value);
            let n = self.params.len();
            let mark = match self.dialect {
                Dialect::Sqlite(_) => format!("?{n}"),
                Dialect::Postgres => format!("${n}"),
            };
            self.filters.push(filter.replace('?', &mark));
        }

        /// ` WHERE ...`, or nothing.
        fn where_clause(&self) -> String {
            if self.filters.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", self.filters.join(" AND "))
            }
        }

        /// The page query: `seq` and `envelope` of at most `limit` rows, newest first.
        pub(crate) fn page(&self, limit: usize) -> String {
            // With a side table, order by its whole primary key (the ID is fixed by the
            // filter): the planner then walks that key backwards and stops after `limit`
            // rows, instead of scanning a `seq` index for the rare rows of one ID.
            let (seq, order) = match (self.side, self.dialect) {
                (Some(side), Dialect::Sqlite(_)) => (
                    "d.seq",
                    format!("d.run DESC, d.{} DESC, d.seq DESC", side.key()),
                ),
                (Some(side), Dialect::Postgres) => {
                    ("d.seq", format!("d.{} DESC, d.seq DESC", side.key()))
                }
                (None, _) => ("e.seq", "e.seq DESC".to_owned()),
            };
            format!(
                "SELECT {seq}, e.envelope FROM {from}{filters} ORDER BY {order} LIMIT {limit}",
                from = self.from,
                filters = self.where_clause(),
            )
        }

        /// The count query. Without a filter on the events table, it counts the side
        /// table's index entries alone, not joining a row of the (large) events table each.
        pub(crate) fn count(&self) -> String {
            let from = match self.side {
                Some(side) if !self.reads_events => format!("{}{} d", self.tables, side.table()),
                _ => self.from.clone(),
            };
            format!("SELECT count(*) FROM {from}{}", self.where_clause())
        }
    }
}
