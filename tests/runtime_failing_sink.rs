//! Sinks that fail, panic, stall or never recover, as a user's own `Sink` impls: events are
//! retried until they arrive (once each, in order), the failure is reported by `flush`, a
//! synchronous `emit` and `stats`, and what a sink never took comes back from `shutdown`.
//! Also the background queue's limits (`Full`, `block_when_full`, `emit_async`) and the
//! builder's and shutdown's errors.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use audit_core::dispatch::BuildError;
use audit_core::sink::{Batch, MemorySink, Sink, SinkError};
use audit_core::{AuditEvent, Auditor, EmitError, EntityRef, EventId, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "invc", name = "invoice")]
pub struct InvoiceId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "invoice.sent", message = "{actor} sent {invoice}")]
pub struct InvoiceSent {
    #[audit(actor)]
    pub clerk: EntityRef<UserId>,
    #[audit(subject)]
    pub invoice: EntityRef<InvoiceId>,
    pub n: u32,
}

fn event(n: u32) -> InvoiceSent {
    InvoiceSent {
        clerk: EntityRef::new(UserId::new(), "Clerk"),
        invoice: EntityRef::new(InvoiceId::new(), format!("Invoice {n}")),
        n,
    }
}

const FAST: Duration = Duration::from_millis(1);

/// What a test sink stored, and how often it was asked.
#[derive(Clone, Default)]
struct Record {
    ids: Arc<Mutex<Vec<EventId>>>,
    attempts: Arc<AtomicU64>,
    failures: Arc<AtomicU64>,
}

impl Record {
    fn ids(&self) -> Vec<EventId> {
        self.ids.lock().expect("lock").clone()
    }

    fn store(&self, batch: Batch<'_>) {
        self.ids
            .lock()
            .expect("lock")
            .extend(batch.iter().map(|e| e.id));
    }
}

/// Fails while `failing` is set, and also for its first `fail_first` writes; panics on its
/// first write if `panic_once` is set.
#[derive(Clone, Default)]
struct Flaky {
    record: Record,
    failing: Arc<AtomicBool>,
    fail_first: Arc<AtomicU64>,
    panic_once: Arc<AtomicBool>,
}

impl Sink for Flaky {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        self.record.attempts.fetch_add(1, Ordering::SeqCst);
        if self.panic_once.swap(false, Ordering::SeqCst) {
            self.record.failures.fetch_add(1, Ordering::SeqCst);
            panic!("the flaky sink panics once");
        }
        let first = self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if first || self.failing.load(Ordering::SeqCst) {
            self.record.failures.fetch_add(1, Ordering::SeqCst);
            return Err(SinkError::other("the flaky sink is down"));
        }
        self.record.store(batch);
        Ok(())
    }

    fn name(&self) -> String {
        "flaky".to_owned()
    }
}

/// Blocks in `write` until the gate opens; says when a write has started.
#[derive(Clone)]
struct Gated {
    record: Record,
    open: Arc<(Mutex<bool>, Condvar)>,
    entered: mpsc::SyncSender<()>,
}

impl Gated {
    fn new() -> (Self, mpsc::Receiver<()>) {
        let (entered, rx) = mpsc::sync_channel(1024);
        (
            Gated {
                record: Record::default(),
                open: Arc::new((Mutex::new(false), Condvar::new())),
                entered,
            },
            rx,
        )
    }

    fn open(&self) {
        *self.open.0.lock().expect("lock") = true;
        self.open.1.notify_all();
    }
}

impl Sink for Gated {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        let _ = self.entered.try_send(());
        let (lock, cvar) = &*self.open;
        let _open = cvar
            .wait_while(lock.lock().expect("lock"), |open| !*open)
            .expect("lock");
        self.record.store(batch);
        Ok(())
    }

    fn name(&self) -> String {
        "gated".to_owned()
    }
}

/// Opens the gate when dropped, so that a failing assertion does not hang the test in the
/// auditor's shutdown.
struct OpenOnDrop(Gated);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn failing_sink_recovers_without_loss_or_duplicates() {
    let flaky = Flaky::default();
    flaky.fail_first.store(3, Ordering::SeqCst);
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(flaky.clone())
        .sink(memory.clone())
        .background(100)
        .retry_backoff(FAST, Duration::from_millis(4))
        .build()
        .expect("build");
    let ids: Vec<EventId> = (0..20)
        .map(|n| auditor.emit(event(n)).expect("emit"))
        .collect();
    // Retries go on until the three failures are over; then the flush succeeds.
    wait_until("three failures", || {
        flaky.record.failures.load(Ordering::SeqCst) >= 3
    });
    auditor.flush().expect("flush after recovery");

