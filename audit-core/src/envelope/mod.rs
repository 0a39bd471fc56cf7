//! [`Envelope`]: what every sink receives, one per event.
//!
//! ```json
//! {
//!   "id": "evt_...",
//!   "action": "widget.purchased",
//!   "version": 1,
//!   "occurred_at": "2026-12-04T19:40:00.123456Z",
//!   "outcome": "success",
//!   "actor": {"type": "user", "id": "user_8hWAb-kHmq5nmfE-xPggAA", "display": "Alice"},
//!   "subjects": [{"role": "widget", "type": "widget", "id": "wdgt_fwz7uz86mmt1Crr2D-jnPA", "display": "Blue widget"}],
//!   "message": "Alice bought 2 of Blue widget",
//!   "details": {"quantity": 2, "card_last4": "[redacted]"},
//!   "context": {"request_id": "...", "ip": "203.0.113.7", "user_agent": "...", "tenant": "..."}
//! }
//! ```
//!
//! A persisted envelope also carries its position in the sink's hash chain: `seq`,
//! `prev_hash` and `hash`.

#[cfg(test)]
pub(crate) mod fixture;
mod ijson;
mod line;
pub(crate) mod sealed;
mod timestamp;

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use timestamp::{Timestamp, TimestampError};

use crate::event::AuditEvent;
use crate::{Context, EventId};

/// An entity as an envelope records it: type name, ID and display name at emit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntityRecord {
    /// The entity type (`PrefixedId::NAME`, or `"system"`).
    #[serde(rename = "type")]
    pub kind: Cow<'static, str>,
    /// The ID in text form (a system actor's name).
    pub id: String,
    /// The display name captured at emit.
    pub display: String,
}

/// The actor of an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActorRecord {
    /// The entity type (`PrefixedId::NAME`, or `"system"`).
    #[serde(rename = "type")]
    pub kind: Cow<'static, str>,
    /// The ID in text form (a system actor's name).
    pub id: String,
    /// The display name captured at emit.
    pub display: String,
    /// The entity the actor acted as, when it impersonated one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<EntityRecord>,
}

impl From<EntityRecord> for ActorRecord {
    fn from(e: EntityRecord) -> Self {
        ActorRecord {
            kind: e.kind,
            id: e.id,
            display: e.display,
            on_behalf_of: None,
        }
    }
}

impl fmt::Display for ActorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)?;
        if let Some(principal) = &self.on_behalf_of {
            write!(f, " on behalf of {}", principal.display)?;
        }
        Ok(())
    }
}

/// A subject of an envelope: what was acted on, under the role of its event field.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SubjectRecord {
    /// The role: the event field's name unless renamed with `#[audit(subject, role = "...")]`.
    pub role: Cow<'static, str>,
    /// The entity type (`PrefixedId::NAME`).
    #[serde(rename = "type")]
    pub kind: Cow<'static, str>,
    /// The ID in text form.
    pub id: String,
    /// The display name captured at emit.
    pub display: String,
}

/// How the action ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It happened.
    #[default]
    Success,
    /// It was attempted and failed.
    Failure,
    /// It was refused: the actor lacked permission.
    Denied,
}

impl Outcome {
    /// `"success"`, `"failure"` or `"denied"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit event as sinks receive and stores return it. JSON with the fixed field names of
/// the module docs; `details` holds the event's detail fields as JSON text. Deserializes from
/// JSON (`serde_json`) only, since `details` is kept as raw JSON text.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Envelope {
    /// The event's ID (`evt_...`, time-ordered).
    pub id: EventId,
    /// The dotted action name (`widget.purchased`).
    pub action: Cow<'static, str>,
    /// The schema version of the action.
    pub version: u32,
    /// When the event was built, microsecond precision, UTC.
    pub occurred_at: Timestamp,
    /// How the action ended.
    pub outcome: Outcome,
    /// Who acted.
    pub actor: ActorRecord,
    /// What was acted on.
    pub subjects: Vec<SubjectRecord>,
    /// The event's message template, rendered at emit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The detail fields, as a JSON object.
    pub details: Box<RawValue>,
    /// Request metadata.
    #[serde(default)]
    pub context: Context,
    /// Position in the sink's hash chain, from 1 with no gaps; set by chained sinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The previous envelope's `hash` (64 zeros for the first); set by chained sinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<String>,
    /// Lowercase hex SHA-256 of this envelope's canonical JSON; set by chained sinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// The serialized form of an envelope, with the chain fields given separately so that a sink
/// can write an envelope at its own chain position without cloning it.
#[derive(Serialize)]
pub(crate) struct EnvelopeView<'a> {
    id: &'a EventId,
    action: &'a str,
    version: u32,
    occurred_at: &'a Timestamp,
    outcome: Outcome,
    actor: &'a ActorRecord,
    subjects: &'a [SubjectRecord],
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    details: &'a RawValue,
    context: &'a Context,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<&'a str>,
}

