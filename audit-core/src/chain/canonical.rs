//! RFC 8785 (JCS) canonical JSON of an envelope at a chain position, written directly.
//!
//! The envelope's own fields have a fixed shape, so their keys are written in their sorted
//! order without buffering; only the free-form parts (the details and the context's extra
//! key-values) go through a general canonicalizer: keys sorted by UTF-16 code units, numbers
//! in the ECMAScript form (`1` for `1.0`, `1e+21`), strings escaped as JCS (and
//! `serde_json`) escape them. Tests check it against an independent JCS implementation.

use std::io::{self, Write};

use serde_json::Value;

use crate::Envelope;
use crate::envelope::EntityRecord;

/// Writes the canonical JSON of `envelope` with `seq` and `prev_hash`, without `hash`.
///
/// Keys in sorted order: `action`, `actor`, `context`, `details`, `id`, `message`,
/// `occurred_at`, `outcome`, `prev_hash`, `seq`, `subjects`, `version`. Everything before
/// `prev_hash`'s value is the [`head`],
/// everything after `seq`'s value the [`tail`]: neither depends on the chain position, so a
/// sealed envelope computes them once, in the emitting thread.
pub(crate) fn write<W: Write>(
    out: &mut W,
    envelope: &Envelope,
    seq: u64,
    prev_hash: &str,
) -> io::Result<()> {
    head(out, envelope)?;
    position(out, seq, prev_hash)?;
    tail(out, envelope)
}

/// The chain position: `prev_hash`'s value, then `,"seq":` and its value.
pub(crate) fn position<W: Write>(out: &mut W, seq: u64, prev_hash: &str) -> io::Result<()> {
    string(out, prev_hash)?;
    out.write_all(b",\"seq\":")?;
    out.write_all(itoa::Buffer::new().format(seq).as_bytes())
}

/// From the opening brace up to `"prev_hash":`.
pub(crate) fn head<W: Write>(out: &mut W, envelope: &Envelope) -> io::Result<()> {
    out.write_all(b"{\"action\":")?;
    string(out, &envelope.action)?;
    out.write_all(b",\"actor\":{\"display\":")?;
    let actor = &envelope.actor;
    string(out, &actor.display)?;
    out.write_all(b",\"id\":")?;
    string(out, &actor.id)?;
    if let Some(principal) = &actor.on_behalf_of {
        out.write_all(b",\"on_behalf_of\":")?;
        entity(out, principal)?;
    }
    out.write_all(b",\"type\":")?;
    string(out, &actor.kind)?;
    out.write_all(b"},\"context\":")?;
    context(out, &envelope.context)?;
    out.write_all(b",\"details\":")?;
    let details: Value = serde_json::from_str(envelope.details.get()).map_err(io::Error::other)?;
    value(out, &details)?;
    out.write_all(b",\"id\":\"")?;
    out.write_all(envelope.id.encode().as_bytes())?;
    out.write_all(b"\"")?;
    if let Some(message) = &envelope.message {
        out.write_all(b",\"message\":")?;
        string(out, message)?;
    }
    write!(
        out,
        ",\"occurred_at\":\"{}\",\"outcome\":\"{}\",\"prev_hash\":",
        envelope.occurred_at,
        envelope.outcome.as_str()
    )
}

/// From `,"subjects":` to the closing brace.
pub(crate) fn tail<W: Write>(out: &mut W, envelope: &Envelope) -> io::Result<()> {
    out.write_all(b",\"subjects\":[")?;
    for (i, s) in envelope.subjects.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"{\"display\":")?;
        string(out, &s.display)?;
        out.write_all(b",\"id\":")?;
        string(out, &s.id)?;
        out.write_all(b",\"role\":")?;
        string(out, &s.role)?;
        out.write_all(b",\"type\":")?;
        string(out, &s.kind)?;
        out.write_all(b"}")?;
    }
    write!(out, "],\"version\":{}}}", envelope.version)
}

fn entity<W: Write>(out: &mut W, e: &EntityRecord) -> io::Result<()> {
    out.write_all(b"{\"display\":")?;
    string(out, &e.display)?;
    out.write_all(b",\"id\":")?;
    string(out, &e.id)?;
    out.write_all(b",\"type\":")?;
    string(out, &e.kind)?;
    out.write_all(b"}")
}

fn context<W: Write>(out: &mut W, context: &crate::Context) -> io::Result<()> {
    // Keys in sorted order: extra, ip, request_id, tenant, trace_id, user_agent.
    out.write_all(b"{")?;
    let mut first = true;
    let mut key = |out: &mut W, name: &str| -> io::Result<()> {
        if !std::mem::take(&mut first) {
            out.write_all(b",")?;
        }
        string(out, name)?;
        out.write_all(b":")
    };
    let extra = context.extra();
    if !extra.is_empty() {
        key(out, "extra")?;
        let mut pairs: Vec<(&String, &String)> = extra.iter().collect();
        pairs.sort_by(|a, b| utf16_order(a.0, b.0));
        out.write_all(b"{")?;
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            string(out, k)?;
            out.write_all(b":")?;
            string(out, v)?;
        }
        out.write_all(b"}")?;
    }
    if let Some(ip) = context.ip_addr() {
        key(out, "ip")?;
        write!(out, "\"{ip}\"")?;
    }
    let rest = [
        ("request_id", context.request_id_str()),
        ("tenant", context.tenant_str()),
        ("trace_id", context.trace_id_str()),
        ("user_agent", context.user_agent_str()),
    ];
    for (name, v) in rest {
        if let Some(v) = v {
            key(out, name)?;
            string(out, v)?;
        }
    }
    out.write_all(b"}")
}

