//! The event catalog (every event type's schema, registered at link time) and the lock check
//! that keeps a published `(action, version)` from changing its schema.
//!
//! The lock checks use `check_lock_with(path, update)` rather than `check_lock`, which reads
//! `AUDIT_UPDATE_LOCK` from the environment: tests run in parallel threads of one process.
//! Two event types sharing an `(action, version)` are in `tests/event_duplicate_action.rs`,
//! a binary of their own, since they make every lock check of their binary fail.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use audit_core::catalog::{self, EventSchema, FieldRole, LockError};
use audit_core::{Actor, AuditEvent, EntityRef, Outcome, PrefixedId, Redacted};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "wdgt", name = "widget")]
pub struct WidgetId([u8; 16]);

#[derive(AuditEvent)]
#[audit(
    action = "widget.purchased",
    version = 3,
    message = "{actor} bought {quantity} of {widget}"
)]
pub struct WidgetPurchased {
    #[audit(actor)]
    pub buyer: EntityRef<UserId>,
    #[audit(subject)]
    pub widget: EntityRef<WidgetId>,
    #[audit(subject, role = "recipient")]
    pub gifted_to: Option<EntityRef<UserId>>,
    pub quantity: u32,
    pub card_last4: Redacted<String>,
    #[audit(outcome)]
    pub outcome: Outcome,
    #[audit(skip)]
    pub cache_key: u64,
    pub tags: std::collections::BTreeMap<String, Vec<u8>>,
}

#[derive(AuditEvent)]
#[audit(action = "user.logged_in")]
pub struct LoggedIn {
    #[audit(actor, subject)]
    pub user: EntityRef<UserId>,
}

#[derive(AuditEvent)]
#[audit(action = "billing.invoices_sent", version = 1, message = "{actor} ran")]
pub struct InvoicesSent {
    #[audit(actor)]
    pub job: Actor,
    #[audit(subject)]
    pub customers: Vec<EntityRef<UserId>>,
    pub count: usize,
}

fn schema(action: &str) -> &'static EventSchema {
    let found: Vec<&EventSchema> = catalog::catalog()
        .filter(|s| s.action() == action)
        .collect();
    match found.as_slice() {
        [one] => one,
        _ => panic!(
            "expected one `{action}` in the catalog, found {}",
            found.len()
        ),
    }
}

/// (name, type descriptor, role, subject role, redacted) of each field.
type FieldRow = (
    &'static str,
    &'static str,
    FieldRole,
    Option<&'static str>,
    bool,
);

fn fields(schema: &EventSchema) -> Vec<FieldRow> {
    schema
        .fields()
        .iter()
        .map(|f| {
            (
                f.name(),
                f.type_descriptor(),
                f.role(),
                f.subject_role(),
                f.redacted(),
            )
        })
        .collect()
}

#[test]
fn the_catalog_lists_every_event_of_the_program() {
    let mut actions: Vec<(&str, u32)> = catalog::catalog()
        .map(|s| (s.action(), s.version()))
        .collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        [
            ("billing.invoices_sent", 1),
            ("user.logged_in", 1),
            ("widget.purchased", 3)
        ]
    );
    // The iterator can be walked again.
    let all = catalog::catalog();
    assert_eq!(all.clone().count(), all.count());
}