    assert_eq!(flaky.record.ids(), ids, "every event once, in order");
    let in_memory: Vec<EventId> = memory.events().iter().map(|e| e.id).collect();
    assert_eq!(in_memory, ids);

    let stats = auditor.stats();
    assert_eq!(stats.emitted, 20);
    let sink = &stats.sinks[0];
    assert_eq!(sink.name, "flaky");
    assert_eq!(sink.failed, 3, "{sink:?}");
    // The first batch failed three times and was then written: one batch retried.
    assert_eq!(sink.retried, 1, "{sink:?}");
    assert_eq!((sink.written, sink.pending), (20, 0));
    assert_eq!(sink.failing, None);
    assert_eq!(stats.sinks[1].failed, 0);
    assert!(auditor.shutdown().is_clean());
}

#[test]
fn flush_reports_the_failure_then_succeeds() {
    let flaky = Flaky::default();
    flaky.failing.store(true, Ordering::SeqCst);
    let auditor = Auditor::builder()
        .sink(flaky.clone())
        .background(100)
        .retry_backoff(FAST, Duration::from_millis(4))
        .build()
        .expect("build");
    let ids: Vec<EventId> = (0..5)
        .map(|n| auditor.emit(event(n)).expect("emit"))
        .collect();

    let err = auditor.flush().expect_err("the sink is down");
    assert_eq!(err.sink, "flaky");
    assert_eq!(err.pending, 5);
    assert!(err.source.to_string().contains("down"), "{err}");
    assert!(err.to_string().contains("retried"), "{err}");
    // And again, while it stays down.
    assert!(auditor.flush().is_err());

    let stats = auditor.stats();
    assert_eq!(stats.sinks[0].pending, 5);
    assert_eq!(stats.sinks[0].written, 0);
    assert!(stats.sinks[0].failed >= 2, "{stats:?}");
    assert!(
        stats.sinks[0]
            .failing
            .as_deref()
            .is_some_and(|e| e.contains("down")),
        "{stats:?}"
    );
    assert!(flaky.record.ids().is_empty());

    flaky.failing.store(false, Ordering::SeqCst);
    auditor.flush().expect("recovered");
    assert_eq!(flaky.record.ids(), ids);
    let stats = auditor.stats();
    assert_eq!(
        stats.sinks[0].failed,
        flaky.record.failures.load(Ordering::SeqCst),
        "stats count every failed attempt"
    );
    assert_eq!(stats.sinks[0].retried, 1);
    assert_eq!(stats.sinks[0].failing, None);
    assert!(auditor.shutdown().is_clean());
}

#[test]
fn panicking_sink_is_retried() {
    let flaky = Flaky::default();
    flaky.panic_once.store(true, Ordering::SeqCst);
    let auditor = Auditor::builder()
        .sink(flaky.clone())
        .retry_backoff(FAST, FAST)
        .build()
        .expect("build");
    // Synchronous: the first emit sees the panic as a failed write.
    let first = match auditor.emit(event(0)) {
        Err(EmitError::NotDurable { id, sink, source }) => {
            assert_eq!(sink, "flaky");
            assert!(source.to_string().contains("panicked"), "{source}");
            assert!(source.to_string().contains("panics once"), "{source}");
            id
        }
        other => panic!("expected NotDurable, got {other:?}"),
    };
    let second = auditor.emit(event(1)).expect("the sink works again");
    auditor.flush().expect("flush");
    assert_eq!(flaky.record.ids(), vec![first, second]);
    let stats = auditor.stats();
    assert_eq!((stats.sinks[0].failed, stats.sinks[0].retried), (1, 1));
    assert!(auditor.shutdown().is_clean());
}

