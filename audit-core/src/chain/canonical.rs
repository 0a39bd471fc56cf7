//! RFC 8785 (JCS) canonical JSON of an envelope at a chain position, written directly.
//!
//! The envelope's own fields have a fixed shape, so their keys are written in their sorted
//! order without buffering; only the free-form parts (the details and the context's extra
//! key-values) go through a general canonicalizer: keys sorted by UTF-16 code units, numbers
//! in the ECMAScript form (`1` for `1.0`, `1e+21`), strings escaped as JCS (and
//! `serde_json`) escape them. The details are canonicalized from their JSON text in one
//! pass, without building a tree. Tests check it against an independent JCS implementation.

use std::borrow::Cow;
use std::io;

use crate::Envelope;
use crate::envelope::EntityRecord;
use crate::json::{Members, write_ip, write_str, write_str_object, write_u64};

/// Writes the canonical JSON of `envelope` with `seq` and `prev_hash`, without `hash`.
///
/// Keys in sorted order: `action`, `actor`, `context`, `details`, `id`, `message`,
/// `occurred_at`, `outcome`, `prev_hash`, `seq`, `subjects`, `version`. Everything before
/// `prev_hash`'s value is the [`head`], everything after `seq`'s value the [`tail`]: neither
/// depends on the chain position, so a sealed envelope computes them once, in the emitting
/// thread.
pub(crate) fn write(
    out: &mut Vec<u8>,
    envelope: &Envelope,
    seq: u64,
    prev_hash: &str,
) -> io::Result<()> {
    head(out, envelope)?;
    position(out, seq, prev_hash);
    tail(out, envelope);
    Ok(())
}

/// The chain position: `prev_hash`'s value, then `,"seq":` and its value.
pub(crate) fn position(out: &mut Vec<u8>, seq: u64, prev_hash: &str) {
    write_str(out, prev_hash);
    out.extend_from_slice(b",\"seq\":");
    write_u64(out, seq);
}

/// From the opening brace up to `"prev_hash":`.
///
/// # Errors
///
/// When the details hold a number that has no canonical form (beyond the range of a
/// double), or are not JSON.
pub(crate) fn head(out: &mut Vec<u8>, envelope: &Envelope) -> io::Result<()> {
    out.extend_from_slice(b"{\"action\":");
    write_str(out, &envelope.action);
    out.extend_from_slice(b",\"actor\":{\"display\":");
    let actor = &envelope.actor;
    write_str(out, &actor.display);
    out.extend_from_slice(b",\"id\":");
    write_str(out, &actor.id);
    if let Some(principal) = &actor.on_behalf_of {
        out.extend_from_slice(b",\"on_behalf_of\":");
        entity(out, principal);
    }
    out.extend_from_slice(b",\"type\":");
    write_str(out, &actor.kind);
    out.extend_from_slice(b"},\"context\":");
    context(out, &envelope.context);
    out.extend_from_slice(b",\"details\":");
    details(out, envelope.details.get())?;
    out.extend_from_slice(b",\"id\":\"");
    out.extend_from_slice(envelope.id.encode().as_bytes());
    out.push(b'"');
    if let Some(message) = &envelope.message {
        out.extend_from_slice(b",\"message\":");
        write_str(out, message);
    }
    out.extend_from_slice(b",\"occurred_at\":\"");
    out.extend_from_slice(&envelope.occurred_at.format());
    out.extend_from_slice(b"\",\"outcome\":\"");
    out.extend_from_slice(envelope.outcome.as_str().as_bytes());
    out.extend_from_slice(b"\",\"prev_hash\":");
    Ok(())
}

/// From `,"subjects":` to the closing brace.
pub(crate) fn tail(out: &mut Vec<u8>, envelope: &Envelope) {
    out.extend_from_slice(b",\"subjects\":[");
    for (i, s) in envelope.subjects.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str_object(
            out,
            &[
                ("display", &s.display),
                ("id", &s.id),
                ("role", &s.role),
                ("type", &s.kind),
            ],
        );
    }
    out.extend_from_slice(b"],\"version\":");
    write_u64(out, u64::from(envelope.version));
    out.push(b'}');
}