#[test]
fn a_schema_has_action_version_fields_and_message() {
    let s = schema("widget.purchased");
    assert!(std::ptr::eq(s, WidgetPurchased::schema()));
    assert_eq!(s.version(), 3);
    assert_eq!(s.version(), WidgetPurchased::VERSION);
    assert_eq!(s.type_name(), "event_catalog::WidgetPurchased");
    assert_eq!(s.message(), Some("{actor} bought {quantity} of {widget}"));
    assert_eq!(
        fields(s),
        [
            ("buyer", "EntityRef<UserId>", FieldRole::Actor, None, false),
            (
                "widget",
                "EntityRef<WidgetId>",
                FieldRole::Subject,
                Some("widget"),
                false
            ),
            (
                "gifted_to",
                "Option<EntityRef<UserId>>",
                FieldRole::Subject,
                Some("recipient"),
                false
            ),
            ("quantity", "u32", FieldRole::Detail, None, false),
            (
                "card_last4",
                "Redacted<String>",
                FieldRole::Detail,
                None,
                true
            ),
            ("outcome", "Outcome", FieldRole::Outcome, None, false),
            ("cache_key", "u64", FieldRole::Skipped, None, false),
            (
                "tags",
                "std::collections::BTreeMap<String, Vec<u8>>",
                FieldRole::Detail,
                None,
                false
            ),
        ]
    );
    assert_eq!(s.redacted_fields().collect::<Vec<_>>(), ["card_last4"]);

    let login = schema("user.logged_in");
    assert_eq!(login.version(), 1, "the version defaults to 1");
    assert_eq!(login.message(), None);
    assert_eq!(
        fields(login),
        [(
            "user",
            "EntityRef<UserId>",
            FieldRole::ActorAndSubject,
            Some("user"),
            false
        )]
    );
    assert_eq!(
        fields(schema("billing.invoices_sent")),
        [
            ("job", "Actor", FieldRole::Actor, None, false),
            (
                "customers",
                "Vec<EntityRef<UserId>>",
                FieldRole::Subject,
                Some("customers"),
                false
            ),
            ("count", "usize", FieldRole::Detail, None, false),
        ]
    );
}

/// A fresh path in the temporary directory, removed when dropped.
struct TempLock(PathBuf);

impl TempLock {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "audit-event-catalog-{}-{n}-{name}.lock.json",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        TempLock(path)
    }

    fn read(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(&self.0).expect("the lock file exists");
        serde_json::from_str(&text).expect("the lock file is JSON")
    }

    fn write(&self, value: &serde_json::Value) {
        std::fs::write(&self.0, serde_json::to_string_pretty(value).unwrap()).unwrap();
    }
}

