//! JSON Schema export (feature `schemars`): details and envelopes, IDs and redacted fields,
//! and events whose detail types have no schema.
#![cfg(feature = "schemars")]

use audit_core::{AuditEvent, Context, EntityRef, Envelope, PrefixedId, Redacted, catalog};
use serde::Serialize;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "ordr", name = "order", sortable)]
pub struct OrderId([u8; 16]);

/// A detail type without a JSON Schema.
#[derive(Serialize)]
pub struct Plain {
    pub n: u8,
}

#[derive(AuditEvent)]
#[audit(action = "order.placed", version = 3)]
pub struct OrderPlaced {
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    #[audit(subject)]
    pub order: EntityRef<OrderId>,
    pub total_cents: u32,
    pub coupon: Option<String>,
    pub card: Redacted<String>,
    pub referrer: Option<UserId>,
    pub plain: Plain,
}

fn event() -> OrderPlaced {
    OrderPlaced {
        buyer: EntityRef::new(UserId::new(), "Alice"),
        order: EntityRef::new(OrderId::new(), "Order 17"),
        total_cents: 1250,
        coupon: None,
        card: Redacted::new("4242".into()),
        referrer: Some(UserId::new()),
        plain: Plain { n: 1 },
    }
}

#[test]
fn details_schema_describes_each_field() {
    let schema = catalog::details_json_schema::<OrderPlaced>();
    let props = &schema["properties"];
    assert_eq!(props["total_cents"]["type"], "integer");
    assert_eq!(props["card"]["const"], "[redacted]");
    assert!(
        props["plain"]["description"]
            .as_str()
            .unwrap()
            .contains("does not implement schemars::JsonSchema")
    );
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for field in ["total_cents", "coupon", "card", "referrer", "plain"] {
        assert!(required.contains(&field), "{field}");
    }
    assert_eq!(schema["additionalProperties"], false);
    // The ID type's schema is a definition with the exact text pattern.
    let user = &schema["$defs"]["UserId"];
    let pattern = regex_lite_match(
        user["pattern"].as_str().unwrap(),
        &UserId::new().to_string(),
    );
    assert!(pattern, "{user}");
}

#[test]
fn envelope_schema_matches_a_real_envelope() {
    let schema = catalog::envelope_json_schema::<OrderPlaced>();
    assert_eq!(schema["properties"]["action"]["const"], "order.placed");
    assert_eq!(schema["properties"]["version"]["const"], 3);
    let envelope = Envelope::from_event(&event(), &Context::new().request_id("r1")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&envelope.to_json()).unwrap();
    // Every key of the envelope is a property of the schema, and every required key is there.
    let props = schema["properties"].as_object().unwrap();
    for key in json.as_object().unwrap().keys() {
        assert!(props.contains_key(key), "{key} missing from the schema");
    }
    for key in schema["required"].as_array().unwrap() {
        assert!(
            json.get(key.as_str().unwrap()).is_some(),
            "{key} missing from the envelope"
        );
    }
    let id_pattern = schema["properties"]["id"]["pattern"].as_str().unwrap();
    assert!(
        regex_lite_match(id_pattern, &envelope.id.to_string()),
        "{id_pattern}"
    );
    assert!(catalog::json_schemas().any(|(s, _)| s.action() == "order.placed"));
}

/// Matches the only shape of pattern the ID schemas use: `^prefix_[class]{21}[class]$`.
fn regex_lite_match(pattern: &str, text: &str) -> bool {
    let body = pattern
        .strip_prefix('^')
        .and_then(|p| p.strip_suffix('$'))
        .unwrap();
    let (prefix, rest) = body.split_once("_[").unwrap();
    let (class, rest) = rest.split_once("]{21}[").unwrap();
    let last = rest.strip_suffix(']').unwrap();
    let in_class = |c: char, class: &str| {
        class == "-0-9A-Za-z_" && (c == '-' || c == '_' || c.is_ascii_alphanumeric())
            || class != "-0-9A-Za-z_" && class.contains(c)
    };
    let Some(suffix) = text.strip_prefix(&format!("{prefix}_")) else {
        return false;
    };
    let chars: Vec<char> = suffix.chars().collect();
    chars.len() == 22
        && chars[..21].iter().all(|&c| in_class(c, class))
        && in_class(chars[21], last)
}
