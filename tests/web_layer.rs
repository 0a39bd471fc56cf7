//! `AuditLayer` (feature `axum`) against a real listener on 127.0.0.1 with real HTTP requests:
//! the request id (used when well-formed, replaced when not, echoed either way), the client IP
//! (forwarding headers believed only from a trusted proxy, rightmost untrusted hop), the user
//! agent, the trace id, the tenant, the `Context` extractor, and no context bleeding between
//! 200 concurrent requests.
//!
//! Run with `cargo test --features axum --test web_layer`.
#![cfg(feature = "axum")]

#[allow(dead_code)]
#[path = "../examples/web_service/client.rs"]
mod client;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use audit_core::sink::MemorySink;
use audit_core::web::AuditLayer;
use audit_core::{AuditEvent, Auditor, Context, EntityRef, Envelope, PrefixedId};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "test.pinged", message = "{actor} pinged")]
pub struct Pinged {
    #[audit(actor, subject)]
    pub user: EntityRef<UserId>,
}

/// Emits one event with the context in scope (after a few `.await`s, so that a task may
/// move between threads first) and answers with the event's ID and what the `Context`
/// extractor saw.
async fn ping(State(auditor): State<Auditor>, ctx: Context) -> axum::Json<Value> {
    let pause = ctx
        .request_id_str()
        .map_or(0, |id| id.bytes().map(u64::from).sum::<u64>() % 5);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        tokio::task::yield_now().await;
    }
    let id = auditor
        .emit(Pinged {
            user: EntityRef::new(UserId::new(), "Tester"),
        })
        .expect("emit");
    axum::Json(json!({
        "event_id": id,
        "request_id": ctx.request_id_str(),
        "ip": ctx.ip_addr(),
    }))
}

/// A server with `layer` on 127.0.0.1, its address, and the events it emits.
async fn serve(layer: AuditLayer) -> (SocketAddr, MemorySink) {
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(memory.clone())
        .build()
        .expect("auditor");
    let app = Router::new()
        .route("/ping", get(ping))
        .with_state(auditor)
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    (addr, memory)
}

/// What one `GET /ping` produced: the answer, its body and the event it emitted.
struct Ping {
    answer: client::Answer,
    body: Value,
    event: Envelope,
}

async fn ping_with(addr: SocketAddr, memory: &MemorySink, headers: &[(&str, &[u8])]) -> Ping {
    let answer = client::get(addr, "/ping", headers).await.expect("request");
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let body = answer.json();
    let event_id = body["event_id"].as_str().expect("event id").to_owned();
    let event = memory
        .events()
        .into_iter()
        .find(|e| e.id.to_string() == event_id)
        .expect("the request's event");
    Ping {
        answer,
        body,
        event,
    }
}

impl Ping {
    fn echoed(&self) -> &str {
        self.answer
            .header("x-request-id")
            .expect("x-request-id echoed")
    }

    fn ip(&self) -> Option<IpAddr> {
        self.event.context.ip_addr()
    }
}

