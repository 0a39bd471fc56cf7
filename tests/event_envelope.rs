//! The envelope of an event, as DESIGN.md fixes it: a golden file for a realistic event, the
//! field order, the serde round trip, the timestamp form, the context, the actor forms, the
//! outcome, roles, the message template, I-JSON numbers, `EntityRef::from(&model)` and
//! `#[audit(crate = path)]`.
//!
//! Refresh the golden file with `UPDATE_GOLDEN=1 cargo test --test event_envelope` after
//! reading the diff.

use std::fmt;

use audit_core::envelope::EventError;
use audit_core::{
    Actor, AuditEntity, AuditEvent, Context, EntityRef, Envelope, EventId, Outcome, PrefixedId,
    Redacted, Timestamp,
};
use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "coup", name = "coupon")]
pub struct CouponId([u8; 16]);

/// A realistic event: an actor, an optional and a repeated subject, four details of which one
/// is redacted.
#[derive(AuditEvent)]
#[audit(
    action = "widget.purchased",
    version = 2,
    message = "{actor} bought {quantity} widgets for {total_cents} cents"
)]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    #[audit(subject)]
    pub widgets: Vec<EntityRef<WidgetId>>,
    #[audit(subject)]
    pub coupon: Option<EntityRef<CouponId>>,
    pub quantity: u32,
    pub total_cents: u64,
    pub gift_note: Option<String>,
    pub card_last4: Redacted<String>,
}

fn alice() -> EntityRef<UserId> {
    EntityRef::new(UserId::from_bytes([1; 16]), "Alice")
}

fn purchase() -> WidgetPurchased {
    WidgetPurchased {
        buyer: alice(),
        widgets: vec![
            EntityRef::new(WidgetId::from_bytes([2; 16]), "Blue widget"),
            EntityRef::new(WidgetId::from_bytes([3; 16]), "Red \"deluxe\" widget"),
        ],
        coupon: Some(EntityRef::new(CouponId::from_bytes([4; 16]), "WINTER-10")),
        quantity: 2,
        total_cents: 1_998,
        gift_note: None,
        card_last4: Redacted::new("4242".to_owned()),
    }
}

fn request_context() -> Context {
    Context::new()
        .request_id("req-8f14e45f")
        .ip("203.0.113.7".parse().expect("an IP address"))
        .user_agent("Mozilla/5.0 (X11; Linux x86_64)")
        .tenant("acme")
}

/// The envelope with its non-deterministic fields fixed.
fn pinned(mut envelope: Envelope) -> Envelope {
    envelope.id = EventId::from_bytes([
        0x01, 0x9a, 0xe8, 0x3c, 0x5b, 0x1f, 0x7a, 0x00, 0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
        0x77,
    ]);
    envelope.occurred_at = "2026-12-04T19:40:00.123456Z".parse().expect("a timestamp");
    envelope
}

fn envelope_of<E: AuditEvent>(event: &E, context: &Context) -> Envelope {
    match Envelope::from_event(event, context) {
        Ok(envelope) => envelope,
        Err(err) => panic!("the envelope of `{}`: {err}", E::ACTION),
    }
}

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/envelope_golden.json"
);

#[test]
fn golden_envelope() {
    let envelope = pinned(envelope_of(&purchase(), &request_context()));
    // The file holds the compact JSON and a final newline.
    let json = format!("{}\n", envelope.to_json());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &json).expect("golden file written");
        return;
    }
    let golden = std::fs::read_to_string(GOLDEN).expect("tests/data/envelope_golden.json");
    assert_eq!(
        json, golden,
        "the envelope changed; rerun with UPDATE_GOLDEN=1 after reading the diff"
    );
}

#[test]
fn write_json_writes_what_to_json_returns() {
    let envelope = pinned(envelope_of(&purchase(), &request_context()));
    let mut out = b"prefix:".to_vec();
    envelope.write_json(&mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("prefix:{}", envelope.to_json())
    );
}

