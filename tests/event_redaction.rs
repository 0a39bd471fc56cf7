//! A `Redacted` value never reaches any output: the envelope's JSON, its `Debug`, the rendered
//! message (even when the template names the redacted field), the event's own derived `Debug`,
//! a user type's own `Serialize` and `Debug`; and the catalog marks the fields redacted.

use audit_core::catalog::{self, FieldRole};
use audit_core::{AuditEvent, Context, EntityRef, Envelope, PrefixedId, Redacted};
use serde::Serialize;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "acct", name = "account")]
pub struct AccountId([u8; 16]);

const NUMBER: &str = "4111-1111-SECRET-NUMBER";
const CVC: &str = "SECRET-CVC-987";
const LAST4: &str = "SECRET-LAST4-4242";
const PIN: &str = "SECRET-PIN-0000";
const TOKEN_A: &str = "SECRET-TOKEN-aaaa";
const TOKEN_B: &str = "SECRET-TOKEN-bbbb";
/// Beyond 2^53: also proves that a redacted number is not range-checked.
const SECRET_NUMBER: u64 = 18_446_744_073_709_551_557;

/// A user's own type with a redacted field and its own derives.
#[derive(Serialize, Debug, Clone)]
pub struct Card {
    pub brand: String,
    pub number: Redacted<String>,
    pub cvc: Option<Redacted<String>>,
}

#[derive(AuditEvent, Debug)]
#[audit(
    action = "payment.method_added",
    message = "{actor} added a {card_brand} card ending {card_last4} to {account}"
)]
pub struct PaymentMethodAdded {
    #[audit(actor)]
    pub user: EntityRef<UserId>,
    #[audit(subject)]
    pub account: EntityRef<AccountId>,
    pub card_brand: &'static str,
    pub card_last4: Redacted<String>,
    pub pin: Option<Redacted<String>>,
    pub card: Card,
    pub tokens: Vec<Redacted<String>>,
    pub secret_number: Redacted<u64>,
}

fn event() -> PaymentMethodAdded {
    PaymentMethodAdded {
        user: EntityRef::new(UserId::new(), "Alice"),
        account: EntityRef::new(AccountId::new(), "Alice's account"),
        card_brand: "Visa",
        card_last4: Redacted::new(LAST4.to_owned()),
        pin: Some(Redacted::new(PIN.to_owned())),
        card: Card {
            brand: "Visa".into(),
            number: Redacted::new(NUMBER.to_owned()),
            cvc: Some(CVC.to_owned().into()),
        },
        tokens: vec![
            Redacted::new(TOKEN_A.to_owned()),
            Redacted::new(TOKEN_B.to_owned()),
        ],
        secret_number: Redacted::new(SECRET_NUMBER),
    }
}

/// Fails naming the secret and the output it leaked into.
fn assert_no_secret(what: &str, output: &str) {
    let number = SECRET_NUMBER.to_string();
    for secret in [NUMBER, CVC, LAST4, PIN, TOKEN_A, TOKEN_B, number.as_str()] {
        assert!(
            !output.contains(secret),
            "{what} leaks `{secret}`:\n{output}"
        );
    }
    // Not even a fragment: every string secret holds `SECRET`.
    assert!(
        !output.contains("SECRET"),
        "{what} leaks a secret:\n{output}"
    );
}

#[test]
fn the_program_still_has_the_values() {
    let event = event();
    assert_eq!(event.card_last4.expose(), LAST4);
    assert_eq!(event.pin.as_ref().map(|p| p.expose().as_str()), Some(PIN));
    assert_eq!(event.card.number.expose(), NUMBER);
    assert_eq!(*event.secret_number.expose(), SECRET_NUMBER);
    assert_eq!(event.tokens[1].clone().into_inner(), TOKEN_B);
}