impl Envelope {
    /// The serialized form with the given chain position instead of the envelope's own.
    pub(crate) fn view_at<'a>(
        &'a self,
        seq: Option<u64>,
        prev_hash: Option<&'a str>,
        hash: Option<&'a str>,
    ) -> EnvelopeView<'a> {
        EnvelopeView {
            id: &self.id,
            action: &self.action,
            version: self.version,
            occurred_at: &self.occurred_at,
            outcome: self.outcome,
            actor: &self.actor,
            subjects: &self.subjects,
            message: self.message.as_deref(),
            details: &self.details,
            context: &self.context,
            seq,
            prev_hash,
            hash,
        }
    }
}

impl Serialize for Envelope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.view_at(self.seq, self.prev_hash.as_deref(), self.hash.as_deref())
            .serialize(s)
    }
}

impl PartialEq for Envelope {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.action == other.action
            && self.version == other.version
            && self.occurred_at == other.occurred_at
            && self.outcome == other.outcome
            && self.actor == other.actor
            && self.subjects == other.subjects
            && self.message == other.message
            && self.details.get() == other.details.get()
            && self.context == other.context
            && self.seq == other.seq
            && self.prev_hash == other.prev_hash
            && self.hash == other.hash
    }
}

/// Why an event could not become an envelope. The event is the caller's: fix the event type.
#[derive(Debug)]
#[non_exhaustive]
pub enum EventError {
    /// The details did not serialize, or held a number JSON cannot carry faithfully
    /// (beyond ±2^53, NaN, infinity).
    Details {
        /// The event's action.
        action: &'static str,
        /// What serde said, with the field's name.
        source: serde_json::Error,
    },
    /// The message template did not render: a field's `Display` impl returned an error.
    Message {
        /// The event's action.
        action: &'static str,
    },
    /// An envelope given to [`Auditor::emit_envelope`](crate::Auditor::emit_envelope) has
    /// no canonical JSON, so a chained sink could never hash it: its details hold a number
    /// JSON cannot carry faithfully. Envelopes built by `from_event` always have one.
    Unchainable {
        /// The envelope's ID.
        id: EventId,
        /// The envelope's action.
        action: String,
        /// What was found.
        reason: String,
    },
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::Details { action, source } => {
                write!(
                    f,
                    "the details of `{action}` cannot be serialized: {source}"
                )
            }
            EventError::Message { action } => write!(
                f,
                "the message of `{action}` did not render: a field's `Display` impl returned an error"
            ),
            EventError::Unchainable { id, action, reason } => write!(
                f,
                "the envelope {id} (`{action}`) cannot join a hash chain: {reason}; \
                 build envelopes with `Envelope::from_event`, which checks the details"
            ),
        }
    }
}

impl std::error::Error for EventError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EventError::Details { source, .. } => Some(source),
            EventError::Message { .. } | EventError::Unchainable { .. } => None,
        }
    }
}

/// Serializes an event's details through its `AuditEvent` impl.
struct Details<'a, E>(&'a E);

impl<E: AuditEvent> Serialize for Details<'_, E> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_details(s)
    }
}

/// An event's details as checked JSON text, and its rendered message.
fn rendered<E: AuditEvent>(event: &E) -> Result<(Box<RawValue>, Option<String>), EventError> {
    let details =
        serde_json::value::to_raw_value(&ijson::Checked(&Details(event))).map_err(|source| {
            EventError::Details {
                action: E::ACTION,
                source,
            }
        })?;
    let message = event
        .message()
        .map_err(|_| EventError::Message { action: E::ACTION })?;
    Ok((details, message))
}

