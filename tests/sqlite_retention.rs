//! `SqliteLog::delete_before` and `SqliteSink::verify`, as an auditor of the database sees
//! them: after a retention cut the chain verifies from the cut and later appends continue it;
//! tampering after the cut (an envelope text, an indexed column, a row, a side-table entry,
//! the cut record) is caught at the right `seq`; a trusted anchor catches a cut-off tail; and
//! a corrupted file is a clear error, never a panic. A database in the older layout (version
//! 1) is upgraded in place on first open and answers as before; a newer one is refused.

use std::path::{Path, PathBuf};

use audit_core::chain::{Anchor, Break, VerifyError};
use audit_core::query::Query;
use audit_core::sink::{SqliteLog, SqliteSink};
use audit_core::{Actor, AuditEvent, Auditor, Context, EntityRef, Envelope, PrefixedId, Timestamp};
use rusqlite::{Connection, params};

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
    #[audit(subject)]
    pub gifted_to: Option<EntityRef<UserId>>,
    pub quantity: u32,
}

/// 2026-01-01T00:00:00Z plus `minutes`.
fn at(minutes: i64) -> Timestamp {
    Timestamp::from_unix_micros(1_767_225_600_000_000 + minutes * 60_000_000).unwrap()
}

/// Appends events numbered `from..to`, event `i` occurring at minute `i`, through a new sink
/// on `path`; every third event acts on someone's behalf, every second has two subjects. A new
/// database has index runs of 8 events, so that cuts fall inside runs and remove whole ones.
fn append(path: &Path, from: i64, to: i64) {
    let auditor = Auditor::builder()
        .sink(SqliteSink::__open_with_run_bits(path, 3).unwrap())
        .background(1024)
        .block_when_full(true)
        .build()
        .unwrap();
    for i in from..to {
        let user = EntityRef::new(UserId::new(), format!("User {i}"));
        let buyer = if i % 3 == 0 {
            Actor::on_behalf_of(EntityRef::new(UserId::new(), "Support"), user.clone())
        } else {
            Actor::from(user.clone())
        };
        let event = WidgetPurchased {
            buyer,
            widget: EntityRef::new(WidgetId::new(), format!("Widget {i}")),
            gifted_to: (i % 2 == 0).then(|| EntityRef::new(UserId::new(), "Friend")),
            quantity: u32::try_from(i).unwrap(),
        };
        let ctx = Context::new().request_id(format!("req-{i}"));
        let mut envelope = Envelope::from_event(&event, &ctx).unwrap();
        envelope.occurred_at = at(i);
        auditor.emit_envelope(envelope).unwrap();
    }
    let report = auditor.shutdown();
    assert!(report.is_clean(), "{report:?}");
}

/// The stored rows, `(seq, hash, envelope)`, read with plain rusqlite.
fn rows(path: &Path) -> Vec<(u64, String, Envelope)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT seq, hash, envelope FROM audit_events ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })
    .unwrap()
    .map(|r| {
        let (seq, hash, json) = r.unwrap();
        (
            u64::try_from(seq).unwrap(),
            hash,
            serde_json::from_str(&json).unwrap(),
        )
    })
    .collect()
}