fn is_generated(id: &str) -> bool {
    id.len() == 26
        && id.starts_with("req_")
        && id[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Request headers: names and raw values.
type Headers<'a> = Vec<(&'a str, &'a [u8])>;

/// Headers as text, for assertion messages.
fn show(headers: &[(&str, &[u8])]) -> Vec<String> {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value)))
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an IP")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_formed_request_id_is_used_and_echoed() {
    let (addr, memory) = serve(AuditLayer::new()).await;
    for id in [
        "req-1",
        "a",
        "0af7651916cd43dd8448eb211c80319c",
        "x.y:z_1-2",
        &"k".repeat(64),
    ] {
        let ping = ping_with(addr, &memory, &[("x-request-id", id.as_bytes())]).await;
        assert_eq!(ping.echoed(), id);
        assert_eq!(ping.event.context.request_id_str(), Some(id));
        assert_eq!(ping.body["request_id"], id, "the extractor sees it too");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_malformed_or_overlong_request_id_is_replaced_and_echoed() {
    let (addr, memory) = serve(AuditLayer::new()).await;
    let overlong = "k".repeat(65);
    let cases: [&[u8]; 7] = [
        b"",
        b"has space",
        b"semi;colon",
        b"<script>",
        b"caf\xc3\xa9",
        b"tab\there",
        overlong.as_bytes(),
    ];
    let mut seen = HashSet::new();
    for sent in cases {
        let ping = ping_with(addr, &memory, &[("x-request-id", sent)]).await;
        let echoed = ping.echoed().to_owned();
        assert!(is_generated(&echoed), "{sent:?} gave {echoed:?}");
        assert_ne!(echoed.as_bytes(), sent);
        assert_eq!(ping.event.context.request_id_str(), Some(echoed.as_str()));
        assert_eq!(ping.body["request_id"], echoed.as_str());
        assert!(seen.insert(echoed), "a generated id repeated");
    }
    let ping = ping_with(addr, &memory, &[]).await;
    assert!(is_generated(ping.echoed()));
    assert_eq!(ping.event.context.request_id_str(), Some(ping.echoed()));
    assert!(seen.insert(ping.echoed().to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrouted_request_still_gets_its_request_id_echoed() {
    let (addr, _memory) = serve(AuditLayer::new()).await;
    let answer = client::get(addr, "/nowhere", &[("x-request-id", b"lost-1")])
        .await
        .expect("request");
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.header("x-request-id"), Some("lost-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let (addr, memory) = serve(AuditLayer::new()).await;
    let spoofs: [&[(&str, &[u8])]; 4] = [
        &[],
        &[("x-forwarded-for", b"203.0.113.7")],
        &[("forwarded", b"for=198.51.100.1")],
        &[
            ("x-forwarded-for", b"203.0.113.7, 10.0.0.1"),
            ("forwarded", b"for=198.51.100.1;proto=https"),
            ("x-real-ip", b"192.0.2.1"),
        ],
    ];
    for headers in spoofs {
        let ping = ping_with(addr, &memory, headers).await;
        assert_eq!(ping.ip(), Some(ip("127.0.0.1")), "{:?}", show(headers));
        assert_eq!(ping.body["ip"], "127.0.0.1", "the extractor sees it too");
    }
    // Trusting another proxy does not make 127.0.0.1 one.
    let (addr, memory) = serve(AuditLayer::new().trust_proxy(ip("10.0.0.1"))).await;
    let ping = ping_with(addr, &memory, &[("x-forwarded-for", b"203.0.113.7")]).await;
    assert_eq!(ping.ip(), Some(ip("127.0.0.1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
    let layer = AuditLayer::new()
        .trust_proxy(ip("127.0.0.1"))
        .trust_proxy(ip("10.0.0.2"));
    let (addr, memory) = serve(layer).await;
    let spoofed_hops = vec!["6.6.6.6"; 40].join(", ");
    let spoofed = format!("{spoofed_hops}, 203.0.113.9");
    let many_headers = [
        ("x-forwarded-for", b"6.6.6.6".as_slice()),
        ("x-forwarded-for", b"203.0.113.11, 10.0.0.2".as_slice()),
    ];
    let cases: Vec<(Headers, &str)> = vec![
        (vec![], "127.0.0.1"),
        (vec![("x-forwarded-for", b"203.0.113.7")], "203.0.113.7"),
        // What a client wrote comes first; the proxy appended the real address.
        (
            vec![("x-forwarded-for", b"6.6.6.6, 203.0.113.7")],
            "203.0.113.7",
        ),
        // Trusted proxies on the way are skipped.
        (
            vec![("x-forwarded-for", b"6.6.6.6, 203.0.113.8, 10.0.0.2")],
            "203.0.113.8",
        ),
        // Padding the header with spoofed hops does not push the real one out.
        (vec![("x-forwarded-for", spoofed.as_bytes())], "203.0.113.9"),
        (
            vec![("x-forwarded-for", b"203.0.113.10:4711")],
            "203.0.113.10",
        ),
        (
            vec![("x-forwarded-for", b"::ffff:203.0.113.12")],
            "203.0.113.12",
        ),
        (many_headers.to_vec(), "203.0.113.11"),
        // Nothing left of an unknown hop can be attributed: the proxy stands for it.
        (vec![("x-forwarded-for", b"6.6.6.6, unknown")], "127.0.0.1"),
        (vec![("x-forwarded-for", b"garbage")], "127.0.0.1"),
        (
            vec![("forwarded", b"for=192.0.2.60;proto=http;by=203.0.113.43")],
            "192.0.2.60",
        ),
        (
            vec![(
                "forwarded",
                b"for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\"",
            )],
            "2001:db8:cafe::17",
        ),
        (
            vec![("forwarded", b"for=6.6.6.6, for=198.51.100.17, for=10.0.0.2")],
            "198.51.100.17",
        ),
        (vec![("forwarded", b"for=_hidden")], "127.0.0.1"),
        // Both headers, agreeing: believed.
        (
            vec![
                ("forwarded", b"for=198.51.100.5"),
                ("x-forwarded-for", b"198.51.100.5"),
            ],
            "198.51.100.5",
        ),
        // Both headers, disagreeing: one of them is the client's own; neither is believed.
        (
            vec![
                ("forwarded", b"for=6.6.6.6"),
                ("x-forwarded-for", b"198.51.100.6"),
            ],
            "127.0.0.1",
        ),
        // A header that names no address does not outvote the other.
        (
            vec![
                ("forwarded", b"for=unknown"),
                ("x-forwarded-for", b"198.51.100.7"),
            ],
            "198.51.100.7",
        ),
    ];
    for (headers, expected) in cases {
        let ping = ping_with(addr, &memory, &headers).await;
        assert_eq!(ping.ip(), Some(ip(expected)), "{:?}", show(&headers));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_agent_trace_id_and_tenant() {
    let layer = AuditLayer::new().tenant_header(HeaderName::from_static("x-tenant"));
    let (addr, memory) = serve(layer).await;

    let ping = ping_with(addr, &memory, &[("user-agent", b"curl/8.5.0")]).await;
    assert_eq!(ping.event.context.user_agent_str(), Some("curl/8.5.0"));

    let long = "x".repeat(5000);
    let ping = ping_with(addr, &memory, &[("user-agent", long.as_bytes())]).await;
    assert_eq!(ping.event.context.user_agent_str(), Some(&long[..256]));

    let ping = ping_with(addr, &memory, &[("user-agent", b"curl/8\tevil")]).await;
    assert_eq!(ping.event.context.user_agent_str(), Some("curl/8evil"));

    // UTF-8 is kept; bytes that are not UTF-8 become U+FFFD, never reaching the log as
    // they are.
    let ping = ping_with(addr, &memory, &[("user-agent", b"caf\xc3\xa9\xff")]).await;
    assert_eq!(ping.event.context.user_agent_str(), Some("café\u{fffd}"));
    let ping = ping_with(
        addr,
        &memory,
        &[("user-agent", "Pixel 8 (Français)".as_bytes())],
    )
    .await;
    assert_eq!(
        ping.event.context.user_agent_str(),
        Some("Pixel 8 (Français)")
    );

    let traceparent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let ping = ping_with(addr, &memory, &[("traceparent", traceparent)]).await;
    assert_eq!(
        ping.event.context.trace_id_str(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    for bad in [
        b"00-00000000000000000000000000000000-00f067aa0ba902b7-01".as_slice(),
        b"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        b"not a traceparent",
    ] {
        let ping = ping_with(addr, &memory, &[("traceparent", bad)]).await;
        assert_eq!(
            ping.event.context.trace_id_str(),
            None,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }

    let long_tenant = "t".repeat(100);
    let ping = ping_with(addr, &memory, &[("x-tenant", long_tenant.as_bytes())]).await;
    assert_eq!(ping.event.context.tenant_str(), Some(&long_tenant[..64]));
    let ping = ping_with(addr, &memory, &[("x-tenant", b"acme-eu")]).await;
    assert_eq!(ping.event.context.tenant_str(), Some("acme-eu"));
    let ping = ping_with(addr, &memory, &[]).await;
    assert_eq!(ping.event.context.tenant_str(), None);
    assert_eq!(ping.event.context.user_agent_str(), None);
    assert_eq!(ping.event.context.trace_id_str(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_requests_each_keep_their_own_context() {
    let (addr, memory) = serve(AuditLayer::new()).await;
    let requests = (0..200).map(|i| {
        tokio::spawn(async move {
            let id = format!("conc-{i:03}");
            let answer = client::get(addr, "/ping", &[("x-request-id", id.as_bytes())])
                .await
                .expect("request");
            (id, answer)
        })
    });
    let mut event_of = HashMap::new();
    for request in requests.collect::<Vec<_>>() {
        let (id, answer) = request.await.expect("task");
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.header("x-request-id"), Some(id.as_str()));
        let body = answer.json();
        assert_eq!(body["request_id"], id.as_str(), "the extractor's context");
        let event_id = body["event_id"].as_str().expect("event id").to_owned();
        assert!(event_of.insert(event_id, id).is_none());
    }
    let events = memory.events();
    assert_eq!(events.len(), 200);
    for event in &events {
        let expected = &event_of[&event.id.to_string()];
        assert_eq!(
            event.context.request_id_str(),
            Some(expected.as_str()),
            "event {} carries another request's context",
            event.id
        );
    }
}

/// The `Context` extractor without the layer: an empty context, not a rejection.
#[tokio::test]
async fn the_extractor_without_the_layer_gives_an_empty_context() {
    let app: Router = Router::new().route(
        "/",
        get(|ctx: Context| async move { format!("empty={}", ctx.is_empty()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let answer = client::get(addr, "/", &[("x-request-id", b"ignored")])
        .await
        .expect("request");
    assert_eq!(answer.body, "empty=true");
    assert_eq!(answer.header("x-request-id"), None);
}
