//! Queries on `SqliteLog` checked against brute force.
//!
//! - 10,000 random events (about 50 users, some acting on behalf of others, system actors,
//!   Vec and optional subjects, the actor as its own subject, actions under a few prefixes,
//!   random request ids) and hundreds of random queries: every page walked with a small
//!   limit, the event sequence compared with an independent brute-force filter (and with
//!   `Query::matches`), newest first, and `count()` with the brute-force count.
//! - Paging with a cursor while a writer keeps appending never repeats or skips an event.
//! - Readers query (and verify) while four threads emit.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use audit_core::query::{Cursor, Query};
use audit_core::sink::{SqliteLog, SqliteSink};
use audit_core::{
    Actor, AuditEvent, Auditor, Context, EntityRef, Envelope, EventId, PrefixedId, Timestamp,
};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

#[path = "support/temp_dir.rs"]
mod temp_dir;
use temp_dir::TempDir;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEvent)]
#[audit(
    action = "widget.purchased",
    message = "{actor} bought {quantity} of {widget}"
)]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: Actor,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub quantity: u32,
}

#[derive(AuditEvent)]
#[audit(action = "widget.viewed")]
pub struct WidgetViewed {
    #[audit(actor)]
    pub viewer: Actor,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
}

#[derive(AuditEvent)]
#[audit(action = "widget.bundled")]
pub struct WidgetsBundled {
    #[audit(actor)]
    pub by: Actor,
    #[audit(subject)]
    pub widgets: Vec<EntityRef<WidgetId>>,
}

/// Shares the stem `widget` but not the prefix `widget.`.
#[derive(AuditEvent)]
#[audit(action = "widgets.listed")]
pub struct WidgetsListed {
    #[audit(actor)]
    pub by: Actor,
    #[audit(subject)]
    pub owner: EntityRef<UserId>,
}

#[derive(AuditEvent)]
#[audit(action = "user.logged_in")]
pub struct LoggedIn {
    #[audit(actor, subject)]
    pub user: EntityRef<UserId>,
}

#[derive(AuditEvent)]
#[audit(action = "user.invited")]
pub struct UserInvited {
    #[audit(actor)]
    pub by: Actor,
    #[audit(subject)]
    pub invitee: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: Option<EntityRef<WidgetId>>,
}

#[derive(AuditEvent)]
#[audit(action = "billing.invoices_sent")]
pub struct InvoicesSent {
    #[audit(actor)]
    pub job: Actor,
    #[audit(subject, role = "customer")]
    pub customers: Vec<EntityRef<UserId>>,
}

#[derive(AuditEvent)]
#[audit(action = "billing.refund.issued")]
pub struct RefundIssued {
    #[audit(actor)]
    pub by: Actor,
    #[audit(subject)]
    pub customer: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
}

const ACTIONS: &[&str] = &[
    "widget.purchased",
    "widget.viewed",
    "widget.bundled",
    "widgets.listed",
    "user.logged_in",
    "user.invited",
    "billing.invoices_sent",
    "billing.refund.issued",
];

const PATTERNS: &[&str] = &[
    "widget.*",
    "widgets.*",
    "user.*",
    "billing.*",
    "billing.refund.*",
    "nothing.*",
    "widget",
    "widget.purchased",
    "widget.viewed",
    "widget.bundled",
    "widgets.listed",
    "user.logged_in",
    "user.invited",
    "billing.invoices_sent",
    "billing.refund.issued",
    "billing.refund",
];

const SYSTEMS: &[&str] = &["nightly-billing", "importer", "cleanup"];

