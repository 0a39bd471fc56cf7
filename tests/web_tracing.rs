//! `TracingSink` (feature `tracing`) under a small capturing `tracing` subscriber: each
//! envelope becomes one `INFO` event with target `audit`, its message, its key fields, and the
//! whole envelope as JSON in the `envelope` field, which parses back to the same envelope.
//! Also through the widget-shop example over real HTTP: the request's context is in it.
//!
//! The subscriber is process-wide (the sink writes from its own worker thread), so these tests
//! have a test binary of their own.
//!
//! Run with `cargo test --features axum,sqlx-sqlite,tracing --test web_tracing`.
#![cfg(all(feature = "axum", feature = "sqlx-sqlite", feature = "tracing"))]

#[allow(dead_code)]
#[path = "../examples/web_service/app.rs"]
mod app;
#[allow(dead_code)]
#[path = "../examples/web_service/client.rs"]
mod client;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};

use audit_core::sink::{MemorySink, SqliteSink, TracingSink};
use audit_core::web::AuditLayer;
use audit_core::{AuditEvent, Auditor, Context, EntityRef, Envelope, Redacted};
use axum::http::{Method, StatusCode};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::SubscriberExt as _;

use app::{UserId, WidgetId};

/// One captured `tracing` event.
#[derive(Clone, Debug)]
struct Captured {
    target: String,
    level: tracing::Level,
    fields: BTreeMap<String, String>,
}

/// Every event the process emits, captured by the global subscriber installed once.
fn captured() -> &'static Mutex<Vec<Captured>> {
    static CAPTURED: OnceLock<&'static Mutex<Vec<Captured>>> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let store: &'static Mutex<Vec<Captured>> = Box::leak(Box::default());
        let subscriber = tracing_subscriber::registry().with(Capture(store));
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        store
    })
}

/// The captured event whose `event_id` field is `id`.
fn captured_event(id: &str) -> Captured {
    let found: Vec<Captured> = captured()
        .lock()
        .expect("lock")
        .iter()
        .filter(|c| c.fields.get("event_id").map(String::as_str) == Some(id))
        .cloned()
        .collect();
    assert_eq!(found.len(), 1, "events with event_id {id}: {found:?}");
    found.into_iter().next().expect("one")
}

struct Capture(&'static Mutex<Vec<Captured>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.lock().expect("lock").push(Captured {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields: fields.0,
        });
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

#[derive(AuditEvent)]
#[audit(
    action = "widget.inspected",
    message = "{actor} inspected {widget}: {verdict}"
)]
pub struct WidgetInspected {
    #[audit(actor)]
    pub inspector: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub verdict: String,
    pub badge_code: Redacted<String>,
}

#[derive(AuditEvent)]
#[audit(action = "widget.counted")]
pub struct WidgetCounted {
    #[audit(actor, subject)]
    pub widget: EntityRef<WidgetId>,
    pub count: u32,
}

#[test]
fn each_envelope_is_one_event_whose_envelope_field_parses_back() {
    captured();
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(TracingSink::new())
        .sink(memory.clone())
        .build()
        .expect("auditor");
    let ctx = Context::new()
        .request_id("req-trace-1")
        .trace_id("4bf92f3577b34da6a3ce929d0e0e4736");
    let inspector = EntityRef::new(UserId::new(), "Ins \"Quote\" Pector");
    let widget = EntityRef::new(WidgetId::new(), "Blue\nwidget");
    let id = auditor
        .emit_with(
            &ctx,
            WidgetInspected {
                inspector: inspector.clone(),
                widget: widget.clone(),
                verdict: "fine".to_owned(),
                badge_code: Redacted::new("B-77731".to_owned()),
            },
        )
        .expect("emit");
    let silent = auditor
        .emit(WidgetCounted {
            widget: widget.clone(),
            count: 3,
        })
        .expect("emit");
    auditor.flush().expect("flush");

    let event = captured_event(&id.to_string());
    assert_eq!(event.target, "audit");
    assert_eq!(event.level, tracing::Level::INFO);
    let emitted = memory
        .events()
        .into_iter()
        .find(|e| e.id == id)
        .expect("emitted");
    let field = |name: &str| event.fields.get(name).map(String::as_str);
    assert_eq!(field("message"), emitted.message.as_deref());
    assert_eq!(field("action"), Some("widget.inspected"));
    assert_eq!(field("outcome"), Some("success"));
    assert_eq!(field("actor"), Some(inspector.id().to_string().as_str()));
    assert_eq!(field("request_id"), Some("req-trace-1"));
    assert_eq!(field("trace_id"), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    let json = field("envelope").expect("the envelope field");
    let parsed: Envelope = serde_json::from_str(json).expect("the envelope parses back");
    assert_eq!(parsed, emitted);
    assert_eq!(json, emitted.to_json());
    for value in event.fields.values() {
        assert!(
            !value.contains("B-77731"),
            "the redacted value leaked: {value}"
        );
    }

    // Without a message template, the message is the action; absent context keys are absent.
    let event = captured_event(&silent.to_string());
    assert_eq!(
        event.fields.get("message").map(String::as_str),
        Some("widget.counted")
    );
    assert_eq!(event.fields.get("request_id"), None);
    assert_eq!(event.fields.get("trace_id"), None);
    let parsed: Envelope = serde_json::from_str(&event.fields["envelope"]).expect("parses back");
    assert_eq!(parsed.details.get(), r#"{"count":3}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_writes_each_request_event_through_tracing() {
    captured();
    let dir = std::env::temp_dir().join(format!("audit-web-tracing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = app::open_shop(&dir.join("shop.db")).await.expect("shop db");
    let sink = SqliteSink::open(dir.join("audit.db")).expect("audit db");
    let log = sink.log().expect("reader");
    let auditor = Auditor::builder()
        .sink(sink)
        .sink(TracingSink::new())
        .background(1000)
        .build()
        .expect("auditor");
    let routes = app::routes(app::AppState::new(db, auditor, log)).layer(AuditLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            routes.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });

    let answer = client::send(
        addr,
        Method::POST,
        "/users",
        &[("x-request-id", b"traced-signup-1")],
        Some(&json!({"name": "Trace <Tester>", "email": "trace@example.com"})),
    )
    .await
    .expect("request");
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let user = answer.json()["id"].as_str().expect("id").to_owned();

    // The answer comes after the flush, so the tracing event is already out.
    let listed = client::get(addr, "/audit", &[])
        .await
        .expect("request")
        .json();
    let event_id = listed["events"][0]["id"]
        .as_str()
        .expect("event id")
        .to_owned();
    let event = captured_event(&event_id);
    assert_eq!(
        event.fields.get("message").map(String::as_str),
        Some("Trace <Tester> signed up")
    );
    assert_eq!(
        event.fields.get("request_id").map(String::as_str),
        Some("traced-signup-1")
    );
    let parsed: Envelope = serde_json::from_str(&event.fields["envelope"]).expect("parses back");
    assert_eq!(parsed.actor.id, user);
    assert_eq!(parsed.context.request_id_str(), Some("traced-signup-1"));
    assert_eq!(
        parsed.context.ip_addr(),
        Some("127.0.0.1".parse().expect("ip"))
    );
    assert!(!event.fields["envelope"].contains("trace@example.com"));
    let _ = std::fs::remove_dir_all(&dir);
}