fn entity(out: &mut Vec<u8>, e: &EntityRecord) {
    write_str_object(
        out,
        &[("display", &e.display), ("id", &e.id), ("type", &e.kind)],
    );
}

fn context(out: &mut Vec<u8>, context: &crate::Context) {
    // Keys in sorted order: extra, ip, request_id, tenant, trace_id, user_agent.
    out.push(b'{');
    let mut members = Members::new();
    let extra = context.extra();
    if !extra.is_empty() {
        members.key(out, "extra");
        let mut pairs: Vec<(&String, &String)> = extra.iter().collect();
        pairs.sort_by(|a, b| utf16_order(a.0, b.0));
        out.push(b'{');
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            write_str(out, v);
        }
        out.push(b'}');
    }
    if let Some(ip) = context.ip_addr() {
        members.key(out, "ip");
        write_ip(out, ip);
    }
    let rest = [
        ("request_id", context.request_id_str()),
        ("tenant", context.tenant_str()),
        ("trace_id", context.trace_id_str()),
        ("user_agent", context.user_agent_str()),
    ];
    for (name, v) in rest {
        if let Some(v) = v {
            members.key(out, name);
            write_str(out, v);
        }
    }
    out.push(b'}');
}

/// JCS sorts object keys by their UTF-16 code units; for ASCII keys that is byte order.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// The canonical form of the details' JSON text.
///
/// It gives what parsing the text into a `serde_json::Value` and writing that canonically
/// gives (the chain's hashes must not change with the implementation): numbers are read as
/// `serde_json` reads them, escapes are resolved, and of a key given twice the last value
/// counts.
fn details(out: &mut Vec<u8>, text: &str) -> io::Result<()> {
    let mut parser = Parser {
        text,
        at: 0,
        depth: 0,
    };
    parser.value(out)?;
    parser.skip_space();
    if parser.at == text.len() {
        Ok(())
    } else {
        Err(parser.error("trailing characters"))
    }
}

/// Nesting this deep is an error, as it is for `serde_json`'s parser (which accepts 127
/// levels).
const MAX_DEPTH: usize = 128;

struct Parser<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

/// One object member, canonicalized into the object's scratch buffer.
struct Member<'a> {
    key: Cow<'a, str>,
    value: std::ops::Range<usize>,
}

impl<'a> Parser<'a> {
    fn error(&self, what: &str) -> io::Error {
        io::Error::other(format!(
            "the details are not JSON: {what} at byte {}",
            self.at
        ))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> io::Result<()> {
        self.skip_space();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected `{}`", char::from(byte))))
        }
    }

    fn value(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        self.skip_space();
        match self.peek() {
            Some(b'{') => self.nested(out, Self::object),
            Some(b'[') => self.nested(out, Self::array),
            Some(b'"') => {
                let s = self.string()?;
                write_str(out, &s);
                Ok(())
            }
            Some(b't') => self.literal(out, "true"),
            Some(b'f') => self.literal(out, "false"),
            Some(b'n') => self.literal(out, "null"),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            _ => Err(self.error("expected a value")),
        }
    }