fn broken_at(err: &VerifyError) -> u64 {
    match err {
        VerifyError::Broken { seq, .. } => *seq,
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[test]
fn retention_cut_verifies_and_later_appends_continue_the_chain() {
    let dir = TempDir::new("cut");
    let path = dir.db();
    append(&path, 0, 40);
    let before = rows(&path);
    let mut log = SqliteLog::open(&path).unwrap();

    // Events 0..15 occurred before minute 15: seq 1..=15 go.
    let report = log.delete_before(at(15)).unwrap();
    assert_eq!(report.deleted, 15);
    assert_eq!(report.cut.seq, 15);
    assert_eq!(report.cut.hash, before[14].1);
    let verified = SqliteSink::verify(&path).unwrap();
    assert_eq!(
        (verified.events, verified.first_seq, verified.last_seq),
        (25, 16, 40)
    );
    assert_eq!(verified.last_hash, before[39].1);
    assert_eq!(log.count(&Query::new()).unwrap(), 25);
    let oldest = log.query(&Query::new().limit(1000)).unwrap();
    assert_eq!(oldest.events.last().unwrap().seq, Some(16));
    // The side tables lost the removed events too.
    let gone_actor = &before[3].2.actor.id;
    assert_eq!(log.count(&Query::new().actor(gone_actor)).unwrap(), 0);
    let gone_subject = &before[3].2.subjects[0].id;
    assert_eq!(log.count(&Query::new().subject(gone_subject)).unwrap(), 0);
    let conn = Connection::open(&path).unwrap();
    let orphans: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM audit_actors WHERE seq <= 15) + \
             (SELECT count(*) FROM audit_subjects WHERE seq <= 15)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);

    // The same cut again removes nothing and keeps the cut point.
    let again = log.delete_before(at(15)).unwrap();
    assert_eq!((again.deleted, again.cut.seq), (0, 15));
    // A time before every remaining event removes nothing either.
    assert_eq!(log.delete_before(at(3)).unwrap().deleted, 0);

    // Later appends continue the chain.
    append(&path, 40, 50);
    let after = rows(&path);
    assert_eq!(after.first().unwrap().0, 16);
    assert_eq!(after.last().unwrap().0, 50);
    let e41 = &after.iter().find(|r| r.0 == 41).unwrap().2;
    assert_eq!(e41.prev_hash.as_deref(), Some(before[39].1.as_str()));
    let verified = SqliteSink::verify(&path).unwrap();
    assert_eq!(
        (verified.events, verified.first_seq, verified.last_seq),
        (35, 16, 50)
    );
    let anchor = Anchor {
        seq: 50,
        hash: verified.last_hash.clone(),
    };

    // A second cut, then every event: the log is empty but the chain goes on.
    assert_eq!(log.delete_before(at(30)).unwrap().deleted, 15);
    let all = log.delete_before(at(1_000)).unwrap();
    assert_eq!((all.deleted, all.cut.seq), (20, 50));
    assert_eq!(all.cut.hash, anchor.hash);
    let verified = SqliteSink::verify(&path).unwrap();
    assert_eq!((verified.events, verified.last_seq), (0, 50));
    assert_eq!(verified.last_hash, anchor.hash);
    // An anchor at the cut point is checked against the cut record.
    SqliteSink::verify_with_anchor(&path, &anchor).unwrap();
    let wrong = Anchor {
        seq: 50,
        hash: "0".repeat(64),
    };
    assert!(matches!(
        SqliteSink::verify_with_anchor(&path, &wrong),
        Err(VerifyError::AnchorMismatch { seq: 50 })
    ));

    append(&path, 50, 55);
    let after = rows(&path);
    assert_eq!(
        after.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![51, 52, 53, 54, 55]
    );
    assert_eq!(after[0].2.prev_hash.as_deref(), Some(anchor.hash.as_str()));
    let verified = SqliteSink::verify_with_anchor(&path, &anchor).unwrap();
    assert_eq!(
        (verified.events, verified.first_seq, verified.last_seq),
        (5, 51, 55)
    );
}

#[test]
fn retention_while_the_sink_is_writing() {
    let dir = TempDir::new("live");
    let path = dir.db();
    append(&path, 0, 10);
    let auditor = Auditor::builder()
        .sink(SqliteSink::open(&path).unwrap())
        .build()
        .unwrap();
    let mut log = SqliteLog::open(&path).unwrap();
    let widget = EntityRef::new(WidgetId::new(), "Live widget");
    for round in 0..10 {
        for _ in 0..5 {
            auditor
                .emit(WidgetPurchased {
                    buyer: Actor::system("importer"),
                    widget: widget.clone(),
                    gifted_to: None,
                    quantity: round,
                })
                .unwrap();
        }
        // Removes everything stamped before now, including what was just written.
        log.delete_before(Timestamp::now()).unwrap();
        SqliteSink::verify(&path).unwrap();
    }
    assert!(auditor.shutdown().is_clean());
    let verified = SqliteSink::verify(&path).unwrap();
    assert_eq!(verified.last_seq, 60);
}

/// A database of events 0..30 cut before minute 10 (seq 11..=30 remain), verified.
fn cut_db(name: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(name);
    let path = dir.db();
    append(&path, 0, 30);
    let mut log = SqliteLog::open(&path).unwrap();
    assert_eq!(log.delete_before(at(10)).unwrap().cut.seq, 10);
    SqliteSink::verify(&path).unwrap();
    (dir, path)
}

