//! JSON Schema (feature `schemars`) of each event's details and envelope.
//!
//! ```
//! # #[cfg(feature = "schemars")] {
//! use audit_core::{AuditEvent, EntityRef, PrefixedId, Redacted, catalog};
//! # #[derive(PrefixedId)]
//! # #[id(prefix = "user")]
//! # pub struct UserId([u8; 16]);
//! #[derive(AuditEvent)]
//! #[audit(action = "user.card_added")]
//! pub struct CardAdded {
//!     #[audit(actor, subject)]
//!     pub user: EntityRef<UserId>,
//!     pub last4: Redacted<String>,
//!     pub primary: bool,
//! }
//!
//! let details = catalog::details_json_schema::<CardAdded>();
//! assert_eq!(details["properties"]["primary"]["type"], "boolean");
//! assert_eq!(details["properties"]["last4"]["const"], "[redacted]");
//! let envelope = catalog::envelope_json_schema::<CardAdded>();
//! assert_eq!(envelope["properties"]["action"]["const"], "user.card_added");
//! # }
//! ```

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::EventSchema;
use crate::{AuditEvent, PrefixedId};

/// The JSON Schema of an event type's details; `#[derive(AuditEvent)]` implements it when
/// the `schemars` feature is on, for events whose detail types all implement
/// `schemars::JsonSchema`.
pub trait DetailsSchema: AuditEvent {
    /// The schema of the `details` object, with shared definitions added to `generator`.
    fn details_schema(generator: &mut SchemaGenerator) -> Schema;
}

/// One event type's schema functions (the derive submits it).
#[doc(hidden)]
pub struct SchemaRegistration {
    schema: fn() -> &'static EventSchema,
    envelope: fn() -> Value,
}

inventory::collect!(SchemaRegistration);

impl SchemaRegistration {
    #[must_use]
    pub const fn of<E: DetailsSchema>() -> Self {
        SchemaRegistration {
            schema: E::schema,
            envelope: envelope_json_schema::<E>,
        }
    }
}

/// The envelope JSON Schema of every registered event type, with its catalog entry.
pub fn json_schemas() -> impl Iterator<Item = (&'static EventSchema, Value)> {
    inventory::iter::<SchemaRegistration>
        .into_iter()
        .map(|r| ((r.schema)(), (r.envelope)()))
}

const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The schema of `E`'s `details` object, standalone (its definitions under `$defs`).
#[must_use]
pub fn details_json_schema<E: DetailsSchema>() -> Value {
    let mut generator = SchemaGenerator::default();
    let mut schema = E::details_schema(&mut generator).to_value();
    if let Some(object) = schema.as_object_mut() {
        object.insert("$schema".into(), json!(DRAFT));
        object.insert(
            "title".into(),
            json!(format!("{} v{} details", E::ACTION, E::VERSION)),
        );
        let defs = generator.definitions().clone();
        if !defs.is_empty() {
            object.insert("$defs".into(), Value::Object(defs));
        }
    }
    schema
}

/// The schema of a whole envelope of `E`: the fixed envelope fields, `action` and `version`
/// as constants, and `E`'s details.
#[must_use]
pub fn envelope_json_schema<E: DetailsSchema>() -> Value {
    let mut generator = SchemaGenerator::default();
    let details = E::details_schema(&mut generator).to_value();
    let mut defs = generator.definitions().clone();
    let entity = json!({
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "id": {"type": "string"},
            "display": {"type": "string"}
        },
        "required": ["type", "id", "display"],
        "additionalProperties": false
    });
    let mut actor = entity.clone();
    actor["properties"]["on_behalf_of"] = json!({"$ref": "#/$defs/AuditEntity"});
    let mut subject = entity.clone();
    subject["properties"]["role"] = json!({"type": "string"});
    subject["required"] = json!(["role", "type", "id", "display"]);
    defs.insert("AuditEntity".into(), entity);
    defs.insert("AuditActor".into(), actor);
    defs.insert("AuditSubject".into(), subject);
    defs.insert(
        "AuditContext".into(),
        json!({
            "type": "object",
            "properties": {
                "request_id": {"type": "string"},
                "ip": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
                "user_agent": {"type": "string"},
                "tenant": {"type": "string"},
                "trace_id": {"type": "string"},
                "extra": {"type": "object", "additionalProperties": {"type": "string"}}
            },
            "additionalProperties": false
        }),
    );
    let hash = json!({"type": "string", "pattern": "^[0-9a-f]{64}$"});
    json!({
        "$schema": DRAFT,
        "title": format!("{} v{}", E::ACTION, E::VERSION),
        "type": "object",
        "properties": {
            "id": id_pattern(crate::EventId::PREFIX, true),
            "action": {"const": E::ACTION},
            "version": {"const": E::VERSION},
            "occurred_at": {
                "type": "string",
                "format": "date-time",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"
            },
            "outcome": {"enum": ["success", "failure", "denied"]},
            "actor": {"$ref": "#/$defs/AuditActor"},
            "subjects": {"type": "array", "items": {"$ref": "#/$defs/AuditSubject"}, "minItems": 1},
            "message": {"type": "string"},
            "details": details,
            "context": {"$ref": "#/$defs/AuditContext"},
            "seq": {"type": "integer", "minimum": 1},
            "prev_hash": hash,
            "hash": hash
        },
        "required": ["id", "action", "version", "occurred_at", "outcome", "actor", "subjects", "details", "context"],
        "additionalProperties": false,
        "$defs": Value::Object(defs)
    })
}

/// The `details` object of named properties, all required, nothing else.
#[doc(hidden)]
#[must_use]
pub fn details_object(properties: &Map<String, Value>) -> Schema {
    let required: Vec<Value> = properties.keys().cloned().map(Value::String).collect();
    let value = json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false
    });
    schema_of(value)
}

/// An ID's schema: its text form, exactly (a canonical last character).
#[doc(hidden)]
#[must_use]
pub fn id_schema<T: PrefixedId>() -> Schema {
    match id_pattern(T::PREFIX, T::SORTABLE) {
        Value::Object(mut map) => {
            map.insert(
                "description".into(),
                json!(format!(
                    "A `{}` ID: `{}_` and 22 base64url characters",
                    T::NAME,
                    T::PREFIX
                )),
            );
            Schema::from(map)
        }
        _ => Schema::default(),
    }
}

fn id_pattern(prefix: &str, sortable: bool) -> Value {
    // The last character carries 2 bits: the values 0, 16, 32 and 48.
    let last = if sortable { "[-FVk]" } else { "[AQgw]" };
    json!({
        "type": "string",
        "pattern": format!("^{prefix}_[-0-9A-Za-z_]{{21}}{last}$")
    })
}

impl<T> JsonSchema for crate::Redacted<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Redacted".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema_of(json!({
            "const": crate::event::REDACTED,
            "description": "A value kept out of the audit log"
        }))
    }
}

fn schema_of(value: Value) -> Schema {
    match value {
        Value::Object(map) => Schema::from(map),
        _ => Schema::default(),
    }
}

impl JsonSchema for crate::Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema_of(json!({"type": "string", "format": "date-time"}))
    }
}

impl JsonSchema for crate::Outcome {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Outcome".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema_of(json!({"enum": ["success", "failure", "denied"]}))
    }
}