    fn nested(
        &mut self,
        out: &mut Vec<u8>,
        f: fn(&mut Self, &mut Vec<u8>) -> io::Result<()>,
    ) -> io::Result<()> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.at += 1;
        let result = f(self, out);
        self.depth -= 1;
        result
    }

    fn literal(&mut self, out: &mut Vec<u8>, word: &str) -> io::Result<()> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            out.extend_from_slice(word.as_bytes());
            Ok(())
        } else {
            Err(self.error("expected a value"))
        }
    }

    /// After `[`.
    fn array(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        out.push(b'[');
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            out.push(b']');
            return Ok(());
        }
        loop {
            self.value(out)?;
            self.skip_space();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    out.push(b',');
                }
                Some(b']') => {
                    self.at += 1;
                    out.push(b']');
                    return Ok(());
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    /// After `{`: members are canonicalized into a scratch buffer, then written in key
    /// order.
    fn object(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut scratch = Vec::new();
        let mut members: Vec<Member<'a>> = Vec::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                self.skip_space();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a key"));
                }
                let key = self.string()?;
                self.expect(b':')?;
                let start = scratch.len();
                self.value(&mut scratch)?;
                members.push(Member {
                    key,
                    value: start..scratch.len(),
                });
                self.skip_space();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.error("expected `,` or `}`")),
                }
            }
        }
        // Stable: of equal keys, the last one given stays last, and is the one kept.
        members.sort_by(|a, b| utf16_order(&a.key, &b.key));
        out.push(b'{');
        let mut first = true;
        for (i, m) in members.iter().enumerate() {
            if members.get(i + 1).is_some_and(|next| next.key == m.key) {
                continue;
            }
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            write_str(out, &m.key);
            out.push(b':');
            out.extend_from_slice(&scratch[m.value.clone()]);
        }
        out.push(b'}');
        Ok(())
    }

    /// A string at `"`, unescaped; borrowed when it has no escapes.
    fn string(&mut self) -> io::Result<Cow<'a, str>> {
        let start = self.at;
        let bytes = self.text.as_bytes();
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            match bytes.get(i) {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    i += 2;
                }
                // JSON strings hold no raw control characters.
                Some(0..0x20) => return Err(self.error("control character in a string")),
                Some(_) => i += 1,
                None => return Err(self.error("unterminated string")),
            }
        }
        self.at = i + 1;
        let quoted = self
            .text
            .get(start..=i)
            .ok_or_else(|| self.error("bad string"))?;
        if escaped {
            serde_json::from_str::<String>(quoted)
                .map(Cow::Owned)
                .map_err(|e| self.error(&e.to_string()))
        } else {
            Ok(Cow::Borrowed(&quoted[1..quoted.len() - 1]))
        }
    }

    /// A number, read as `serde_json` reads it, written in the ECMAScript form.
    fn number(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let start = self.at;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.at += 1;
        }
        let token = &self.text[start..self.at];
        if is_small_integer(token) {
            // Already in its canonical form: what `serde_json` reads as an i64 or u64 and
            // writes back unchanged.
            out.extend_from_slice(token.as_bytes());
            return Ok(());
        }
        let n: serde_json::Number =
            serde_json::from_str(token).map_err(|e| self.error(&e.to_string()))?;
        number(out, &n)
    }
}

/// `0`, or an integer of at most 15 digits without a leading zero, optionally negative: a
/// JSON integer well within the i64 range. `-0` is not one (it reads as a float, written `0`).
fn is_small_integer(token: &str) -> bool {
    let digits = token.strip_prefix('-').unwrap_or(token).as_bytes();
    if token == "0" {
        return true;
    }
    matches!(digits.first(), Some(b'1'..=b'9'))
        && digits.len() <= 15
        && digits.iter().all(u8::is_ascii_digit)
}

