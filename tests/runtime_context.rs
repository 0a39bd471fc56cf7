//! The request context in scope: per task across `.await` points on a multi-thread runtime,
//! nested scopes restored (also after a panic), an empty context when none is in scope, and
//! `emit_with` overriding the scope.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use audit_core::sink::MemorySink;
use audit_core::{AuditEvent, Auditor, Context, EntityRef, Envelope, PrefixedId, context};
use serde_json::Value;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "page")]
pub struct PageId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "page.viewed", message = "{actor} viewed {page}")]
pub struct PageViewed {
    #[audit(actor)]
    pub viewer: EntityRef<UserId>,
    #[audit(subject)]
    pub page: EntityRef<PageId>,
    pub task: u32,
    pub step: u32,
}

fn event(task: u32, step: u32) -> PageViewed {
    PageViewed {
        viewer: EntityRef::new(UserId::new(), "Alice"),
        page: EntityRef::new(PageId::new(), "Home"),
        task,
        step,
    }
}

#[derive(serde::Deserialize)]
struct Details {
    task: u32,
    step: u32,
}

fn details(envelope: &Envelope) -> Details {
    envelope.details_as().expect("details")
}

fn memory_auditor(background: bool) -> (Auditor, MemorySink) {
    let memory = MemorySink::new();
    let builder = Auditor::builder().sink(memory.clone());
    let auditor = if background {
        builder.background(10_000).build()
    } else {
        builder.build()
    }
    .expect("build");
    (auditor, memory)
}

const TASKS: u32 = 100;
const STEPS: u32 = 5;

fn concurrent_tasks(background: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let (auditor, memory) = memory_auditor(background);
    runtime.block_on(async {
        let mut handles = Vec::new();
        for task in 0..TASKS {
            let scoped_auditor = auditor.clone();
            let ctx = Context::new()
                .request_id(format!("req-{task}"))
                .tenant(format!("tenant-{}", task % 7));
            handles.push(tokio::spawn(ctx.scope(async move {
                for step in 0..STEPS {
                    // Give other tasks the thread between steps, and move between threads.
                    tokio::task::yield_now().await;
                    if step == 2 {
                        tokio::time::sleep(Duration::from_millis(u64::from(task % 3))).await;
                    }
                    assert_eq!(
                        context::current().request_id_str(),
                        Some(format!("req-{task}").as_str())
                    );
                    scoped_auditor.emit(event(task, step)).expect("emit");
                }
            })));
            // Unscoped tasks in between see no context.
            let auditor = auditor.clone();
            handles.push(tokio::spawn(async move {
                tokio::task::yield_now().await;
                assert!(context::current().is_empty());
                auditor.emit(event(TASKS + task, 0)).expect("emit");
            }));
        }
        for handle in handles {
            handle.await.expect("task");
        }
        auditor.flush_async().await.expect("flush");
    });

    let events = memory.events();
    assert_eq!(events.len() as u32, TASKS * STEPS + TASKS);
    let mut steps = vec![0u32; TASKS as usize];
    for envelope in &events {
        let d = details(envelope);
        if d.task >= TASKS {
            assert!(envelope.context.is_empty(), "{:?}", envelope.context);
            continue;
        }
        assert_eq!(
            envelope.context.request_id_str(),
            Some(format!("req-{}", d.task).as_str()),
            "task {} step {}",
            d.task,
            d.step
        );
        assert_eq!(
            envelope.context.tenant_str(),
            Some(format!("tenant-{}", d.task % 7).as_str())
        );
        steps[d.task as usize] += 1;
    }
    assert!(steps.iter().all(|&n| n == STEPS), "{steps:?}");
    // Nothing is left in scope on the test's thread.
    assert!(context::current().is_empty());
}

#[test]
fn concurrent_tasks_keep_their_own_context_sync() {
    concurrent_tasks(false);
}

#[test]
fn concurrent_tasks_keep_their_own_context_background() {
    concurrent_tasks(true);
}

#[test]
fn scoped_future_does_not_leak_between_polls() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let scoped = tokio::spawn(Context::new().request_id("inside").scope(async move {
            assert_eq!(context::current().request_id_str(), Some("inside"));
            rx.await.expect("signal");
            // Restored on the next poll, after another task ran on this thread.
            assert_eq!(context::current().request_id_str(), Some("inside"));
            // A spawned task does not inherit it.
            let spawned = tokio::spawn(async { context::current() });
            assert!(spawned.await.expect("join").is_empty());
        }));
        tokio::task::yield_now().await;
        // The scoped task is parked on `rx`; its context is not ours.
        assert!(context::current().is_empty());
        tx.send(()).expect("send");
        scoped.await.expect("scoped task");
        assert!(context::current().is_empty());
    });
}

