//! `NatsSink` against a NATS server with JetStream (`AUDIT_TEST_NATS_URL`): the stream is
//! created if missing, the same event published twice is stored once, a consumer reads the
//! envelopes back as emitted, a deleted stream is created again. Settings and connection
//! errors are checked without a server.
#![cfg(feature = "nats")]

mod nats_common;

use std::time::Duration;

use audit_core::sink::async_nats::jetstream::stream::{Config, StorageType};
use audit_core::sink::{NatsError, NatsSink, Sink};
use audit_core::{AuditEvent, Auditor, Context, EntityRef, Envelope, Outcome, PrefixedId};
use nats_common::{Checker, DeleteOnDrop, unique_names, url_or_skip};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "user.logged_in", message = "{actor} logged in")]
pub struct LoggedIn {
    #[audit(actor, subject)]
    pub user: EntityRef<UserId>,
}

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
    pub quantity: u32,
}

fn envelopes() -> Vec<Envelope> {
    let alice = UserId::new();
    let ctx = Context::new()
        .request_id("req-1")
        .ip("203.0.113.7".parse().expect("an IP"))
        .user_agent("curl/8");
    vec![
        Envelope::from_event(
            &LoggedIn {
                user: EntityRef::new(alice, "Alice"),
            },
            &ctx,
        )
        .expect("an envelope"),
        Envelope::from_event(
            &WidgetPurchased {
                buyer: EntityRef::new(alice, "Alice"),
                widget: EntityRef::new(WidgetId::new(), "Blue widget"),
                quantity: 2,
            },
            &ctx,
        )
        .expect("an envelope")
        .with_outcome(Outcome::Denied),
        Envelope::from_event(
            &LoggedIn {
                user: EntityRef::new(UserId::new(), "Bob \"the builder\" ✓"),
            },
            &Context::new(),
        )
        .expect("an envelope"),
    ]
}

#[test]
fn invalid_settings_are_rejected_before_connecting() {
    // No server listens on port 1: each error must come from the settings.
    let url = "nats://127.0.0.1:1";
    for (builder, expected) in [
        (
            NatsSink::builder(url).subject_prefix("audit.*"),
            "subject prefix",
        ),
        (NatsSink::builder(url).subject_prefix(""), "subject prefix"),
        (NatsSink::builder(url).stream("AUDIT.LOG"), "stream name"),
        (NatsSink::builder(url).stream("AUDIT LOG"), "stream name"),
        (
            NatsSink::builder(url).stream_config(Config {
                subjects: vec!["events.>".to_owned()],
                ..Config::default()
            }),
            "must capture `audit.>`, found [\"events.>\"]",
        ),
    ] {
        match builder.connect() {
            Err(e @ NatsError::Config(_)) => {
                let text = e.to_string();
                assert!(text.contains(expected), "{text}");
            }
            other => panic!("expected a settings error about {expected}, got {other:?}"),
        }
    }
}

#[test]
fn unreachable_server_is_an_error_without_credentials() {
    match NatsSink::connect("nats://alice:s3cret@127.0.0.1:1") {
        Err(e @ NatsError::Connect { .. }) => {
            let text = e.to_string();
            assert!(text.contains("127.0.0.1:1"), "{text}");
            assert!(!text.contains("s3cret"), "the password leaked: {text}");
        }
        other => panic!("expected a connection error, got {other:?}"),
    }
}

#[test]
fn stream_is_created_if_missing() {
    let Some(url) = url_or_skip("stream_is_created_if_missing") else {
        return;
    };
    let checker = Checker::connect(&url);
    let (stream, prefix) = unique_names();
    let _cleanup = DeleteOnDrop {
        url: url.clone(),
        stream: stream.clone(),
    };
    assert!(checker.info(&stream).is_none());

    let sink = NatsSink::builder(&url)
        .stream(&stream)
        .subject_prefix(&prefix)
        .connect()
        .expect("connect and create the stream");
    assert_eq!(sink.name(), format!("nats:{stream}"));
    assert_eq!(
        sink.subject("user.logged_in"),
        format!("{prefix}.user.logged_in")
    );
    let info = checker.info(&stream).expect("the sink created the stream");
    assert_eq!(info.config.subjects, [format!("{prefix}.>")]);
    assert_eq!(info.config.duplicate_window, Duration::from_secs(600));
    assert_eq!(info.config.storage, StorageType::File);
    assert!(info.config.deny_delete && info.config.deny_purge);
    drop(sink);

    // An existing stream is used as it is.
    let again = NatsSink::builder(&url)
        .stream(&stream)
        .subject_prefix(&prefix)
        .duplicate_window(Duration::from_secs(5))
        .connect()
        .expect("connect to the existing stream");
    drop(again);
    let info = checker.info(&stream).expect("the stream");
    assert_eq!(info.config.duplicate_window, Duration::from_secs(600));
}

