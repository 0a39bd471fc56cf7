//! Shared by the NATS tests: the test server's URL, unique stream names, and a checking
//! client that reads a stream back through a consumer.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use audit_core::Envelope;
use audit_core::sink::async_nats::jetstream::{self, consumer, stream};
use audit_core::sink::async_nats::{self, HeaderMap};
use futures_util::StreamExt;

/// The URL in `AUDIT_TEST_NATS_URL`, or `None` after printing that the test is skipped.
pub fn url_or_skip(test: &str) -> Option<String> {
    match std::env::var("AUDIT_TEST_NATS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            println!("skipped: AUDIT_TEST_NATS_URL is not set ({test})");
            None
        }
    }
}

/// A stream name and a subject prefix no other test run uses.
pub fn unique_names() -> (String, String) {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tag = format!(
        "{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    (format!("AUDIT_TEST_{tag}"), format!("audit_test_{tag}"))
}

/// One message of a stream.
#[derive(Debug)]
pub struct Stored {
    pub subject: String,
    pub message_id: Option<String>,
    pub envelope: Envelope,
}

/// A client of its own for checking what a sink stored.
pub struct Checker {
    runtime: tokio::runtime::Runtime,
    jetstream: jetstream::Context,
}

impl Checker {
    /// Connects, and panics with the URL when the server is unreachable.
    pub fn connect(url: &str) -> Checker {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = runtime
            .block_on(async_nats::connect(url))
            .unwrap_or_else(|e| {
                panic!("AUDIT_TEST_NATS_URL is set, but NATS at {url} is unreachable: {e}")
            });
        // The context spawns a task: build it inside the runtime.
        let jetstream = {
            let _entered = runtime.enter();
            jetstream::new(client)
        };
        Checker { runtime, jetstream }
    }

    /// The stream's settings and state, or `None` when it does not exist.
    pub fn info(&self, name: &str) -> Option<stream::Info> {
        self.runtime.block_on(async {
            match self.jetstream.get_stream(name).await {
                Ok(stream) => Some(stream.cached_info().clone()),
                Err(e) => {
                    let text = e.to_string();
                    assert!(
                        text.contains("not found"),
                        "reading stream {name}: expected it or `not found`, got {text}"
                    );
                    None
                }
            }
        })
    }

    pub fn create(&self, config: stream::Config) {
        let name = config.name.clone();
        self.runtime
            .block_on(self.jetstream.create_stream(config))
            .unwrap_or_else(|e| panic!("creating stream {name}: {e}"));
    }

    pub fn delete(&self, name: &str) {
        let _ = self.runtime.block_on(self.jetstream.delete_stream(name));
    }

    /// Every message of the stream, in order, read through an ephemeral pull consumer.
    pub fn read_all(&self, name: &str) -> Vec<Stored> {
        self.runtime.block_on(async {
            let stream = self
                .jetstream
                .get_stream(name)
                .await
                .unwrap_or_else(|e| panic!("reading stream {name}: {e}"));
            let expected = stream.cached_info().state.messages;
            let consumer = stream
                .create_consumer(consumer::pull::Config {
                    ack_policy: consumer::AckPolicy::None,
                    inactive_threshold: Duration::from_secs(60),
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|e| panic!("creating a consumer on {name}: {e}"));
            let mut out = Vec::new();
            let mut empty_fetches = 0;
            while (out.len() as u64) < expected && empty_fetches < 50 {
                let mut batch = consumer
                    .fetch()
                    .max_messages(1000)
                    .messages()
                    .await
                    .unwrap_or_else(|e| panic!("fetching from {name}: {e}"));
                let before = out.len();
                while let Some(message) = batch.next().await {
                    let message = message.unwrap_or_else(|e| panic!("fetching from {name}: {e}"));
                    out.push(stored(
                        &message.subject,
                        message.headers.as_ref(),
                        &message.payload,
                    ));
                }
                if out.len() == before {
                    empty_fetches += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            assert_eq!(
                out.len() as u64,
                expected,
                "expected to read {expected} messages back from {name}, read {}",
                out.len()
            );
            out
        })
    }
}

fn stored(subject: &str, headers: Option<&HeaderMap>, payload: &[u8]) -> Stored {
    let envelope: Envelope = serde_json::from_slice(payload).unwrap_or_else(|e| {
        panic!(
            "a message on {subject} is not an envelope ({e}): {}",
            String::from_utf8_lossy(payload)
        )
    });
    Stored {
        subject: subject.to_owned(),
        message_id: headers
            .and_then(|h| h.get("Nats-Msg-Id"))
            .map(|v| v.as_str().to_owned()),
        envelope,
    }
}

/// Deletes a stream when dropped, also when the test panics.
pub struct DeleteOnDrop {
    pub url: String,
    pub stream: String,
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        // On a thread of its own: the test may be running inside a tokio runtime.
        let (url, stream) = (self.url.clone(), self.stream.clone());
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(client) = async_nats::connect(url.as_str()).await {
                    let _ = jetstream::new(client).delete_stream(&stream).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}
