//! [`MemorySink`]: envelopes in memory, for tests.

use std::sync::{Arc, Mutex, PoisonError};

use super::{Batch, Sink, SinkError};
use crate::Envelope;

/// Keeps envelopes in memory, for tests. Clones share one store: keep a clone, give one to
/// the auditor, and assert on what was emitted.
///
/// ```standalone_crate
/// use audit_core::{Auditor, AuditEvent, EntityRef, PrefixedId, sink::MemorySink};
/// # #[derive(PrefixedId)]
/// # #[id(prefix = "user")]
/// # pub struct UserId([u8; 16]);
/// # #[derive(AuditEvent)]
/// # #[audit(action = "user.logged_in", message = "{actor} logged in")]
/// # pub struct LoggedIn { #[audit(actor, subject)] pub user: EntityRef<UserId> }
///
/// let memory = MemorySink::new();
/// let auditor = Auditor::builder().sink(memory.clone()).build()?;
/// auditor.emit(LoggedIn { user: EntityRef::new(UserId::new(), "Alice") })?;
///
/// let event = memory.only("user.logged_in");
/// assert_eq!(event.message.as_deref(), Some("Alice logged in"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct MemorySink {
    events: Arc<Mutex<Vec<Envelope>>>,
}

impl MemorySink {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Envelope>> {
        // A panic while holding the lock leaves the vector intact; keep going.
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every envelope written so far, in order.
    #[must_use]
    pub fn events(&self) -> Vec<Envelope> {
        self.lock().clone()
    }

    /// How many envelopes were written.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The envelopes with this action, in order.
    #[must_use]
    pub fn with_action(&self, action: &str) -> Vec<Envelope> {
        self.lock()
            .iter()
            .filter(|e| e.action == action)
            .cloned()
            .collect()
    }

    /// The last envelope written, if any.
    #[must_use]
    pub fn last(&self) -> Option<Envelope> {
        self.lock().last().cloned()
    }

    /// The one envelope with this action.
    ///
    /// # Panics
    ///
    /// When there is none or more than one, with a message listing the actions that were
    /// emitted: this is a test assertion.
    #[must_use]
    #[track_caller]
    pub fn only(&self, action: &str) -> Envelope {
        let events = self.lock();
        let mut matching = events.iter().filter(|e| e.action == action);
        match (matching.next(), matching.next()) {
            (Some(one), None) => one.clone(),
            (None, _) => panic!(
                "expected one `{action}` event, found none; emitted: [{}]",
                actions(&events)
            ),
            (Some(_), Some(_)) => panic!(
                "expected one `{action}` event, found several; emitted: [{}]",
                actions(&events)
            ),
        }
    }

    /// Forgets every envelope.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

fn actions(events: &[Envelope]) -> String {
    events
        .iter()
        .map(|e| e.action.as_ref())
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::fmt::Debug for MemorySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySink")
            .field("events", &self.len())
            .finish()
    }
}

impl Sink for MemorySink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        self.lock().extend(batch.iter().cloned());
        Ok(())
    }

    fn name(&self) -> String {
        "memory".to_owned()
    }
}
