//! Building and serializing the envelope of an event, side by side with what a user would
//! write instead, in one run.
//!
//! ```sh
//! cargo bench --bench events -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! One group, `envelope`, with the same realistic event (an actor, two subjects, four details of
//! which one redacted, a request context) three ways, each iteration building the event from
//! the same inputs and writing one line of JSON into a reused buffer:
//!
//! - `audit_core`: `Envelope::of` (what `Auditor::emit` does: it takes the event, so the
//!   display names move into the envelope) + `Envelope::write_json`;
//! - `floor`: a hand-written nested struct with `#[derive(Serialize)]`, holding owned `String`s
//!   for the IDs and display names as a user would build it, a fresh `EventId` and the time
//!   now, written with `serde_json::to_writer`: the least an equivalent JSON line can cost;
//! - `tracing`: `tracing::info!` with the same fields as structured key-values, through
//!   `tracing_subscriber::fmt().json()` writing to `std::io::sink()`.
//!
//! Targets: `audit_core` at most 1.3 times the floor, at least 4 times faster than `tracing`.
//! The machines here are noisy: compare within one run only, as ratios. Times are the
//! benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time, so that other
//! processes on a shared machine do not count against whichever entry was running when the
//! scheduler switched; set `EVENTS_BENCH_WALL=1` to measure wall time instead.

use std::hint::black_box;
use std::net::IpAddr;

use audit_core::{
    AuditEvent, Context, EntityRef, Envelope, EventId, PrefixedId, Redacted, Timestamp,
};
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/cpu_clock.rs"]
mod cpu_clock;
use cpu_clock::Clock;
use serde::Serialize;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "coup", name = "coupon")]
pub struct CouponId([u8; 16]);

#[derive(AuditEvent)]
#[audit(
    action = "widget.purchased",
    version = 2,
    message = "{actor} bought {quantity} of {widget}"
)]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    #[audit(subject)]
    pub coupon: Option<EntityRef<CouponId>>,
    pub quantity: u32,
    pub total_cents: u64,
    pub gift_note: Option<String>,
    pub card_last4: Redacted<String>,
}

/// What the application has at hand when the event happens.
struct Inputs {
    user: UserId,
    user_name: String,
    widget: WidgetId,
    widget_name: String,
    coupon: CouponId,
    coupon_name: String,
    quantity: u32,
    total_cents: u64,
    gift_note: Option<String>,
    card_last4: String,
    request_id: String,
    ip: IpAddr,
    user_agent: String,
    tenant: String,
}

fn inputs() -> Inputs {
    Inputs {
        user: UserId::new(),
        user_name: "Alice Liddell".into(),
        widget: WidgetId::new(),
        widget_name: "Blue widget, large".into(),
        coupon: CouponId::new(),
        coupon_name: "WINTER-10".into(),
        quantity: 2,
        total_cents: 1_998,
        gift_note: Some("Happy birthday!".into()),
        card_last4: "4242".into(),
        request_id: "req-8f14e45fceea167a".into(),
        ip: "203.0.113.7".parse().expect("an IP address"),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".into(),
        tenant: "acme".into(),
    }
}

fn audit_core_line(i: &Inputs, context: &Context, out: &mut Vec<u8>) {
    let event = WidgetPurchased {
        buyer: EntityRef::new(i.user, i.user_name.clone()),
        widget: EntityRef::new(i.widget, i.widget_name.clone()),
        coupon: Some(EntityRef::new(i.coupon, i.coupon_name.clone())),
        quantity: i.quantity,
        total_cents: i.total_cents,
        gift_note: i.gift_note.clone(),
        card_last4: Redacted::new(i.card_last4.clone()),
    };
    let envelope = Envelope::of(event, context).expect("the event serializes");
    out.clear();
    envelope.write_json(out);
}

// ---- The floor: what a user would write by hand. --------------------------------------------

#[derive(Serialize)]
struct Line<'a> {
    id: String,
    action: &'static str,
    version: u32,
    occurred_at: String,
    outcome: &'static str,
    actor: Entity,
    subjects: Vec<Subject>,
    message: String,
    details: Details,
    context: RequestContext<'a>,
}