/// A number in the ECMAScript `Number.prototype.toString` form that JCS requires.
fn number(out: &mut Vec<u8>, n: &serde_json::Number) -> io::Result<()> {
    if let Some(i) = n.as_i64() {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
        return Ok(());
    }
    if let Some(u) = n.as_u64() {
        write_u64(out, u);
        return Ok(());
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => {
            let mut buf = ryu_js::Buffer::new();
            out.extend_from_slice(buf.format_finite(f).as_bytes());
            Ok(())
        }
        _ => Err(io::Error::other(format!(
            "the number {n} cannot be written as canonical JSON"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use crate::envelope::fixture::tricky_envelope;
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
                        let e = tricky_envelope(details, context.clone(), message, behalf);
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

    /// The implementation the streaming canonicalizer replaced: parse into a `Value`, write
    /// that. Hashes already stored were made with it, so the two must agree byte for byte.
    fn via_value(text: &str) -> Result<String, String> {
        fn value(out: &mut Vec<u8>, v: &serde_json::Value) {
            use serde_json::Value;
            match v {
                Value::Null => out.extend_from_slice(b"null"),
                Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
                Value::Number(n) => super::number(out, n).unwrap(),
                Value::String(s) => crate::json::write_str(out, s),
                Value::Array(items) => {
                    out.push(b'[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        value(out, item);
                    }
                    out.push(b']');
                }
                Value::Object(map) => {
                    let mut entries: Vec<_> = map.iter().collect();
                    entries.sort_by(|a, b| super::utf16_order(a.0, b.0));
                    out.push(b'{');
                    for (i, (k, item)) in entries.into_iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        crate::json::write_str(out, k);
                        out.push(b':');
                        value(out, item);
                    }
                    out.push(b'}');
                }
            }
        }
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if let Some(n) = find_unwritable(&v) {
            return Err(n);
        }
        let mut out = Vec::new();
        value(&mut out, &v);
        Ok(String::from_utf8(out).unwrap())
    }

    fn find_unwritable(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::Number(n) if n.as_f64().is_none_or(|f| !f.is_finite()) => {
                Some(n.to_string())
            }
            serde_json::Value::Array(items) => items.iter().find_map(find_unwritable),
            serde_json::Value::Object(map) => map.values().find_map(find_unwritable),
            _ => None,
        }
    }

    /// The nesting limit is `serde_json`'s: 127 levels parse, 128 do not.
    #[test]
    fn nesting_is_limited_where_serde_json_limits_it() {
        for depth in [126, 127, 128, 129] {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let mut ours = Vec::new();
            let streamed =
                super::details(&mut ours, &text).map(|()| String::from_utf8(ours).unwrap());
            assert_eq!(streamed.is_ok(), via_value(&text).is_ok(), "depth {depth}");
            if let Ok(streamed) = streamed {
                assert_eq!(streamed, via_value(&text).unwrap());
            }
        }
    }

    #[test]
    fn streaming_details_agree_with_the_value_route() {
        let texts = [
            "{}",
            " { } ",
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2,"b":{"x":1,"x":[3,4]}}"#,
            r#"{ "z" : [ 1 , 2.50 , -0 , -0.0 , 1E3 , 1e-7 , 18446744073709551615 , -9223372036854775808 ] }"#,
            r#"{"n":18446744073709551616,"m":-9223372036854775809,"f":123456789012345678901234567890}"#,
            r#"{"\u0061":"\u00e9\ud83d\ude00\/\b","a":"x","é":1,"\uE000":2,"😀":3}"#,
            r#"{"s":"\u007f\u001f\"\\","t":true,"f":false,"n":null}"#,
            r#"[{"b":[{"d":1,"c":2}],"a":null}]"#,
            r#""just a string""#,
            "42",
        ];
        for text in texts {
            let mut ours = Vec::new();
            super::details(&mut ours, text).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                via_value(text).unwrap(),
                "{text}"
            );
        }
        for bad in [
            r#"{"n":1e999}"#,
            r#"{"a":1"#,
            r#"{"a":1}x"#,
            r#"{"a":tru}"#,
            r#"{"s":"\ud800"}"#,
            r"{a:1}",
            "",
            &"[".repeat(200),
            "{\"a\":\"x\ny\"}",
            "{\"a\tb\":1}",
        ] {
            let mut ours = Vec::new();
            assert!(super::details(&mut ours, bad).is_err(), "{bad}");
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let key = prop_oneof![
            "[a-z]{0,3}",
            "[a-zA-Z0-9_\u{e9}\u{e000}\u{1f600}\\\"\\n]{0,4}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "\\PC{0,6}".prop_map(Value::String),
            "[\u{0}-\u{7f}]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever JSON the details hold, compact or pretty, the streaming canonicalizer
        /// writes the bytes the `Value` route writes: stored hashes stay valid.
        #[test]
        fn streaming_details_agree_with_the_value_route_on_any_json(
            value in json_value(),
            pretty in proptest::prelude::any::<bool>(),
        ) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            let mut ours = Vec::new();
            super::details(&mut ours, &text).unwrap();
            proptest::prop_assert_eq!(String::from_utf8(ours).unwrap(), via_value(&text).unwrap());
        }
    }
}