fn seed() -> u64 {
    let seed = std::env::var("AUDIT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
    eprintln!("seed: {seed} (set AUDIT_TEST_SEED to replay)");
    seed
}

/// What the test knows of each event it emitted, kept apart from what the store returns.
#[derive(Clone, Debug)]
struct Model {
    id: EventId,
    action: &'static str,
    /// The actor's ID and, when acting on someone's behalf, theirs.
    actors: Vec<String>,
    /// Every subject ID (duplicates kept).
    subjects: Vec<String>,
    request_id: Option<String>,
    /// From the store: stamped at emit.
    at: Option<Timestamp>,
}

struct World {
    users: Vec<EntityRef<UserId>>,
    widgets: Vec<EntityRef<WidgetId>>,
    request_ids: Vec<String>,
}

impl World {
    fn new() -> Self {
        World {
            users: (0..50)
                .map(|i| EntityRef::new(UserId::new(), format!("User {i}")))
                .collect(),
            widgets: (0..400)
                .map(|i| EntityRef::new(WidgetId::new(), format!("Widget {i}")))
                .collect(),
            request_ids: (0..400).map(|i| format!("req-{i:04}")).collect(),
        }
    }

    fn user(&self, rng: &mut StdRng) -> EntityRef<UserId> {
        self.users.choose(rng).unwrap().clone()
    }

    fn widget(&self, rng: &mut StdRng) -> EntityRef<WidgetId> {
        self.widgets.choose(rng).unwrap().clone()
    }

    /// A random actor and the IDs a query by actor finds it under.
    fn actor(&self, rng: &mut StdRng) -> (Actor, Vec<String>) {
        match rng.random_range(0..100) {
            // Support staff (the first five users) acting on behalf of a user.
            0..15 => {
                let admin = self.users[rng.random_range(0..5)].clone();
                let user = self.user(rng);
                let ids = vec![admin.id().to_string(), user.id().to_string()];
                (Actor::on_behalf_of(admin, user), ids)
            }
            // Acting on one's own behalf: one ID, twice.
            15..17 => {
                let user = self.user(rng);
                let ids = vec![user.id().to_string(), user.id().to_string()];
                (Actor::on_behalf_of(user.clone(), user), ids)
            }
            17..30 => {
                let name = *SYSTEMS.choose(rng).unwrap();
                (Actor::system(name), vec![name.to_owned()])
            }
            _ => {
                let user = self.user(rng);
                let ids = vec![user.id().to_string()];
                (Actor::from(user), ids)
            }
        }
    }

    /// Emits one random event.
    fn emit(&self, auditor: &Auditor, rng: &mut StdRng) -> Model {
        let request_id = rng
            .random_bool(0.7)
            .then(|| self.request_ids.choose(rng).unwrap().clone());
        let ctx = match &request_id {
            Some(r) => Context::new().request_id(r.clone()),
            None => Context::new(),
        };
        let (actor, actors) = self.actor(rng);
        let kind = rng.random_range(0..ACTIONS.len());
        let action = ACTIONS[kind];
        let mut subjects = Vec::new();
        let id = match action {
            "widget.purchased" => {
                let widget = self.widget(rng);
                subjects.push(widget.id().to_string());
                auditor.emit_with(
                    &ctx,
                    WidgetPurchased {
                        buyer: actor,
                        widget,
                        quantity: rng.random_range(1..10),
                    },
                )
            }
            "widget.viewed" => {
                let widget = self.widget(rng);
                subjects.push(widget.id().to_string());
                auditor.emit_with(
                    &ctx,
                    WidgetViewed {
                        viewer: actor,
                        widget,
                    },
                )
            }
            "widget.bundled" => {
                // Zero to four widgets, sometimes one twice.
                let mut widgets: Vec<EntityRef<WidgetId>> = (0..rng.random_range(0..5))
                    .map(|_| self.widget(rng))
                    .collect();
                if !widgets.is_empty() && rng.random_bool(0.2) {
                    widgets.push(widgets[0].clone());
                }
                subjects.extend(widgets.iter().map(|w| w.id().to_string()));
                auditor.emit_with(&ctx, WidgetsBundled { by: actor, widgets })
            }
            "widgets.listed" => {
                let owner = self.user(rng);
                subjects.push(owner.id().to_string());
                auditor.emit_with(&ctx, WidgetsListed { by: actor, owner })
            }
            "user.logged_in" => {
                // The actor is the subject: the model's actor is replaced.
                let user = self.user(rng);
                subjects.push(user.id().to_string());
                let id = auditor.emit_with(&ctx, LoggedIn { user: user.clone() });
                return self.model(
                    id,
                    action,
                    vec![user.id().to_string()],
                    subjects,
                    request_id,
                );
            }
            "user.invited" => {
                let invitee = self.user(rng);
                subjects.push(invitee.id().to_string());
                let widget = rng.random_bool(0.5).then(|| self.widget(rng));
                subjects.extend(widget.iter().map(|w| w.id().to_string()));
                auditor.emit_with(
                    &ctx,
                    UserInvited {
                        by: actor,
                        invitee,
                        widget,
                    },
                )
            }
            "billing.invoices_sent" => {
                let customers: Vec<EntityRef<UserId>> = (0..rng.random_range(0..6))
                    .map(|_| self.user(rng))
                    .collect();
                subjects.extend(customers.iter().map(|c| c.id().to_string()));
                auditor.emit_with(
                    &ctx,
                    InvoicesSent {
                        job: actor,
                        customers,
                    },
                )
            }
            "billing.refund.issued" => {
                let customer = self.user(rng);
                let widget = self.widget(rng);
                subjects.push(customer.id().to_string());
                subjects.push(widget.id().to_string());
                auditor.emit_with(
                    &ctx,
                    RefundIssued {
                        by: actor,
                        customer,
                        widget,
                    },
                )
            }
            _ => unreachable!(),
        };
        self.model(id, action, actors, subjects, request_id)
    }

    fn model(
        &self,
        id: Result<EventId, audit_core::EmitError>,
        action: &'static str,
        actors: Vec<String>,
        subjects: Vec<String>,
        request_id: Option<String>,
    ) -> Model {
        Model {
            id: id.expect("emit"),
            action,
            actors,
            subjects,
            request_id,
            at: None,
        }
    }
}

/// A query, as the test's own brute force understands it.
#[derive(Clone, Debug, Default)]
struct Filter {
    actor: Option<String>,
    subject: Option<String>,
    /// The pattern, and whether it is a prefix (`"widget.*"` stored as `"widget."`).
    action: Option<(String, bool)>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    request_id: Option<String>,
}

impl Filter {
    fn matches(&self, m: &Model) -> bool {
        if let Some(a) = &self.actor
            && !m.actors.iter().any(|x| x == a)
        {
            return false;
        }
        if let Some(s) = &self.subject
            && !m.subjects.iter().any(|x| x == s)
        {
            return false;
        }
        if let Some((pattern, prefix)) = &self.action {
            let ok = if *prefix {
                m.action.len() > pattern.len() && m.action.starts_with(pattern.as_str())
            } else {
                m.action == pattern
            };
            if !ok {
                return false;
            }
        }
        let at = m.at.expect("stored time");
        if self
            .since
            .is_some_and(|t| at.unix_micros() < t.unix_micros())
        {
            return false;
        }
        if self
            .until
            .is_some_and(|t| at.unix_micros() >= t.unix_micros())
        {
            return false;
        }
        if let Some(r) = &self.request_id
            && m.request_id.as_deref() != Some(r.as_str())
        {
            return false;
        }
        true
    }

    fn query(&self) -> Query {
        let mut q = Query::new();
        if let Some(a) = &self.actor {
            q = q.actor(a);
        }
        if let Some(s) = &self.subject {
            q = q.subject(s);
        }
        if let Some((pattern, prefix)) = &self.action {
            q = q.action(&if *prefix {
                format!("{pattern}*")
            } else {
                pattern.clone()
            });
        }
        if let Some(t) = self.since {
            q = q.since(t);
        }
        if let Some(t) = self.until {
            q = q.until(t);
        }
        if let Some(r) = &self.request_id {
            q = q.request_id(r.clone());
        }
        q
    }
}

fn action_filter(pattern: &str) -> (String, bool) {
    match pattern.strip_suffix('*') {
        Some(p) => (p.to_owned(), true),
        None => (pattern.to_owned(), false),
    }
}

fn micros(t: Timestamp, delta: i64) -> Timestamp {
    Timestamp::from_unix_micros(t.unix_micros() + delta).unwrap()
}

/// Reads the stored rows with plain rusqlite: `(seq, envelope)`, in seq order.
fn stored(path: &Path) -> Vec<(u64, Envelope)> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT seq, envelope FROM audit_events ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        let seq: i64 = r.get(0)?;
        let json: String = r.get(1)?;
        Ok((u64::try_from(seq).unwrap(), json))
    })
    .unwrap()
    .map(|r| {
        let (seq, json) = r.unwrap();
        (seq, serde_json::from_str(&json).expect("stored envelope"))
    })
    .collect()
}