#[test]
fn scopes_nest_and_restore() {
    let (auditor, memory) = memory_auditor(false);
    let outer = Context::new().request_id("outer");
    let inner = Context::new().request_id("inner").user_agent("curl/8");
    context::scope(&outer, || {
        auditor.emit(event(0, 0)).expect("emit");
        let value = context::scope(&inner, || {
            assert_eq!(context::current().request_id_str(), Some("inner"));
            auditor.emit(event(0, 1)).expect("emit");
            42
        });
        assert_eq!(value, 42, "scope returns the closure's value");
        assert_eq!(context::current().request_id_str(), Some("outer"));
        assert_eq!(context::current().user_agent_str(), None);
        auditor.emit(event(0, 2)).expect("emit");
    });
    assert!(context::current().is_empty());
    auditor.emit(event(0, 3)).expect("emit");

    let ids: Vec<Option<String>> = memory
        .events()
        .iter()
        .map(|e| e.context.request_id_str().map(str::to_owned))
        .collect();
    assert_eq!(
        ids,
        [Some("outer"), Some("inner"), Some("outer"), None].map(|s| s.map(str::to_owned))
    );
}

#[test]
fn scope_restores_after_a_panic() {
    let outer = Context::new().request_id("outer");
    let inner = Context::new().request_id("inner");
    let result = catch_unwind(|| context::scope(&inner, || panic!("inside the scope")));
    assert!(result.is_err());
    assert!(context::current().is_empty(), "{:?}", context::current());

    context::scope(&outer, || {
        let result = catch_unwind(AssertUnwindSafe(|| {
            context::scope(&inner, || {
                assert_eq!(context::current().request_id_str(), Some("inner"));
                panic!("inside the inner scope");
            })
        }));
        assert!(result.is_err());
        assert_eq!(context::current().request_id_str(), Some("outer"));
    });
    assert!(context::current().is_empty());

    // A future that panics while polled restores the context too.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let failed = tokio::spawn(inner.clone().scope(async { panic!("in a scoped future") }));
        assert!(failed.await.expect_err("panicked").is_panic());
        assert!(context::current().is_empty());
    });
}

#[test]
fn no_context_is_an_empty_object() {
    let (auditor, memory) = memory_auditor(false);
    auditor.emit(event(0, 0)).expect("emit");
    let envelope = memory.last().expect("an event");
    assert!(envelope.context.is_empty());
    assert_eq!(envelope.context, Context::new());
    let json: Value = serde_json::from_str(&envelope.to_json()).expect("json");
    assert_eq!(json["context"], serde_json::json!({}));
    assert!(envelope.to_json().contains(r#""context":{}"#));

    // Absent keys are omitted, not null.
    auditor
        .emit_with(&Context::new().request_id("r"), event(0, 1))
        .expect("emit");
    let json: Value = serde_json::from_str(&memory.last().expect("event").to_json()).expect("json");
    assert_eq!(json["context"], serde_json::json!({"request_id": "r"}));
}

#[test]
fn emit_with_overrides_the_scope() {
    let (auditor, memory) = memory_auditor(false);
    let scoped = Context::new().request_id("scoped").tenant("acme");
    let explicit = Context::new().ip("203.0.113.7".parse().expect("ip"));
    context::scope(&scoped, || {
        auditor.emit_with(&explicit, event(0, 0)).expect("emit");
        auditor.emit(event(0, 1)).expect("emit");
        auditor
            .emit_with(&Context::new(), event(0, 2))
            .expect("emit");
    });
    let events = memory.events();
    // The explicit context replaces the scope's; it is not merged with it.
    assert_eq!(events[0].context, explicit);
    assert_eq!(events[0].context.request_id_str(), None);
    assert_eq!(events[0].context.tenant_str(), None);
    assert_eq!(events[1].context, scoped);
    assert!(events[2].context.is_empty());
}

#[test]
fn emit_async_uses_the_scope() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let (auditor, memory) = memory_auditor(true);
    runtime.block_on(async {
        Context::new()
            .request_id("async")
            .scope(async {
                auditor.emit_async(event(0, 0)).await.expect("emit_async");
            })
            .await;
        auditor.flush_async().await.expect("flush");
    });
    assert_eq!(
        memory.last().expect("event").context.request_id_str(),
        Some("async")
    );
}