impl Drop for TempLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The problems of a `Mismatch`, or a panic.
fn mismatch(result: Result<catalog::LockReport, LockError>) -> (Vec<String>, String) {
    match result {
        Err(err @ LockError::Mismatch { .. }) => {
            let text = err.to_string();
            let LockError::Mismatch { problems, .. } = err else {
                unreachable!()
            };
            (problems, text)
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn update_creates_the_lock_file_and_a_check_then_passes() {
    let lock = TempLock::new("create");
    // Without update, a missing file means every event is new.
    let (problems, text) = mismatch(catalog::check_lock_with(&lock.0, false));
    assert_eq!(problems.len(), 3, "{text}");
    assert!(!lock.0.exists(), "a check without update writes nothing");
    assert!(text.contains("AUDIT_UPDATE_LOCK=1"), "{text}");

    let report = catalog::check_lock_with(&lock.0, true).expect("the lock file is written");
    assert_eq!(report.checked, 3);
    assert_eq!(
        report.updated,
        [
            "billing.invoices_sent@1",
            "user.logged_in@1",
            "widget.purchased@3"
        ]
    );
    let written = lock.read();
    let entry = &written["widget.purchased@3"];
    assert_eq!(entry["message"], "{actor} bought {quantity} of {widget}");
    assert_eq!(entry["fields"][2]["subject_role"], "recipient");
    assert_eq!(entry["fields"][4]["redacted"], true);
    assert_eq!(entry["fields"][4]["type"], "Redacted<String>");
    assert_eq!(entry["fields"][3]["role"], "detail");
    assert!(entry["fields"][3].get("redacted").is_none());
    assert!(written["user.logged_in@1"].get("message").is_none());

    let report = catalog::check_lock_with(&lock.0, false).expect("the catalog matches");
    assert_eq!(report.checked, 3);
    assert!(report.updated.is_empty());
    // Updating an up-to-date file changes nothing.
    let before = std::fs::read_to_string(&lock.0).unwrap();
    let report = catalog::check_lock_with(&lock.0, true).unwrap();
    assert!(report.updated.is_empty());
    assert_eq!(std::fs::read_to_string(&lock.0).unwrap(), before);
}

#[test]
fn a_changed_schema_under_the_same_version_fails_naming_the_action_and_the_change() {
    let lock = TempLock::new("changed");
    catalog::check_lock_with(&lock.0, true).unwrap();
    // As if the lock had been written when `quantity` was a `u16` and `gifted_to` had its
    // field name as role, and the message was different.
    let mut old = lock.read();
    let entry = &mut old["widget.purchased@3"];
    entry["fields"][3]["type"] = "u16".into();
    entry["fields"][2]["subject_role"] = "gifted_to".into();
    entry["message"] = "{actor} bought {widget}".into();
    lock.write(&old);

    let (problems, text) = mismatch(catalog::check_lock_with(&lock.0, false));
    assert_eq!(problems.len(), 1, "{text}");
    let problem = &problems[0];
    for expected in [
        "`widget.purchased` version 3",
        "event_catalog::WidgetPurchased",
        "without a version bump",
        "field `quantity` changed from `u16` (Detail) to `u32` (Detail)",
        "the subject role of field `gifted_to` changed from \"gifted_to\" to \"recipient\"",
        "the message template changed from \"{actor} bought {widget}\" to \"{actor} bought {quantity} of {widget}\"",
        "bump `version` to 4",
    ] {
        assert!(
            problem.contains(expected),
            "missing {expected:?} in:\n{text}"
        );
    }
    assert!(text.contains(&lock.0.display().to_string()), "{text}");
}

#[test]
fn added_removed_and_reordered_fields_are_named() {
    let lock = TempLock::new("fields");
    catalog::check_lock_with(&lock.0, true).unwrap();
    let mut old = lock.read();
    let fields = old["billing.invoices_sent@1"]["fields"]
        .as_array_mut()
        .unwrap();
    let count = fields.pop().unwrap();
    fields.push(serde_json::json!({"name": "dry_run", "type": "bool", "role": "detail"}));
    lock.write(&old);
    let (problems, text) = mismatch(catalog::check_lock_with(&lock.0, false));
    assert_eq!(problems.len(), 1, "{text}");
    assert!(
        problems[0].contains("`billing.invoices_sent` version 1"),
        "{text}"
    );
    assert!(problems[0].contains("field `count` was added"), "{text}");
    assert!(
        problems[0].contains("field `dry_run` was removed"),
        "{text}"
    );

    let mut old = lock.read();
    let fields = old["billing.invoices_sent@1"]["fields"]
        .as_array_mut()
        .unwrap();
    fields.pop();
    fields.insert(0, count);
    lock.write(&old);
    let (problems, text) = mismatch(catalog::check_lock_with(&lock.0, false));
    assert!(problems[0].contains("the field order changed"), "{text}");
}

#[test]
fn an_event_missing_from_the_lock_fails_and_update_adds_it() {
    let lock = TempLock::new("missing");
    catalog::check_lock_with(&lock.0, true).unwrap();
    let mut old = lock.read();
    let map = old.as_object_mut().unwrap();
    assert!(map.remove("user.logged_in@1").is_some());
    // An entry of a version no longer in the code stays: it must not be reused.
    map.insert(
        "widget.purchased@2".into(),
        serde_json::json!({"fields": []}),
    );
    lock.write(&old);

    let (problems, text) = mismatch(catalog::check_lock_with(&lock.0, false));
    assert_eq!(
        problems,
        ["`user.logged_in` version 1 (event_catalog::LoggedIn) is not in the lock file yet"],
        "{text}"
    );
    let report = catalog::check_lock_with(&lock.0, true).unwrap();
    assert_eq!(report.updated, ["user.logged_in@1"]);
    let new = lock.read();
    assert!(new.get("user.logged_in@1").is_some());
    assert_eq!(new["widget.purchased@2"], serde_json::json!({"fields": []}));
    catalog::check_lock_with(&lock.0, false).unwrap();
}

#[test]
fn a_malformed_lock_file_is_a_parse_error() {
    let lock = TempLock::new("malformed");
    std::fs::write(&lock.0, "{\"widget.purchased@3\": {\"fields\": 7}}").unwrap();
    match catalog::check_lock_with(&lock.0, false) {
        Err(err @ LockError::Parse { .. }) => {
            let text = err.to_string();
            assert!(text.contains("is not a valid audit lock file"), "{text}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    // An update does not overwrite a file it cannot read.
    assert!(matches!(
        catalog::check_lock_with(&lock.0, true),
        Err(LockError::Parse { .. })
    ));
}

#[test]
fn the_actions_of_this_program_are_unique() {
    catalog::check_unique_actions().unwrap();
}
