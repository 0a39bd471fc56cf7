//! The output of `#[derive(AuditEvent)]` and `#[derive(AuditEntity)]` is lint-clean in a strict
//! user crate: this file must compile under the lints below, and pass
//! `cargo clippy --all-targets -- -D warnings`. It is `tests/lints.rs` for the event derives.
//!
//! The names generated code might pick up by accident are shadowed below; the output must use
//! absolute paths.
#![deny(missing_docs, unused_qualifications, clippy::pedantic)]
#![deny(warnings)]

use audit_core::{
    Actor, AuditEntity, AuditEvent, Context, EntityRef, Envelope, Outcome, PrefixedId, Redacted,
};

// Shadowing names, beside every derive in this file.
#[allow(dead_code)]
struct Result;
#[allow(dead_code)]
struct Ok;
#[allow(dead_code)]
struct Option;
#[allow(dead_code)]
struct Some;
#[allow(dead_code)]
struct None;
#[allow(dead_code)]
struct Vec;
#[allow(dead_code)]
struct String;
#[allow(dead_code)]
struct Box;
#[allow(dead_code)]
struct Err;
#[allow(dead_code, clippy::upper_case_acronyms)]
struct SCHEMA;
#[allow(dead_code)]
trait Serialize {}
#[allow(dead_code)]
trait Serializer {}
#[allow(dead_code)]
trait Display {}
#[allow(dead_code)]
mod serde {}
#[allow(dead_code)]
mod core {}
#[allow(dead_code)]
mod std {}
#[allow(dead_code)]
mod inventory {}

/// A user ID.
#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

/// A widget ID.
#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

/// A public model.
#[derive(AuditEntity)]
pub struct User {
    /// Its ID.
    #[audit(id)]
    pub id: UserId,
    /// Its name.
    #[audit(display)]
    pub name: ::std::string::String,
}

// A private model, without docs, generic.
#[derive(AuditEntity)]
struct Widget<T: ::core::fmt::Display> {
    #[audit(id)]
    id: WidgetId,
    #[audit(display)]
    label: T,
}

/// A public event using every kind of field.
#[derive(AuditEvent)]
#[audit(
    action = "widget.purchased",
    version = 2,
    message = "{actor} bought {quantity} of {widget} {{ok}}"
)]
pub struct WidgetPurchased {
    /// Who bought.
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    /// What.
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    /// A coupon's owner.
    #[audit(subject, role = "coupon_owner")]
    pub owner: ::std::option::Option<EntityRef<UserId>>,
    /// Gifted to.
    #[audit(subject)]
    pub gifted_to: ::std::vec::Vec<EntityRef<UserId>>,
    /// How many.
    pub quantity: u32,
    /// The card.
    pub card_last4: Redacted<::std::string::String>,
    /// How it ended.
    #[audit(outcome)]
    pub outcome: Outcome,
    /// Not logged.
    #[audit(skip)]
    pub cache: u8,
}

// A private event, without docs or message, with raw identifiers and a system actor.
#[derive(AuditEvent)]
#[audit(action = "system.ran")]
struct SystemRan {
    #[audit(actor)]
    r#job: Actor,
    #[audit(subject)]
    r#type: ::std::vec::Vec<EntityRef<UserId>>,
    r#match: &'static str,
}

// A private event whose actor is also its subject, and with no details.
#[derive(AuditEvent)]
#[audit(action = "user.logged_in", message = "{actor} logged in as {user}")]
struct LoggedIn {
    #[audit(actor, subject)]
    user: EntityRef<UserId>,
}

#[test]
fn events_and_entities() {
    let user = User {
        id: UserId::new(),
        name: "Alice".into(),
    };
    let widget = Widget {
        id: WidgetId::new(),
        label: "Blue widget",
    };
    let event = WidgetPurchased {
        buyer: EntityRef::from(&user),
        widget: EntityRef::from(&widget),
        owner: ::std::option::Option::None,
        gifted_to: ::std::vec::Vec::new(),
        quantity: 2,
        card_last4: Redacted::new("4242".into()),
        outcome: Outcome::Success,
        cache: 0,
    };
    let envelope = Envelope::from_event(&event, &Context::new()).expect("an envelope");
    assert_eq!(
        envelope.message.as_deref(),
        ::std::option::Option::Some("Alice bought 2 of Blue widget {ok}")
    );
    let login = LoggedIn {
        user: EntityRef::from(&user),
    };
    assert_eq!(
        login.message().expect("renders").as_deref(),
        ::std::option::Option::Some("Alice logged in as Alice")
    );
    assert_eq!(LoggedIn::schema().fields().len(), 1);
    let ran = SystemRan {
        job: Actor::system("nightly"),
        r#type: ::std::vec![EntityRef::from(&user)],
        r#match: "all",
    };
    let envelope = Envelope::from_event(&ran, &Context::new()).expect("an envelope");
    assert_eq!(envelope.subjects[0].role, "type");
    assert_eq!(envelope.details.get(), r#"{"match":"all"}"#);
    assert_eq!(widget.audit_display(), "Blue widget");
}
