//! The Postgres store: the sink, emitting inside the caller's transaction with the outbox
//! relay, queries, retention, verification, IDs as primary keys, and an outage.
//!
//! Needs `AUDIT_TEST_POSTGRES_URL` (for example `postgres://postgres@127.0.0.1:5432/test`);
//! without it every test prints that it was skipped. Each test works in a schema of its own.
#![cfg(feature = "postgres")]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use audit_core::query::Query;
use audit_core::sink::MemorySink;
use audit_core::sink::postgres::{PostgresAudit, PostgresLog};
use audit_core::{AuditEvent, Auditor, Context, EntityRef, PrefixedId, Timestamp};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEvent)]
#[audit(
    action = "widget.renamed",
    message = "{actor} renamed {widget} to {name}"
)]
pub struct WidgetRenamed {
    #[audit(actor)]
    pub by: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub name: String,
}

fn url() -> Option<String> {
    match std::env::var("AUDIT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: AUDIT_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A fresh schema for one test, dropped when the test ends.
struct Schema {
    pool: PgPool,
    audit: PostgresAudit,
}

impl Schema {
    async fn new(url: &str, name: &str) -> Schema {
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .connect(url)
            .await
            .unwrap_or_else(|e| panic!("AUDIT_TEST_POSTGRES_URL={url} is unreachable: {e}"));
        let schema = format!("audit_test_{name}_{}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&pool)
        .await
        .unwrap();
        let audit = PostgresAudit::in_schema(&schema).unwrap();
        audit.migrate(&pool).await.unwrap();
        // Migrating twice is harmless.
        audit.migrate(&pool).await.unwrap();
        Schema { pool, audit }
    }

    fn log(&self) -> PostgresLog {
        self.audit.log(self.pool.clone())
    }

    async fn drop(self) {
        let schema = self.audit.schema().to_owned();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&self.pool)
        .await
        .unwrap();
    }
}

fn renamed(name: &str) -> WidgetRenamed {
    WidgetRenamed {
        by: EntityRef::new(UserId::new(), "Alice"),
        widget: EntityRef::new(WidgetId::new(), "Blue widget"),
        name: name.to_owned(),
    }
}

async fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_keeps_the_event_rollback_leaves_none() {
    let Some(url) = url() else { return };
    let db = Schema::new(&url, "commit").await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {}.widgets (id TEXT COLLATE \"C\" PRIMARY KEY, name TEXT NOT NULL)",
        db.audit.schema()
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    let insert = format!(
        "INSERT INTO {}.widgets (id, name) VALUES ($1, $2)",
        db.audit.schema()
    );

    // Committed: the change and its event.
    let kept = renamed("Kept");
    let kept_widget = kept.widget.id();
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
        .bind(kept_widget)
        .bind("Kept")
        .execute(&mut *tx)
        .await
        .unwrap();
    let kept_id = db
        .audit
        .emit_in(&mut tx, &Context::new().request_id("req-commit"), kept)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Rolled back: neither.
    let lost = renamed("Lost");
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(insert))
        .bind(lost.widget.id())
        .bind("Lost")
        .execute(&mut *tx)
        .await
        .unwrap();
    let lost_id = db
        .audit
        .emit_in(&mut tx, &Context::new(), lost)
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    let log = db.log();
    assert_eq!(
        log.outbox_len().await.unwrap(),
        1,
        "only the committed event is in the outbox"
    );

    let memory = MemorySink::new();
    let others = Auditor::builder().sink(memory.clone()).build().unwrap();
    let relay = db
        .audit
        .relay_with(&url, others, Duration::from_millis(20))
        .unwrap();
    wait_for(|| relay.relayed() == 1, "the relay").await;

    assert!(log.get(kept_id).await.unwrap().is_some());
    assert!(log.get(lost_id).await.unwrap().is_none());
    assert_eq!(log.outbox_len().await.unwrap(), 0);
    let forwarded = memory.events();
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].id, kept_id);
    assert_eq!(forwarded[0].context.request_id_str(), Some("req-commit"));
    let page = log.query(&Query::new().subject(kept_widget)).await.unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(
        page.events[0].message.as_deref(),
        Some("Alice renamed Blue widget to Kept")
    );
    assert_eq!(page.events[0].seq, Some(1));
    let report = log.verify(None).await.unwrap();
    assert_eq!(report.events, 1);
    relay.stop();
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_keep_the_chain_valid() {
    let Some(url) = url() else { return };
    let db = Schema::new(&url, "concurrent").await;
    let memory = MemorySink::new();
    let others = Auditor::builder().sink(memory.clone()).build().unwrap();
    let relay = db
        .audit
        .relay_with(&url, others, Duration::from_millis(10))
        .unwrap();
    // And a direct sink writing into the same chain at the same time.
    let direct = Auditor::builder()
        .sink(db.audit.sink(&url).unwrap())
        .build()
        .unwrap();

    let mut tasks = Vec::new();
    for t in 0..16 {
        let pool = db.pool.clone();
        let audit = db.audit.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..10 {
                let mut tx = pool.begin().await.unwrap();
                ids.push(
                    audit
                        .emit_in(&mut tx, &Context::new(), renamed(&format!("t{t}-{i}")))
                        .await
                        .unwrap(),
                );
                tx.commit().await.unwrap();
            }
            ids
        }));
    }
    let direct_ids: Vec<_> = (0..40)
        .map(|i| direct.emit(renamed(&format!("d{i}"))).unwrap())
        .collect();
    let mut expected: HashSet<_> = direct_ids.into_iter().collect();
    for task in tasks {
        expected.extend(task.await.unwrap());
    }
    wait_for(|| relay.relayed() == 160, "the relay").await;
    relay.stop();

    let log = db.log();
    let report = log.verify(None).await.unwrap();
    assert_eq!(report.events, 200);
    assert_eq!((report.first_seq, report.last_seq), (1, 200));
    let mut seen = HashSet::new();
    let mut query = Query::new().limit(37);
    loop {
        let page = log.query(&query).await.unwrap();
        for e in &page.events {
            assert!(seen.insert(e.id), "{} twice", e.id);
        }
        match page.next {
            Some(next) => query = query.after(next),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(
        log.count(&Query::new().action("widget.*")).await.unwrap(),
        200
    );
    assert_eq!(memory.len(), 160, "each relayed event forwarded once");
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_and_tampering() {
    let Some(url) = url() else { return };
    let db = Schema::new(&url, "retention").await;
    let auditor = Auditor::builder()
        .sink(db.audit.sink(&url).unwrap())
        .build()
        .unwrap();
    for i in 0..10 {
        auditor.emit(renamed(&format!("old{i}"))).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let cut_time = Timestamp::now();
    for i in 0..5 {
        auditor.emit(renamed(&format!("new{i}"))).unwrap();
    }
    let log = db.log();
    let full = log.verify(None).await.unwrap();
    let report = log.delete_before(cut_time).await.unwrap();
    assert_eq!(report.deleted, 10);
    assert_eq!(report.cut.seq, 10);
    let after = log.verify(None).await.unwrap();
    assert_eq!((after.first_seq, after.last_seq, after.events), (11, 15, 5));
    // An anchor taken before retention still holds after it.
    let anchor = audit_core::chain::Anchor {
        seq: full.last_seq,
        hash: full.last_hash.clone(),
    };
    assert_eq!(log.verify(Some(&anchor)).await.unwrap().last_seq, 15);
    auditor.emit(renamed("later")).unwrap();
    assert_eq!(log.verify(None).await.unwrap().last_seq, 16);

    // Edit an envelope after the cut: caught at its seq.
    let s = db.audit.schema().to_owned();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {s}.audit_events SET envelope = replace(envelope, 'new2', 'NEW2') WHERE seq = 13"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    let err = log.verify(None).await.unwrap_err();
    assert_eq!(err.seq(), Some(13), "{err}");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {s}.audit_events SET envelope = replace(envelope, 'NEW2', 'new2') WHERE seq = 13"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    // An indexed column edited to hide an event from actor queries.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {s}.audit_actors WHERE seq = 14"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    let err = log.verify(None).await.unwrap_err();
    assert_eq!(err.seq(), Some(14), "{err}");
    drop(auditor);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_as_primary_keys() {
    let Some(url) = url() else { return };
    let db = Schema::new(&url, "ids").await;
    let s = db.audit.schema().to_owned();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {s}.users (id TEXT COLLATE \"C\" PRIMARY KEY, name TEXT NOT NULL)"
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    let alice = UserId::new();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {s}.users VALUES ($1, 'Alice')"
    )))
    .bind(alice)
    .execute(&db.pool)
    .await
    .unwrap();
    let back: UserId = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM {s}.users WHERE name = 'Alice'"
    )))
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(back, alice);
    let stored: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM {s}.users WHERE id = $1"
    )))
    .bind(alice)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored, alice.to_string());
    // Arrays of IDs bind too.
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {s}.users WHERE id = ANY($1)"
    )))
    .bind(vec![alice, UserId::new()])
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(n, 1);

    // A foreign prefix in the column is an error naming the expected prefix.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {s}.users VALUES ($1, 'Widget')"
    )))
    .bind(WidgetId::new())
    .execute(&db.pool)
    .await
    .unwrap();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM {s}.users WHERE name = 'Widget'"
    )))
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let err = row.try_get::<UserId, _>(0).unwrap_err().to_string();
    assert!(err.contains("user"), "{err}");
    db.drop().await;
}

