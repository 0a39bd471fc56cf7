//! Two ID types that share a prefix, in a program of their own: the registry reports them.

use audit_core::{AnyId, ParseIdError, PrefixedId, ids};

mod billing {
    use audit_core::PrefixedId;

    /// A customer account in billing.
    #[derive(PrefixedId)]
    #[id(prefix = "acct")]
    pub struct AccountId([u8; 16]);
}

mod auth {
    use audit_core::PrefixedId;

    /// A login account: same prefix as `billing::AccountId`, by mistake.
    #[derive(PrefixedId)]
    #[id(prefix = "acct", name = "login")]
    pub struct LoginAccountId([u8; 16]);
}

/// A type with a prefix of its own, which stays usable.
#[derive(PrefixedId)]
#[id(prefix = "team")]
struct TeamId([u8; 16]);

#[test]
fn check_unique_prefixes_names_both_types_and_the_prefix() {
    let err = ids::check_unique_prefixes().expect_err("two types share `acct`");
    assert_eq!(err.pairs.len(), 1, "{err:?}");
    let (prefix, a, b) = err.pairs[0];
    assert_eq!(prefix, "acct");
    let mut names = [a, b];
    names.sort_unstable();
    assert!(names[0].ends_with("auth::LoginAccountId"), "{names:?}");
    assert!(names[1].ends_with("billing::AccountId"), "{names:?}");
    let msg = err.to_string();
    assert!(msg.contains("`acct`"), "{msg}");
    assert!(
        msg.contains("LoginAccountId") && msg.contains("billing::AccountId"),
        "{msg}"
    );
    assert!(!msg.contains("team"), "{msg}");
    // It is an error type a user can box.
    let _: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
}

#[test]
fn any_id_reports_the_ambiguous_prefix() {
    let id = billing::AccountId::new().to_string();
    let err = AnyId::parse(&id).expect_err("ambiguous");
    match &err {
        ParseIdError::AmbiguousPrefix { prefix, types } => {
            assert_eq!(*prefix, "acct");
            assert_eq!(types.len(), 2, "{types:?}");
            assert!(
                types.iter().any(|t| t.ends_with("billing::AccountId")),
                "{types:?}"
            );
            assert!(
                types.iter().any(|t| t.ends_with("auth::LoginAccountId")),
                "{types:?}"
            );
        }
        other => panic!("expected AmbiguousPrefix, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("`acct`") && msg.contains("LoginAccountId"),
        "{msg}"
    );
    // A bad suffix under the shared prefix is still ambiguous, not a parse of either type.
    assert!(matches!(
        AnyId::parse("acct_AAAAAAAAAAAAAAAAAAAAAB"),
        Err(ParseIdError::AmbiguousPrefix { .. })
    ));
}

#[test]
fn typed_parsing_and_other_prefixes_are_unaffected() {
    let account = billing::AccountId::new();
    let text = account.to_string();
    assert_eq!(billing::AccountId::parse(&text), Ok(account));
    // The typed parsers cannot tell the two apart: that is what the check is for.
    assert_eq!(
        auth::LoginAccountId::parse(&text).map(|id| id.to_bytes()),
        Ok(account.to_bytes())
    );
    let team = TeamId::new();
    let any = AnyId::parse(&team.to_string()).expect("`team` is unique");
    assert_eq!(any.downcast::<TeamId>(), Some(team));
    // From<T> keeps the exact type even when the prefix is shared.
    let any = AnyId::from(account);
    assert!(any.is::<billing::AccountId>());
    assert!(!any.is::<auth::LoginAccountId>());
    assert_eq!(any.registration().name(), "acct");
    assert_eq!(
        AnyId::from(auth::LoginAccountId::from_bytes(account.to_bytes()))
            .registration()
            .name(),
        "login"
    );
}