/// Runs `sql` on a cut database, as a tamperer would, and returns what verification says.
fn tampered(name: &str, sql: &str) -> VerifyError {
    let (_dir, path) = cut_db(name);
    let conn = Connection::open(&path).unwrap();
    let changed = conn.execute_batch(sql);
    changed.unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        conn.changes() > 0 || sql.contains(';'),
        "{name}: nothing changed"
    );
    drop(conn);
    // The store still opens and answers queries: only verification tells.
    SqliteLog::open(&path).unwrap();
    SqliteSink::verify(&path).expect_err(name)
}

#[test]
fn tampering_after_the_cut_is_caught_at_its_seq() {
    let other = UserId::new().to_string();
    let cases: Vec<(&str, String, u64)> = vec![
        (
            "envelope text",
            "UPDATE audit_events SET envelope = replace(envelope, 'bought', 'stole') WHERE seq = 20"
                .into(),
            20,
        ),
        (
            "first envelope after the cut",
            "UPDATE audit_events SET envelope = replace(envelope, 'User 10', 'User 99') WHERE seq = 11"
                .into(),
            11,
        ),
        (
            "action column",
            "UPDATE audit_events SET action = 'widget.refunded' WHERE seq = 18".into(),
            18,
        ),
        (
            "occurred_at column",
            "UPDATE audit_events SET occurred_at = 1577836800000000 WHERE seq = 19".into(),
            19,
        ),
        (
            "id column",
            "UPDATE audit_events SET id = (SELECT id FROM audit_events WHERE seq = 30) || 'x' \
             WHERE seq = 21"
                .into(),
            21,
        ),
        (
            "hash column",
            "UPDATE audit_events SET hash = (SELECT hash FROM audit_events WHERE seq = 12) \
             WHERE seq = 30"
                .into(),
            30,
        ),
        (
            "deleted row",
            "DELETE FROM audit_events WHERE seq = 25".into(),
            25,
        ),
        (
            "deleted subject entry",
            "DELETE FROM audit_subjects WHERE seq = 26".into(),
            26,
        ),
        (
            "added subject entry",
            format!("INSERT INTO audit_subjects (run, subject_id, seq) VALUES (27 >> 3, '{other}', 27)"),
            27,
        ),
        (
            "added actor entry in a run with no events",
            format!("INSERT INTO audit_actors (run, actor_id, seq) VALUES (7, '{other}', 27)"),
            27,
        ),
        (
            "added actor entry for a removed event",
            format!("INSERT INTO audit_actors (run, actor_id, seq) VALUES (1, '{other}', 9)"),
            9,
        ),
        (
            "actor entry",
            format!("UPDATE audit_actors SET actor_id = '{other}' WHERE seq = 17"),
            17,
        ),
        (
            "request entry",
            "UPDATE audit_requests SET request_id = 'req-forged' WHERE seq = 22".into(),
            22,
        ),
        (
            "occurred_at as text",
            "UPDATE audit_events SET occurred_at = '2026-01-01T00:23:00.000000Z' WHERE seq = 23"
                .into(),
            23,
        ),
        (
            "deleted request entry",
            "DELETE FROM audit_requests WHERE seq = 29".into(),
            29,
        ),
        (
            "deleted run, hiding its events from queries",
            "DELETE FROM audit_runs".into(),
            11,
        ),
        (
            "deleted on-behalf-of actor entry",
            // Event 27 (seq 28) acts on someone's behalf: two actor entries.
            "DELETE FROM audit_actors WHERE seq = 28 AND actor_id = \
             (SELECT max(actor_id) FROM audit_actors WHERE seq = 28)"
                .into(),
            28,
        ),
        (
            "reordered rows",
            "UPDATE audit_events SET envelope = CASE seq \
               WHEN 14 THEN (SELECT envelope FROM audit_events WHERE seq = 15) \
               ELSE (SELECT envelope FROM audit_events WHERE seq = 14) END \
             WHERE seq IN (14, 15)"
                .into(),
            14,
        ),
        (
            "added key in the envelope text",
            "UPDATE audit_events SET envelope = replace(envelope, '\"seq\":', \
             '\"approved_by\":\"nobody\",\"seq\":') WHERE seq = 24"
                .into(),
            24,
        ),
        (
            "edited cut hash",
            "UPDATE audit_meta SET value = (SELECT hash FROM audit_events WHERE seq = 12) \
             WHERE key = 'cut_hash'"
                .into(),
            11,
        ),
    ];
    for (name, sql, seq) in cases {
        let err = tampered(name, &sql);
        assert_eq!(broken_at(&err), seq, "{name}: {err}");
        assert_eq!(err.seq(), Some(seq));
        assert!(
            err.to_string().contains(&format!("seq {seq}")),
            "{name}: {err}"
        );
    }

    // How some of them are reported.
    let err = tampered(
        "text",
        "UPDATE audit_events SET envelope = replace(envelope, 'bought', 'stole') WHERE seq = 20",
    );
    assert!(
        matches!(
            err,
            VerifyError::Broken {
                seq: 20,
                why: Break::Hash
            }
        ),
        "{err:?}"
    );
    let err = tampered("row", "DELETE FROM audit_events WHERE seq = 25");
    assert!(
        matches!(
            err,
            VerifyError::Broken {
                seq: 25,
                why: Break::Sequence { expected: 25 }
            }
        ),
        "{err:?}"
    );
    // Without its cut record, the log looks cut off at the start: caught at seq 1.
    let err = tampered(
        "cut record",
        "DELETE FROM audit_meta WHERE key LIKE 'cut_%'",
    );
    assert_eq!(err.seq(), Some(1), "{err:?}");
    // Without the run size, the store cannot be read at all, and says why.
    let (_dir, path) = cut_db("run size");
    let conn = Connection::open(&path).unwrap();
    conn.execute("DELETE FROM audit_meta WHERE key = 'run_bits'", [])
        .unwrap();
    drop(conn);
    let err = SqliteLog::open(&path).unwrap_err().to_string();
    assert!(err.contains("run_bits"), "{err}");
    assert!(SqliteSink::verify(&path).is_err());
}

