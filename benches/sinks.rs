//! Events per second into a `JsonlSink`, side by side with the route a user would pick
//! instead: `tracing` with `tracing-subscriber`'s JSON formatter and `tracing-appender`'s
//! non-blocking file writer.
//!
//! ```sh
//! cargo bench --bench sinks -- --warm-up-time 1 --measurement-time 5 --sample-size 10
//! ```
//!
//! One iteration emits `EVENTS` events from 1 or 4 threads and then waits until they are in
//! the file: for `fsync`, until `Auditor::flush` says they are durable; for `no_fsync`, until
//! the auditor's stats count them written (in the file, not synced: `flush` would add one
//! `fsync` of the whole file); for tracing, until dropping tracing-appender's guard joins its
//! writer thread after it wrote every line. Each iteration starts on a new file in
//! a temp dir on the benchmark machine's disk (`AUDIT_BENCH_DIR`, default the system temp
//! dir). The JSONL entries are
//!
//! - `fsync`: `Durability::EveryBatch`, an `fsync` per batch the worker writes;
//! - `no_fsync`: `Durability::Never`, never synced while the events are written.
//!
//! The tracing route never syncs, hashes nothing and writes no chain: it is the floor a
//! structured logger sets, not an equivalent. Both build the same fields per event (a fresh
//! event ID, actor, subject, details, request context, rendered message). Compare entries
//! within one run only, as ratios; machines here are noisy.

use std::fs;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use audit_core::sink::{Durability, JsonlSink};
use audit_core::{AuditEvent, Auditor, Context, EntityRef, Envelope, EventId, PrefixedId};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEvent)]
#[audit(
    action = "widget.purchased",
    version = 1,
    message = "{actor} bought {quantity} of {widget}"
)]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub quantity: u32,
    pub amount_cents: u64,
    pub sku: String,
}

/// Events per iteration.
const EVENTS: u64 = 20_000;
/// Background queue capacity per sink; emitters block when it is full.
const CAPACITY: usize = 16_384;

/// What every emitter thread shares: the actor and subject of its events, and a context.
#[derive(Clone)]
struct Fixture {
    buyer: EntityRef<UserId>,
    widget: EntityRef<WidgetId>,
    context: Context,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            buyer: EntityRef::new(UserId::new(), "Alice"),
            widget: EntityRef::new(WidgetId::new(), "Blue widget"),
            context: Context::new()
                .request_id("req-7f3a9c")
                .ip("203.0.113.7".parse().expect("ip"))
                .user_agent("curl/8.5"),
        }
    }

    fn event(&self, n: u64) -> WidgetPurchased {
        WidgetPurchased {
            buyer: self.buyer.clone(),
            widget: self.widget.clone(),
            quantity: u32::try_from(n % 10).unwrap_or(0) + 1,
            amount_cents: 1999 + n % 100,
            sku: "WID-BLUE-01".to_owned(),
        }
    }
}

/// A fresh file path per iteration, removed (with its side files) by [`Scratch::drop`].
struct Scratch {
    dir: PathBuf,
    n: AtomicU64,
}