/// A loopback TCP proxy to Postgres that the test opens and closes, standing in for an
/// outage.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
}

impl Proxy {
    fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let target = target.to_owned();
        let flag = Arc::clone(&up);
        std::thread::spawn(move || {
            let mut conns: Vec<(TcpStream, TcpStream)> = Vec::new();
            listener.set_nonblocking(true).unwrap();
            loop {
                if !flag.load(Ordering::Relaxed) {
                    for (a, b) in conns.drain(..) {
                        let _ = a.shutdown(std::net::Shutdown::Both);
                        let _ = b.shutdown(std::net::Shutdown::Both);
                    }
                }
                match listener.accept() {
                    Ok((client, _)) => {
                        if !flag.load(Ordering::Relaxed) {
                            drop(client);
                            continue;
                        }
                        let server = TcpStream::connect(&target).unwrap();
                        client.set_nonblocking(false).unwrap();
                        for (mut from, mut to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server.try_clone().unwrap(), client.try_clone().unwrap()),
                        ] {
                            std::thread::spawn(move || {
                                let mut buf = [0u8; 16384];
                                while let Ok(n) = from.read(&mut buf) {
                                    if n == 0 || to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                let _ = to.shutdown(std::net::Shutdown::Both);
                            });
                        }
                        conns.push((client, server));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy { port, up }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }
}

#[test]
fn an_outage_loses_nothing_and_doubles_nothing() {
    let Some(url) = url() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(Schema::new(&url, "outage"));
    let parsed = url::Url::parse(&url).unwrap();
    let target = format!(
        "{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(&target);
    let mut via_proxy = parsed.clone();
    via_proxy.set_host(Some("127.0.0.1")).unwrap();
    via_proxy.set_port(Some(proxy.port)).unwrap();

    let sink = db.audit.sink(via_proxy.as_str()).unwrap();
    let auditor = Auditor::builder()
        .sink(sink)
        .background(10_000)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(auditor.emit(renamed(&format!("before{i}"))).unwrap());
    }
    auditor.flush().unwrap();

    proxy.set_up(false);
    for i in 0..100 {
        ids.push(auditor.emit(renamed(&format!("during{i}"))).unwrap());
    }
    let err = auditor.flush().expect_err("flush reports the outage");
    assert!(err.to_string().contains("postgres"), "{err}");
    assert!(auditor.stats().sinks[0].failed > 0);

    proxy.set_up(true);
    let deadline = Instant::now() + Duration::from_secs(30);
    while auditor.flush().is_err() {
        assert!(Instant::now() < deadline, "the sink did not recover");
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = db.log();
    let report = rt.block_on(log.verify(None)).unwrap();
    assert_eq!(report.events, 200, "none lost, none doubled");
    let stored: HashSet<_> = rt
        .block_on(async {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM {}.audit_events",
                db.audit.schema()
            )))
            .fetch_all(&db.pool)
            .await
        })
        .unwrap()
        .into_iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    assert_eq!(stored, ids.iter().map(ToString::to_string).collect());
    drop(auditor);
    rt.block_on(db.drop());
}
