//! `SqliteSink` throughput and `SqliteLog` query latency.
//!
//! - `sqlite_sink/emit`: events per second into a `SqliteSink` through a background auditor
//!   (batched, one transaction per batch, `synchronous = FULL`), from 1 and 4 emitting threads.
//!   Each iteration emits a block of events and returns when `flush` says they are durable.
//!   Target: at least 100,000 events/s.
//! - `sqlite_query/*`: "the 50 newest events of one actor" and "of one subject" on a database of
//!   1,000,000 events (1,000 users, 10,000 widgets), built once before the timing by writing
//!   through `SqliteSink` as fast as it goes. Criterion reports means; the 99th percentile over
//!   2,000 random actors and subjects is measured apart and printed. Target: p99 under 5 ms.
//!
//! `cargo bench --bench sqlite`. Set `AUDIT_BENCH_SQLITE_DB=/some/dir/audit.db` to keep the
//! 1M-event database between runs (it is built when missing), and `AUDIT_BENCH_SQLITE_EVENTS`
//! to build a smaller one.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use audit_core::query::{Cursor, Query};
use audit_core::sink::{SqliteLog, SqliteSink};
use audit_core::{Actor, AuditEvent, Auditor, Context, EntityRef, PrefixedId};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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
    pub price_cents: u64,
}

#[derive(AuditEvent)]
#[audit(action = "user.logged_in", message = "{actor} logged in")]
pub struct LoggedIn {
    #[audit(actor, subject)]
    pub user: EntityRef<UserId>,
}

#[derive(AuditEvent)]
#[audit(action = "widget.bundled")]
pub struct WidgetsBundled {
    #[audit(actor)]
    pub by: Actor,
    #[audit(subject)]
    pub widgets: Vec<EntityRef<WidgetId>>,
    pub discount_percent: u8,
}

const USERS: usize = 1_000;
const WIDGETS: usize = 10_000;

/// The shop: 1,000 users (the first 20 are support staff) and 10,000 widgets.
struct World {
    users: Vec<EntityRef<UserId>>,
    widgets: Vec<EntityRef<WidgetId>>,
}

impl World {
    fn new() -> Self {
        World {
            users: (0..USERS)
                .map(|i| EntityRef::new(UserId::new(), format!("User {i}")))
                .collect(),
            widgets: (0..WIDGETS)
                .map(|i| EntityRef::new(WidgetId::new(), format!("Widget {i}")))
                .collect(),
        }
    }

