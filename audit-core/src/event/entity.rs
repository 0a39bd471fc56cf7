//! Who acted and what was acted on: [`EntityRef`], [`Actor`] and [`AuditEntity`].

use std::borrow::Cow;
use std::fmt;

use crate::PrefixedId;
use crate::envelope::{ActorRecord, EntityRecord, SubjectRecord};

/// A model that events can name: it has a [`PrefixedId`] and a display name.
///
/// Derive it with `#[derive(AuditEntity)]`, marking the ID field `#[audit(id)]` and the field
/// whose value names the entity for people `#[audit(display)]`:
///
/// ```
/// use audit_core::{AuditEntity, EntityRef, PrefixedId};
///
/// #[derive(PrefixedId)]
/// #[id(prefix = "user")]
/// pub struct UserId([u8; 16]);
///
/// #[derive(AuditEntity)]
/// pub struct User {
///     #[audit(id)]
///     pub id: UserId,
///     #[audit(display)]
///     pub name: String,
///     pub email: String,
/// }
///
/// let alice = User { id: UserId::new(), name: "Alice".into(), email: "a@example.com".into() };
/// let r = EntityRef::from(&alice);
/// assert_eq!(r.display(), "Alice");
/// assert_eq!(r.id(), alice.id);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an audit entity",
    label = "not an audit entity",
    note = "derive `AuditEntity` on the model, marking its ID field `#[audit(id)]` and its name field `#[audit(display)]`, or build an `EntityRef::new(id, name)`"
)]
pub trait AuditEntity {
    /// The entity's ID type.
    type Id: PrefixedId;

    /// The entity's ID.
    fn audit_id(&self) -> Self::Id;

    /// The entity's display name now; an event captures it when it is built.
    fn audit_display(&self) -> String;
}

/// An entity named in an event: its ID and the display name captured when the event was built.
///
/// Capturing the name at emit means that rendering a log needs no further lookups, and that
/// names survive deletions and renames.
///
/// ```
/// use audit_core::{EntityRef, PrefixedId};
/// # #[derive(PrefixedId)]
/// # #[id(prefix = "wdgt", name = "widget")]
/// # pub struct WidgetId([u8; 16]);
/// let widget = EntityRef::new(WidgetId::new(), "Blue widget");
/// assert_eq!(widget.to_string(), "Blue widget");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EntityRef<I> {
    id: I,
    display: String,
}

impl<I: PrefixedId> EntityRef<I> {
    /// An entity with its display name as of now.
    pub fn new(id: I, display: impl Into<String>) -> Self {
        EntityRef {
            id,
            display: display.into(),
        }
    }

    /// The entity's ID.
    pub fn id(&self) -> I {
        self.id
    }

    /// The display name captured when this reference was made.
    pub fn display(&self) -> &str {
        &self.display
    }

    pub(crate) fn record(&self) -> EntityRecord {
        EntityRecord {
            kind: Cow::Borrowed(I::NAME),
            id: self.id.encode().as_str().to_owned(),
            display: self.display.clone(),
        }
    }

    /// [`record`](Self::record), moving the display name out, leaving it empty.
    fn take_record(&mut self) -> EntityRecord {
        EntityRecord {
            kind: Cow::Borrowed(I::NAME),
            id: self.id.encode().as_str().to_owned(),
            display: std::mem::take(&mut self.display),
        }
    }

    /// [`record`](Self::record), moving the display name rather than copying it.
    pub(crate) fn into_record(mut self) -> EntityRecord {
        self.take_record()
    }
}

impl<I> fmt::Display for EntityRef<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl<M: AuditEntity> From<&M> for EntityRef<M::Id> {
    fn from(model: &M) -> Self {
        EntityRef {
            id: model.audit_id(),
            display: model.audit_display(),
        }
    }
}

/// Who performed an action: an entity, a system process, or an entity acting on behalf of
/// another.
///
/// ```
/// use audit_core::{Actor, EntityRef, PrefixedId};
/// # #[derive(PrefixedId)]
/// # #[id(prefix = "user")]
/// # pub struct UserId([u8; 16]);
/// let admin = EntityRef::new(UserId::new(), "Admin");
/// let alice = EntityRef::new(UserId::new(), "Alice");
///
/// let job = Actor::system("nightly-billing");
/// assert_eq!(job.to_string(), "nightly-billing");
///
/// let support = Actor::on_behalf_of(admin, alice);
/// assert_eq!(support.to_string(), "Admin on behalf of Alice");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor(ActorRecord);

impl Actor {
    /// The entity type of a system actor.
    pub const SYSTEM: &'static str = "system";

    /// An actor that is an entity, such as a user.
    pub fn entity<I: PrefixedId>(entity: &EntityRef<I>) -> Self {
        Actor(ActorRecord::from(entity.record()))
    }

    /// A system actor, for jobs and command-line tools: `{"type": "system", "id": name,
    /// "display": name}`.
    pub fn system(name: impl Into<String>) -> Self {
        let name = name.into();
        Actor(ActorRecord {
            kind: Cow::Borrowed(Self::SYSTEM),
            id: name.clone(),
            display: name,
            on_behalf_of: None,
        })
    }