#[test]
fn a_trusted_anchor_catches_a_cut_off_tail() {
    let (_dir, path) = cut_db("anchor");
    let report = SqliteSink::verify(&path).unwrap();
    let anchor = Anchor {
        seq: report.last_seq,
        hash: report.last_hash.clone(),
    };
    assert_eq!(anchor.seq, 30);
    SqliteSink::verify_with_anchor(&path, &anchor).unwrap();
    // An anchor inside the log, and one that fell to retention, both pass.
    let rows = rows(&path);
    let inside = Anchor {
        seq: 20,
        hash: rows.iter().find(|r| r.0 == 20).unwrap().1.clone(),
    };
    SqliteSink::verify_with_anchor(&path, &inside).unwrap();
    let forged_inside = Anchor {
        seq: 20,
        hash: rows.iter().find(|r| r.0 == 21).unwrap().1.clone(),
    };
    assert!(matches!(
        SqliteSink::verify_with_anchor(&path, &forged_inside),
        Err(VerifyError::AnchorMismatch { seq: 20 })
    ));

    // Cut the tail off: the chain alone still verifies; the anchor does not.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DELETE FROM audit_subjects WHERE seq > 25;
         DELETE FROM audit_actors WHERE seq > 25;
         DELETE FROM audit_requests WHERE seq > 25;
         DELETE FROM audit_events WHERE seq > 25;",
    )
    .unwrap();
    drop(conn);
    assert_eq!(SqliteSink::verify(&path).unwrap().last_seq, 25);
    let err = SqliteSink::verify_with_anchor(&path, &anchor).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Truncated {
                anchor_seq: 30,
                last_seq: 25
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.seq(), Some(26));

    // New appends after the cut-off tail make a valid chain, but not the anchored one.
    append(&path, 100, 110);
    assert_eq!(SqliteSink::verify(&path).unwrap().last_seq, 35);
    let err = SqliteSink::verify_with_anchor(&path, &anchor).unwrap_err();
    assert!(
        matches!(err, VerifyError::AnchorMismatch { seq: 30 }),
        "{err:?}"
    );

    // Every row gone, the cut record kept: the anchor still catches it.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DELETE FROM audit_subjects; DELETE FROM audit_actors; DELETE FROM audit_requests;
         DELETE FROM audit_events;",
    )
    .unwrap();
    drop(conn);
    assert_eq!(SqliteSink::verify(&path).unwrap().last_seq, 10);
    assert!(matches!(
        SqliteSink::verify_with_anchor(&path, &anchor),
        Err(VerifyError::Truncated {
            anchor_seq: 30,
            last_seq: 10
        })
    ));
}

