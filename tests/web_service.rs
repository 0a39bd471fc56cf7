//! The widget-shop example (`examples/web_service/`) against a real listener on 127.0.0.1
//! with real HTTP requests: each change records its event with the request's context, refusals
//! are recorded as denied, failures record nothing, the card stays out of the log, `GET /audit`
//! answers what a brute-force filter over every emitted event answers (actor, subject, action
//! exact and `widget.*`, paging with `next`), its HTML escapes every value, and 200 concurrent
//! sign-ups each find their own request id in their event.
//!
//! Run with `cargo test --features axum,sqlx-sqlite,tracing --test web_service`.
#![cfg(all(feature = "axum", feature = "sqlx-sqlite", feature = "tracing"))]

#[allow(dead_code)]
#[path = "../examples/web_service/app.rs"]
mod app;
#[allow(dead_code)]
#[path = "../examples/web_service/client.rs"]
mod client;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use audit_core::sink::{MemorySink, SqliteSink};
use audit_core::web::AuditLayer;
use audit_core::{Auditor, Envelope, Outcome};
use axum::http::{Method, StatusCode};
use client::Answer;
use serde::Deserialize;
use serde_json::{Value, json};

/// The example's server on 127.0.0.1, with a `MemorySink` beside its SQLite audit log.
struct Shop {
    addr: SocketAddr,
    memory: MemorySink,
    dir: PathBuf,
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start() -> Shop {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "audit-web-service-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = app::open_shop(&dir.join("shop.db")).await.expect("shop db");
    let sink = SqliteSink::open(dir.join("audit.db")).expect("audit db");
    let log = sink.log().expect("audit log reader");
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(sink)
        .sink(memory.clone())
        .background(10_000)
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
    Shop { addr, memory, dir }
}

impl Shop {
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &[u8])],
        body: Option<Value>,
    ) -> Answer {
        client::send(self.addr, method, path, headers, body.as_ref())
            .await
            .expect("request")
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, &[], None).await
    }

    async fn sign_up(&self, name: &str) -> String {
        let answer = self
            .send(
                Method::POST,
                "/users",
                &[],
                Some(json!({"name": name, "email": "someone@example.com"})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.json()["id"].as_str().expect("user id").to_owned()
    }

    async fn create_widget(&self, owner: &str, name: &str, stock: u32) -> String {
        let answer = self
            .send(
                Method::POST,
                "/widgets",
                &[("x-user-id", owner.as_bytes())],
                Some(json!({"name": name, "price_cents": 990, "stock": stock})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.json()["id"].as_str().expect("widget id").to_owned()
    }

    async fn purchase(&self, buyer: &str, widget: &str, quantity: u32) -> Answer {
        self.send(
            Method::POST,
            &format!("/widgets/{widget}/purchase"),
            &[("x-user-id", buyer.as_bytes())],
            Some(json!({"quantity": quantity, "card_number": "4000 0566 5566 5556"})),
        )
        .await
    }

    async fn delete(&self, by: &str, widget: &str) -> Answer {
        self.send(
            Method::DELETE,
            &format!("/widgets/{widget}"),
            &[("x-user-id", by.as_bytes())],
            None,
        )
        .await
    }

    /// Every event `GET /audit?{filters}` lists, page after page of `limit`.
    async fn list_all(&self, filters: &str, limit: usize) -> Vec<Envelope> {
        let mut events = Vec::new();
        let mut after = String::new();
        for _ in 0..1000 {
            let answer = self
                .get(&format!("/audit?{filters}&limit={limit}{after}"))
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{filters}: {}", answer.body);
            let page: PageBody = serde_json::from_str(&answer.body).expect("a page");
            assert!(page.events.len() <= limit, "{filters}: page over the limit");
            let full = page.events.len() == limit;
            events.extend(page.events);
            match page.next {
                Some(next) => {
                    assert!(full, "{filters}: a short page with a next cursor");
                    after = format!("&after={next}");
                }
                None => return events,
            }
        }
        panic!("{filters}: paging does not end");
    }
}

/// The JSON body of `GET /audit`.
#[derive(Deserialize)]
struct PageBody {
    events: Vec<Envelope>,
    next: Option<String>,
}

/// The events (oldest first) that match, newest first, by looking at each one.
fn brute_force(
    events: &[Envelope],
    actor: Option<&str>,
    subject: Option<&str>,
    action: Option<&str>,
) -> Vec<String> {
    events
        .iter()
        .rev()
        .filter(|e| {
            actor.is_none_or(|a| {
                e.actor.id == a || e.actor.on_behalf_of.as_ref().is_some_and(|o| o.id == a)
            })
        })
        .filter(|e| subject.is_none_or(|s| e.subjects.iter().any(|x| x.id == s)))
        .filter(|e| {
            action.is_none_or(|p| match p.strip_suffix(".*") {
                Some(prefix) => e
                    .action
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.')),
                None => e.action == p,
            })
        })
        .map(|e| e.id.to_string())
        .collect()
}

/// An envelope without its chain position, to compare a stored one with an emitted one.
fn unchained(mut envelope: Envelope) -> Envelope {
    envelope.seq = None;
    envelope.prev_hash = None;
    envelope.hash = None;
    envelope
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_records_its_event_with_the_request_context() {
    let shop = start().await;
    let signup = shop
        .send(
            Method::POST,
            "/users",
            &[
                ("x-request-id", b"signup-1"),
                ("user-agent", b"test-agent/1"),
            ],
            Some(json!({"name": "Alice", "email": "alice@example.com"})),
        )
        .await;
    assert_eq!(signup.status, StatusCode::CREATED);
    assert_eq!(signup.header("x-request-id"), Some("signup-1"));
    let alice = signup.json()["id"].as_str().expect("id").to_owned();
    let bob = shop.sign_up("Bob").await;
    let widget = shop.create_widget(&alice, "Blue widget", 3).await;

    let bought = shop.purchase(&bob, &widget, 2).await;
    assert_eq!(bought.status, StatusCode::OK, "{}", bought.body);
    let refused = shop.delete(&bob, &widget).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let deleted = shop.delete(&alice, &widget).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);

    let events = shop.memory.events();
    let summary: Vec<(&str, Outcome, &str)> = events
        .iter()
        .map(|e| (&*e.action, e.outcome, e.actor.id.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("user.signed_up", Outcome::Success, alice.as_str()),
            ("user.signed_up", Outcome::Success, bob.as_str()),
            ("widget.created", Outcome::Success, alice.as_str()),
            ("widget.purchased", Outcome::Success, bob.as_str()),
            ("widget.deleted", Outcome::Denied, bob.as_str()),
            ("widget.deleted", Outcome::Success, alice.as_str()),
        ]
    );
    let first = &events[0].context;
    assert_eq!(first.request_id_str(), Some("signup-1"));
    assert_eq!(first.user_agent_str(), Some("test-agent/1"));
    assert_eq!(first.ip_addr(), Some("127.0.0.1".parse().expect("ip")));
    // Every event carries the request id its response echoed.
    let echoed = [
        bought.header("x-request-id"),
        refused.header("x-request-id"),
        deleted.header("x-request-id"),
    ];
    for (event, echoed) in events[3..].iter().zip(echoed) {
        assert_eq!(event.context.request_id_str(), echoed);
        assert_eq!(event.subjects[0].id, widget);
        assert_eq!(event.subjects[0].display, "Blue widget");
    }

    // The card stays out of the log: redacted in the details, nowhere in the stored event.
    let purchase = &events[3];
    assert_eq!(
        purchase.details.get(),
        r#"{"quantity":2,"card_last4":"[redacted]"}"#
    );
    let listed = shop.get("/audit?action=widget.purchased").await;
    let stored: PageBody = serde_json::from_str(&listed.body).expect("page");
    let stored = unchained(stored.events.into_iter().next().expect("stored purchase"));
    assert_eq!(&stored, purchase);
    assert!(!stored.to_json().contains("5556"));
    assert!(!listed.body.contains("4000 0566"));
    assert!(!events[0].to_json().contains("alice@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_requests_record_nothing() {
    let shop = start().await;
    let alice = shop.sign_up("Alice").await;
    let widget = shop.create_widget(&alice, "Red widget", 1).await;
    let before = shop.memory.len();
    let nobody = "user_AAAAAAAAAAAAAAAAAAAAAA";
    let new_widget = Some(json!({"name": "W", "price_cents": 1, "stock": 1}));
    let cases = [
        (
            shop.send(Method::POST, "/widgets", &[], new_widget.clone())
                .await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            shop.send(
                Method::POST,
                "/widgets",
                &[("x-user-id", nobody.as_bytes())],
                new_widget.clone(),
            )
            .await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            shop.send(
                Method::POST,
                "/widgets",
                &[("x-user-id", widget.as_bytes())],
                new_widget,
            )
            .await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            shop.purchase(&alice, &widget, 2).await,
            StatusCode::CONFLICT,
        ),
        (
            shop.purchase(&alice, "wdgt_AAAAAAAAAAAAAAAAAAAAAA", 1)
                .await,
            StatusCode::NOT_FOUND,
        ),
        (
            shop.purchase(&alice, "not-a-widget-id", 1).await,
            StatusCode::BAD_REQUEST,
        ),
        (
            shop.send(
                Method::POST,
                "/users",
                &[],
                Some(json!({"name": "  ", "email": "x@example.com"})),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            shop.send(
                Method::POST,
                &format!("/widgets/{widget}/purchase"),
                &[("x-user-id", alice.as_bytes())],
                Some(json!({"quantity": 1, "card_number": "12"})),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (answer, expected) in &cases {
        assert_eq!(answer.status, *expected, "{}", answer.body);
    }
    // An error answer carries the request id, to match a user's report with the log.
    let (unauthorized, _) = &cases[0];
    assert_eq!(
        unauthorized.json()["request_id"].as_str(),
        unauthorized.header("x-request-id")
    );
    assert_eq!(shop.memory.len(), before, "{:?}", shop.memory.last());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_filters_match_a_brute_force_filter() {
    let shop = start().await;
    let users = [
        shop.sign_up("Ann").await,
        shop.sign_up("Ben").await,
        shop.sign_up("Cat").await,
        shop.sign_up("Dan").await,
    ];
    let mut widgets = Vec::new();
    for (i, owner) in [0, 0, 1, 2, 0].into_iter().enumerate() {
        widgets.push(
            shop.create_widget(&users[owner], &format!("Widget {i}"), 20)
                .await,
        );
    }
    // Purchases and deletions by a fixed pseudo-random schedule; some deletions are refused.
    let mut seed: u32 = 7;
    let mut next = |n: usize| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (seed >> 16) as usize % n
    };
    for _ in 0..24 {
        let (buyer, widget) = (next(users.len()), next(widgets.len()));
        let answer = shop.purchase(&users[buyer], &widgets[widget], 1).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    for (by, widget) in [(1, 0), (0, 1), (3, 2), (1, 2)] {
        let answer = shop.delete(&users[by], &widgets[widget]).await;
        assert!(
            [StatusCode::NO_CONTENT, StatusCode::FORBIDDEN].contains(&answer.status),
            "{}",
            answer.body
        );
    }
    let events = shop.memory.events();
    assert_eq!(events.len(), 4 + 5 + 24 + 4);
    let by_id: HashMap<String, &Envelope> = events.iter().map(|e| (e.id.to_string(), e)).collect();

    let unknown = "user_AAAAAAAAAAAAAAAAAAAAAA".to_owned();
    let actors: Vec<Option<&str>> = [None, Some(&users[0]), Some(&users[1]), Some(&users[3])]
        .into_iter()
        .chain([Some(&unknown)])
        .map(|a| a.map(String::as_str))
        .collect();
    let subjects: Vec<Option<&str>> = vec![
        None,
        Some(&widgets[0]),
        Some(&widgets[2]),
        Some(&users[2]),
        Some("wdgt_AAAAAAAAAAAAAAAAAAAAAA"),
    ];
    let actions = [
        None,
        Some("widget.purchased"),
        Some("widget.*"),
        Some("user.*"),
        Some("user.signed_up"),
        Some("widget.deleted"),
        Some("nothing.here"),
    ];
    let limits = [1, 2, 3, 7, 50];
    let mut checked = 0;
    let mut non_empty = 0;
    for actor in &actors {
        for subject in &subjects {
            for action in &actions {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                for (key, value) in [("actor", actor), ("subject", subject), ("action", action)] {
                    if let Some(value) = value {
                        query.append_pair(key, value);
                    }
                }
                let filters = query.finish();
                let limit = limits[checked % limits.len()];
                let listed = shop.list_all(&filters, limit).await;
                let ids: Vec<String> = listed.iter().map(|e| e.id.to_string()).collect();
                assert_eq!(
                    ids,
                    brute_force(&events, *actor, *subject, *action),
                    "GET /audit?{filters}&limit={limit}"
                );
                for stored in listed {
                    let emitted = by_id[&stored.id.to_string()];
                    assert_eq!(&unchained(stored), emitted);
                }
                checked += 1;
                non_empty += usize::from(!ids.is_empty());
            }
        }
    }
    assert_eq!(checked, 5 * 5 * 7);
    assert!(
        non_empty > 40,
        "too few filters matched anything: {non_empty}"
    );

    // Empty filter values count as absent (an HTML form sends them).
    let all = shop.list_all("actor=&subject=&action=", 50).await;
    assert_eq!(all.len(), events.len());
    // Bad parameters are a client error, with a message.
    for bad in ["after=garbage", "after=s", "limit=abc", "limit=-1"] {
        let answer = shop.get(&format!("/audit?{bad}")).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.body
        );
    }
    let answer = shop.get("/audit?after=garbage").await;
    assert!(
        answer.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("cursor"))
    );
    // Limits are clamped: 0 gives one event per page.
    let answer = shop.get("/audit?limit=0").await;
    assert_eq!(answer.json()["events"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_timeline_escapes_every_value() {
    let shop = start().await;
    let mallory = shop.sign_up("<script>alert(1)</script>").await;
    shop.create_widget(&mallory, "\"><img src=x onerror=alert(2)>&amp;", 1)
        .await;
    let filter = "action=%22%3E%3Cscript%3Ealert(3)%3C%2Fscript%3E";

    let by_accept = shop
        .send(
            Method::GET,
            "/audit",
            &[("accept", b"text/html,application/xhtml+xml,*/*;q=0.8")],
            None,
        )
        .await;
    let by_format = shop.get("/audit?format=html").await;
    let with_filter = shop.get(&format!("/audit?format=html&{filter}")).await;
    for answer in [&by_accept, &by_format, &with_filter] {
        assert_eq!(answer.status, StatusCode::OK);
        assert!(
            answer
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{:?}",
            answer.headers
        );
        assert!(!answer.body.contains("<script>"), "{}", answer.body);
        assert!(!answer.body.contains("<img"), "{}", answer.body);
    }
    for answer in [&by_accept, &by_format] {
        assert!(
            answer
                .body
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
        );
        assert!(
            answer
                .body
                .contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;&amp;amp;")
        );
        assert!(answer.body.contains(&mallory));
    }
    // The filter's value is echoed in the form, escaped.
    assert!(
        with_filter
            .body
            .contains("value=\"&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;\"")
    );
    // JSON by default, and when asked for even with a browser's Accept header.
    let json = shop.get("/audit").await;
    assert!(
        json.header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    assert_eq!(json.json()["events"].as_array().map(Vec::len), Some(2));
    let forced = shop
        .send(
            Method::GET,
            "/audit?format=json",
            &[("accept", b"text/html")],
            None,
        )
        .await;
    assert_eq!(forced.json()["events"][0]["action"], "widget.created");
    // Paging links keep the filters, escaped.
    let paged = shop.get("/audit?format=html&limit=1&action=user.*").await;
    assert!(
        !paged.body.contains("Older events"),
        "one event: no next page"
    );
    let paged = shop
        .get(&format!("/audit?format=html&limit=1&actor={mallory}"))
        .await;
    let link = format!(
        "href=\"/audit?actor={mallory}&amp;format=html&amp;limit=1&amp;after=s2\">Older events"
    );
    assert!(paged.body.contains(&link), "{}", paged.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_sign_ups_each_record_their_own_request_id() {
    let shop = start().await;
    let addr = shop.addr;
    let requests: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(async move {
                let request_id = format!("signup-{i:03}");
                let answer = client::send(
                    addr,
                    Method::POST,
                    "/users",
                    &[("x-request-id", request_id.as_bytes())],
                    Some(&json!({"name": format!("User {i}"), "email": "u@example.com"})),
                )
                .await
                .expect("request");
                (request_id, answer)
            })
        })
        .collect();
    let mut request_of_user = HashMap::new();
    for request in requests {
        let (request_id, answer) = request.await.expect("task");
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_eq!(answer.header("x-request-id"), Some(request_id.as_str()));
        let user = answer.json()["id"].as_str().expect("id").to_owned();
        request_of_user.insert(user, request_id);
    }
    let events = shop.memory.events();
    assert_eq!(events.len(), 200);
    for event in &events {
        let expected = &request_of_user[&event.actor.id];
        assert_eq!(event.context.request_id_str(), Some(expected.as_str()));
    }
    // The stored log has them all too (the answer came after the flush).
    let stored = shop.list_all("action=user.signed_up", 1000).await;
    assert_eq!(stored.len(), 200);
}