#[test]
fn sync_emit_while_failing_is_not_durable() {
    let flaky = Flaky::default();
    flaky.failing.store(true, Ordering::SeqCst);
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(memory.clone())
        .sink(flaky.clone())
        .retry_backoff(FAST, Duration::from_millis(4))
        .build()
        .expect("build");

    let mut queued = Vec::new();
    for n in 0..3 {
        match auditor.emit(event(n)) {
            Err(EmitError::NotDurable { id, sink, source }) => {
                assert_eq!(sink, "flaky");
                assert!(source.to_string().contains("down"));
                queued.push(id);
            }
            other => panic!("expected NotDurable, got {other:?}"),
        }
    }
    let err = EmitError::NotDurable {
        id: queued[0],
        sink: "flaky".into(),
        source: Arc::new(SinkError::other("x")),
    };
    assert!(err.to_string().contains("retried"), "{err}");
    // The healthy sink has them already; the failing one once it recovers.
    assert_eq!(memory.len(), 3);
    assert!(flaky.record.ids().is_empty());
    flaky.failing.store(false, Ordering::SeqCst);
    auditor.flush().expect("recovered");
    assert_eq!(flaky.record.ids(), queued);
    let later = auditor.emit(event(3)).expect("durable again");
    assert_eq!(flaky.record.ids().last(), Some(&later));
    assert_eq!(flaky.record.ids().len(), 4);
    assert!(auditor.shutdown().is_clean());
}

#[test]
fn shutdown_returns_what_a_dead_sink_never_took() {
    let flaky = Flaky::default();
    flaky.failing.store(true, Ordering::SeqCst);
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(flaky.clone())
        .sink(memory.clone())
        .background(100)
        .retry_backoff(FAST, Duration::from_millis(2))
        .shutdown_attempts(2)
        .build()
        .expect("build");
    let ids: Vec<EventId> = (0..7)
        .map(|n| auditor.emit(event(n)).expect("emit"))
        .collect();

    let started = Instant::now();
    let report = auditor.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown gives up"
    );
    assert!(!report.is_clean());
    let undelivered: Vec<EventId> = report.undelivered.iter().map(|(_, e)| e.id).collect();
    assert_eq!(undelivered, ids, "every event, in order");
    assert!(report.undelivered.iter().all(|(sink, _)| sink == "flaky"));
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].0, "flaky");
    assert!(report.errors[0].1.to_string().contains("down"));
    // The healthy sink got everything.
    assert_eq!(memory.len(), 7);
    assert!(flaky.record.ids().is_empty());
    let flaky_stats = &report.stats.sinks[0];
    assert_eq!(
        (
            flaky_stats.written,
            flaky_stats.undelivered,
            flaky_stats.pending
        ),
        (0, 7, 0),
        "{flaky_stats:?}"
    );
    assert_eq!(report.stats.sinks[1].written, 7);

    // A flush afterwards says so too.
    let err = auditor.flush().expect_err("undelivered");
    assert_eq!((err.sink.as_str(), err.pending), ("flaky", 7));

    // Shut down means shut down.
    assert!(matches!(auditor.emit(event(8)), Err(EmitError::ShutDown)));
    assert!(auditor.shutdown().is_clean(), "nothing is reported twice");
}

#[test]
fn slow_sink_does_not_stall_others() {
    let (gated, entered) = Gated::new();
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(gated.clone())
        .sink(memory.clone())
        .background(1000)
        .build()
        .expect("build");
    // Declared after the auditor, so dropped before it: the gate opens before the auditor's
    // shutdown waits for the sink, even when an assertion fails.
    let _guard = OpenOnDrop(gated.clone());
    for n in 0..50 {
        auditor.emit(event(n)).expect("emit");
    }
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("the gated sink started a write");
    wait_until("the memory sink has all 50", || memory.len() == 50);
    assert!(gated.record.ids().is_empty());
    assert_eq!(auditor.stats().sinks[0].pending, 50);
    gated.open();
    auditor.flush().expect("flush");
    assert_eq!(gated.record.ids().len(), 50);
}

/// A background auditor with a queue of `capacity` in front of a blocked sink whose worker
/// holds one event; returns it with the queue full.
fn full_queue(capacity: usize, block: bool) -> (Auditor, Gated, Vec<EventId>) {
    let (gated, entered) = Gated::new();
    let auditor = Auditor::builder()
        .sink(gated.clone())
        .background(capacity)
        .block_when_full(block)
        .build()
        .expect("build");
    let mut ids = vec![auditor.emit(event(0)).expect("emit")];
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("the worker took the first event");
    for n in 0..capacity {
        ids.push(
            auditor
                .emit(event(u32::try_from(n).expect("small") + 1))
                .expect("room"),
        );
    }
    (auditor, gated, ids)
}