#[test]
fn stream_settings_are_the_users() {
    let Some(url) = url_or_skip("stream_settings_are_the_users") else {
        return;
    };
    let checker = Checker::connect(&url);
    let (stream, prefix) = unique_names();
    let _cleanup = DeleteOnDrop {
        url: url.clone(),
        stream: stream.clone(),
    };
    let _sink = NatsSink::builder(&url)
        .stream(&stream)
        .subject_prefix(&prefix)
        .stream_config(Config {
            name: "ignored".to_owned(),
            storage: StorageType::Memory,
            max_age: Duration::from_secs(3600),
            description: Some("test".to_owned()),
            ..Config::default()
        })
        .duplicate_window(Duration::from_secs(120))
        .connect()
        .expect("connect and create the stream");
    let info = checker.info(&stream).expect("the sink created the stream");
    assert_eq!(info.config.name, stream);
    assert_eq!(info.config.storage, StorageType::Memory);
    assert_eq!(info.config.max_age, Duration::from_secs(3600));
    assert_eq!(info.config.duplicate_window, Duration::from_secs(120));
    assert_eq!(info.config.description.as_deref(), Some("test"));
    assert!(!info.config.deny_delete);
}

#[test]
fn existing_stream_must_capture_the_subjects() {
    let Some(url) = url_or_skip("existing_stream_must_capture_the_subjects") else {
        return;
    };
    let checker = Checker::connect(&url);
    let (stream, prefix) = unique_names();
    let _cleanup = DeleteOnDrop {
        url: url.clone(),
        stream: stream.clone(),
    };
    checker.create(Config {
        name: stream.clone(),
        subjects: vec![format!("{prefix}.user.>")],
        ..Config::default()
    });
    match NatsSink::builder(&url)
        .stream(&stream)
        .subject_prefix(&prefix)
        .connect()
    {
        Err(e @ NatsError::StreamSubjects { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&format!("`{prefix}.>`")), "{text}");
            assert!(text.contains(&format!("{prefix}.user.>")), "{text}");
        }
        other => panic!("expected a subjects error, got {other:?}"),
    }
}

#[test]
fn same_event_twice_is_stored_once_and_reads_back() {
    let Some(url) = url_or_skip("same_event_twice_is_stored_once_and_reads_back") else {
        return;
    };
    let checker = Checker::connect(&url);
    let (stream, prefix) = unique_names();
    let _cleanup = DeleteOnDrop {
        url: url.clone(),
        stream: stream.clone(),
    };
    let sink = NatsSink::builder(&url)
        .stream(&stream)
        .subject_prefix(&prefix)
        .connect()
        .expect("connect");
    let auditor = Auditor::builder().sink(sink).build().expect("an auditor");

    let emitted = envelopes();
    for envelope in &emitted {
        auditor
            .emit_envelope(envelope.clone())
            .expect("emit (synchronous: acknowledged)");
    }
    // The same events again, as a retried batch would publish them: dropped by the stream.
    for envelope in &emitted {
        auditor.emit_envelope(envelope.clone()).expect("emit again");
    }
    auditor.flush().expect("flush");
    let report = auditor.shutdown();
    assert!(report.is_clean(), "{report:?}");

    let stored = checker.read_all(&stream);
    assert_eq!(
        stored.len(),
        emitted.len(),
        "expected one message per event, found {stored:#?}"
    );
    for (stored, emitted) in stored.iter().zip(&emitted) {
        assert_eq!(stored.envelope, *emitted);
        assert_eq!(stored.subject, format!("{prefix}.{}", emitted.action));
        assert_eq!(
            stored.message_id.as_deref(),
            Some(emitted.id.to_string().as_str())
        );
    }
    let info = checker.info(&stream).expect("the stream");
    assert_eq!(info.state.messages, emitted.len() as u64);
}

#[test]
fn deleted_stream_is_created_again() {
    let Some(url) = url_or_skip("deleted_stream_is_created_again") else {
        return;
    };
    let checker = Checker::connect(&url);
    let (stream, prefix) = unique_names();
    let _cleanup = DeleteOnDrop {
        url: url.clone(),
        stream: stream.clone(),
    };
    let sink = NatsSink::builder(&url)
        .stream(&stream)
        .subject_prefix(&prefix)
        .connect()
        .expect("connect");
    let auditor = Auditor::builder().sink(sink).build().expect("an auditor");
    let mut emitted = envelopes();
    auditor
        .emit_envelope(emitted.remove(0))
        .expect("emit before the deletion");
    checker.delete(&stream);
    assert!(checker.info(&stream).is_none());
    for envelope in &emitted {
        auditor
            .emit_envelope(envelope.clone())
            .expect("emit after the deletion: the sink creates the stream again");
    }
    let stored = checker.read_all(&stream);
    let ids: Vec<_> = stored.iter().map(|s| s.envelope.id).collect();
    let expected: Vec<_> = emitted.iter().map(|e| e.id).collect();
    assert_eq!(ids, expected);
}

#[tokio::test(flavor = "current_thread")]
async fn works_inside_an_async_runtime() {
    let Some(url) = url_or_skip("works_inside_an_async_runtime") else {
        return;
    };
    let (stream, prefix) = unique_names();
    let _cleanup = DeleteOnDrop {
        url: url.clone(),
        stream: stream.clone(),
    };
    // Connecting blocks; inside an executor the sink blocks a helper thread, not this one's
    // runtime (which would panic).
    let sink = NatsSink::builder(&url)
        .stream(&stream)
        .subject_prefix(&prefix)
        .connect()
        .expect("connect inside an async runtime");
    let auditor = Auditor::builder()
        .sink(sink)
        .background(1000)
        .build()
        .expect("an auditor");
    for envelope in envelopes() {
        auditor.emit_envelope(envelope).expect("emit");
    }
    auditor.flush_async().await.expect("flush");
    let stats = auditor.stats();
    assert_eq!(stats.sinks[0].written, 3);
    // Dropping the sink here (in the executor) must not panic either.
    drop(auditor);
}
