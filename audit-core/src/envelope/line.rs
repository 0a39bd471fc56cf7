//! An envelope's compact JSON line, written directly: the bytes `serde_json` writes for the
//! envelope's `Serialize` impl (tests hold the two together), without serde's per-field
//! machinery and with strings escaped a word at a time.

use super::{EntityRecord, Envelope};
use crate::json::{Members, write_ip, write_str, write_str_object, write_u64};

/// Writes the envelope up to and including its `context`, without the closing brace: what
/// every line shares whatever its chain fields.
pub(crate) fn body(out: &mut Vec<u8>, e: &Envelope) {
    out.extend_from_slice(b"{\"id\":\"");
    out.extend_from_slice(e.id.encode().as_bytes());
    out.extend_from_slice(b"\",\"action\":");
    write_str(out, &e.action);
    out.extend_from_slice(b",\"version\":");
    write_u64(out, u64::from(e.version));
    out.extend_from_slice(b",\"occurred_at\":\"");
    out.extend_from_slice(&e.occurred_at.format());
    out.extend_from_slice(b"\",\"outcome\":\"");
    out.extend_from_slice(e.outcome.as_str().as_bytes());
    out.extend_from_slice(b"\",\"actor\":");
    let actor = &e.actor;
    let mut members = Members::new();
    out.push(b'{');
    for (name, value) in [
        ("type", &actor.kind[..]),
        ("id", &actor.id),
        ("display", &actor.display),
    ] {
        members.key(out, name);
        write_str(out, value);
    }
    if let Some(principal) = &actor.on_behalf_of {
        out.extend_from_slice(b",\"on_behalf_of\":");
        entity(out, principal);
    }
    out.extend_from_slice(b"},\"subjects\":[");
    for (i, s) in e.subjects.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str_object(
            out,
            &[
                ("role", &s.role),
                ("type", &s.kind),
                ("id", &s.id),
                ("display", &s.display),
            ],
        );
    }
    out.push(b']');
    if let Some(message) = &e.message {
        out.extend_from_slice(b",\"message\":");
        write_str(out, message);
    }
    out.extend_from_slice(b",\"details\":");
    out.extend_from_slice(e.details.get().as_bytes());
    out.extend_from_slice(b",\"context\":");
    context(out, &e.context);
}

/// Writes the chain fields that are present, and the closing brace.
pub(crate) fn close(
    out: &mut Vec<u8>,
    seq: Option<u64>,
    prev_hash: Option<&str>,
    hash: Option<&str>,
) {
    if let Some(seq) = seq {
        out.extend_from_slice(b",\"seq\":");
        write_u64(out, seq);
    }
    if let Some(prev_hash) = prev_hash {
        out.extend_from_slice(b",\"prev_hash\":");
        write_str(out, prev_hash);
    }
    if let Some(hash) = hash {
        out.extend_from_slice(b",\"hash\":");
        write_str(out, hash);
    }
    out.push(b'}');
}

fn entity(out: &mut Vec<u8>, e: &EntityRecord) {
    write_str_object(
        out,
        &[("type", &e.kind), ("id", &e.id), ("display", &e.display)],
    );
}

/// The context as its `Serialize` impl writes it: the fields that are set, in declaration
/// order, `extra` in key order.
fn context(out: &mut Vec<u8>, context: &crate::Context) {
    out.push(b'{');
    let mut members = Members::new();
    if let Some(v) = context.request_id_str() {
        members.key(out, "request_id");
        write_str(out, v);
    }
    if let Some(ip) = context.ip_addr() {
        members.key(out, "ip");
        write_ip(out, ip);
    }
    for (name, v) in [
        ("user_agent", context.user_agent_str()),
        ("tenant", context.tenant_str()),
        ("trace_id", context.trace_id_str()),
    ] {
        if let Some(v) = v {
            members.key(out, name);
            write_str(out, v);
        }
    }
    let extra = context.extra();
    if !extra.is_empty() {
        members.key(out, "extra");
        out.push(b'{');
        for (i, (k, v)) in extra.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            write_str(out, v);
        }
        out.push(b'}');
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use crate::Context;
    use crate::envelope::fixture::tricky_envelope;

    #[test]
    fn lines_are_the_bytes_serde_json_writes() {
        let contexts = [
            Context::new(),
            Context::new().request_id("req-1"),
            Context::new()
                .request_id("req-\"1\"")
                .ip("2001:db8::1".parse().unwrap())
                .user_agent("curl/8 \u{7f}")
                .tenant("t")
                .trace_id("abc")
                .with("zeta", "1")
                .with("alpha", "2\n")
                .with("é", "3"),
            Context::new()
                .ip("203.0.113.7".parse().unwrap())
                .with("k", "v"),
        ];
        for details in ["{}", r#"{"b":1,"a":[1.5,null],"c":{"d":"\u0000"}}"#] {
            for context in &contexts {
                for message in [None, Some("Alice \u{2028} did \"it\"")] {
                    for behalf in [false, true] {
                        let mut e = tricky_envelope(details, context.clone(), message, behalf);
                        assert_eq!(e.to_json(), serde_json::to_string(&e).unwrap());
                        e.seq = Some(12);
                        assert_eq!(e.to_json(), serde_json::to_string(&e).unwrap());
                        e.prev_hash = Some("ab".repeat(32));
                        e.hash = Some("cd".repeat(32));
                        assert_eq!(e.to_json(), serde_json::to_string(&e).unwrap());
                        e.seq = None;
                        assert_eq!(e.to_json(), serde_json::to_string(&e).unwrap());
                    }
                }
            }
        }
    }
}