#[test]
fn full_queue_returns_full() {
    let (auditor, gated, ids) = full_queue(4, false);
    let _guard = OpenOnDrop(gated.clone());
    match auditor.emit(event(99)) {
        Err(EmitError::Full { sink, capacity }) => {
            assert_eq!((sink.as_str(), capacity), ("gated", 4));
        }
        other => panic!("expected Full, got {other:?}"),
    }
    let err = auditor.emit(event(99)).expect_err("still full");
    assert!(err.to_string().contains("full"), "{err}");
    assert_eq!(auditor.stats().emitted, 5, "a refused event is not counted");

    gated.open();
    auditor.flush().expect("flush");
    assert_eq!(
        gated.record.ids(),
        ids,
        "the refused events were not queued"
    );
    // Room again.
    auditor.emit(event(100)).expect("room again");
    auditor.flush().expect("flush");
    assert_eq!(gated.record.ids().len(), 6);
}

#[test]
fn block_when_full_waits_for_room() {
    for block_first in [false, true] {
        let (gated, entered) = Gated::new();
        // The option applies in either order.
        let builder = Auditor::builder().sink(gated.clone());
        let builder = if block_first {
            builder.block_when_full(true).background(2)
        } else {
            builder.background(2).block_when_full(true)
        };
        let auditor = builder.build().expect("build");
        let _guard = OpenOnDrop(gated.clone());
        auditor.emit(event(0)).expect("emit");
        entered
            .recv_timeout(Duration::from_secs(10))
            .expect("taken");
        auditor.emit(event(1)).expect("room");
        auditor.emit(event(2)).expect("room");

        let (done_tx, done) = mpsc::channel();
        let blocked = auditor.clone();
        let waiter = std::thread::spawn(move || {
            let result = blocked.emit(event(3));
            done_tx.send(()).expect("send");
            result
        });
        assert!(
            done.recv_timeout(Duration::from_millis(200)).is_err(),
            "emit waits while the queue is full (block_when_full set {})",
            if block_first { "first" } else { "last" }
        );
        gated.open();
        let id = waiter
            .join()
            .expect("waiter")
            .expect("emitted once there was room");
        auditor.flush().expect("flush");
        assert_eq!(gated.record.ids().len(), 4);
        assert_eq!(gated.record.ids().last(), Some(&id));
    }
}

#[test]
fn emit_async_waits_for_room() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime");
    let (auditor, gated, mut ids) = full_queue(2, false);
    let _guard = OpenOnDrop(gated.clone());
    runtime.block_on(async {
        let emitter = auditor.clone();
        let task = tokio::spawn(async move { emitter.emit_async(event(10)).await });
        // Pending while full, and the executor is not blocked meanwhile.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!task.is_finished(), "emit_async waits for room");
        let other = tokio::spawn(async { 42 });
        assert_eq!(other.await.expect("join"), 42);

        gated.open();
        let id = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("emitted once there was room")
            .expect("join")
            .expect("emit_async");
        ids.push(id);
        auditor.flush_async().await.expect("flush_async");
    });
    assert_eq!(gated.record.ids(), ids);
}

/// CPU time of the calling thread.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(
        u64::try_from(ts.tv_sec).expect("positive"),
        u32::try_from(ts.tv_nsec).expect("nanoseconds"),
    )
}

#[test]
fn block_when_full_sleeps_with_two_sinks_of_one_name() {
    // A memory sink and a blocked sink that calls itself "memory" too. Waiting for room must
    // wait on the full queue, not spin on the first sink of that name.
    let (gated, entered) = Gated::new();
    struct Named(Gated);
    impl Sink for Named {
        fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
            self.0.write(batch)
        }
        fn name(&self) -> String {
            "memory".to_owned()
        }
    }
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(memory.clone())
        .sink(Named(gated.clone()))
        .background(1)
        .block_when_full(true)
        .build()
        .expect("build");
    let _guard = OpenOnDrop(gated.clone());
    auditor.emit(event(0)).expect("emit");
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("taken");
    auditor.emit(event(1)).expect("room");
    let blocked = auditor.clone();
    let waiter = std::thread::spawn(move || {
        let cpu = thread_cpu_time();
        let result = blocked.emit(event(2));
        (result, thread_cpu_time() - cpu)
    });
    // Long enough that a spinning waiter burns a measurable share of a core even on a
    // loaded machine, while a sleeping one burns next to nothing.
    std::thread::sleep(Duration::from_millis(1000));
    gated.open();
    let (result, cpu) = waiter.join().expect("waiter");
    result.expect("emit");
    assert!(
        cpu < Duration::from_millis(30),
        "the blocked emit spun for {cpu:?} of CPU while waiting a second"
    );
    auditor.flush().expect("flush");
    assert_eq!(memory.len(), 3);
    assert_eq!(gated.record.ids().len(), 3);
}

