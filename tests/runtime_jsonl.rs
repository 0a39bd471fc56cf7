//! `JsonlSink` across sessions and durability policies: `Interval` and `Never` still make
//! events durable on `flush()` (and at shutdown), and reopening a file continues its chain.

use std::fs;
use std::path::Path;
use std::time::Duration;

use audit_core::chain::{Anchor, GENESIS_HASH};
use audit_core::sink::{Durability, JsonlSink};
use audit_core::{AuditEvent, Auditor, EntityRef, Envelope, EventId, PrefixedId};

#[path = "support/temp_dir.rs"]
mod temp_dir;
use temp_dir::TempDir;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "file", name = "document")]
pub struct FileId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "file.downloaded", message = "{actor} downloaded {file}")]
pub struct FileDownloaded {
    #[audit(actor)]
    pub user: EntityRef<UserId>,
    #[audit(subject)]
    pub file: EntityRef<FileId>,
    pub n: u32,
}

fn event(n: u32) -> FileDownloaded {
    FileDownloaded {
        user: EntityRef::new(UserId::new(), "Alice"),
        file: EntityRef::new(FileId::new(), "report.pdf"),
        n,
    }
}

fn stored(path: &Path) -> Vec<Envelope> {
    fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .map(|l| serde_json::from_str(l).expect("envelope"))
                .collect()
        })
        .unwrap_or_default()
}

fn ids(envelopes: &[Envelope]) -> Vec<EventId> {
    envelopes.iter().map(|e| e.id).collect()
}

#[test]
fn lazy_policies_are_durable_on_flush() {
    for durability in [
        Durability::Never,
        Durability::Interval(Duration::from_secs(3600)),
        Durability::Interval(Duration::ZERO),
        Durability::EveryBatch,
    ] {
        let dir = TempDir::new("policy");
        let path = dir.0.join("audit.jsonl");
        let sink = JsonlSink::open(&path).expect("open").durability(durability);
        let auditor = Auditor::builder()
            .sink(sink)
            .background(1000)
            .build()
            .expect("build");
        let emitted: Vec<EventId> = (0..50)
            .map(|n| auditor.emit(event(n)).expect("emit"))
            .collect();
        auditor.flush().expect("flush");
        // Everything emitted before the flush is in the file, read through another handle.
        assert_eq!(ids(&stored(&path)), emitted, "{durability:?}");
        let report = JsonlSink::verify(&path).expect("verify");
        assert_eq!(report.events, 50, "{durability:?}");

        // And in synchronous mode, where emit waits for the write and flush for the sync.
        let auditor2 = Auditor::builder()
            .sink(JsonlSink::open(&path).expect("open").durability(durability))
            .build()
            .expect("build");
        let id = auditor2.emit(event(50)).expect("emit");
        assert_eq!(stored(&path).last().map(|e| e.id), Some(id));
        auditor2.flush().expect("flush");
        assert!(auditor2.shutdown().is_clean());

        // Shutdown flushes as well.
        let more: Vec<EventId> = (51..60)
            .map(|n| auditor.emit(event(n)).expect("emit"))
            .collect();
        assert!(auditor.shutdown().is_clean());
        let all = ids(&stored(&path));
        assert_eq!(all.len(), 60);
        assert_eq!(&all[51..], &more[..]);
        assert_eq!(JsonlSink::verify(&path).expect("verify").last_seq, 60);
    }
}