/// JCS sorts object keys by their UTF-16 code units; for ASCII keys that is byte order.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// A string as JCS writes it: `"`, `\` and control characters escaped (short forms for
/// `\b \t \n \f \r`, else `\u00xx` in lowercase), everything else as is; that is exactly
/// `serde_json`'s escaping.
fn string<W: Write>(out: &mut W, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *out, s).map_err(io::Error::other)
}

fn value<W: Write>(out: &mut W, v: &Value) -> io::Result<()> {
    match v {
        Value::Null => out.write_all(b"null"),
        Value::Bool(b) => out.write_all(if *b { b"true" } else { b"false" }),
        Value::Number(n) => number(out, n),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                value(out, item)?;
            }
            out.write_all(b"]")
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| utf16_order(a.0, b.0));
            out.write_all(b"{")?;
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                string(out, k)?;
                out.write_all(b":")?;
                value(out, item)?;
            }
            out.write_all(b"}")
        }
    }
}

/// A number in the ECMAScript `Number.prototype.toString` form that JCS requires.
fn number<W: Write>(out: &mut W, n: &serde_json::Number) -> io::Result<()> {
    if let Some(i) = n.as_i64() {
        return write!(out, "{i}");
    }
    if let Some(u) = n.as_u64() {
        return write!(out, "{u}");
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => {
            let mut buf = ryu_js::Buffer::new();
            out.write_all(buf.format_finite(f).as_bytes())
        }
        _ => Err(io::Error::other(format!(
            "the number {n} cannot be written as canonical JSON"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use crate::{Context, Envelope};

    /// The oracle: an independent RFC 8785 serializer over the envelope's serde form.
    fn oracle(envelope: &Envelope, seq: u64, prev: &str) -> String {
        let mut out = Vec::new();
        let mut ser =
            serde_json::Serializer::with_formatter(&mut out, canon_json::CanonicalFormatter::new());
        envelope
            .view_at(Some(seq), Some(prev), None)
            .serialize(&mut ser)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn envelope(details: &str, context: Context, message: Option<&str>, behalf: bool) -> Envelope {
        let on_behalf = if behalf {
            r#","on_behalf_of":{"type":"user","id":"user_B","display":"Bé"}"#
        } else {
            ""
        };
        let text = format!(
            r#"{{"id":"evt_----------------------","action":"a.b","version":7,
            "occurred_at":"2026-12-04T19:40:00.123456Z","outcome":"denied",
            "actor":{{"type":"user","id":"user_A","display":"Al\"ice\n\u0001"{on_behalf}}},
            "subjects":[{{"role":"r","type":"t","id":"x","display":"😀"}},{{"role":"z","type":"t","id":"y","display":""}}],
            {message}"details":{details},"context":{{}}}}"#,
            message = message.map_or(String::new(), |m| format!(
                "\"message\":{},",
                serde_json::to_string(m).unwrap()
            )),
        );
        let mut e: Envelope = serde_json::from_str(&text).unwrap();
        e.context = context;
        e
    }

    #[test]
    fn agrees_with_an_independent_implementation() {
        let details = [
            "{}",
            r#"{"b":1,"a":[1.0,0.1,1e21,1e-7,-0.0,123456789.25,9007199254740991,-5],"c":null}"#,
            r#"{"é":1,"z":2,"\uE000":3,"😀":4,"Z":{"y":true,"x":false},"":"empty"}"#,
            r#"{"nested":{"deep":[{"k":"v\u001f\u007f/"}]},"n":-1.5e300}"#,
        ];
        let contexts = [
            Context::new(),
            Context::new()
                .request_id("req-1")
                .ip("2001:db8::1".parse().unwrap())
                .user_agent("curl/8 \"x\"")
                .tenant("t")
                .trace_id("abc")
                .with("zeta", "1")
                .with("alpha", "2")
                .with("é", "3"),
        ];
        for details in details {
            for context in &contexts {
                for message in [None, Some("Alice \u{2028} did it")] {
                    for behalf in [false, true] {
                        let e = envelope(details, context.clone(), message, behalf);
                        let mut ours = Vec::new();
                        super::write(&mut ours, &e, 42, crate::chain::GENESIS_HASH).unwrap();
                        assert_eq!(
                            String::from_utf8(ours).unwrap(),
                            oracle(&e, 42, crate::chain::GENESIS_HASH),
                            "details {details}"
                        );
                    }
                }
            }
        }
    }
}