impl Envelope {
    /// Builds the envelope of `event` in `context`: a new [`EventId`], the time now, the
    /// event's outcome, its actor and subjects with their display names, the rendered message
    /// and the serialized details.
    ///
    /// ```
    /// use audit_core::{AuditEvent, Context, EntityRef, Envelope, PrefixedId};
    /// # #[derive(PrefixedId)]
    /// # #[id(prefix = "user")]
    /// # pub struct UserId([u8; 16]);
    ///
    /// #[derive(AuditEvent)]
    /// #[audit(action = "user.logged_in", message = "{actor} logged in")]
    /// pub struct LoggedIn {
    ///     #[audit(actor, subject)]
    ///     pub user: EntityRef<UserId>,
    /// }
    ///
    /// let event = LoggedIn { user: EntityRef::new(UserId::new(), "Alice") };
    /// let envelope = Envelope::from_event(&event, &Context::new().request_id("req-1"))?;
    /// assert_eq!(envelope.message.as_deref(), Some("Alice logged in"));
    /// assert_eq!(envelope.subjects[0].role, "user");
    /// # Ok::<(), audit_core::envelope::EventError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`EventError`] when the details do not serialize or hold a number JSON cannot carry
    /// faithfully.
    pub fn from_event<E: AuditEvent>(event: &E, context: &Context) -> Result<Self, EventError> {
        let (details, message) = rendered(event)?;
        Ok(Self::assemble::<E>(
            event.outcome(),
            (event.actor(), event.subjects()),
            details,
            message,
            context,
        ))
    }

    /// [`from_event`](Self::from_event), taking the event: its display names move into the
    /// envelope rather than being copied. What [`Auditor::emit`](crate::Auditor::emit) does.
    ///
    /// ```
    /// use audit_core::{AuditEvent, Context, EntityRef, Envelope, PrefixedId};
    /// # #[derive(PrefixedId)]
    /// # #[id(prefix = "user")]
    /// # pub struct UserId([u8; 16]);
    /// #[derive(AuditEvent)]
    /// #[audit(action = "user.logged_in", message = "{actor} logged in")]
    /// pub struct LoggedIn {
    ///     #[audit(actor, subject)]
    ///     pub user: EntityRef<UserId>,
    /// }
    ///
    /// let envelope = Envelope::of(LoggedIn { user: EntityRef::new(UserId::new(), "Alice") }, &Context::new())?;
    /// assert_eq!(envelope.actor.display, "Alice");
    /// assert_eq!(envelope.subjects[0].display, "Alice");
    /// # Ok::<(), audit_core::envelope::EventError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_event`](Self::from_event).
    pub fn of<E: AuditEvent>(mut event: E, context: &Context) -> Result<Self, EventError> {
        let (details, message) = rendered(&event)?;
        let outcome = event.outcome();
        Ok(Self::assemble::<E>(
            outcome,
            event.__take_records(),
            details,
            message,
            context,
        ))
    }

    fn assemble<E: AuditEvent>(
        outcome: Outcome,
        (actor, subjects): (ActorRecord, Vec<SubjectRecord>),
        details: Box<RawValue>,
        message: Option<String>,
        context: &Context,
    ) -> Self {
        // One clock reading for both: the ID's milliseconds are the timestamp's (or later,
        // when the ID's counter ran over).
        let occurred_at = Timestamp::now();
        Envelope {
            id: EventId::from_bytes(crate::id::sortable::bytes16_at(occurred_at.unix_ms())),
            action: Cow::Borrowed(E::ACTION),
            version: E::VERSION,
            occurred_at,
            outcome,
            actor,
            subjects,
            message,
            details,
            context: context.clone(),
            seq: None,
            prev_hash: None,
            hash: None,
        }
    }

    /// The same envelope with another outcome.
    #[must_use]
    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Compact JSON, one line, in the field order of the module docs: the bytes
    /// `serde_json` writes for the envelope's `Serialize` impl.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(512);
        self.write_json(&mut out);
        // The line is UTF-8: ASCII punctuation around `str`s and JSON text.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends [`to_json`](Self::to_json)'s compact JSON to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        line::body(out, self);
        line::close(
            out,
            self.seq,
            self.prev_hash.as_deref(),
            self.hash.as_deref(),
        );
    }

    /// The details as a typed value.
    ///
    /// # Errors
    ///
    /// When the details do not have the shape of `T`.
    pub fn details_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.details.get())
    }

    /// The subjects with this role.
    pub fn subjects_with_role<'a>(
        &'a self,
        role: &'a str,
    ) -> impl Iterator<Item = &'a SubjectRecord> + 'a {
        self.subjects.iter().filter(move |s| s.role == role)
    }
}
