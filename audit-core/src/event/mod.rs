//! Audit events: the [`AuditEvent`] trait that `#[derive(AuditEvent)]` implements, and the
//! types an event's fields are made of.
//!
//! An event has sections, not a flat bag: one actor (who), one or more subjects (acted on),
//! details (what is specific to this kind of event) and the request context, each nested in
//! the [`Envelope`](crate::Envelope).
//!
//! ```
//! use audit_core::{AuditEvent, EntityRef, PrefixedId, Redacted};
//!
//! #[derive(PrefixedId)]
//! #[id(prefix = "user")]
//! pub struct UserId([u8; 16]);
//!
//! #[derive(PrefixedId)]
//! #[id(prefix = "wdgt", name = "widget")]
//! pub struct WidgetId([u8; 16]);
//!
//! #[derive(AuditEvent)]
//! #[audit(action = "widget.purchased", version = 1,
//!         message = "{actor} bought {quantity} of {widget}")]
//! pub struct WidgetPurchased {
//!     #[audit(actor)]
//!     pub buyer: EntityRef<UserId>,
//!     #[audit(subject)]
//!     pub widget: EntityRef<WidgetId>,
//!     pub quantity: u32,
//!     pub card_last4: Redacted<String>,
//! }
//!
//! assert_eq!(WidgetPurchased::ACTION, "widget.purchased");
//! ```
//!
//! # Attributes
//!
//! On the struct, `#[audit(...)]` takes:
//!
//! | key | meaning |
//! | --- | --- |
//! | `action = "..."` | required; dotted lowercase, like `widget.purchased` |
//! | `version = N` | the schema version of the action, from 1 (default 1) |
//! | `message = "..."` | a template rendered at emit; `{field}` placeholders name fields, `{actor}` the actor; `{{` and `}}` are literal braces |
//! | `crate = path` | the path of `audit_core` if it was renamed |
//!
//! On fields:
//!
//! | attribute | meaning |
//! | --- | --- |
//! | `#[audit(actor)]` | exactly one: an [`EntityRef`] or an [`Actor`] |
//! | `#[audit(subject)]` | at least one: an `EntityRef`, `Option<EntityRef<_>>` or `Vec<EntityRef<_>>` |
//! | `#[audit(subject, role = "...")]` | the subject's role; default: the field's name |
//! | `#[audit(actor, subject)]` | both: a user who logs in |
//! | `#[audit(outcome)]` | an [`Outcome`] field that sets the envelope's outcome |
//! | `#[audit(skip)]` | a field kept out of the details |
//! | none | a detail: any `Serialize` type; wrap secrets in [`Redacted`] |
//!
//! Every mistake is a compile error on the offending token: a missing or malformed action,
//! zero or several actors, no subject, an actor or subject whose type is not an entity, a
//! detail that is not `Serialize`, a placeholder that names no field or a field that is not
//! `Display`, an unknown or duplicated key.

mod entity;
mod redacted;

use std::fmt;

pub use entity::{Actor, ActorField, AuditEntity, EntityRef, SubjectField};
pub use redacted::{REDACTED, Redacted};

use crate::catalog::EventSchema;
use crate::envelope::{ActorRecord, Outcome, SubjectRecord};

/// An audit event type. Implement it with `#[derive(AuditEvent)]`; see the
/// [module docs](self) for the attributes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an audit event",
    label = "not an audit event",
    note = "add `#[derive(AuditEvent)]` and `#[audit(action = \"...\")]` to the struct"
)]
pub trait AuditEvent {
    /// The dotted action name, like `widget.purchased`.
    const ACTION: &'static str;
    /// The schema version of the action.
    const VERSION: u32;

    /// Who acted, with the display name captured in the event.
    fn actor(&self) -> ActorRecord;

    /// What was acted on, in field order.
    fn subjects(&self) -> Vec<SubjectRecord>;

    /// [`actor`](Self::actor) and [`subjects`](Self::subjects), moving the display names
    /// out of the fields rather than copying them: for an event being consumed, whose names
    /// are left empty. The derive implements it; the default copies.
    #[doc(hidden)]
    fn __take_records(&mut self) -> (ActorRecord, Vec<SubjectRecord>) {
        (self.actor(), self.subjects())
    }

    /// How the action ended: the `#[audit(outcome)]` field, or success.
    fn outcome(&self) -> Outcome {
        Outcome::Success
    }

    /// The message template rendered with this event's fields, if the type has one.
    ///
    /// # Errors
    ///
    /// When a field's `Display` impl returns an error.
    fn message(&self) -> Result<Option<String>, fmt::Error>;

    /// Serializes the detail fields as a map (a struct named after the event type).
    ///
    /// # Errors
    ///
    /// Whatever the serializer or a field's `Serialize` impl returns.
    fn serialize_details<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;

    /// The event type's schema, as the [catalog](crate::catalog) lists it.
    fn schema() -> &'static EventSchema
    where
        Self: Sized;
}