/// The keys of a JSON object, in the order they are written.
fn keys_in_order(json: &str) -> Vec<String> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                keys.push(key);
            }
            Ok(keys)
        }
    }
    serde_json::Deserializer::from_str(json)
        .deserialize_map(Keys)
        .expect("a JSON object")
}

#[test]
fn fields_come_in_the_order_of_the_design() {
    let envelope = pinned(envelope_of(&purchase(), &request_context()));
    let json = envelope.to_json();
    assert_eq!(
        keys_in_order(&json),
        [
            "id",
            "action",
            "version",
            "occurred_at",
            "outcome",
            "actor",
            "subjects",
            "message",
            "details",
            "context"
        ]
    );
    assert_eq!(
        keys_in_order(&serde_json::to_string(&envelope.subjects[0]).unwrap()),
        ["role", "type", "id", "display"]
    );
    assert_eq!(
        keys_in_order(&serde_json::to_string(&envelope.actor).unwrap()),
        ["type", "id", "display"]
    );
    assert_eq!(
        keys_in_order(&serde_json::to_string(&envelope.context).unwrap()),
        ["request_id", "ip", "user_agent", "tenant"]
    );
    // Compact: no whitespace outside strings.
    assert!(!json.contains(": ") && !json.contains(", \"") && !json.contains('\n'));
}

#[test]
fn the_envelope_holds_what_the_event_says() {
    let envelope = envelope_of(&purchase(), &request_context());
    assert_eq!(envelope.action, "widget.purchased");
    assert_eq!(envelope.version, 2);
    assert_eq!(envelope.outcome, Outcome::Success);
    assert_eq!(envelope.actor.kind, "user");
    assert_eq!(envelope.actor.id, UserId::from_bytes([1; 16]).to_string());
    assert_eq!(envelope.actor.display, "Alice");
    let subjects: Vec<(&str, &str, &str)> = envelope
        .subjects
        .iter()
        .map(|s| (&*s.role, &*s.kind, s.display.as_str()))
        .collect();
    assert_eq!(
        subjects,
        [
            ("widgets", "widget", "Blue widget"),
            ("widgets", "widget", "Red \"deluxe\" widget"),
            ("coupon", "coupon", "WINTER-10"),
        ]
    );
    assert_eq!(
        envelope.message.as_deref(),
        Some("Alice bought 2 widgets for 1998 cents")
    );
    assert_eq!(
        envelope.details.get(),
        r#"{"quantity":2,"total_cents":1998,"gift_note":null,"card_last4":"[redacted]"}"#
    );
    assert_eq!(envelope.context.request_id_str(), Some("req-8f14e45f"));
    assert_eq!(envelope.context.tenant_str(), Some("acme"));
    assert!(envelope.seq.is_none() && envelope.prev_hash.is_none() && envelope.hash.is_none());
    assert!(envelope.id.to_string().starts_with("evt_"));
}

#[test]
fn each_envelope_gets_a_new_time_ordered_id() {
    let a = envelope_of(&purchase(), &Context::new());
    let b = envelope_of(&purchase(), &Context::new());
    assert!(a.id < b.id, "{} then {}", a.id, b.id);
    assert!(a.occurred_at <= b.occurred_at);
}