/// Every page of `query` with `limit`, checked page by page; the `seq`s in order.
fn walk(log: &SqliteLog, query: &Query, limit: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let mut q = query.clone().limit(limit);
        if let Some(c) = cursor {
            // The cursor travels as text, as it would in a URL.
            let c: Cursor = c.to_string().parse().expect("cursor text");
            q = q.after(c);
        }
        let page = log.query(&q).expect("query");
        assert!(page.events.len() <= limit, "page over the limit");
        for e in &page.events {
            let seq = e.seq.expect("stored events carry seq");
            assert!(e.hash.is_some() && e.prev_hash.is_some());
            seqs.push(seq);
        }
        match page.next {
            Some(next) => {
                assert_eq!(page.events.len(), limit, "a short page with a next cursor");
                assert_eq!(Some(next.seq()), seqs.last().copied());
                assert!(
                    cursor.is_none_or(|c| next.seq() < c.seq()),
                    "the cursor did not move"
                );
                cursor = Some(next);
            }
            None => return seqs,
        }
    }
}

#[test]
fn random_queries_match_brute_force() {
    const EVENTS: usize = 10_000;
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = TempDir::new("random");
    let path = dir.db();
    let world = World::new();

    let started = Instant::now();
    // Index runs of 128 events (65,536 by default): the queries cross 79 of them.
    let sink = SqliteSink::__open_with_run_bits(&path, 7).unwrap();
    let log = sink.log().unwrap();
    let auditor = Auditor::builder()
        .sink(sink)
        .background(4096)
        .block_when_full(true)
        .build()
        .unwrap();
    let mut models: Vec<Model> = (0..EVENTS)
        .map(|_| world.emit(&auditor, &mut rng))
        .collect();
    auditor.flush().unwrap();
    eprintln!("emitted {EVENTS} events in {:?}", started.elapsed());

    // One emitting thread: `seq` is emit order. What the store holds agrees with the model.
    let rows = stored(&path);
    assert_eq!(rows.len(), EVENTS);
    let envelopes: Vec<Envelope> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (seq, e))| {
            let m = &mut models[i];
            assert_eq!(seq, i as u64 + 1);
            assert_eq!(e.id, m.id, "seq {seq}");
            assert_eq!(e.action, m.action);
            let mut actors = vec![e.actor.id.clone()];
            actors.extend(e.actor.on_behalf_of.iter().map(|o| o.id.clone()));
            assert_eq!(actors, m.actors);
            let subjects: Vec<String> = e.subjects.iter().map(|s| s.id.clone()).collect();
            assert_eq!(subjects, m.subjects);
            assert_eq!(e.context.request_id_str(), m.request_id.as_deref());
            m.at = Some(e.occurred_at);
            e
        })
        .collect();
    // Emitted fast: many events share a millisecond, and times never go back in emit order.
    assert!(models.windows(2).all(|w| w[0].at <= w[1].at));
    let first = models[0].at.unwrap().unix_micros();
    let last = models[EVENTS - 1].at.unwrap().unix_micros();
    eprintln!("time span: {} us", last - first);

    let times: Vec<Timestamp> = models.iter().map(|m| m.at.unwrap()).collect();
    let random_time = |rng: &mut StdRng| {
        let t = *times.choose(rng).unwrap();
        match rng.random_range(0..4) {
            0 => micros(t, -1),
            1 => micros(t, 1),
            _ => t,
        }
    };

    // Fixed cases first, then random ones.
    let user0 = world.users[0].id().to_string();
    let admin = world.users[1].id().to_string();
    let widget0 = world.widgets[0].id().to_string();
    let mid = times[EVENTS / 2];
    let mut filters = vec![
        Filter::default(),
        Filter {
            action: Some(action_filter("widget.*")),
            ..Filter::default()
        },
        Filter {
            action: Some(action_filter("billing.*")),
            ..Filter::default()
        },
        Filter {
            action: Some(action_filter("widget")),
            ..Filter::default()
        },
        Filter {
            actor: Some(user0.clone()),
            ..Filter::default()
        },
        Filter {
            actor: Some(admin.clone()),
            action: Some(action_filter("widget.*")),
            ..Filter::default()
        },
        Filter {
            subject: Some(user0.clone()),
            ..Filter::default()
        },
        Filter {
            actor: Some(user0.clone()),
            subject: Some(user0),
            ..Filter::default()
        },
        Filter {
            subject: Some(widget0),
            ..Filter::default()
        },
        Filter {
            actor: Some("nightly-billing".into()),
            ..Filter::default()
        },
        Filter {
            actor: Some(UserId::new().to_string()),
            ..Filter::default()
        },
        Filter {
            since: Some(mid),
            ..Filter::default()
        },
        Filter {
            until: Some(mid),
            ..Filter::default()
        },
        Filter {
            since: Some(mid),
            until: Some(mid),
            ..Filter::default()
        },
        Filter {
            since: Some(mid),
            until: Some(micros(mid, 1)),
            ..Filter::default()
        },
        Filter {
            request_id: Some("req-0007".into()),
            ..Filter::default()
        },
        Filter {
            request_id: Some("req-none".into()),
            ..Filter::default()
        },
    ];
    for _ in 0..200 {
        let mut f = Filter::default();
        while f.actor.is_none()
            && f.subject.is_none()
            && f.action.is_none()
            && f.since.is_none()
            && f.until.is_none()
            && f.request_id.is_none()
        {
            if rng.random_bool(0.4) {
                f.actor = Some(match rng.random_range(0..10) {
                    0 => (*SYSTEMS.choose(&mut rng).unwrap()).to_owned(),
                    1 => world.users[rng.random_range(0..5)].id().to_string(),
                    _ => world.user(&mut rng).id().to_string(),
                });
            }
            if rng.random_bool(0.35) {
                f.subject = Some(if rng.random_bool(0.5) {
                    world.user(&mut rng).id().to_string()
                } else {
                    world.widget(&mut rng).id().to_string()
                });
            }
            if rng.random_bool(0.4) {
                f.action = Some(action_filter(PATTERNS.choose(&mut rng).unwrap()));
            }
            if rng.random_bool(0.25) {
                f.since = Some(random_time(&mut rng));
            }
            if rng.random_bool(0.25) {
                f.until = Some(random_time(&mut rng));
            }
            if rng.random_bool(0.15) {
                f.request_id = Some(world.request_ids.choose(&mut rng).unwrap().clone());
            }
        }
        filters.push(f);
    }

    let started = Instant::now();
    let (mut pages_total, mut nonempty) = (0, 0);
    for (i, f) in filters.iter().enumerate() {
        let query = f.query();
        // Newest first: descending seq.
        let expected: Vec<u64> = models
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, m)| f.matches(m))
            .map(|(i, _)| i as u64 + 1)
            .collect();
        // The crate's own reference predicate agrees with the test's.
        let reference: Vec<u64> = envelopes
            .iter()
            .rev()
            .filter(|e| query.matches(e))
            .map(|e| e.seq.unwrap())
            .collect();
        assert_eq!(
            reference, expected,
            "Query::matches disagrees, query {i}: {f:?}"
        );

        let small = [1, 2, 3, 5, 8, 13, 50];
        let mut limit = *small.choose(&mut rng).unwrap();
        // Keep the page count of broad queries bounded.
        limit = limit.max(expected.len() / 25);
        let got = walk(&log, &query, limit);
        assert_eq!(
            got.len(),
            expected.len(),
            "query {i} (limit {limit}): {f:?}"
        );
        assert_eq!(got, expected, "query {i} (limit {limit}): {f:?}");
        assert_eq!(
            log.count(&query).unwrap(),
            expected.len() as u64,
            "count, query {i}: {f:?}"
        );
        // A count ignores the cursor and the limit.
        if let Some(&s) = expected.get(expected.len() / 2) {
            let paged = query.clone().after(Cursor::after_seq(s)).limit(1);
            assert_eq!(log.count(&paged).unwrap(), expected.len() as u64);
        }
        pages_total += got.len() / limit + 1;
        nonempty += usize::from(!expected.is_empty());
        // The events returned are the stored ones, with the display names of emit time.
        if let Some(&s) = got.first() {
            let page = log.query(&query.clone().limit(1)).unwrap();
            assert_eq!(page.events[0], envelopes[usize::try_from(s).unwrap() - 1]);
        }
    }
    eprintln!(
        "{} queries ({nonempty} non-empty), {pages_total} pages in {:?}",
        filters.len(),
        started.elapsed()
    );
    assert!(
        nonempty > filters.len() / 3,
        "too few queries found anything"
    );

    // `get` by ID, and an unknown ID.
    for m in models.choose_multiple(&mut rng, 50) {
        assert_eq!(log.get(m.id).unwrap().unwrap().id, m.id);
    }
    assert!(log.get(EventId::new()).unwrap().is_none());
    drop(auditor);
}

