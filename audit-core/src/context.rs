//! Request context: where an action came from, and the context in scope.
//!
//! A [`Context`] holds request metadata (request id, client IP, user agent, tenant, trace id,
//! and free key-values). It is cheap to clone: the data sits behind an `Arc`.
//!
//! The context *in scope* is what [`Auditor::emit`](crate::Auditor::emit) uses: [`scope`] sets
//! it for a closure, [`Context::scope`] for a future (it is set on each poll, as
//! `tracing::Instrument` does, so it holds across `.await` points and does not bleed between
//! concurrent tasks; no async runtime is tied in, and spawned tasks do not inherit it), and
//! [`current`] reads it. With no context in scope, events carry an empty one.
//!
//! ```
//! use audit_core::{Context, context};
//!
//! let ctx = Context::new().request_id("req-1").ip("203.0.113.7".parse().unwrap());
//! context::scope(&ctx, || {
//!     assert_eq!(context::current().request_id_str(), Some("req-1"));
//! });
//! assert!(context::current().is_empty());
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Request metadata carried by every event. Absent keys are omitted from the JSON.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Context(Option<Arc<ContextData>>);

#[derive(Clone, Default, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    extra: BTreeMap<String, String>,
}

impl Context {
    /// An empty context.
    #[must_use]
    pub const fn new() -> Self {
        Context(None)
    }

    fn data(&mut self) -> &mut ContextData {
        Arc::make_mut(self.0.get_or_insert_with(Arc::default))
    }

    /// With this request id.
    #[must_use]
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.data().request_id = Some(id.into());
        self
    }

    /// With this client IP address.
    #[must_use]
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.data().ip = Some(ip);
        self
    }

    /// With this user agent.
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.data().user_agent = Some(user_agent.into());
        self
    }

    /// With this tenant.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.data().tenant = Some(tenant.into());
        self
    }

    /// With this trace id (from a distributed trace).
    #[must_use]
    pub fn trace_id(mut self, trace_id: impl Into<String>) -> Self {
        self.data().trace_id = Some(trace_id.into());
        self
    }

    /// With a free key-value, kept under `"extra"` in the JSON.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.data().extra.insert(key.into(), value.into());
        self
    }

    /// The request id, if set.
    #[must_use]
    pub fn request_id_str(&self) -> Option<&str> {
        self.0.as_ref()?.request_id.as_deref()
    }

    /// The client IP, if set.
    #[must_use]
    pub fn ip_addr(&self) -> Option<IpAddr> {
        self.0.as_ref()?.ip
    }

    /// The user agent, if set.
    #[must_use]
    pub fn user_agent_str(&self) -> Option<&str> {
        self.0.as_ref()?.user_agent.as_deref()
    }

    /// The tenant, if set.
    #[must_use]
    pub fn tenant_str(&self) -> Option<&str> {
        self.0.as_ref()?.tenant.as_deref()
    }

    /// The trace id, if set.
    #[must_use]
    pub fn trace_id_str(&self) -> Option<&str> {
        self.0.as_ref()?.trace_id.as_deref()
    }

    /// A free key-value, if set.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.as_ref()?.extra.get(key).map(String::as_str)
    }

    /// The free key-values.
    pub(crate) fn extra(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.0.as_deref().map_or(&EMPTY, |d| &d.extra)
    }

    /// Whether nothing is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0
            .as_deref()
            .is_none_or(|d| *d == ContextData::default())
    }

    /// Runs `future` with this context in scope on each poll.
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        Scoped {
            context: self,
            future,
        }
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(data) => data.fmt(f),
            None => f.write_str("Context {}"),
        }
    }
}

impl Serialize for Context {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(data) => data.serialize(s),
            None => ContextData::default().serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Context {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let data = ContextData::deserialize(d)?;
        Ok(if data == ContextData::default() {
            Context(None)
        } else {
            Context(Some(Arc::new(data)))
        })
    }
}

thread_local! {
    static CURRENT: RefCell<Context> = const { RefCell::new(Context::new()) };
}

/// Restores the previous context when dropped, also on unwind.
struct Restore(Option<Context>);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            // During thread teardown the slot may be gone; then there is nothing to restore.
            let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
        }
    }
}

fn enter(context: Context) -> Restore {
    Restore(
        CURRENT
            .try_with(|c| std::mem::replace(&mut *c.borrow_mut(), context))
            .ok(),
    )
}

/// Runs `f` with `context` in scope; the previous context is restored afterwards, also if `f`
/// panics.
pub fn scope<R>(context: &Context, f: impl FnOnce() -> R) -> R {
    let _restore = enter(context.clone());
    f()
}

/// The context in scope on this thread (empty when none is).
#[must_use]
pub fn current() -> Context {
    CURRENT.try_with(|c| c.borrow().clone()).unwrap_or_default()
}

pin_project_lite::pin_project! {
    /// A future with a context in scope on each poll; made by [`Context::scope`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        context: Context,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _restore = enter(this.context.clone());
        this.future.poll(cx)
    }
}
