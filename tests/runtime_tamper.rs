//! Tamper evidence of `JsonlSink`, as an auditor of the log sees it: the chain format checked
//! against an independent oracle (SHA-256 of a hand-written RFC 8785 canonical form), then a
//! ~20-event log edited, extended, cut, reordered and rewritten, each caught (or, for a cut
//! tail without an anchor, shown to need one), and a torn last line reported apart.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use audit_core::chain::{Anchor, Break, ChainHead, GENESIS_HASH, VerifyError, VerifyReport};
use audit_core::sink::JsonlSink;
use audit_core::{Actor, AuditEvent, Auditor, Context, EntityRef, Envelope, PrefixedId, Redacted};
use serde_json::Value;
use sha2::{Digest, Sha256};

#[path = "support/temp_dir.rs"]
mod temp_dir;
use temp_dir::TempDir;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEvent)]
#[audit(
    action = "widget.purchased",
    version = 1,
    message = "{actor} bought {quantity} of {widget}"
)]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub quantity: u32,
    pub price: f64,
    pub card_last4: Redacted<String>,
    /// Keys chosen so that UTF-16 order (RFC 8785) differs from UTF-8/code point order:
    /// U+FB01 sorts before U+1F600 by code point, after it by UTF-16 code unit.
    pub tags: BTreeMap<String, i64>,
    pub note: String,
}

#[derive(AuditEvent)]
#[audit(action = "job.ran", message = "{actor} ran")]
pub struct JobRan {
    #[audit(actor)]
    pub job: Actor,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    pub nested: Value,
}

const EVENTS: usize = 20;

/// A log of `EVENTS` events, with the report of its first verification.
struct Log {
    _dir: TempDir,
    path: PathBuf,
    lines: Vec<String>,
    report: VerifyReport,
}

impl Log {
    fn anchor(&self) -> Anchor {
        Anchor {
            seq: self.report.last_seq,
            hash: self.report.last_hash.clone(),
        }
    }

    fn rewrite(&self, lines: &[String]) {
        let mut text = lines.join("\n");
        text.push('\n');
        fs::write(&self.path, text).expect("rewrite the log");
    }

    fn verify(&self) -> Result<VerifyReport, VerifyError> {
        JsonlSink::verify(&self.path)
    }
}

fn write_log(name: &str) -> Log {
    let dir = TempDir::new(name);
    let path = dir.file("audit.jsonl");
    let auditor = Auditor::builder()
        .sink(JsonlSink::open(&path).expect("open"))
        .build()
        .expect("build");
    let alice = EntityRef::new(UserId::new(), "Alice");
    for i in 0..EVENTS {
        let widget = EntityRef::new(WidgetId::new(), format!("Widget \"{i}\" é\t😀"));
        let ctx = Context::new()
            .request_id(format!("req-{i}"))
            .ip("203.0.113.7".parse().expect("ip"))
            .with("zeta", "z")
            .with("alpha", "a");
        if i % 5 == 4 {
            let nested = serde_json::json!({
                "z": [1, 2.5, -3, {"b": null, "a": true}],
                "a": {"ﬁ": 1, "😀": 2, "é": 3, "A": 4},
                "m": "line\nbreak \u{1} \u{7f} \"q\" \\ /",
            });
            auditor
                .emit_with(
                    &ctx,
                    JobRan {
                        job: Actor::system("nightly-billing"),
                        widget,
                        nested,
                    },
                )
                .expect("emit");
        } else {
            let tags = [("ﬁ", 1), ("😀", 2), ("b", -3), ("A", 4), ("é", 5)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v * i64::try_from(i).expect("small")))
                .collect();
            auditor
                .emit_with(
                    &ctx,
                    WidgetPurchased {
                        buyer: alice.clone(),
                        widget,
                        quantity: u32::try_from(i).expect("small") + 1,
                        price: 0.1 * f64::from(u32::try_from(i).expect("small")) + 2.5,
                        card_last4: Redacted::new("4242".to_owned()),
                        tags,
                        note: "ok".to_owned(),
                    },
                )
                .expect("emit");
        }
    }
    let report = auditor.shutdown();
    assert!(report.is_clean(), "{report:?}");
    let lines: Vec<String> = fs::read_to_string(&path)
        .expect("read log")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), EVENTS);
    let report = JsonlSink::verify(&path).expect("the untouched log verifies");
    Log {
        _dir: dir,
        path,
        lines,
        report,
    }
}