#[derive(Serialize)]
struct Entity {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    display: String,
}

#[derive(Serialize)]
struct Subject {
    role: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    display: String,
}

#[derive(Serialize)]
struct Details {
    quantity: u32,
    total_cents: u64,
    gift_note: Option<String>,
    card_last4: &'static str,
}

#[derive(Serialize)]
struct RequestContext<'a> {
    request_id: &'a str,
    ip: IpAddr,
    user_agent: &'a str,
    tenant: &'a str,
}

fn floor_line(i: &Inputs, out: &mut Vec<u8>) {
    let line = Line {
        id: EventId::new().to_string(),
        action: "widget.purchased",
        version: 2,
        occurred_at: Timestamp::now().to_string(),
        outcome: "success",
        actor: Entity {
            kind: "user",
            id: i.user.to_string(),
            display: i.user_name.clone(),
        },
        subjects: vec![
            Subject {
                role: "widget",
                kind: "widget",
                id: i.widget.to_string(),
                display: i.widget_name.clone(),
            },
            Subject {
                role: "coupon",
                kind: "coupon",
                id: i.coupon.to_string(),
                display: i.coupon_name.clone(),
            },
        ],
        message: format!("{} bought {} of {}", i.user_name, i.quantity, i.widget_name),
        details: Details {
            quantity: i.quantity,
            total_cents: i.total_cents,
            gift_note: i.gift_note.clone(),
            card_last4: "[redacted]",
        },
        context: RequestContext {
            request_id: &i.request_id,
            ip: i.ip,
            user_agent: &i.user_agent,
            tenant: &i.tenant,
        },
    };
    out.clear();
    serde_json::to_writer(&mut *out, &line).expect("the line serializes");
}

// ---- The tracing route. ---------------------------------------------------------------------

fn tracing_line(i: &Inputs) {
    tracing::info!(
        target: "audit",
        action = "widget.purchased",
        version = 2,
        outcome = "success",
        actor.r#type = "user",
        actor.id = %i.user,
        actor.display = %i.user_name,
        subject.widget.r#type = "widget",
        subject.widget.id = %i.widget,
        subject.widget.display = %i.widget_name,
        subject.coupon.r#type = "coupon",
        subject.coupon.id = %i.coupon,
        subject.coupon.display = %i.coupon_name,
        quantity = i.quantity,
        total_cents = i.total_cents,
        gift_note = i.gift_note.as_deref(),
        card_last4 = "[redacted]",
        request_id = %i.request_id,
        ip = %i.ip,
        user_agent = %i.user_agent,
        tenant = %i.tenant,
        "{} bought {} of {}",
        i.user_name,
        i.quantity,
        i.widget_name,
    );
}

fn envelope(c: &mut Criterion<Clock>) {
    let i = inputs();
    let context = Context::new()
        .request_id(i.request_id.clone())
        .ip(i.ip)
        .user_agent(i.user_agent.clone())
        .tenant(i.tenant.clone());

    // The three lines carry the same information.
    let mut ours = Vec::with_capacity(1024);
    audit_core_line(&i, &context, &mut ours);
    let mut floor = Vec::with_capacity(1024);
    floor_line(&i, &mut floor);
    let ours: serde_json::Value = serde_json::from_slice(&ours).expect("JSON");
    let floor: serde_json::Value = serde_json::from_slice(&floor).expect("JSON");
    for key in [
        "action", "version", "outcome", "actor", "subjects", "message", "details", "context",
    ] {
        assert_eq!(ours[key], floor[key], "{key}");
    }

    let mut group = c.benchmark_group("envelope");
    let mut buf = Vec::with_capacity(1024);
    group.bench_function("audit_core", |b| {
        b.iter(|| {
            audit_core_line(black_box(&i), black_box(&context), &mut buf);
            black_box(buf.len())
        });
    });
    group.bench_function("floor", |b| {
        b.iter(|| {
            floor_line(black_box(&i), &mut buf);
            black_box(buf.len())
        });
    });
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("tracing", |b| b.iter(|| tracing_line(black_box(&i))));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(Clock::new("EVENTS_BENCH_WALL"));
    targets = envelope
}
criterion_main!(benches);
