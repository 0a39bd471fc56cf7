//! Events per second into NATS JetStream through `NatsSink`, acknowledged: 4 threads emit into
//! a background auditor (a queue of 16Ki events, emitters blocking when it is full), and the
//! clock stops when `flush()` returns, that is when the stream has acknowledged every event.
//! Target: 50,000 events/s.
//!
//! Needs a server with JetStream in `AUDIT_TEST_NATS_URL` (skipped without):
//! `AUDIT_TEST_NATS_URL=nats://127.0.0.1:4222 cargo bench --bench nats --features nats`.
//! `AUDIT_BENCH_NATS_EVENTS` sets the events per round (default 200,000),
//! `AUDIT_BENCH_NATS_BATCH` the auditor's batch size (default 1024, the auditor's default),
//! `AUDIT_BENCH_NATS_WINDOW` the stream's duplicate window in seconds (default: the sink's,
//! 600). The server keeps every message ID of the window in memory, so a long window at a
//! high rate costs it memory and time: compare rounds with `AUDIT_BENCH_NATS_WINDOW=10`.
//!
//! Machines here are shared and noisy: besides the wall-clock rate, each round prints the CPU
//! time this process spent per event (emitting threads, sink, connection), which depends less
//! on what else runs.

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use audit_core::sink::NatsSink;
use audit_core::sink::async_nats::{self, jetstream};
use audit_core::{AuditEvent, Auditor, Context, EntityRef, PrefixedId};

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
    pub buyer: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub quantity: u32,
}

const THREADS: usize = 4;
const ROUNDS: usize = 3;
/// The background queue: emitters block when it is full, as a synchronous program would.
const QUEUE: usize = 16 * 1024;

fn main() {
    let Ok(url) = std::env::var("AUDIT_TEST_NATS_URL") else {
        println!("nats bench skipped: AUDIT_TEST_NATS_URL is not set");
        return;
    };
    let events: usize = std::env::var("AUDIT_BENCH_NATS_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let batch: usize = std::env::var("AUDIT_BENCH_NATS_BATCH")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024);
    let window: Option<u64> = std::env::var("AUDIT_BENCH_NATS_WINDOW")
        .ok()
        .and_then(|n| n.parse().ok());
    let per_thread = events / THREADS;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let stream = format!("AUDIT_BENCH_{}_{nanos}", std::process::id());
    let prefix = format!("audit_bench_{}_{nanos}", std::process::id());

    let mut sink = NatsSink::builder(&url)
        .stream(&stream)
        .subject_prefix(&prefix);
    if let Some(secs) = window {
        sink = sink.duplicate_window(Duration::from_secs(secs));
    }
    let sink = sink
        .connect()
        .unwrap_or_else(|e| panic!("NATS at {url}: {e}"));
    let auditor = Auditor::builder()
        .sink(sink)
        .background(QUEUE)
        .block_when_full(true)
        .batch_size(batch)
        .build()
        .expect("an auditor");
    let ctx = Context::new().request_id("bench").user_agent("bench/1");
    let buyer = EntityRef::new(UserId::new(), "Alice");
    let widget = EntityRef::new(WidgetId::new(), "Blue widget");

    let round = |n: usize| -> (Duration, Duration) {
        let start = Instant::now();
        let cpu_start = process_cpu();
        thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for i in 0..n {
                        auditor
                            .emit_with(
                                &ctx,
                                WidgetPurchased {
                                    buyer: buyer.clone(),
                                    widget: widget.clone(),
                                    quantity: u32::try_from(i).unwrap_or(0),
                                },
                            )
                            .expect("emit");
                    }
                });
            }
        });
        auditor.flush().expect("flush");
        (start.elapsed(), process_cpu().saturating_sub(cpu_start))
    };

    round((per_thread / 10).max(1)); // warm up: connection, stream files
    let mut rates = Vec::new();
    for r in 1..=ROUNDS {
        let (took, cpu) = round(per_thread);
        let n = per_thread * THREADS;
        #[allow(clippy::cast_precision_loss)]
        let (rate, cpu_per_event) = (
            n as f64 / took.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / n as f64,
        );
        println!(
            "nats round {r}: {n} events from {THREADS} threads, batches of {batch}, acknowledged \
             in {took:.2?}: {rate:.0} events/s; client CPU {cpu_per_event:.1} us/event"
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let stats = auditor.stats();
    let report = auditor.shutdown();
    assert!(report.is_clean(), "{report:?}");
    println!(
        "nats: median {:.0} events/s (target 50000), {} written, {} retried batches",
        rates[rates.len() / 2],
        stats.sinks[0].written,
        stats.sinks[0].retried
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        if let Ok(client) = async_nats::connect(url.as_str()).await {
            let _ = jetstream::new(client).delete_stream(&stream).await;
        }
    });
}

/// CPU time (user + system) of this process so far.
#[cfg(unix)]
fn process_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct it is given; a zeroed rusage is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut usage) } != 0 {
        return Duration::ZERO;
    }
    let micros = |t: libc::timeval| {
        u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0)
    };
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

#[cfg(not(unix))]
fn process_cpu() -> Duration {
    Duration::ZERO
}