/// Every entry point on `path`: each must fail with a message naming the file.
fn assert_clear_errors(path: &Path, what: &str) {
    let shown = path.display().to_string();
    let sink = SqliteSink::open(path);
    let err = sink.expect_err(&format!("SqliteSink::open accepted {what}"));
    let text = err.to_string();
    assert!(text.contains(&shown), "{what}: {text}");
    assert!(text.contains("SQLite"), "{what}: {text}");

    let err = SqliteLog::open(path).expect_err(&format!("SqliteLog::open accepted {what}"));
    let text = err.to_string();
    assert!(
        text.contains(&shown) && text.contains("SQLite"),
        "{what}: {text}"
    );

    let err = SqliteSink::verify(path).expect_err(&format!("verify accepted {what}"));
    let text = err.to_string();
    assert!(matches!(err, VerifyError::Io(_)), "{what}: {err:?}");
    assert!(text.contains(&shown), "{what}: {text}");
    eprintln!("{what}: {text}");
}

#[test]
fn corrupted_files_are_clear_errors() {
    let dir = TempDir::new("corrupt");

    // Random bytes.
    let random = dir.0.join("random.db");
    let bytes: Vec<u8> = (0..16 * 1024).map(|_| rand::random::<u8>()).collect();
    std::fs::write(&random, &bytes).unwrap();
    assert_clear_errors(&random, "random bytes");

    // A text file.
    let text = dir.0.join("notes.db");
    std::fs::write(&text, "these are my notes, not a database\n".repeat(200)).unwrap();
    assert_clear_errors(&text, "a text file");

    // A real audit database, cut short.
    let whole = dir.0.join("whole.db");
    append(&whole, 0, 300);
    assert!(
        !Path::new(&format!("{}-wal", whole.display())).exists(),
        "the WAL was not checkpointed on close"
    );
    let data = std::fs::read(&whole).unwrap();
    assert!(data.len() > 8 * 4096, "{} bytes", data.len());
    for (name, len) in [
        ("header.db", 60),
        ("page.db", 3000),
        ("half.db", data.len() / 2),
        ("most.db", data.len() - 4096),
    ] {
        let cut = dir.0.join(name);
        std::fs::write(&cut, &data[..len]).unwrap();
        assert_clear_errors(&cut, &format!("a database truncated to {len} bytes"));
    }

    // The valid file itself still verifies: the checks above are about the damage.
    assert_eq!(SqliteSink::verify(&whole).unwrap().events, 300);

    // Another program's SQLite database: the reader and verify refuse it.
    let other = dir.0.join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let err = SqliteLog::open(&other).unwrap_err();
    assert!(
        err.to_string().contains(&other.display().to_string()),
        "{err}"
    );
    assert!(SqliteSink::verify(&other).is_err());

    // A file that does not exist: the reader does not create it.
    let missing = dir.0.join("missing.db");
    assert!(SqliteLog::open(&missing).is_err());
    assert!(SqliteSink::verify(&missing).is_err());
    assert!(!missing.exists());

    // Garbage inside a valid database: a row whose envelope is not JSON is a query error
    // and a broken chain at its seq, not a panic.
    let garbled = dir.0.join("garbled.db");
    append(&garbled, 0, 5);
    Connection::open(&garbled)
        .unwrap()
        .execute(
            "UPDATE audit_events SET envelope = ?1 WHERE seq = 3",
            params!["{not json"],
        )
        .unwrap();
    let log = SqliteLog::open(&garbled).unwrap();
    let err = log.query(&Query::new()).unwrap_err();
    assert!(err.to_string().contains("seq 3"), "{err}");
    let err = SqliteSink::verify(&garbled).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Broken {
                seq: 3,
                why: Break::Unreadable(_)
            }
        ),
        "{err:?}"
    );
}