    /// `actor` acted as `on_behalf_of`: an administrator or support agent impersonating a
    /// user. The log keeps both.
    pub fn on_behalf_of<A: PrefixedId, B: PrefixedId>(
        actor: EntityRef<A>,
        on_behalf_of: EntityRef<B>,
    ) -> Self {
        Actor(ActorRecord {
            on_behalf_of: Some(on_behalf_of.into_record()),
            ..ActorRecord::from(actor.into_record())
        })
    }

    /// What the envelope records for this actor.
    #[must_use]
    pub fn record(&self) -> &ActorRecord {
        &self.0
    }
}

impl<I: PrefixedId> From<EntityRef<I>> for Actor {
    fn from(entity: EntityRef<I>) -> Self {
        Actor(ActorRecord::from(entity.into_record()))
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A field type that can be an event's actor: [`EntityRef`] or [`Actor`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the actor of an audit event",
    label = "an actor field must be an `EntityRef<SomeId>` or an `audit_core::Actor`",
    note = "an actor is an ID with the display name captured at emit: declare the field `EntityRef<UserId>` (not a bare ID or a name) and build it with `EntityRef::new(id, name)` or `EntityRef::from(&model)`; for jobs and impersonation, declare it `Actor` (`Actor::system(\"job-name\")`)"
)]
pub trait ActorField {
    /// The actor as the envelope records it.
    fn actor_record(&self) -> ActorRecord;

    /// [`actor_record`](Self::actor_record), moving the names out of the field rather than
    /// copying them, for an event being consumed: the field's names are left empty.
    #[doc(hidden)]
    fn take_actor_record(&mut self) -> ActorRecord {
        self.actor_record()
    }
}

impl<I: PrefixedId> ActorField for EntityRef<I> {
    fn actor_record(&self) -> ActorRecord {
        ActorRecord::from(self.record())
    }

    fn take_actor_record(&mut self) -> ActorRecord {
        ActorRecord::from(self.take_record())
    }
}

impl ActorField for Actor {
    fn actor_record(&self) -> ActorRecord {
        self.0.clone()
    }

    fn take_actor_record(&mut self) -> ActorRecord {
        ActorRecord {
            kind: self.0.kind.clone(),
            id: std::mem::take(&mut self.0.id),
            display: std::mem::take(&mut self.0.display),
            on_behalf_of: self.0.on_behalf_of.take(),
        }
    }
}

/// A field type that can hold an event's subjects: an [`EntityRef`], or an `Option` or `Vec`
/// of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a subject of an audit event",
    label = "a subject field must be an `EntityRef<SomeId>`, `Option<EntityRef<SomeId>>` or `Vec<EntityRef<SomeId>>`",
    note = "a subject is an ID with the display name captured at emit: declare the field `EntityRef<WidgetId>` (not a bare ID or a name) and build it with `EntityRef::new(id, name)` or `EntityRef::from(&model)`; a field that is not an entity is a detail: remove `#[audit(subject)]`"
)]
pub trait SubjectField {
    /// Appends this field's subjects, under `role`.
    fn push_subjects(&self, role: &'static str, out: &mut Vec<SubjectRecord>);

    /// [`push_subjects`](Self::push_subjects), moving the names out of the field rather than
    /// copying them, for an event being consumed: the field's names are left empty.
    #[doc(hidden)]
    fn take_subjects(&mut self, role: &'static str, out: &mut Vec<SubjectRecord>) {
        self.push_subjects(role, out);
    }
}

impl<I: PrefixedId> SubjectField for EntityRef<I> {
    fn push_subjects(&self, role: &'static str, out: &mut Vec<SubjectRecord>) {
        out.push(SubjectRecord::from_entity(role, self.record()));
    }

    fn take_subjects(&mut self, role: &'static str, out: &mut Vec<SubjectRecord>) {
        out.push(SubjectRecord::from_entity(role, self.take_record()));
    }
}

impl<I: PrefixedId> SubjectField for Option<EntityRef<I>> {
    fn push_subjects(&self, role: &'static str, out: &mut Vec<SubjectRecord>) {
        if let Some(entity) = self {
            entity.push_subjects(role, out);
        }
    }

    fn take_subjects(&mut self, role: &'static str, out: &mut Vec<SubjectRecord>) {
        if let Some(entity) = self {
            entity.take_subjects(role, out);
        }
    }
}

impl<I: PrefixedId> SubjectField for Vec<EntityRef<I>> {
    fn push_subjects(&self, role: &'static str, out: &mut Vec<SubjectRecord>) {
        for entity in self {
            entity.push_subjects(role, out);
        }
    }

    fn take_subjects(&mut self, role: &'static str, out: &mut Vec<SubjectRecord>) {
        for entity in self {
            entity.take_subjects(role, out);
        }
    }
}

impl SubjectRecord {
    fn from_entity(role: &'static str, entity: EntityRecord) -> Self {
        SubjectRecord {
            role: Cow::Borrowed(role),
            kind: entity.kind,
            id: entity.id,
            display: entity.display,
        }
    }
}
