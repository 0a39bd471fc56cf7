//! Two event types that share an `(action, version)`: the catalog check names both. A binary
//! of its own, since the pair makes every lock check of its program fail.

use audit_core::catalog::{self, LockError};
use audit_core::{AuditEvent, EntityRef, PrefixedId};

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "user.renamed", version = 2)]
pub struct UserRenamed {
    #[audit(actor, subject)]
    pub user: EntityRef<UserId>,
    pub new_name: String,
}

mod admin {
    use super::UserId;
    use audit_core::{AuditEvent, EntityRef};

    /// Another team's event, with the same action and version by mistake.
    #[derive(AuditEvent)]
    #[audit(action = "user.renamed", version = 2)]
    pub struct UserRenamed {
        #[audit(actor)]
        pub admin: EntityRef<UserId>,
        #[audit(subject)]
        pub user: EntityRef<UserId>,
    }

    /// The same action under another version is fine.
    #[derive(AuditEvent)]
    #[audit(action = "user.renamed", version = 1)]
    pub struct UserRenamedV1 {
        #[audit(actor, subject)]
        pub user: EntityRef<UserId>,
    }
}

fn assert_duplicate(result: Result<(), LockError>) {
    match result {
        Err(
            ref err @ LockError::Duplicate {
                action,
                version,
                ref types,
            },
        ) => {
            assert_eq!(action, "user.renamed");
            assert_eq!(version, 2);
            assert_eq!(
                types,
                &[
                    "event_duplicate_action::UserRenamed",
                    "event_duplicate_action::admin::UserRenamed"
                ]
            );
            let text = err.to_string();
            assert!(
                text.contains("`user.renamed` version 2")
                    && text.contains("event_duplicate_action::UserRenamed")
                    && text.contains("event_duplicate_action::admin::UserRenamed"),
                "{text}"
            );
        }
        other => panic!("expected a duplicate error, got {other:?}"),
    }
}

#[test]
fn two_types_sharing_an_action_and_version_are_an_error() {
    assert_eq!(
        catalog::catalog()
            .filter(|s| s.action() == "user.renamed")
            .count(),
        3
    );
    assert_eq!(UserRenamed::ACTION, admin::UserRenamed::ACTION);
    assert_eq!(admin::UserRenamedV1::VERSION, 1);
    assert_duplicate(catalog::check_unique_actions());
}

#[test]
fn the_lock_check_fails_on_a_shared_action_even_when_updating() {
    let path = std::env::temp_dir().join(format!(
        "audit-event-duplicate-{}.lock.json",
        std::process::id()
    ));
    for update in [false, true] {
        assert_duplicate(catalog::check_lock_with(&path, update).map(|_| ()));
        assert!(
            !path.exists(),
            "nothing is written when two types share an action"
        );
    }
}