#[test]
fn no_byte_of_the_envelope_json_holds_a_secret() {
    let envelope = Envelope::from_event(&event(), &Context::new().request_id("req-1"))
        .expect("a redacted number is not range-checked");
    let json = envelope.to_json();
    assert_no_secret("the envelope JSON", &json);
    let mut bytes = Vec::new();
    envelope.write_json(&mut bytes);
    assert_no_secret("write_json", &String::from_utf8(bytes).unwrap());
    // The redacted values are there, as `[redacted]`, in their places.
    assert_eq!(
        envelope.details.get(),
        r#"{"card_brand":"Visa","card_last4":"[redacted]","pin":"[redacted]","card":{"brand":"Visa","number":"[redacted]","cvc":"[redacted]"},"tokens":["[redacted]","[redacted]"],"secret_number":"[redacted]"}"#
    );
    // A round trip through JSON cannot bring them back.
    let back: Envelope = serde_json::from_str(&json).unwrap();
    assert_no_secret("the parsed envelope's Debug", &format!("{back:?}"));
}

#[test]
fn the_envelope_debug_holds_no_secret() {
    let envelope = Envelope::from_event(&event(), &Context::new()).unwrap();
    assert_no_secret("the envelope's Debug", &format!("{envelope:?}"));
    assert_no_secret("the envelope's pretty Debug", &format!("{envelope:#?}"));
}

#[test]
fn the_message_shows_redacted_even_when_it_names_the_field() {
    let event = event();
    let envelope = Envelope::from_event(&event, &Context::new()).unwrap();
    let message = envelope.message.expect("the event has a message");
    assert_eq!(
        message,
        "Alice added a Visa card ending [redacted] to Alice's account"
    );
    assert_no_secret("the message", &message);
    assert_no_secret(
        "AuditEvent::message",
        &event.message().unwrap().unwrap_or_default(),
    );
}

#[test]
fn the_event_debug_holds_no_secret() {
    let event = event();
    let debug = format!("{event:?}");
    assert_no_secret("the event's derived Debug", &debug);
    assert!(debug.contains("card_last4: [redacted]"), "{debug}");
    assert_no_secret("the event's pretty Debug", &format!("{event:#?}"));
    assert_no_secret("the card's Debug", &format!("{:?}", event.card));
}

#[test]
fn a_users_own_serialize_and_formatting_hold_no_secret() {
    let event = event();
    assert_no_secret(
        "the card's own Serialize",
        &serde_json::to_string(&event.card).unwrap(),
    );
    assert_no_secret(
        "a Vec of Redacted",
        &serde_json::to_string(&event.tokens).unwrap(),
    );
    let r = &event.card_last4;
    for output in [
        format!("{r}"),
        format!("{r:?}"),
        format!("{r:>40}"),
        format!("{r:#?}"),
        r.to_string(),
    ] {
        assert_no_secret("Redacted's formatting", &output);
        assert!(output.contains("[redacted]"), "{output}");
    }
}

#[test]
fn the_catalog_marks_redacted_fields() {
    let schema = catalog::catalog()
        .find(|s| s.action() == "payment.method_added")
        .expect("the event is in the catalog");
    assert!(std::ptr::eq(schema, PaymentMethodAdded::schema()));
    let redacted: Vec<&str> = schema.redacted_fields().collect();
    assert_eq!(redacted, ["card_last4", "pin", "tokens", "secret_number"]);
    let field = |name: &str| {
        schema
            .fields()
            .iter()
            .find(|f| f.name() == name)
            .unwrap_or_else(|| panic!("no field `{name}`"))
    };
    for name in ["card_last4", "pin", "tokens", "secret_number"] {
        assert!(field(name).redacted(), "{name}");
        assert_eq!(field(name).role(), FieldRole::Detail, "{name}");
    }
    assert_eq!(field("pin").type_descriptor(), "Option<Redacted<String>>");
    assert_eq!(field("tokens").type_descriptor(), "Vec<Redacted<String>>");
    for name in ["user", "account", "card_brand"] {
        assert!(!field(name).redacted(), "{name}");
    }
    // A user type that holds `Redacted` fields is not itself marked: the catalog sees the
    // field's type, not inside it. Its values are still redacted in every output (above).
    assert!(!field("card").redacted());
}