/// Rewrites a current database into layout version 1, as audit-core 0.1 wrote it: side
/// tables keyed by `(id, seq)`, request ids indexed on the events table, no recorded version.
fn downgrade_to_version_1(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "BEGIN;
         CREATE TABLE v1_events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL COLLATE BINARY UNIQUE,
             action TEXT NOT NULL COLLATE BINARY, occurred_at TEXT NOT NULL COLLATE BINARY,
             outcome TEXT NOT NULL, actor_type TEXT NOT NULL,
             actor_id TEXT NOT NULL COLLATE BINARY, request_id TEXT COLLATE BINARY,
             prev_hash TEXT NOT NULL, hash TEXT NOT NULL, envelope TEXT NOT NULL);
         INSERT INTO v1_events SELECT seq, id, action, envelope ->> '$.occurred_at',
             envelope ->> '$.outcome', envelope ->> '$.actor.type', envelope ->> '$.actor.id',
             envelope ->> '$.context.request_id', envelope ->> '$.prev_hash', hash, envelope
             FROM audit_events;
         DROP TABLE audit_events;
         ALTER TABLE v1_events RENAME TO audit_events;
         CREATE INDEX audit_events_action ON audit_events (action, seq);
         CREATE INDEX audit_events_time ON audit_events (occurred_at);
         CREATE TABLE v1_actors (actor_id TEXT NOT NULL COLLATE BINARY,
             seq INTEGER NOT NULL REFERENCES audit_events (seq) ON DELETE CASCADE,
             PRIMARY KEY (actor_id, seq)) WITHOUT ROWID;
         CREATE TABLE v1_subjects (subject_id TEXT NOT NULL COLLATE BINARY,
             seq INTEGER NOT NULL REFERENCES audit_events (seq) ON DELETE CASCADE,
             PRIMARY KEY (subject_id, seq)) WITHOUT ROWID;
         INSERT INTO v1_actors SELECT actor_id, seq FROM audit_actors;
         INSERT INTO v1_subjects SELECT subject_id, seq FROM audit_subjects;
         DROP TABLE audit_actors; DROP TABLE audit_subjects;
         DROP TABLE audit_requests; DROP TABLE audit_runs;
         ALTER TABLE v1_actors RENAME TO audit_actors;
         ALTER TABLE v1_subjects RENAME TO audit_subjects;
         CREATE INDEX audit_actors_seq ON audit_actors (seq);
         CREATE INDEX audit_subjects_seq ON audit_subjects (seq);
         CREATE INDEX audit_events_request ON audit_events (request_id)
             WHERE request_id IS NOT NULL;
         DELETE FROM audit_meta WHERE key IN ('run_bits', 'layout');
         COMMIT;",
    )
    .unwrap();
}

#[test]
fn a_version_1_database_is_upgraded_in_place_and_answers_the_same() {
    let dir = TempDir::new("upgrade");
    let path = dir.db();
    append(&path, 0, 40);
    SqliteLog::open(&path)
        .unwrap()
        .delete_before(at(5))
        .unwrap();
    let answers = |path: &Path| {
        let log = SqliteLog::open(path).unwrap();
        let all = log.query(&Query::new().limit(100)).unwrap().events;
        let mut answers = vec![all.iter().map(|e| e.id).collect::<Vec<_>>()];
        for e in &all {
            for q in [
                Query::new().actor(&e.actor.id),
                Query::new().subject(&e.subjects[0].id),
                Query::new().request_id(e.context.request_id_str().unwrap()),
                Query::new()
                    .subject(&e.subjects[0].id)
                    .actor(&e.actor.id)
                    .action("widget.*"),
            ] {
                answers.push(log.query(&q).unwrap().events.iter().map(|e| e.id).collect());
            }
        }
        answers
    };
    let before = answers(&path);
    downgrade_to_version_1(&path);

    // A reader changes nothing, and says how to upgrade.
    let err = SqliteLog::open(&path).unwrap_err().to_string();
    assert!(err.contains("SqliteSink::open"), "{err}");
    assert!(SqliteSink::verify(&path).is_err());

    // A sink upgrades on open; the answers, the chain and the cut are as they were.
    drop(SqliteSink::open(&path).unwrap());
    assert_eq!(answers(&path), before);
    let report = SqliteSink::verify(&path).unwrap();
    assert_eq!((report.events, report.last_seq), (35, 40));
    // Appends continue the chain in the new layout.
    append(&path, 40, 50);
    assert_eq!(SqliteSink::verify(&path).unwrap().last_seq, 50);
    let log = SqliteLog::open(&path).unwrap();
    assert_eq!(log.count(&Query::new().request_id("req-45")).unwrap(), 1);
}

