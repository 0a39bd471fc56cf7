//! [`TracingSink`]: each envelope as a `tracing` event (feature `tracing`).

use super::{Batch, Sink, SinkError};

/// Emits each envelope as a `tracing` event at `INFO` level with target `audit`: the message
/// is the envelope's message (or its action), and the fields are `event_id`, `action`,
/// `outcome`, `actor`, `request_id`, `trace_id` and `envelope`, the whole envelope as compact
/// JSON. Whatever subscriber the program installed decides where it goes.
///
/// Not durable by itself: pair it with a persistent sink when the log must survive.
///
/// ```
/// use audit_core::{Auditor, sink::{MemorySink, TracingSink}};
/// let auditor = Auditor::builder()
///     .sink(TracingSink::new())
///     .sink(MemorySink::new())
///     .build();
/// # drop(auditor);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink {
    _private: (),
}

impl TracingSink {
    /// A sink for the current `tracing` dispatcher.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl Sink for TracingSink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        for envelope in batch.iter() {
            let json = envelope.to_json();
            let message = envelope.message.as_deref().unwrap_or(&envelope.action);
            tracing::info!(
                target: "audit",
                event_id = %envelope.id,
                action = %envelope.action,
                outcome = envelope.outcome.as_str(),
                actor = %envelope.actor.id,
                request_id = envelope.context.request_id_str(),
                trace_id = envelope.context.trace_id_str(),
                envelope = %json,
                "{message}"
            );
        }
        Ok(())
    }

    fn name(&self) -> String {
        "tracing".to_owned()
    }
}
