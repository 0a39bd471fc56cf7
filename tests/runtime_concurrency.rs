//! Many emitters at once: 8 threads x 10,000 events into a JSONL sink and a memory sink on one
//! auditor (synchronous, then background), and two auditors appending to one file.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use audit_core::sink::{Durability, JsonlSink, MemorySink};
use audit_core::{AuditEvent, Auditor, EntityRef, Envelope, EventId, PrefixedId};

#[path = "support/temp_dir.rs"]
mod temp_dir;
use temp_dir::TempDir;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "acct", name = "account")]
pub struct AccountId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "account.debited", message = "{actor} debited {account}")]
pub struct AccountDebited {
    #[audit(actor)]
    pub teller: EntityRef<UserId>,
    #[audit(subject)]
    pub account: EntityRef<AccountId>,
    pub thread: u32,
    pub n: u32,
}

const THREADS: u32 = 8;
const PER_THREAD: u32 = 10_000;

#[derive(serde::Deserialize)]
struct Details {
    thread: u32,
    n: u32,
}

/// Emits `per_thread` events from each of `threads` threads; returns the ids.
fn emit_from_threads(auditor: &Auditor, threads: u32, per_thread: u32) -> Vec<EventId> {
    let teller = EntityRef::new(UserId::new(), "Teller");
    let account = EntityRef::new(AccountId::new(), "Savings");
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (auditor, teller, account) = (auditor.clone(), teller.clone(), account.clone());
                s.spawn(move || {
                    (0..per_thread)
                        .map(|n| {
                            auditor
                                .emit(AccountDebited {
                                    teller: teller.clone(),
                                    account: account.clone(),
                                    thread,
                                    n,
                                })
                                .expect("emit")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("emitter"))
            .collect()
    })
}

fn read_log(path: &Path) -> Vec<Envelope> {
    fs::read_to_string(path)
        .expect("read the log")
        .lines()
        .map(|line| serde_json::from_str(line).expect("an envelope"))
        .collect()
}

/// Every event exactly once, each thread's events in emit order.
fn check_once_in_order(label: &str, stored: &[Envelope], emitted: &[EventId], threads: u32) {
    assert_eq!(stored.len(), emitted.len(), "{label}: count");
    let ids: HashSet<EventId> = stored.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), stored.len(), "{label}: an event is stored twice");
    let emitted: HashSet<EventId> = emitted.iter().copied().collect();
    assert_eq!(ids, emitted, "{label}: not the emitted events");
    let mut next = vec![0u32; threads as usize];
    for envelope in stored {
        let d: Details = envelope.details_as().expect("details");
        assert_eq!(
            d.n, next[d.thread as usize],
            "{label}: thread {}'s events out of order",
            d.thread
        );
        next[d.thread as usize] += 1;
    }
}

/// The chain verifies, and the stored seqs are 1..=total in file order.
fn check_chain(path: &Path, stored: &[Envelope], total: u64) {
    let report = JsonlSink::verify(path).expect("the chain verifies");
    assert_eq!(report.events, total);
    assert_eq!((report.first_seq, report.last_seq), (1, total));
    assert_eq!(report.torn_tail_bytes, None);
    assert!(
        stored.iter().map(|e| e.seq.expect("seq")).eq(1..=total),
        "seqs are not 1..={total}"
    );
}