    /// One event: 70% purchases (one in ten by support on a user's behalf), 20% logins (the
    /// actor is the subject), 10% bundles of two or three widgets.
    fn emit(&self, auditor: &Auditor, rng: &mut StdRng, n: u64) {
        let ctx = Context::new().request_id(format!("req-{n:x}"));
        let user = self.users[rng.random_range(0..USERS)].clone();
        let result = match rng.random_range(0..10) {
            0..7 => {
                let widget = self.widgets[rng.random_range(0..WIDGETS)].clone();
                let buyer = if rng.random_range(0..10) == 0 {
                    let support = self.users[rng.random_range(0..20)].clone();
                    Actor::on_behalf_of(support, user)
                } else {
                    Actor::from(user)
                };
                auditor.emit_with(
                    &ctx,
                    WidgetPurchased {
                        buyer,
                        widget,
                        quantity: rng.random_range(1..5),
                        price_cents: rng.random_range(100..100_000),
                    },
                )
            }
            7..9 => auditor.emit_with(&ctx, LoggedIn { user }),
            _ => {
                let widgets = (0..rng.random_range(2..4))
                    .map(|_| self.widgets[rng.random_range(0..WIDGETS)].clone())
                    .collect();
                auditor.emit_with(
                    &ctx,
                    WidgetsBundled {
                        by: Actor::from(user),
                        widgets,
                        discount_percent: 10,
                    },
                )
            }
        };
        result.expect("emit");
    }
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A background auditor on `path`, for throughput: emitters block when the queue is full.
fn background(path: &Path) -> Auditor {
    Auditor::builder()
        .sink(SqliteSink::open(path).expect("open"))
        .background(64 * 1024)
        .block_when_full(true)
        .build()
        .expect("auditor")
}

/// Emits `per_thread` events from each of `threads` threads; returns the time until `flush`
/// returned.
fn emit_block(auditor: &Auditor, world: &Arc<World>, threads: usize, per_thread: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (auditor, world, barrier) =
                (auditor.clone(), Arc::clone(world), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(t as u64);
                barrier.wait();
                for n in 0..per_thread {
                    world.emit(&auditor, &mut rng, n);
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().expect("emitter");
    }
    auditor.flush().expect("flush");
    start.elapsed()
}

/// CPU time used by this process so far (every thread, user and system).
fn cpu_time() -> Duration {
    // SAFETY: `getrusage` writes into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time used by the calling thread so far.
fn thread_cpu_time() -> Duration {
    // SAFETY: `clock_gettime` writes into the zeroed struct it is given.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts
    };
    Duration::from_secs(u64::try_from(ts.tv_sec).unwrap_or(0))
        + Duration::from_nanos(u64::try_from(ts.tv_nsec).unwrap_or(0))
}

fn bench_emit(c: &mut Criterion) {
    const BLOCK: u64 = 20_000;
    let world = Arc::new(World::new());
    let dir = std::env::temp_dir().join(format!("audit-bench-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut group = c.benchmark_group("sqlite_sink");
    group.throughput(Throughput::Elements(BLOCK));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    for threads in [1, 4] {
        let path = dir.join(format!("emit-{threads}.db"));
        remove_db(&path);
        let auditor = background(&path);
        let mut reported = false;
        group.bench_with_input(
            BenchmarkId::new("emit", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| emit_block(&auditor, &world, threads, BLOCK / threads as u64))
                        .sum()
                });
                if !std::mem::replace(&mut reported, true) {
                    // The machine may be shared: also report the CPU time one block costs the
                    // process (emitters and the sink's worker), which other programs' load
                    // inflates less than the wall time.
                    let cpu = cpu_time();
                    let wall = emit_block(&auditor, &world, threads, BLOCK / threads as u64);
                    let cpu = cpu_time() - cpu;
                    println!(
                        "emit, {threads} thread(s): {BLOCK} events in {wall:.2?} wall ({:.0} \
                     events/s), {cpu:.2?} CPU ({:.1} us CPU per event)",
                        BLOCK as f64 / wall.as_secs_f64(),
                        cpu.as_secs_f64() * 1e6 / BLOCK as f64,
                    );
                }
            },
        );
        assert!(auditor.shutdown().is_clean());
        remove_db(&path);
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The 1M-event database: kept at `AUDIT_BENCH_SQLITE_DB`, or built in a temp dir (and removed
/// after the run).
struct QueryDb {
    path: PathBuf,
    temporary: bool,
}

impl Drop for QueryDb {
    fn drop(&mut self) {
        if self.temporary {
            remove_db(&self.path);
        }
    }
}

fn query_db() -> QueryDb {
    let events: u64 = std::env::var("AUDIT_BENCH_SQLITE_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let (path, temporary) = match std::env::var_os("AUDIT_BENCH_SQLITE_DB") {
        Some(p) => (PathBuf::from(p), false),
        None => (
            std::env::temp_dir().join(format!("audit-bench-sqlite-1m-{}.db", std::process::id())),
            true,
        ),
    };
    let db = QueryDb { path, temporary };
    if db.path.exists() {
        let n = SqliteLog::open(&db.path)
            .and_then(|log| log.count(&Query::new()))
            .expect("the kept benchmark database");
        if n >= events {
            println!("using {} ({n} events)", db.path.display());
            return db;
        }
        remove_db(&db.path);
    }
    // Through the sink, as fast as it goes: one emitting thread per core, blocking on a full
    // queue; the sink writes batches of up to 8192 events (the default) per transaction.
    let world = Arc::new(World::new());
    let auditor = background(&db.path);
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    println!(
        "building {} with {events} events through SqliteSink ({threads} emitting threads)...",
        db.path.display()
    );
    let took = emit_block(&auditor, &world, threads, events / threads as u64);
    let report = auditor.shutdown();
    assert!(report.is_clean(), "{report:?}");
    let written = report.stats.sinks[0].written;
    println!(
        "built: {written} events in {:.1} s ({:.0} events/s on a growing database), {} MB",
        took.as_secs_f64(),
        written as f64 / took.as_secs_f64(),
        std::fs::metadata(&db.path).map_or(0, |m| m.len()) / 1_000_000
    );
    db
}

/// The distinct actors and subjects in the database, from a sample of its events.
fn ids_in(log: &SqliteLog) -> (Vec<String>, Vec<String>) {
    let mut actors = std::collections::BTreeSet::new();
    let mut subjects = std::collections::BTreeSet::new();
    let mut q = Query::new().limit(Query::MAX_LIMIT);
    for _ in 0..50 {
        let page = log.query(&q).expect("query");
        for e in &page.events {
            actors.insert(e.actor.id.clone());
            subjects.extend(e.subjects.iter().map(|s| s.id.clone()));
        }
        match page.next {
            Some(c) => q = q.after(c),
            None => break,
        }
    }
    (actors.into_iter().collect(), subjects.into_iter().collect())
}

/// Mean, p50, p99 and max of `query` over `ids`, timed one by one.
fn percentiles(log: &SqliteLog, what: &str, ids: &[String], query: impl Fn(&str) -> Query) {
    let mut rng = StdRng::seed_from_u64(7);
    let (mut wall, mut cpu): (Vec<Duration>, Vec<Duration>) = (0..2_000)
        .map(|_| {
            let q = query(&ids[rng.random_range(0..ids.len())]);
            let (start, start_cpu) = (Instant::now(), thread_cpu_time());
            let page = log.query(&q).expect("query");
            let took = (start.elapsed(), thread_cpu_time() - start_cpu);
            black_box(page);
            took
        })
        .unzip();
    for (kind, times) in [("wall", &mut wall), ("thread CPU", &mut cpu)] {
        times.sort_unstable();
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        let pick = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
        println!(
            "{what}, 2000 random ids, {kind}: mean {mean:.2?}, p50 {:.2?}, p99 {:.2?}, max {:.2?}",
            pick(0.50),
            pick(0.99),
            times[times.len() - 1]
        );
    }
}

/// What the query benchmarks share, made on first use so that a filtered run that selects
/// none of them does not build the database.
struct Queries {
    // Declared before `db`: the reader closes before a temporary database is removed.
    log: SqliteLog,
    actors: Vec<String>,
    subjects: Vec<String>,
    _db: QueryDb,
}

fn queries() -> Queries {
    let db = query_db();
    let log = SqliteLog::open(&db.path).expect("open");
    let total = log.count(&Query::new()).expect("count");
    let (actors, subjects) = ids_in(&log);
    println!(
        "{total} events; sampled {} actors and {} subjects",
        actors.len(),
        subjects.len()
    );
    // Warm the page cache once, as a long-running service would be, then measure.
    percentiles(&log, "warm-up (actor)", &actors, |a| {
        Query::new().actor(a).limit(50)
    });
    percentiles(&log, "warm-up (subject)", &subjects, |s| {
        Query::new().subject(s).limit(50)
    });
    percentiles(&log, "newest 50 of one actor", &actors, |a| {
        Query::new().actor(a).limit(50)
    });
    percentiles(&log, "newest 50 of one subject", &subjects, |s| {
        Query::new().subject(s).limit(50)
    });
    // Not a target: an action prefix, from pages anywhere in the log.
    let cursors: Vec<String> = (0..2_000u64)
        .map(|i| (total * i / 2_000 + 51).to_string())
        .collect();
    percentiles(&log, "newest 50 under widget.* (any page)", &cursors, |c| {
        Query::new()
            .action("widget.*")
            .after(Cursor::after_seq(c.parse().expect("seq")))
            .limit(50)
    });
    Queries {
        log,
        actors,
        subjects,
        _db: db,
    }
}

fn bench_queries(c: &mut Criterion) {
    let shared: std::cell::OnceCell<Queries> = std::cell::OnceCell::new();
    let mut group = c.benchmark_group("sqlite_query");
    group.sample_size(50);
    let mut rng = StdRng::seed_from_u64(11);
    group.bench_function("newest_50_of_actor", |b| {
        let q = shared.get_or_init(queries);
        b.iter(|| {
            let a = &q.actors[rng.random_range(0..q.actors.len())];
            black_box(
                q.log
                    .query(&Query::new().actor(a).limit(50))
                    .expect("query"),
            )
        });
    });
    group.bench_function("newest_50_of_subject", |b| {
        let q = shared.get_or_init(queries);
        b.iter(|| {
            let s = &q.subjects[rng.random_range(0..q.subjects.len())];
            black_box(
                q.log
                    .query(&Query::new().subject(s).limit(50))
                    .expect("query"),
            )
        });
    });
    group.bench_function("newest_50_of_action_prefix", |b| {
        let q = shared.get_or_init(queries);
        b.iter(|| {
            black_box(
                q.log
                    .query(&Query::new().action("widget.*").limit(50))
                    .expect("query"),
            )
        });
    });
    group.bench_function("count_of_actor", |b| {
        let q = shared.get_or_init(queries);
        b.iter(|| {
            let a = &q.actors[rng.random_range(0..q.actors.len())];
            black_box(q.log.count(&Query::new().actor(a)).expect("count"))
        });
    });
    group.finish();
}

criterion_group!(benches, bench_emit, bench_queries);

/// `AUDIT_BENCH_SQLITE_ONESHOT=N`: emit N events from one thread into a new database and
/// exit, without criterion (for `perf stat` and profilers). N should be a multiple of the block
/// size.
fn oneshot(events: u64) {
    let world = Arc::new(World::new());
    let path = std::env::temp_dir().join(format!("audit-bench-oneshot-{}.db", std::process::id()));
    remove_db(&path);
    let auditor = background(&path);
    // `AUDIT_BENCH_SQLITE_BLOCK=N`: in blocks of N events, each flushed, as criterion does.
    let block: u64 = std::env::var("AUDIT_BENCH_SQLITE_BLOCK")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(events)
        .clamp(1, events.max(1));
    let cpu = cpu_time();
    let mut wall = Duration::ZERO;
    for _ in 0..events / block {
        wall += emit_block(&auditor, &world, 1, block);
    }
    let cpu = cpu_time() - cpu;
    println!(
        "{events} events in {wall:.2?} wall ({:.0} events/s), {:.1} us CPU per event",
        events as f64 / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / events as f64
    );
    assert!(auditor.shutdown().is_clean());
    remove_db(&path);
}

fn main() {
    if let Some(n) = std::env::var("AUDIT_BENCH_SQLITE_ONESHOT")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        oneshot(n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