/// Starts a background auditor on a new database and emits `n` events of `world`.
fn populated(dir: &TempDir, world: &World, rng: &mut StdRng, n: usize) -> Auditor {
    // Index runs of 32 events, so that pages cross them.
    let sink = SqliteSink::__open_with_run_bits(dir.db(), 5).unwrap();
    let auditor = Auditor::builder()
        .sink(sink)
        .background(4096)
        .block_when_full(true)
        .build()
        .unwrap();
    for _ in 0..n {
        world.emit(&auditor, rng);
    }
    auditor.flush().unwrap();
    auditor
}

#[test]
fn paging_while_writing_never_repeats_or_skips() {
    let mut rng = StdRng::seed_from_u64(seed());
    let dir = TempDir::new("paging");
    let world = Arc::new(World::new());
    let auditor = populated(&dir, &world, &mut rng, 2_000);
    let log = SqliteLog::open(dir.db()).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (auditor, world, stop) = (auditor.clone(), Arc::clone(&world), Arc::clone(&stop));
        let mut rng = StdRng::seed_from_u64(rng.random());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                world.emit(&auditor, &mut rng);
                n += 1;
                if n.is_multiple_of(16) {
                    auditor.flush().unwrap();
                }
            }
            auditor.flush().unwrap();
            n
        })
    };

    let newest = |log: &SqliteLog| -> u64 {
        log.query(&Query::new().limit(1)).unwrap().events[0]
            .seq
            .unwrap()
    };
    let busy_actor = world.users[1].id().to_string();
    // Page sizes small enough that every walk takes several pages, so that writes land
    // between them.
    let queries = [
        (Query::new(), 97),
        (Query::new().actor(&busy_actor), 7),
        (Query::new().action("widget.*"), 97),
    ];
    let mut walks = Vec::new();
    for (query, page_size) in &queries {
        // Let the writer get going, then page slowly while it writes.
        std::thread::sleep(Duration::from_millis(20));
        let start = newest(&log);
        let mut seqs = Vec::new();
        let mut cursor = None;
        loop {
            let mut q = query.clone().limit(*page_size);
            if let Some(c) = cursor {
                q = q.after(c);
            }
            let page = log.query(&q).unwrap();
            seqs.extend(page.events.iter().map(|e| e.seq.unwrap()));
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
            // Let at least one more event land before the next page.
            let seen = newest(&log);
            let deadline = Instant::now() + Duration::from_secs(10);
            while newest(&log) == seen {
                assert!(Instant::now() < deadline, "the writer stalled");
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let end = newest(&log);
        walks.push((query.clone(), start, end, seqs));
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    eprintln!("the writer emitted {written} events while paging");

    let all = stored(&dir.db());
    for (query, start, end, seqs) in walks {
        assert!(
            end > start,
            "no event was written while paging {query:?}: the test proves nothing"
        );
        assert!(
            seqs.windows(2).all(|w| w[0] > w[1]),
            "not strictly newest first (a repeat or a reordering) for {query:?}"
        );
        let expected: Vec<u64> = all
            .iter()
            .rev()
            .filter(|(seq, e)| *seq <= start && query.matches(e))
            .map(|(seq, _)| *seq)
            .collect();
        let got_old: Vec<u64> = seqs.iter().copied().filter(|s| *s <= start).collect();
        assert_eq!(
            got_old, expected,
            "an event was skipped or repeated: {query:?}"
        );
        // Newer events may lead the first page only, and must match too.
        for s in seqs.iter().filter(|s| **s > start) {
            assert!(query.matches(&all[usize::try_from(*s).unwrap() - 1].1));
        }
    }
    let report = auditor.shutdown();
    assert!(report.is_clean(), "{report:?}");
    SqliteSink::verify(dir.db()).unwrap();
}

#[test]
fn readers_run_while_four_threads_emit() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 300;
    let dir = TempDir::new("readers");
    let path = dir.db();
    // Synchronous mode: each emit waits for its commit, concurrent emitters share one.
    let auditor = Auditor::builder()
        .sink(SqliteSink::open(&path).unwrap())
        .build()
        .unwrap();
    let writers: Vec<EntityRef<UserId>> = (0..THREADS)
        .map(|i| EntityRef::new(UserId::new(), format!("Writer {i}")))
        .collect();
    let widget = EntityRef::new(WidgetId::new(), "Shared widget");
    let done = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(THREADS + 1));

    let reader = {
        let (path, done, barrier) = (path.clone(), Arc::clone(&done), Arc::clone(&barrier));
        let actors: Vec<String> = writers.iter().map(|w| w.id().to_string()).collect();
        std::thread::spawn(move || {
            let log = SqliteLog::open(&path).unwrap();
            barrier.wait();
            let (mut rounds, mut overlapped) = (0u32, 0u32);
            let mut last_total = 0;
            let mut last_verified = 0;
            let mut last_per_actor = vec![0; actors.len()];
            loop {
                let finished = done.load(Ordering::Acquire);
                let total = log.count(&Query::new()).unwrap();
                assert!(total >= last_total, "the count went back");
                last_total = total;
                if total > 0 && total < (THREADS * PER_THREAD) as u64 {
                    overlapped += 1;
                }
                // The newest page: contiguous seqs, newest first.
                let page = log.query(&Query::new().limit(20)).unwrap();
                let seqs: Vec<u64> = page.events.iter().map(|e| e.seq.unwrap()).collect();
                assert!(seqs.windows(2).all(|w| w[0] == w[1] + 1), "{seqs:?}");
                for (i, actor) in actors.iter().enumerate() {
                    let q = Query::new().actor(actor).action("widget.*");
                    let n = log.count(&q).unwrap();
                    assert!(n >= last_per_actor[i]);
                    last_per_actor[i] = n;
                    let page = log.query(&q.limit(10)).unwrap();
                    assert!(page.events.iter().all(|e| &e.actor.id == actor));
                }
                if rounds.is_multiple_of(8) {
                    // Verification reads a snapshot, while writes go on.
                    let report = SqliteSink::verify(&path).unwrap();
                    assert!(report.last_seq >= last_verified);
                    last_verified = report.last_seq;
                }
                rounds += 1;
                if finished {
                    return (rounds, overlapped, last_total);
                }
            }
        })
    };

    let emitters: Vec<_> = writers
        .iter()
        .cloned()
        .map(|user| {
            let (auditor, barrier, widget) =
                (auditor.clone(), Arc::clone(&barrier), widget.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for q in 0..PER_THREAD {
                    auditor
                        .emit(WidgetPurchased {
                            buyer: Actor::from(user.clone()),
                            widget: widget.clone(),
                            quantity: u32::try_from(q).unwrap(),
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for e in emitters {
        e.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let (rounds, overlapped, last_total) = reader.join().unwrap();
    eprintln!("{rounds} reader rounds, {overlapped} while writes were under way");
    assert!(
        overlapped >= 3,
        "the reader did not run alongside the writers"
    );
    assert_eq!(last_total, (THREADS * PER_THREAD) as u64);

    let log = SqliteLog::open(&path).unwrap();
    for w in &writers {
        assert_eq!(
            log.count(&Query::new().actor(w.id())).unwrap(),
            PER_THREAD as u64
        );
    }
    assert_eq!(
        log.count(&Query::new().subject(widget.id())).unwrap(),
        (THREADS * PER_THREAD) as u64
    );
    let report = auditor.shutdown();
    assert!(report.is_clean(), "{report:?}");
    let verified = SqliteSink::verify(&path).unwrap();
    assert_eq!(verified.events, (THREADS * PER_THREAD) as u64);
}