fn run(mode: &str) {
    let dir = TempDir::new(mode);
    let path = dir.0.join("audit.jsonl");
    let memory = MemorySink::new();
    // No fsync per batch here: 80,000 synchronous emits would wait for some 10,000 of them,
    // and what is tested is the chain and the delivery. The crash test covers fsync.
    let builder = Auditor::builder()
        .sink(
            JsonlSink::open(&path)
                .expect("open")
                .durability(Durability::Never),
        )
        .sink(memory.clone());
    let auditor = match mode {
        "sync" => builder.build(),
        _ => builder.background(4096).block_when_full(true).build(),
    }
    .expect("build");

    let emitted = emit_from_threads(&auditor, THREADS, PER_THREAD);
    auditor.flush().expect("flush");
    let total = u64::from(THREADS * PER_THREAD);
    let stats = auditor.stats();
    assert_eq!(stats.emitted, total);
    for sink in &stats.sinks {
        assert_eq!(
            (sink.written, sink.pending, sink.failed),
            (total, 0, 0),
            "{sink:?}"
        );
    }

    check_once_in_order("memory", &memory.events(), &emitted, THREADS);
    let stored = read_log(&path);
    check_once_in_order("jsonl", &stored, &emitted, THREADS);
    check_chain(&path, &stored, total);
    assert!(auditor.shutdown().is_clean());
}

#[test]
fn eight_threads_sync() {
    run("sync");
}

#[test]
fn eight_threads_background() {
    run("background");
}

#[test]
fn two_auditors_append_to_one_file() {
    let dir = TempDir::new("two");
    let path = dir.0.join("audit.jsonl");
    // Two writers with their own file handles, as two processes would have; one fsyncs every
    // batch, the other leaves it to flush.
    let a = Auditor::builder()
        .sink(JsonlSink::open(&path).expect("open"))
        .build()
        .expect("build");
    let b = Auditor::builder()
        .sink(
            JsonlSink::open(&path)
                .expect("open")
                .durability(Durability::Never),
        )
        .background(1024)
        .block_when_full(true)
        .build()
        .expect("build");
    let (from_a, from_b) = std::thread::scope(|s| {
        let a = s.spawn(|| emit_from_threads(&a, 2, 2_500));
        let b = s.spawn(|| emit_from_threads(&b, 2, 2_500));
        (a.join().expect("a"), b.join().expect("b"))
    });
    b.flush().expect("flush");
    assert!(a.shutdown().is_clean());
    assert!(b.shutdown().is_clean());

    let total = (from_a.len() + from_b.len()) as u64;
    assert_eq!(total, 10_000);
    let stored = read_log(&path);
    check_chain(&path, &stored, total);
    let stored: HashSet<EventId> = stored.iter().map(|e| e.id).collect();
    let emitted: HashSet<EventId> = from_a.iter().chain(&from_b).copied().collect();
    assert_eq!(stored, emitted);
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// In background mode a worker waits a little for its batch to fill (`linger`): a flush ends
/// the wait at once, a filled half-batch wakes it, and a lone event is written when the wait
/// runs out, without a flush.
#[test]
fn background_workers_linger_but_never_hold_events() {
    let event = |n| AccountDebited {
        teller: EntityRef::new(UserId::new(), "Tess"),
        account: EntityRef::new(AccountId::new(), "Savings"),
        thread: 0,
        n,
    };

    // A long linger: a flush does not wait for it.
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(memory.clone())
        .background(1_000)
        .batch_size(8)
        .linger(std::time::Duration::from_secs(60))
        .build()
        .expect("build");
    auditor.emit(event(0)).expect("emit");
    let start = std::time::Instant::now();
    auditor.flush().expect("flush");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(memory.events().len(), 1);

    // Half a batch wakes the worker: with batches of 8, every 4th event.
    for n in 1..=100 {
        auditor.emit(event(n)).expect("emit");
    }
    wait_for("filled half-batches are written without a flush", || {
        memory.events().len() >= 97
    });
    assert!(auditor.shutdown().is_clean());
    assert_eq!(memory.events().len(), 101, "shutdown writes the rest");

    // A short linger: a lone event is written when it runs out.
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(memory.clone())
        .background(1_000)
        .batch_size(8)
        .linger(std::time::Duration::from_millis(20))
        .build()
        .expect("build");
    auditor.emit(event(0)).expect("emit");
    wait_for("a lone event is written after the linger", || {
        memory.events().len() == 1
    });
}
