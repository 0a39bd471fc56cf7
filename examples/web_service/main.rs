//! A widget shop's HTTP API (axum, sqlx with SQLite, prefixed IDs as primary keys) with an
//! audit log: every change emits a typed event, and `GET /audit` serves the log, filtered and
//! paged, as JSON or as an HTML timeline.
//!
//! ```sh
//! cargo run --example web_service --features axum,sqlx-sqlite,tracing            # serve
//! cargo run --example web_service --features axum,sqlx-sqlite,tracing -- --demo  # a tour
//! ```
//!
//! Serving listens on `127.0.0.1:3000` (`WEB_SERVICE_PORT` picks another port) and keeps its
//! data in `./web-service-data/` (`shop.db`, the shop's tables; `audit.db`, the audit log).
//! Then, for instance:
//!
//! ```sh
//! curl -si localhost:3000/users -H 'content-type: application/json' \
//!      -d '{"name": "Alice", "email": "alice@example.com"}'
//! curl -s 'localhost:3000/audit?action=user.*'
//! ```
//!
//! and open <http://127.0.0.1:3000/audit> in a browser. `--demo` (or `WEB_SERVICE_DEMO=1`)
//! instead starts the server on a free port with data in a temporary folder, sends a few
//! requests with a real HTTP client, prints what `/audit` answers, and exits.
//!
//! `app.rs` is the shop; the audit-specific lines of this file are marked `// audit:`.

mod app;
mod client;

use std::error::Error;
use std::future::IntoFuture;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use audit_core::query::timeline;
use audit_core::sink::{SqliteSink, TracingSink};
use audit_core::web::AuditLayer;
use audit_core::{Auditor, Envelope};
use axum::http::Method;
use serde_json::json;
use tokio::net::TcpListener;

use app::AppState;

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // The `TracingSink` writes each audit event through `tracing`: here, to stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let demo = std::env::args().any(|arg| arg == "--demo")
        || std::env::var("WEB_SERVICE_DEMO").is_ok_and(|v| v == "1");
    let dir = if demo {
        std::env::temp_dir().join(format!("web-service-demo-{}", std::process::id()))
    } else {
        PathBuf::from("web-service-data")
    };
    std::fs::create_dir_all(&dir)?;

    let db = app::open_shop(&dir.join("shop.db")).await?;
    // audit: the log, in its own SQLite file, and a reader on it for `GET /audit`.
    let sink = SqliteSink::open(dir.join("audit.db"))?;
    let audit_log = sink.log()?;
    // audit: background delivery, so that emitting never blocks the async executor.
    let auditor = Auditor::builder()
        .sink(sink)
        .sink(TracingSink::new())
        .background(10_000)
        .build()?;

    // audit: the layer gives every request its context (request id, client IP, ...). Behind a
    // reverse proxy, add `.trust_proxy(its address)` so that its `X-Forwarded-For` counts.
    let app = app::routes(AppState::new(db, auditor.clone(), audit_log)).layer(AuditLayer::new());

    let port = if demo {
        0
    } else {
        match std::env::var("WEB_SERVICE_PORT") {
            Ok(port) => port.parse()?,
            Err(_) => 3000,
        }
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    // audit: `ConnectInfo` tells the layer each client's address.
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );

    if demo {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(
            server
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .into_future(),
        );
        let tour = tour(addr).await;
        let _ = stop.send(());
        server.await??;
        tour?;
    } else {
        println!("listening on http://{addr} (the audit log: http://{addr}/audit)");
        server
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
    }

    let report = auditor.shutdown();
    if !report.is_clean() {
        return Err(format!("audit events not delivered: {report:?}").into());
    }
    if demo {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

/// The demo: a few requests with a real client, then the audit log as `/audit` serves it.
async fn tour(addr: SocketAddr) -> Result<(), BoxError> {
    let post = |path: String, headers: Vec<(&'static str, Vec<u8>)>, body: serde_json::Value| async move {
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        let answer = client::send(addr, Method::POST, &path, &headers, Some(&body)).await?;
        println!(
            "POST {path} -> {} (x-request-id: {})\n   {}",
            answer.status,
            answer.header("x-request-id").unwrap_or("-"),
            answer.body
        );
        Ok::<_, BoxError>(answer)
    };

    println!("== Changes");
    let alice = post(
        "/users".into(),
        vec![],
        json!({"name": "Alice", "email": "alice@example.com"}),
    )
    .await?
    .json();
    let bob = post(
        "/users".into(),
        vec![("x-request-id", b"signup-bob-1".to_vec())],
        json!({"name": "Bob", "email": "bob@example.com"}),
    )
    .await?
    .json();
    let as_alice = ("x-user-id", id_of(&alice)?.as_bytes().to_vec());
    let as_bob = ("x-user-id", id_of(&bob)?.as_bytes().to_vec());
    let widget = post(
        "/widgets".into(),
        vec![as_alice.clone()],
        json!({"name": "Blue widget", "price_cents": 1250, "stock": 10}),
    )
    .await?
    .json();
    let widget_id = id_of(&widget)?;
    post(
        format!("/widgets/{widget_id}/purchase"),
        vec![as_bob.clone()],
        json!({"quantity": 2, "card_number": "4242 4242 4242 4242"}),
    )
    .await?;

    // Bob may not delete Alice's widget: refused, and recorded as denied. Alice may.
    for (who, user) in [("Bob", as_bob), ("Alice", as_alice)] {
        let headers = [(user.0, user.1.as_slice())];
        let answer = client::send(
            addr,
            Method::DELETE,
            &format!("/widgets/{widget_id}"),
            &headers,
            None,
        )
        .await?;
        println!("DELETE /widgets/{widget_id} as {who} -> {}", answer.status);
    }

    println!("\n== GET /audit?subject={widget_id}&limit=2 (newest first, JSON)");
    let answer = client::get(addr, &format!("/audit?subject={widget_id}&limit=2"), &[]).await?;
    let page: Page = serde_json::from_str(&answer.body)?;
    for event in &page.events {
        println!("{}", serde_json::to_string_pretty(event)?);
    }
    println!("next: {:?}", page.next);
    if let Some(next) = page.next {
        println!("\n== The next page: GET /audit?subject={widget_id}&limit=2&after={next}");
        let answer = client::get(
            addr,
            &format!("/audit?subject={widget_id}&limit=2&after={next}"),
            &[],
        )
        .await?;
        let older: Page = serde_json::from_str(&answer.body)?;
        print!("{}", timeline(&older.events));
    }

    println!("\n== GET /audit with Accept: text/html");
    let html = client::get(addr, "/audit", &[("accept", b"text/html")]).await?;
    println!("{}", html.body);
    Ok(())
}

/// The JSON body of `GET /audit`.
#[derive(serde::Deserialize)]
struct Page {
    events: Vec<Envelope>,
    next: Option<String>,
}

fn id_of(created: &serde_json::Value) -> Result<String, BoxError> {
    created["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no id in {created}").into())
}