#[test]
fn reopening_continues_the_chain() {
    let dir = TempDir::new("reopen");
    let path = dir.0.join("audit.jsonl");

    let sink = JsonlSink::open(&path).expect("open");
    assert_eq!(sink.head().seq, 0);
    assert_eq!(sink.head().hash, GENESIS_HASH);
    assert_eq!(sink.torn_tail(), None);
    let auditor = Auditor::builder().sink(sink).build().expect("build");
    for n in 0..10 {
        auditor.emit(event(n)).expect("emit");
    }
    assert!(auditor.shutdown().is_clean());
    let first = JsonlSink::verify(&path).expect("first session");
    assert_eq!((first.events, first.last_seq), (10, 10));

    // A second session, in background mode with a lazy policy.
    let sink = JsonlSink::open(&path)
        .expect("reopen")
        .durability(Durability::Never);
    assert_eq!(sink.head().seq, 10);
    assert_eq!(sink.head().hash, first.last_hash);
    assert_eq!(sink.torn_tail(), None);
    let auditor = Auditor::builder()
        .sink(sink)
        .background(100)
        .build()
        .expect("build");
    for n in 10..25 {
        auditor.emit(event(n)).expect("emit");
    }
    assert!(auditor.shutdown().is_clean());

    let report = JsonlSink::verify(&path).expect("both sessions verify");
    assert_eq!(
        (report.events, report.first_seq, report.last_seq),
        (25, 1, 25)
    );
    let anchor = Anchor {
        seq: first.last_seq,
        hash: first.last_hash.clone(),
    };
    JsonlSink::verify_with_anchor(&path, &anchor).expect("the first session's anchor holds");
    let envelopes = stored(&path);
    assert_eq!(envelopes[10].seq, Some(11));
    assert_eq!(
        envelopes[10].prev_hash.as_deref(),
        Some(first.last_hash.as_str())
    );
    let details: Vec<u32> = envelopes
        .iter()
        .map(|e| {
            e.details_as::<serde_json::Value>().expect("details")["n"]
                .as_u64()
                .expect("n")
        })
        .map(|n| u32::try_from(n).expect("small"))
        .collect();
    assert_eq!(details, (0..25).collect::<Vec<_>>());
}

#[test]
fn opening_a_foreign_file_fails() {
    let dir = TempDir::new("foreign");
    let path = dir.0.join("notes.jsonl");
    fs::write(&path, "{\"hello\": \"world\"}\n").expect("write");
    let err = JsonlSink::open(&path).expect_err("not a chained log");
    assert!(err.to_string().contains("verify"), "{err}");
}

/// A hand-built envelope whose details no chain can hash is refused at emit, with an error
/// that names it, rather than queued where a chained sink would retry it forever; the events
/// around it are written and the log verifies. It is refused whatever the sinks.
#[test]
fn an_unchainable_envelope_is_refused_at_emit() {
    let dir = TempDir::new("unchainable");
    let path = dir.0.join("audit.jsonl");
    let auditor = Auditor::builder()
        .sink(JsonlSink::open(&path).expect("open"))
        .build()
        .expect("build");
    auditor.emit(event(1)).expect("emit");

    let mut envelope =
        Envelope::from_event(&event(2), &audit_core::Context::new()).expect("envelope");
    envelope.details =
        serde_json::value::RawValue::from_string(r#"{"n":1e999}"#.to_owned()).expect("JSON text");
    let id = envelope.id;
    let err = auditor.emit_envelope(envelope).expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains(&id.to_string()) && text.contains("cannot join a hash chain"),
        "{text}"
    );

    auditor.emit(event(3)).expect("emit");
    assert!(auditor.shutdown().is_clean());
    let report = JsonlSink::verify(&path).expect("verifies");
    assert_eq!(report.events, 2);
    let n: Vec<u64> = stored(&path)
        .iter()
        .map(|e| {
            e.details_as::<serde_json::Value>().expect("details")["n"]
                .as_u64()
                .expect("n")
        })
        .collect();
    assert_eq!(n, [1, 3]);

    // The same whatever the sinks: an auditor with no chained sink refuses it too.
    let memory = audit_core::sink::MemorySink::new();
    let auditor = Auditor::builder()
        .sink(memory.clone())
        .build()
        .expect("build");
    let mut envelope =
        Envelope::from_event(&event(4), &audit_core::Context::new()).expect("envelope");
    envelope.details =
        serde_json::value::RawValue::from_string(r#"{"n":1e999}"#.to_owned()).expect("JSON text");
    let err = auditor.emit_envelope(envelope).expect_err("refused");
    assert!(
        err.to_string().contains("cannot join a hash chain"),
        "{err}"
    );
    assert!(memory.events().is_empty());
}
