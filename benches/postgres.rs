//! Events per second into Postgres through `PostgresSink` (batched: one transaction and one
//! bulk insert per batch), from 4 emitting threads into a background auditor; the clock stops
//! when `flush()` returns, that is when every event is committed. Target: 20,000 events/s.
//!
//! Needs `AUDIT_TEST_POSTGRES_URL` (skipped without):
//! `AUDIT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench postgres --features postgres`.

use std::time::{Duration, Instant};

use audit_core::sink::postgres::PostgresAudit;
use audit_core::{AuditEvent, Auditor, Context, EntityRef, PrefixedId, Redacted};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

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
    pub card_last4: Redacted<String>,
}

const THREADS: u64 = 4;
const EVENTS_PER_THREAD: u64 = 5_000;

fn bench(c: &mut Criterion) {
    let Ok(url) = std::env::var("AUDIT_TEST_POSTGRES_URL") else {
        println!("postgres bench skipped: AUDIT_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = format!("audit_bench_{}", std::process::id());
    let audit = PostgresAudit::in_schema(&schema).expect("a valid schema name");
    let auditor = Auditor::builder()
        .sink(
            audit
                .sink(&url)
                .unwrap_or_else(|e| panic!("Postgres at {url}: {e}")),
        )
        .background(100_000)
        .block_when_full(true)
        .batch_size(2_000)
        .build()
        .expect("an auditor");
    let buyers: Vec<EntityRef<UserId>> = (0..100)
        .map(|i| EntityRef::new(UserId::new(), format!("User {i}")))
        .collect();
    let widgets: Vec<EntityRef<WidgetId>> = (0..1_000)
        .map(|i| EntityRef::new(WidgetId::new(), format!("Widget {i}")))
        .collect();

    let mut group = c.benchmark_group("postgres");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(THREADS * EVENTS_PER_THREAD));
    group.bench_function("4 threads, batched", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                std::thread::scope(|scope| {
                    for t in 0..THREADS {
                        let (auditor, buyers, widgets) = (&auditor, &buyers, &widgets);
                        scope.spawn(move || {
                            let ctx = Context::new().request_id(format!("bench-{t}"));
                            for i in 0..EVENTS_PER_THREAD {
                                let i = usize::try_from(i).unwrap_or(0);
                                auditor
                                    .emit_with(
                                        &ctx,
                                        WidgetPurchased {
                                            buyer: buyers[i % buyers.len()].clone(),
                                            widget: widgets[i % widgets.len()].clone(),
                                            quantity: 1,
                                            card_last4: Redacted::new("4242".into()),
                                        },
                                    )
                                    .expect("emit");
                            }
                        });
                    }
                });
                auditor.flush().expect("flush");
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
    drop(auditor);
    let status = std::process::Command::new("psql")
        .args([
            url.as_str(),
            "-q",
            "-c",
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        ])
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        println!("note: could not drop the bench schema {schema}");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