impl Scratch {
    fn new() -> Self {
        let base =
            std::env::var_os("AUDIT_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let dir = base.join(format!("audit-bench-sinks-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the bench dir");
        Scratch {
            dir,
            n: AtomicU64::new(0),
        }
    }

    fn next(&self) -> PathBuf {
        self.dir.join(format!(
            "log-{}.jsonl",
            self.n.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs `emit(thread, n)` for `EVENTS` events split over `threads` threads.
fn emit_split(threads: u64, emit: impl Fn(u64, u64) + Sync) {
    let per = EVENTS / threads;
    if threads == 1 {
        (0..per).for_each(|n| emit(0, n));
        return;
    }
    std::thread::scope(|s| {
        for t in 0..threads {
            let emit = &emit;
            s.spawn(move || (0..per).for_each(|n| emit(t, n)));
        }
    });
}

/// One iteration into a `JsonlSink`: emit, flush; returns the timed part.
fn jsonl_once(
    scratch: &Scratch,
    fixture: &Fixture,
    threads: u64,
    durability: Durability,
) -> Duration {
    let path = scratch.next();
    let sink = JsonlSink::open(&path).expect("open").durability(durability);
    let auditor = Auditor::builder()
        .sink(sink)
        .background(CAPACITY)
        .block_when_full(true)
        .build()
        .expect("build");
    let start = Instant::now();
    emit_split(threads, |_, n| {
        black_box(
            auditor
                .emit_with(&fixture.context, fixture.event(n))
                .expect("emit"),
        );
    });
    if matches!(durability, Durability::Never) {
        let total = EVENTS / threads * threads;
        while auditor.stats().sinks[0].written < total {
            std::thread::sleep(Duration::from_micros(200));
        }
    } else {
        auditor.flush().expect("flush");
    }
    let took = start.elapsed();
    assert!(auditor.shutdown().is_clean());
    let _ = fs::remove_file(&path);
    took
}

/// One iteration through tracing: the same fields as structured fields, JSON lines written
/// by tracing-appender's worker; dropping the guard waits for them.
fn tracing_once(scratch: &Scratch, fixture: &Fixture, threads: u64) -> Duration {
    let path = scratch.next();
    let file = fs::File::create(&path).expect("create");
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(file);
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_span_events(FmtSpan::NONE)
        .with_writer(writer)
        .finish();
    let dispatch = tracing::Dispatch::new(subscriber);
    let buyer_id = fixture.buyer.id().to_string();
    let widget_id = fixture.widget.id().to_string();
    let ctx = &fixture.context;
    let start = Instant::now();
    emit_split(threads, |_, n| {
        tracing::dispatcher::with_default(&dispatch, || {
            let event = fixture.event(n);
            let id = EventId::new();
            tracing::info!(
                target: "audit",
                id = %id,
                action = "widget.purchased",
                version = 1,
                outcome = "success",
                actor.r#type = "user",
                actor.id = %buyer_id,
                actor.display = event.buyer.display(),
                subject.role = "widget",
                subject.r#type = "widget",
                subject.id = %widget_id,
                subject.display = event.widget.display(),
                quantity = event.quantity,
                amount_cents = event.amount_cents,
                sku = %event.sku,
                request_id = ctx.request_id_str(),
                ip = ?ctx.ip_addr(),
                user_agent = ctx.user_agent_str(),
                "{} bought {} of {}",
                event.buyer.display(),
                event.quantity,
                event.widget.display()
            );
        });
    });
    drop(dispatch);
    drop(guard);
    let took = start.elapsed();
    let _ = fs::remove_file(&path);
    took
}

fn sinks(c: &mut Criterion) {
    let scratch = Scratch::new();
    let fixture = Fixture::new();
    let mut group = c.benchmark_group("sinks");
    group.throughput(Throughput::Elements(EVENTS));
    for threads in [1u64, 4] {
        group.bench_with_input(
            BenchmarkId::new("jsonl_fsync", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| jsonl_once(&scratch, &fixture, threads, Durability::EveryBatch))
                        .sum()
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("jsonl_no_fsync", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| jsonl_once(&scratch, &fixture, threads, Durability::Never))
                        .sum()
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("tracing_json_appender", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| tracing_once(&scratch, &fixture, threads))
                        .sum()
                });
            },
        );
    }
    group.finish();
}

/// Where a JSONL event's time goes, per event: building the envelope (the emitting thread),
/// its chain hash and its line (the sink's worker thread).
fn parts(c: &mut Criterion) {
    let fixture = Fixture::new();
    let envelope = Envelope::from_event(&fixture.event(1), &fixture.context).expect("envelope");
    let prev = audit_core::chain::GENESIS_HASH;
    let mut group = c.benchmark_group("sinks_parts");
    group.throughput(Throughput::Elements(1));
    group.bench_function("from_event", |b| {
        b.iter(|| Envelope::from_event(black_box(&fixture.event(1)), &fixture.context));
    });
    group.bench_function("chain_hash", |b| {
        b.iter(|| audit_core::chain::hash_at(black_box(&envelope), 7, prev));
    });
    group.bench_function("line_json", |b| {
        let mut buf = Vec::with_capacity(1024);
        b.iter(|| {
            buf.clear();
            black_box(&envelope).write_json(&mut buf);
            black_box(buf.len())
        });
    });
    group.finish();
}

/// CPU seconds (user + system) of this process's thread named `name`, from `/proc`.
fn thread_cpu(name: &str) -> Option<f64> {
    for task in fs::read_dir("/proc/self/task").ok()? {
        let task = task.ok()?.path();
        let comm = fs::read_to_string(task.join("comm")).ok()?;
        if comm.trim_end() != name {
            continue;
        }
        let stat = fs::read_to_string(task.join("stat")).ok()?;
        // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: f64 = fields[11].parse::<f64>().ok()? + fields[12].parse::<f64>().ok()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        return Some(ticks / hz);
    }
    None
}

/// CPU seconds of the calling thread.
fn own_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// With `SINKS_CPU=1`: CPU time per event of the emitting thread and of the sink's worker
/// (the pipeline's bottleneck), which a loaded machine does not inflate the way it inflates
/// wall-clock throughput. 1 emitter, background mode, no fsync.
fn cpu_per_event() {
    const N: u64 = 200_000;
    let scratch = Scratch::new();
    let fixture = Fixture::new();
    let path = scratch.next();
    let auditor = Auditor::builder()
        .sink(
            JsonlSink::open(&path)
                .expect("open")
                .durability(Durability::Never),
        )
        .background(CAPACITY)
        .block_when_full(true)
        .build()
        .expect("build");
    let worker_before = thread_cpu("audit-sink-0").unwrap_or(0.0);
    let emitter_before = own_cpu();
    let start = Instant::now();
    for n in 0..N {
        auditor
            .emit_with(&fixture.context, fixture.event(n))
            .expect("emit");
    }
    let emitter = own_cpu() - emitter_before;
    auditor.flush().expect("flush");
    let wall = start.elapsed().as_secs_f64();
    let worker = thread_cpu("audit-sink-0").unwrap_or(f64::NAN) - worker_before;
    drop(auditor);
    let per = |s: f64| s / N as f64 * 1e6;
    eprintln!(
        "cpu per event: emitter {:.2} us, worker {:.2} us (worker-bound ceiling {:.0} events/s); \
         wall {:.2} us ({:.0} events/s)",
        per(emitter),
        per(worker),
        N as f64 / worker,
        per(wall),
        N as f64 / wall
    );
}

fn benches() {
    if std::env::var_os("SINKS_CPU").is_some() {
        cpu_per_event();
    }
}

criterion_group!(criterion_benches, sinks, parts);
criterion_main!(criterion_benches, benches);