fn broken_at(result: Result<VerifyReport, VerifyError>) -> (u64, Break) {
    match result {
        Err(VerifyError::Broken { seq, why }) => (seq, why),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The oracle: RFC 8785 canonical JSON, written by hand.

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // RFC 8785 §3.2.3: sort by the keys' UTF-16 code units.
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).expect("a string serializes"));
                out.push(':');
                canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        Value::Number(n) => {
            // The numbers of these events are integers and short decimals, which ECMAScript
            // and serde_json print alike; anything else would need the ES6 algorithm.
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                assert!(
                    f.abs() >= 1e-6 && f.abs() < 1e21 || f == 0.0,
                    "the oracle does not format {f}"
                );
                if f.fract() == 0.0 {
                    out.push_str(&format!("{f:.0}"));
                    return;
                }
            }
            out.push_str(&n.to_string());
        }
        // Strings: serde_json escapes exactly what RFC 8785 escapes (", \, control characters,
        // with the short forms \b \t \n \f \r and lowercase \u00xx), and nothing else.
        other => out.push_str(&serde_json::to_string(other).expect("a scalar serializes")),
    }
}

fn oracle_hash(line: &str) -> String {
    let mut value: Value = serde_json::from_str(line).expect("a JSON line");
    value
        .as_object_mut()
        .expect("an object")
        .remove("hash")
        .expect("a hash");
    let mut text = String::new();
    canonical(&value, &mut text);
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn oracle_sorts_keys_by_utf16() {
    let mut out = String::new();
    canonical(
        &serde_json::json!({"😀": 1, "ﬁ": 2, "b": [1.5, 10, "\u{1f}"], "a": {}}),
        &mut out,
    );
    assert_eq!(out, r#"{"a":{},"b":[1.5,10,"\u001f"],"😀":1,"ﬁ":2}"#);
}

#[test]
fn chain_fields_follow_the_design() {
    let log = write_log("format");
    assert_eq!(log.report.events, EVENTS as u64);
    assert_eq!(log.report.first_seq, 1);
    assert_eq!(log.report.last_seq, EVENTS as u64);
    assert_eq!(log.report.torn_tail_bytes, None);
    assert_eq!(GENESIS_HASH, "0".repeat(64));

    let mut prev = GENESIS_HASH.to_owned();
    for (i, line) in log.lines.iter().enumerate() {
        let value: Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(value["seq"], i as u64 + 1, "line {i}");
        assert_eq!(value["prev_hash"], prev.as_str(), "line {i}");
        let hash = value["hash"].as_str().expect("a hash string").to_owned();
        assert_eq!(hash.len(), 64);
        assert!(
            hash.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "not lowercase hex: {hash}"
        );
        assert_eq!(
            hash,
            oracle_hash(line),
            "line {i}: the hash is not SHA-256 of the canonical JSON"
        );
        // The fixed envelope fields are there, and the details kept their nesting.
        for key in [
            "id",
            "action",
            "version",
            "occurred_at",
            "outcome",
            "actor",
            "subjects",
            "details",
            "context",
        ] {
            assert!(value.get(key).is_some(), "line {i} lacks `{key}`");
        }
        prev = hash;
    }
    assert_eq!(log.report.last_hash, prev);

    // A stored line reads back as an envelope whose chain fields are the line's.
    let envelope: Envelope = serde_json::from_str(&log.lines[0]).expect("an envelope");
    assert_eq!(envelope.seq, Some(1));
    assert_eq!(envelope.prev_hash.as_deref(), Some(GENESIS_HASH));
    assert_eq!(
        audit_core::chain::hash_at(&envelope, 1, GENESIS_HASH).expect("hash"),
        oracle_hash(&log.lines[0])
    );
}

#[test]
fn edited_field_names_its_seq() {
    let log = write_log("edit");
    // In the details.
    let mut lines = log.lines.clone();
    assert!(lines[10].contains(r#""quantity":11"#), "{}", lines[10]);
    lines[10] = lines[10].replace(r#""quantity":11"#, r#""quantity":12"#);
    log.rewrite(&lines);
    let err = log.verify().expect_err("an edit is caught");
    assert_eq!(err.seq(), Some(11));
    assert_eq!(broken_at(Err(err)), (11, Break::Hash));

    // In the actor's display name, and in the context.
    for (from, to) in [
        (r#""display":"Alice""#, r#""display":"Mallory""#),
        (r#""request_id":"req-11""#, r#""request_id":"req-99""#),
    ] {
        let mut lines = log.lines.clone();
        assert!(lines[11].contains(from));
        lines[11] = lines[11].replacen(from, to, 1);
        log.rewrite(&lines);
        assert_eq!(broken_at(log.verify()), (12, Break::Hash), "{from}");
    }

    // The error says where and what.
    let mut lines = log.lines.clone();
    lines[10] = lines[10].replace(r#""quantity":11"#, r#""quantity":12"#);
    log.rewrite(&lines);
    let message = log.verify().expect_err("caught").to_string();
    assert!(message.contains("seq 11"), "{message}");
    assert!(message.contains("edited"), "{message}");
}

#[test]
fn added_field_is_an_edit() {
    let log = write_log("add-field");
    let mut lines = log.lines.clone();
    lines[6] = lines[6].replacen(
        r#""outcome":"success","#,
        r#""outcome":"success","approved_by":"mallory","#,
        1,
    );
    assert_ne!(lines[6], log.lines[6]);
    log.rewrite(&lines);
    assert_eq!(broken_at(log.verify()), (7, Break::NotAsWritten));

    // So is the same line reformatted, though it means the same.
    let mut lines = log.lines.clone();
    let value: Value = serde_json::from_str(&lines[6]).expect("json");
    lines[6] = serde_json::to_string_pretty(&value)
        .expect("json")
        .replace('\n', " ");
    log.rewrite(&lines);
    assert_eq!(broken_at(log.verify()), (7, Break::NotAsWritten));
}

#[test]
fn inserted_copy_is_caught() {
    let log = write_log("insert");
    let mut lines = log.lines.clone();
    lines.insert(7, log.lines[4].clone());
    log.rewrite(&lines);
    assert_eq!(
        broken_at(log.verify()),
        (8, Break::Sequence { expected: 8 })
    );

    // A copy of the line just before, right after it.
    let mut lines = log.lines.clone();
    lines.insert(5, log.lines[4].clone());
    log.rewrite(&lines);
    assert_eq!(
        broken_at(log.verify()),
        (6, Break::Sequence { expected: 6 })
    );
}

#[test]
fn deleted_line_is_caught() {
    let log = write_log("delete");
    let mut lines = log.lines.clone();
    lines.remove(11);
    log.rewrite(&lines);
    assert_eq!(
        broken_at(log.verify()),
        (12, Break::Sequence { expected: 12 })
    );

    // The first line.
    let mut lines = log.lines.clone();
    lines.remove(0);
    log.rewrite(&lines);
    assert_eq!(
        broken_at(log.verify()),
        (1, Break::Sequence { expected: 1 })
    );
}

#[test]
fn deleted_line_with_renumbered_seqs_is_caught() {
    // A tamperer who deletes seq 12 and renumbers the rest still leaves a `prev_hash` that
    // points at the deleted line.
    let log = write_log("delete-renumber");
    let mut lines = log.lines.clone();
    lines.remove(11);
    for (i, line) in lines.iter_mut().enumerate().skip(11) {
        let mut value: Value = serde_json::from_str(line).expect("json");
        value["seq"] = Value::from(i as u64 + 1);
        *line = value.to_string();
    }
    log.rewrite(&lines);
    assert_eq!(broken_at(log.verify()), (12, Break::PrevHash));
}

#[test]
fn swapped_lines_are_caught() {
    let log = write_log("swap");
    let mut lines = log.lines.clone();
    lines.swap(5, 6);
    log.rewrite(&lines);
    let (seq, why) = broken_at(log.verify());
    assert_eq!(seq, 6);
    assert_eq!(why, Break::Sequence { expected: 6 });
}

#[test]
fn truncated_tail_needs_an_anchor() {
    let log = write_log("truncate");
    let anchor = log.anchor();
    assert_eq!(anchor.seq, EVENTS as u64);
    log.rewrite(&log.lines[..15]);

    // Without an anchor, a shorter chain is still a valid chain.
    let report = log.verify().expect("a cut tail alone is not detectable");
    assert_eq!(report.events, 15);
    assert_eq!(report.last_seq, 15);

    // The anchor kept elsewhere catches it.
    match JsonlSink::verify_with_anchor(&log.path, &anchor) {
        Err(VerifyError::Truncated {
            anchor_seq,
            last_seq,
        }) => {
            assert_eq!((anchor_seq, last_seq), (20, 15));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }

    // Every line gone.
    fs::write(&log.path, "").expect("empty the log");
    assert!(matches!(
        JsonlSink::verify_with_anchor(&log.path, &anchor),
        Err(VerifyError::Truncated { last_seq: 0, .. })
    ));

    // The untouched log passes with its anchor, and with an older one.
    log.rewrite(&log.lines);
    let report = JsonlSink::verify_with_anchor(&log.path, &anchor).expect("untouched");
    assert_eq!(report.last_seq, 20);
    let older = Anchor {
        seq: 7,
        hash: serde_json::from_str::<Value>(&log.lines[6]).expect("json")["hash"]
            .as_str()
            .expect("hash")
            .to_owned(),
    };
    JsonlSink::verify_with_anchor(&log.path, &older).expect("an older anchor holds");
}

/// Rewrites lines `from..` (0-based) with `edit` applied, recomputing every hash after them
/// with the crate's own chain code, as a tamperer with the library at hand would.
fn rechain_from(log: &Log, from: usize, edit: impl Fn(&mut Envelope)) -> Vec<String> {
    let previous: Envelope = serde_json::from_str(&log.lines[from - 1]).expect("envelope");
    let mut head = ChainHead {
        seq: previous.seq.expect("seq"),
        hash: previous.hash.expect("hash"),
    };
    let mut lines = log.lines[..from].to_vec();
    for line in &log.lines[from..] {
        let mut envelope: Envelope = serde_json::from_str(line).expect("envelope");
        edit(&mut envelope);
        head.link(&mut envelope).expect("link");
        lines.push(envelope.to_json());
    }
    lines
}

#[test]
fn rewritten_tail_is_caught_by_the_anchor() {
    let log = write_log("rewrite");
    let anchor = log.anchor();

    // Re-linking unchanged envelopes reproduces the file byte for byte: the tamperer's tool
    // is faithful, so what follows is caught for its edit, not for an artefact.
    let same = rechain_from(&log, 10, |_| {});
    assert_eq!(same, log.lines);

    let lines = rechain_from(&log, 10, |e| e.message = Some("nothing happened".into()));
    assert_ne!(lines, log.lines);
    log.rewrite(&lines);
    let report = log
        .verify()
        .expect("a consistent rewrite passes without an anchor");
    assert_eq!(report.last_seq, 20);
    assert_ne!(report.last_hash, anchor.hash);

    match JsonlSink::verify_with_anchor(&log.path, &anchor) {
        Err(VerifyError::AnchorMismatch { seq }) => assert_eq!(seq, 20),
        other => panic!("expected AnchorMismatch, got {other:?}"),
    }

    // A rewrite that also drops the last events is caught at the anchor too.
    log.rewrite(&lines[..18]);
    assert!(matches!(
        JsonlSink::verify_with_anchor(&log.path, &anchor),
        Err(VerifyError::Truncated { .. })
    ));

    // An anchor in the middle, at seq 12, catches a rewrite from seq 11 on.
    let middle = Anchor {
        seq: 12,
        hash: serde_json::from_str::<Value>(&log.lines[11]).expect("json")["hash"]
            .as_str()
            .expect("hash")
            .to_owned(),
    };
    log.rewrite(&lines);
    let err = JsonlSink::verify_with_anchor(&log.path, &middle).expect_err("caught");
    assert!(
        matches!(err, VerifyError::AnchorMismatch { seq: 12 }),
        "{err:?}"
    );
    assert_eq!(err.seq(), Some(12));
    assert!(err.to_string().contains("rewritten"), "{err}");
}

#[test]
fn torn_last_line_is_not_tampering() {
    let log = write_log("torn");
    let anchor = log.anchor();
    let torn = &log.lines[3][..40];
    let mut text = fs::read(&log.path).expect("read");
    text.extend_from_slice(torn.as_bytes());
    fs::write(&log.path, &text).expect("write");

    let report = log.verify().expect("a torn tail is not an error");
    assert_eq!(report.torn_tail_bytes, Some(40));
    assert_eq!(report.events, EVENTS as u64);
    assert_eq!(report.last_hash, anchor.hash);
    let report = JsonlSink::verify_with_anchor(&log.path, &anchor).expect("anchored");
    assert_eq!(report.torn_tail_bytes, Some(40));

    // A complete line that lost its newline is a torn tail as well.
    let mut text = log.lines.join("\n");
    text.push('\n');
    text.push_str(&log.lines[0]);
    fs::write(&log.path, &text).expect("write");
    let report = log.verify().expect("torn");
    assert_eq!(report.torn_tail_bytes, Some(log.lines[0].len() as u64));

    // A torn line in the middle (followed by more lines) is damage, not a torn tail.
    let mut lines = log.lines.clone();
    lines[15].truncate(30);
    log.rewrite(&lines);
    let (seq, why) = broken_at(log.verify());
    assert_eq!(seq, 16);
    assert!(matches!(why, Break::Unreadable(_)), "{why:?}");
}

#[test]
fn unchained_and_garbage_lines_are_named() {
    let log = write_log("garbage");
    let mut lines = log.lines.clone();
    let envelope: Envelope = serde_json::from_str(&lines[2]).expect("envelope");
    let mut plain = envelope.clone();
    plain.seq = None;
    plain.prev_hash = None;
    plain.hash = None;
    lines[2] = plain.to_json();
    log.rewrite(&lines);
    assert_eq!(broken_at(log.verify()), (3, Break::Unchained));

    let mut lines = log.lines.clone();
    lines[4] = "{\"not\": \"an envelope\"}".to_owned();
    log.rewrite(&lines);
    assert!(matches!(broken_at(log.verify()), (5, Break::Unreadable(_))));
}

#[test]
fn verify_of_a_missing_file_is_an_io_error() {
    let dir = TempDir::new("missing");
    let err = JsonlSink::verify(dir.file("nope.jsonl")).expect_err("missing");
    assert!(matches!(err, VerifyError::Io(_)), "{err:?}");
    assert_eq!(err.seq(), None);
}