#[test]
fn build_without_a_sink_fails() {
    let err = Auditor::builder().build().expect_err("no sink");
    assert!(matches!(err, BuildError::NoSink), "{err:?}");
    assert!(err.to_string().contains("sink"), "{err}");
}

#[test]
fn emit_after_shutdown_fails() {
    for background in [false, true] {
        let memory = MemorySink::new();
        let builder = Auditor::builder().sink(memory.clone());
        let auditor = if background {
            builder.background(10).build()
        } else {
            builder.build()
        }
        .expect("build");
        let clone = auditor.clone();
        auditor.emit(event(0)).expect("emit");
        let report = auditor.shutdown();
        assert!(report.is_clean());
        assert_eq!(report.stats.sinks[0].written, 1);
        assert_eq!(memory.len(), 1, "shutdown drains");
        assert!(matches!(clone.emit(event(1)), Err(EmitError::ShutDown)));
        assert!(matches!(auditor.emit(event(2)), Err(EmitError::ShutDown)));
        assert_eq!(EmitError::ShutDown.to_string(), "the auditor was shut down");
        assert_eq!(memory.len(), 1);
        // Flushing a shut-down auditor has nothing to wait for.
        auditor.flush().expect("nothing pending");
    }
}

#[test]
fn flush_is_not_starved_by_busy_emitters() {
    /// Takes a millisecond per batch.
    struct Slow(Record);
    impl Sink for Slow {
        fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
            std::thread::sleep(Duration::from_millis(1));
            self.0.store(batch);
            Ok(())
        }
    }
    let record = Record::default();
    let auditor = Auditor::builder()
        .sink(Slow(record.clone()))
        .background(64)
        .block_when_full(true)
        .batch_size(8)
        .build()
        .expect("build");
    let stop = Arc::new(AtomicBool::new(false));
    let emitter = {
        let (auditor, stop) = (auditor.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(10) {
                auditor.emit(event(n)).expect("emit");
                n += 1;
            }
        })
    };
    wait_until("a busy queue", || auditor.stats().sinks[0].pending >= 32);
    let before = auditor.stats().emitted;
    let started = Instant::now();
    auditor.flush().expect("flush");
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    emitter.join().expect("emitter");
    assert!(
        took < Duration::from_secs(3),
        "flush took {took:?} while the queue stayed busy"
    );
    assert!(record.ids().len() as u64 >= before);
}

/// Emitters racing for the last places of a full queue never overshoot its capacity, and with
/// two sinks every accepted event is queued on both.
#[test]
fn racing_emitters_never_overshoot_the_capacity() {
    let (gated, entered) = Gated::new();
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(gated.clone())
        .sink(memory.clone())
        .background(16)
        .build()
        .expect("build");
    let _guard = OpenOnDrop(gated.clone());
    let first = auditor.emit(event(0)).expect("emit");
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("the worker took the first event");

    let accepted: Vec<EventId> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u32)
            .map(|t| {
                let auditor = &auditor;
                s.spawn(move || {
                    (0..50u32)
                        .filter_map(|n| match auditor.emit(event(t * 100 + n)) {
                            Ok(id) => Some(id),
                            Err(EmitError::Full { .. }) => None,
                            Err(e) => panic!("unexpected: {e}"),
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("emitter"))
            .collect()
    });
    assert_eq!(accepted.len(), 16, "exactly the queue's capacity");

    gated.open();
    auditor.flush().expect("flush");
    let mut in_gated = gated.record.ids();
    let mut in_memory: Vec<EventId> = memory.events().iter().map(|e| e.id).collect();
    in_gated.sort_unstable();
    in_memory.sort_unstable();
    let mut expected = accepted;
    expected.push(first);
    expected.sort_unstable();
    assert_eq!(in_gated, expected);
    assert_eq!(in_memory, expected);
}