#[test]
fn a_database_from_a_newer_version_is_refused_with_its_version() {
    let dir = TempDir::new("newer");
    let path = dir.db();
    append(&path, 0, 3);
    let conn = Connection::open(&path).unwrap();
    conn.execute("UPDATE audit_meta SET value = '9' WHERE key = 'layout'", [])
        .unwrap();
    drop(conn);
    let err = SqliteLog::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("version 9") && err.contains("upgrade audit-core"),
        "{err}"
    );
    let err = SqliteSink::open(&path).unwrap_err().to_string();
    assert!(err.contains("version 9"), "{err}");
}

#[derive(AuditEvent)]
#[audit(action = "widget.noted")]
pub struct WidgetNoted {
    #[audit(actor)]
    pub by: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub note: String,
}

#[test]
fn the_wal_is_checkpointed_while_writing_and_removed_on_close() {
    let dir = TempDir::new("wal");
    let path = dir.db();
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    let auditor = Auditor::builder()
        .sink(SqliteSink::open(&path).unwrap())
        .background(4096)
        .block_when_full(true)
        .build()
        .unwrap();
    let by = EntityRef::new(UserId::new(), "Writer");
    let widget = EntityRef::new(WidgetId::new(), "Widget");
    // About 80 MB through the WAL, 8 KB an event: five times the 16 MiB after which the
    // checkpoint thread copies it back.
    let mut largest = 0;
    for round in 0..10 {
        for i in 0..1_000 {
            let note = format!("{round}/{i} ").repeat(1_000);
            let event = WidgetNoted {
                by: by.clone(),
                widget: widget.clone(),
                note: note.chars().take(8_000).collect(),
            };
            auditor.emit(event).unwrap();
        }
        auditor.flush().unwrap();
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    // The WAL started over instead of growing with the log (the writer's own checkpoint
    // would only start at 256 MiB).
    eprintln!("largest WAL: {largest} bytes");
    assert!(largest < 48 << 20, "the WAL grew to {largest} bytes");
    assert!(auditor.shutdown().is_clean());
    assert!(
        !wal.exists(),
        "the WAL was not checkpointed and removed on close"
    );
    let report = SqliteSink::verify(&path).unwrap();
    assert_eq!(report.events, 10_000);
}

#[test]
fn an_envelope_delivered_twice_is_stored_once() {
    let dir = TempDir::new("redelivered");
    let path = dir.db();
    let envelope = |i: u32| {
        let event = WidgetPurchased {
            buyer: Actor::from(EntityRef::new(UserId::new(), "Buyer")),
            widget: EntityRef::new(WidgetId::new(), "Widget"),
            gifted_to: None,
            quantity: i,
        };
        Envelope::from_event(&event, &Context::new().request_id(format!("req-{i}"))).unwrap()
    };
    let (first, second, third) = (envelope(1), envelope(2), envelope(3));

    // One at a time: the second delivery is skipped, and the emit succeeds.
    let auditor = Auditor::builder()
        .sink(SqliteSink::open(&path).unwrap())
        .build()
        .unwrap();
    auditor.emit_envelope(first.clone()).unwrap();
    auditor.emit_envelope(first.clone()).unwrap();
    assert!(auditor.shutdown().is_clean());

    // Within one batch, and beside new events.
    let auditor = Auditor::builder()
        .sink(SqliteSink::open(&path).unwrap())
        .background(64)
        .linger(std::time::Duration::from_millis(50))
        .build()
        .unwrap();
    for e in [&second, &first, &second, &third] {
        auditor.emit_envelope(e.clone()).unwrap();
    }
    auditor.flush().unwrap();
    let report = auditor.shutdown();
    assert!(report.is_clean(), "{report:?}");

    let stored: Vec<_> = rows(&path).into_iter().map(|(_, _, e)| e.id).collect();
    assert_eq!(stored, [first.id, second.id, third.id]);
    let verified = SqliteSink::verify(&path).unwrap();
    assert_eq!((verified.events, verified.last_seq), (3, 3));
    let log = SqliteLog::open(&path).unwrap();
    assert_eq!(log.count(&Query::new().request_id("req-2")).unwrap(), 1);
}

#[test]
fn a_file_shared_with_the_application_keeps_its_user_version() {
    let dir = TempDir::new("shared");
    let path = dir.db();
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE orders (id TEXT PRIMARY KEY); PRAGMA user_version = 5;")
        .unwrap();
    drop(conn);
    append(&path, 0, 3);
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5, "the application's own schema version");
    drop(conn);
    assert_eq!(SqliteSink::verify(&path).unwrap().events, 3);
}