#[test]
fn an_absent_option_subject_adds_no_subject() {
    let mut event = purchase();
    event.coupon = None;
    event.widgets.clear();
    let envelope = envelope_of(&event, &Context::new());
    assert!(envelope.subjects.is_empty(), "{:?}", envelope.subjects);
    assert!(envelope.to_json().contains(r#""subjects":[]"#));
}

#[test]
fn serde_round_trip() {
    for context in [request_context(), Context::new()] {
        let envelope = envelope_of(&purchase(), &context);
        let json = envelope.to_json();
        let back: Envelope = serde_json::from_str(&json).expect("the envelope parses");
        assert_eq!(back, envelope);
        assert_eq!(back.to_json(), json);
    }
    let mut chained = pinned(envelope_of(&purchase(), &request_context()));
    chained.seq = Some(7);
    chained.prev_hash = Some("0".repeat(64));
    chained.hash = Some("f".repeat(64));
    let json = chained.to_json();
    assert!(json.ends_with(&format!(
        r#""seq":7,"prev_hash":"{}","hash":"{}"}}"#,
        "0".repeat(64),
        "f".repeat(64)
    )));
    let back: Envelope = serde_json::from_str(&json).unwrap();
    assert_eq!(back, chained);
    // Equality looks at every field.
    let mut other = back.clone();
    other.hash = None;
    assert_ne!(other, chained);
}

fn assert_rfc3339_micros(text: &str) {
    let bytes = text.as_bytes();
    assert_eq!(bytes.len(), 27, "{text}");
    assert!(text.ends_with('Z'), "{text}");
    assert_eq!(bytes[19], b'.', "{text}");
    assert!(bytes[20..26].iter().all(u8::is_ascii_digit), "{text}");
    assert_eq!(bytes[10], b'T', "{text}");
    for (at, c) in [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')] {
        assert_eq!(bytes[at], c, "{text}");
    }
    assert_eq!(text.parse::<Timestamp>().unwrap().to_string(), text);
}

#[test]
fn occurred_at_has_six_fractional_digits_and_ends_in_z() {
    for _ in 0..200 {
        let envelope = envelope_of(&purchase(), &Context::new());
        let value: serde_json::Value = serde_json::from_str(&envelope.to_json()).unwrap();
        let text = value["occurred_at"].as_str().expect("a string");
        assert_rfc3339_micros(text);
        assert_eq!(text, envelope.occurred_at.to_string());
    }
    // Whole seconds still have six digits.
    for micros in [0, 1_796_413_200_000_000, -1] {
        let t = Timestamp::from_unix_micros(micros).unwrap();
        assert_rfc3339_micros(&t.to_string());
    }
    assert_eq!(
        Timestamp::from_unix_micros(0).unwrap().to_string(),
        "1970-01-01T00:00:00.000000Z"
    );
}

#[test]
fn absent_context_keys_are_omitted() {
    let json = |context: &Context| {
        let envelope = envelope_of(&purchase(), context);
        let value: serde_json::Value = serde_json::from_str(&envelope.to_json()).unwrap();
        value["context"].to_string()
    };
    assert_eq!(json(&Context::new()), "{}");
    assert_eq!(
        json(&Context::new().request_id("req-1")),
        r#"{"request_id":"req-1"}"#
    );
    assert_eq!(
        json(&Context::new().tenant("acme").user_agent("curl/8")),
        r#"{"tenant":"acme","user_agent":"curl/8"}"#
    );
    let envelope = envelope_of(&purchase(), &Context::new().ip("::1".parse().unwrap()));
    assert!(
        envelope.to_json().ends_with(r#""context":{"ip":"::1"}}"#),
        "{}",
        envelope.to_json()
    );
    let full = envelope_of(&purchase(), &request_context()).to_json();
    assert!(
        !full.contains("trace_id") && !full.contains("extra"),
        "{full}"
    );
}

#[derive(AuditEvent)]
#[audit(
    action = "billing.invoices_sent",
    message = "{actor} sent invoices to {customer}"
)]
pub struct InvoicesSent {
    #[audit(actor)]
    pub job: Actor,
    #[audit(subject)]
    pub customer: EntityRef<UserId>,
}

#[test]
fn a_system_actor_renders_as_the_design_shows() {
    let event = InvoicesSent {
        job: Actor::system("nightly-billing"),
        customer: alice(),
    };
    let envelope = envelope_of(&event, &Context::new());
    let json = envelope.to_json();
    assert!(
        json.contains(
            r#""actor":{"type":"system","id":"nightly-billing","display":"nightly-billing"},"#
        ),
        "{json}"
    );
    assert_eq!(
        envelope.message.as_deref(),
        Some("nightly-billing sent invoices to Alice")
    );
}

#[test]
fn an_actor_on_behalf_of_another_renders_as_the_design_shows() {
    let admin = EntityRef::new(UserId::from_bytes([9; 16]), "Admin");
    let event = InvoicesSent {
        job: Actor::on_behalf_of(admin, alice()),
        customer: alice(),
    };
    let envelope = envelope_of(&event, &Context::new());
    let expected = format!(
        r#""actor":{{"type":"user","id":"{}","display":"Admin","on_behalf_of":{{"type":"user","id":"{}","display":"Alice"}}}},"#,
        UserId::from_bytes([9; 16]),
        UserId::from_bytes([1; 16]),
    );
    let json = envelope.to_json();
    assert!(json.contains(&expected), "{json}\n{expected}");
    assert_eq!(
        envelope.message.as_deref(),
        Some("Admin on behalf of Alice sent invoices to Alice")
    );
    // An entity actor has no `on_behalf_of` key at all.
    let plain = InvoicesSent {
        job: Actor::from(alice()),
        customer: alice(),
    };
    assert!(
        !envelope_of(&plain, &Context::new())
            .to_json()
            .contains("on_behalf_of")
    );
}

#[derive(AuditEvent)]
#[audit(action = "widget.deleted")]
pub struct WidgetDeleted {
    #[audit(actor)]
    pub user: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    #[audit(outcome)]
    pub outcome: Outcome,
    pub reason: String,
}

#[test]
fn outcome_comes_from_the_outcome_field_or_with_outcome() {
    let widget = EntityRef::new(WidgetId::from_bytes([2; 16]), "Blue widget");
    for (outcome, text) in [
        (Outcome::Success, "success"),
        (Outcome::Failure, "failure"),
        (Outcome::Denied, "denied"),
    ] {
        let event = WidgetDeleted {
            user: alice(),
            widget: widget.clone(),
            outcome,
            reason: "spam".into(),
        };
        let envelope = envelope_of(&event, &Context::new());
        assert_eq!(envelope.outcome, outcome);
        let json = envelope.to_json();
        assert!(json.contains(&format!(r#""outcome":"{text}""#)), "{json}");
        // The outcome field is not also a detail.
        assert_eq!(envelope.details.get(), r#"{"reason":"spam"}"#);
        assert!(envelope.message.is_none() && !json.contains("\"message\""));
    }
    // Without an outcome field, success; `with_outcome` overrides either.
    let envelope = envelope_of(&purchase(), &Context::new());
    assert_eq!(envelope.outcome, Outcome::Success);
    let denied = envelope.with_outcome(Outcome::Denied);
    assert_eq!(denied.outcome, Outcome::Denied);
    assert!(denied.to_json().contains(r#""outcome":"denied""#));
    let event = WidgetDeleted {
        user: alice(),
        widget,
        outcome: Outcome::Denied,
        reason: String::new(),
    };
    let failed = envelope_of(&event, &Context::new()).with_outcome(Outcome::Failure);
    assert!(failed.to_json().contains(r#""outcome":"failure""#));
}

#[derive(AuditEvent)]
#[audit(action = "user.logged_in", message = "{actor} logged in")]
pub struct LoggedIn {
    #[audit(actor, subject)]
    pub user: EntityRef<UserId>,
    pub method: &'static str,
}

#[test]
fn an_actor_and_subject_field_is_in_both_places() {
    let envelope = envelope_of(
        &LoggedIn {
            user: alice(),
            method: "passkey",
        },
        &Context::new(),
    );
    assert_eq!(envelope.actor.id, UserId::from_bytes([1; 16]).to_string());
    assert_eq!(envelope.subjects.len(), 1);
    let subject = &envelope.subjects[0];
    assert_eq!(subject.role, "user");
    assert_eq!(subject.kind, "user");
    assert_eq!(subject.id, envelope.actor.id);
    assert_eq!(subject.display, "Alice");
    assert_eq!(envelope.details.get(), r#"{"method":"passkey"}"#);
    assert_eq!(envelope.message.as_deref(), Some("Alice logged in"));
}

#[derive(AuditEvent)]
#[audit(action = "widget.transferred")]
pub struct WidgetTransferred {
    #[audit(actor)]
    pub by: EntityRef<UserId>,
    #[audit(subject, role = "item")]
    pub widget: EntityRef<WidgetId>,
    #[audit(subject, role = "new_owner")]
    pub to: EntityRef<UserId>,
    #[audit(subject)]
    pub r#from: EntityRef<UserId>,
}

#[test]
fn a_renamed_role_replaces_the_field_name() {
    let bob = EntityRef::new(UserId::from_bytes([5; 16]), "Bob");
    let event = WidgetTransferred {
        by: alice(),
        widget: EntityRef::new(WidgetId::from_bytes([2; 16]), "Blue widget"),
        to: bob,
        r#from: alice(),
    };
    let envelope = envelope_of(&event, &Context::new());
    let roles: Vec<&str> = envelope.subjects.iter().map(|s| &*s.role).collect();
    assert_eq!(roles, ["item", "new_owner", "from"]);
    let owners: Vec<&str> = envelope
        .subjects_with_role("new_owner")
        .map(|s| s.display.as_str())
        .collect();
    assert_eq!(owners, ["Bob"]);
    assert_eq!(envelope.subjects_with_role("widget").count(), 0);
    assert_eq!(envelope.details.get(), "{}");
}

#[derive(AuditEvent)]
#[audit(
    action = "widget.priced",
    message = "{{{actor}}} set {widget} to {{ {price} }} ({currency}) {{}}"
)]
pub struct WidgetPriced {
    #[audit(actor)]
    pub user: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub price: f64,
    pub currency: &'static str,
}

#[test]
fn the_message_renders_placeholders_actor_and_escapes() {
    let event = WidgetPriced {
        user: alice(),
        widget: EntityRef::new(WidgetId::from_bytes([2; 16]), "Blue widget"),
        price: 9.5,
        currency: "EUR",
    };
    let envelope = envelope_of(&event, &Context::new());
    assert_eq!(
        envelope.message.as_deref(),
        Some("{Alice} set Blue widget to { 9.5 } (EUR) {}")
    );
    assert_eq!(
        event.message().unwrap().as_deref(),
        envelope.message.as_deref()
    );
    assert_eq!(
        WidgetPriced::schema().message(),
        Some("{{{actor}}} set {widget} to {{ {price} }} ({currency}) {{}}")
    );
}

#[derive(AuditEvent)]
#[audit(action = "ledger.adjusted")]
pub struct LedgerAdjusted {
    #[audit(actor)]
    pub user: EntityRef<UserId>,
    #[audit(subject)]
    pub account: EntityRef<UserId>,
    pub amount: i64,
    pub balance: u128,
    pub rate: f64,
    pub history: Vec<Option<f32>>,
}

fn ledger(amount: i64, balance: u128, rate: f64, history: Vec<Option<f32>>) -> LedgerAdjusted {
    LedgerAdjusted {
        user: alice(),
        account: alice(),
        amount,
        balance,
        rate,
        history,
    }
}

fn details_error(event: &LedgerAdjusted) -> String {
    match Envelope::from_event(event, &Context::new()) {
        Ok(envelope) => panic!("expected an error, got {}", envelope.to_json()),
        Err(err @ EventError::Details { .. }) => err.to_string(),
        Err(err) => panic!("expected a details error, got {err}"),
    }
}

#[test]
fn numbers_beyond_the_i_json_range_are_an_error_that_says_to_use_a_string() {
    const MAX_SAFE: i64 = (1 << 53) - 1;
    // The edges of the range are fine.
    let ok = envelope_of(
        &ledger(MAX_SAFE, 1 << 52, -0.5, vec![None]),
        &Context::new(),
    );
    assert_eq!(
        ok.details.get(),
        r#"{"amount":9007199254740991,"balance":4503599627370496,"rate":-0.5,"history":[null]}"#
    );
    envelope_of(&ledger(-MAX_SAFE, 0, f64::MAX, vec![]), &Context::new());

    for (event, field) in [
        (ledger(MAX_SAFE + 1, 0, 0.0, vec![]), "amount"),
        (ledger(-MAX_SAFE - 1, 0, 0.0, vec![]), "amount"),
        (ledger(i64::MIN, 0, 0.0, vec![]), "amount"),
        (ledger(0, u128::MAX, 0.0, vec![]), "balance"),
        (ledger(0, 1 << 53, 0.0, vec![]), "balance"),
        (ledger(0, 0, f64::NAN, vec![]), "rate"),
        (ledger(0, 0, f64::INFINITY, vec![]), "rate"),
        (ledger(0, 0, f64::NEG_INFINITY, vec![]), "rate"),
        (
            ledger(0, 0, 0.0, vec![Some(1.0), Some(f32::NAN)]),
            "history",
        ),
    ] {
        let message = details_error(&event);
        assert!(message.contains("ledger.adjusted"), "{message}");
        assert!(message.contains(&format!("`{field}`")), "{message}");
        assert!(message.contains("string"), "{message}");
    }
    let nan = details_error(&ledger(0, 0, f64::NAN, vec![]));
    assert!(nan.contains("NaN"), "{nan}");
    let big = details_error(&ledger(0, 1 << 53, 0.0, vec![]));
    assert!(
        big.contains("9007199254740992") && big.contains("2^53"),
        "{big}"
    );
}

#[derive(AuditEntity)]
pub struct User {
    #[audit(id)]
    pub id: UserId,
    #[audit(display)]
    pub name: String,
    pub email: String,
}

/// A model whose display field is not a `String`.
#[derive(AuditEntity)]
pub struct Widget {
    #[audit(display)]
    pub label: Label,
    #[audit(id)]
    pub key: WidgetId,
}

pub struct Label(&'static str, u32);

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} #{}", self.0, self.1)
    }
}

#[test]
fn entity_ref_from_a_model() {
    let user = User {
        id: UserId::new(),
        name: "Alice".into(),
        email: "alice@example.com".into(),
    };
    let r = EntityRef::from(&user);
    assert_eq!(r.id(), user.id);
    assert_eq!(r.display(), "Alice");
    assert_eq!(user.audit_id(), user.id);
    assert_eq!(user.audit_display(), "Alice");

    let widget = Widget {
        label: Label("Blue widget", 7),
        key: WidgetId::new(),
    };
    let event = WidgetDeleted {
        user: EntityRef::from(&user),
        widget: EntityRef::from(&widget),
        outcome: Outcome::Success,
        reason: String::new(),
    };
    let envelope = envelope_of(&event, &Context::new());
    assert_eq!(envelope.actor.display, "Alice");
    assert_eq!(envelope.actor.id, user.id.to_string());
    assert_eq!(envelope.subjects[0].display, "Blue widget #7");
    assert_eq!(envelope.subjects[0].id, widget.key.to_string());
    assert_eq!(envelope.subjects[0].kind, "widget");
    // The display name is captured when the reference is made: a rename does not change it.
    let mut renamed = user;
    renamed.name = "Alicia".into();
    assert_eq!(event.user.display(), "Alice");
    assert!(envelope.to_json().contains(r#""display":"Alice""#));
    assert!(!envelope.to_json().contains("alice@example.com"));
}

extern crate audit_core as renamed;

mod through_a_renamed_crate {
    use super::{UserId, WidgetId};

    #[derive(renamed::AuditEntity)]
    #[audit(crate = renamed)]
    pub struct Gadget {
        #[audit(id)]
        pub id: WidgetId,
        #[audit(display)]
        pub name: String,
    }

    #[derive(renamed::AuditEvent)]
    #[audit(crate = renamed, action = "gadget.renamed", message = "{actor} renamed {gadget}")]
    pub struct GadgetRenamed {
        #[audit(actor)]
        pub user: renamed::EntityRef<UserId>,
        #[audit(subject)]
        pub gadget: renamed::EntityRef<WidgetId>,
        #[audit(outcome)]
        pub outcome: renamed::Outcome,
        pub old_name: String,
    }
}

#[test]
fn crate_path_names_a_renamed_audit_core() {
    use through_a_renamed_crate::{Gadget, GadgetRenamed};
    let gadget = Gadget {
        id: WidgetId::from_bytes([2; 16]),
        name: "Gizmo".into(),
    };
    let event = GadgetRenamed {
        user: alice(),
        gadget: EntityRef::from(&gadget),
        outcome: Outcome::Success,
        old_name: "Thing".into(),
    };
    let envelope = envelope_of(&event, &Context::new());
    assert_eq!(envelope.action, "gadget.renamed");
    assert_eq!(envelope.message.as_deref(), Some("Alice renamed Gizmo"));
    assert_eq!(envelope.details.get(), r#"{"old_name":"Thing"}"#);
    assert!(
        audit_core::catalog::catalog().any(|s| s.action() == "gadget.renamed"),
        "the event registered itself through the renamed path"
    );
}

#[test]
fn details_read_back_as_a_typed_value() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Details {
        quantity: u32,
        total_cents: u64,
        gift_note: Option<String>,
        card_last4: String,
    }
    let envelope = envelope_of(&purchase(), &Context::new());
    assert_eq!(
        envelope.details_as::<Details>().unwrap(),
        Details {
            quantity: 2,
            total_cents: 1998,
            gift_note: None,
            card_last4: "[redacted]".into(),
        }
    );
}

#[derive(AuditEvent)]
#[audit(action = "user.impersonated", message = "{support} opened {account}")]
pub struct Impersonated {
    #[audit(actor)]
    pub support: Actor,
    #[audit(subject)]
    pub account: EntityRef<UserId>,
}

#[derive(AuditEvent)]
#[audit(action = "user.renamed", message = "{user} renamed")]
pub struct Renamed {
    #[audit(actor, subject)]
    pub user: EntityRef<UserId>,
    pub name: String,
}

/// `Envelope::of`, which `emit` uses, moves the names out of the event rather than copying
/// them: the envelope is the one `from_event` builds, for every kind of actor and subject
/// field, including one field that is both.
#[test]
fn taking_the_event_gives_the_same_envelope() {
    let context = request_context();
    let same = |by_ref: Envelope, by_value: Envelope| {
        assert_eq!(pinned(by_ref), pinned(by_value));
    };
    same(
        envelope_of(&purchase(), &context),
        Envelope::of(purchase(), &context).expect("envelope"),
    );
    let impersonated = || Impersonated {
        support: Actor::on_behalf_of(
            EntityRef::new(UserId::from_bytes([7; 16]), "Support agent"),
            alice(),
        ),
        account: alice(),
    };
    same(
        envelope_of(&impersonated(), &context),
        Envelope::of(impersonated(), &context).expect("envelope"),
    );
    let system = || Impersonated {
        support: Actor::system("nightly-job"),
        account: alice(),
    };
    same(
        envelope_of(&system(), &context),
        Envelope::of(system(), &context).expect("envelope"),
    );
    let renamed = || Renamed {
        user: alice(),
        name: "Alicia".into(),
    };
    let taken = Envelope::of(renamed(), &context).expect("envelope");
    assert_eq!(taken.actor.display, "Alice");
    assert_eq!(taken.subjects[0].display, "Alice");
    same(envelope_of(&renamed(), &context), taken);
}
