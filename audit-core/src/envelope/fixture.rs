//! For the unit tests of the envelope writers: an envelope with every part that needs care
//! (escapes, control characters, non-BMP text, an empty display, an optional message, an
//! impersonated actor).

use crate::{Context, Envelope};

/// The envelope with `details` (JSON text), `context`, `message` and, when `behalf`, an
/// actor acting on behalf of another.
pub(crate) fn tricky_envelope(
    details: &str,
    context: Context,
    message: Option<&str>,
    behalf: bool,
) -> Envelope {
    let on_behalf = if behalf {
        r#","on_behalf_of":{"type":"user","id":"user_B","display":"B\té"}"#
    } else {
        ""
    };
    let message = message.map_or(String::new(), |m| {
        format!("\"message\":{},", serde_json::to_string(m).unwrap())
    });
    let text = format!(
        r#"{{"id":"evt_----------------------","action":"a.b","version":7,
        "occurred_at":"2026-12-04T19:40:00.123456Z","outcome":"denied",
        "actor":{{"type":"user","id":"user_A","display":"Al\"ice\n\u0001 \\ x"{on_behalf}}},
        "subjects":[{{"role":"r","type":"t","id":"x","display":"😀"}},{{"role":"z","type":"t","id":"y","display":""}}],
        {message}"details":{details},"context":{{}}}}"#
    );
    let mut envelope: Envelope = serde_json::from_str(&text).unwrap();
    envelope.context = context;
    envelope
}
