//! Expansion snapshots and prefix-rule unit tests.

use super::valid::check_prefix;

fn expand_str(src: &str) -> String {
    let input: syn::DeriveInput = syn::parse_str(src).expect("test input parses");
    let tokens = super::expand(&input);
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => tokens.to_string(),
    }
}

#[test]
fn expansion_plain() {
    let out = expand_str("#[id(prefix = \"user\")] pub struct UserId([u8; 16]);");
    let expected = r#"#[doc(hidden)]
const _: () = {
    ::audit_core::__private::impl_prefixed_id! {
        type = UserId, prefix = "user", name = "user", sortable = false
    }
};
"#;
    assert_eq!(out, expected);
}

#[test]
fn expansion_named_sortable_renamed_crate() {
    let out = expand_str(
        "#[id(prefix = \"wdgt\", name = \"widget\", sortable, crate = audit)] struct W([u8; 16]);",
    );
    let expected = r#"#[doc(hidden)]
const _: () = {
    audit::__private::impl_prefixed_id! {
        type = W, prefix = "wdgt", name = "widget", sortable = true
    }
};
"#;
    assert_eq!(out, expected);
}

#[test]
fn prefix_rules() {
    for ok in ["user", "a", "org_member", "v2", &"a".repeat(32)] {
        assert_eq!(check_prefix(ok), Ok(()), "{ok}");
    }
    for bad in [
        "",
        "User",
        "us-er",
        "user_",
        "_user",
        "1user",
        "evt",
        &"a".repeat(33),
        "usér",
    ] {
        assert!(check_prefix(bad).is_err(), "{bad}");
    }
}

#[test]
fn bad_prefix_keeps_the_full_output_with_a_placeholder() {
    let out = expand_str("#[id(prefix = \"User\", sortable)] pub struct UserId([u8; 16]);");
    let expected = r#"::core::compile_error! {
    "the prefix `User` contains an uppercase letter (`U`): a prefix is 1 to 32 characters of `a-z`, `0-9` and `_`, starting with a letter and not ending with `_`; try `prefix = \"user\"`"
}
#[doc(hidden)]
const _: () = {
    ::audit_core::__private::impl_prefixed_id! {
        type = UserId, prefix = "invalid", name = "invalid", sortable = false
    }
};
"#;
    assert_eq!(out, expected);
}

#[test]
fn missing_prefix_keeps_the_other_attributes() {
    let out =
        expand_str("#[id(name = \"user\", sortable, crate = audit)] struct UserId([u8; 16]);");
    let expected = r#"::core::compile_error! {
    "`UserId` has no prefix: add `prefix = \"user\"` to `#[id(...)]`, or another prefix of 1 to 32 characters of `a-z`, `0-9` and `_`"
}
#[doc(hidden)]
const _: () = {
    audit::__private::impl_prefixed_id! {
        type = UserId, prefix = "invalid", name = "user", sortable = true
    }
};
"#;
    assert_eq!(out, expected);
}

#[test]
fn wrong_shape_gives_stubs() {
    let out = expand_str("#[id(prefix = \"user\", crate = audit)] pub struct UserId(u128);");
    let expected = include_str!("tests/stubs.rs.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/id/tests/stubs.rs.txt"),
            &out,
        )
        .expect("snapshot written");
    }
    assert_eq!(
        out, expected,
        "rerun with UPDATE_SNAPSHOTS=1 after reading the diff"
    );
}

#[test]
fn every_error_in_one_run() {
    let out = expand_str(
        "#[id(prefix = \"User-Id\", sortabel, sortable = true)] \
         #[id(name = \"\", name = \"user\", table = \"users\")] \
         pub struct UserId<T>(u128, T);",
    );
    for message in [
        "the prefix `User-Id` contains an uppercase letter (`U`)",
        "try `prefix = \\\"user_id\\\"`",
        "unknown key `sortabel` in `#[id(...)]`: did you mean `sortable`?",
        "`sortable` is a flag: write `sortable` alone, without `= true`",
        "`name` is given twice: keep one of the two",
        "`name` is first given here",
        "`name` is the entity's type name in logs and cannot be blank",
        "unknown key `table` in `#[id(...)]`: the keys are `prefix`, `name`, `sortable` and `crate`",
        "found 2 fields",
        "cannot have generic parameters",
    ] {
        assert!(out.contains(message), "missing {message:?} in\n{out}");
    }
}

#[test]
fn unknown_key_suggestions() {
    for (written, suggested) in [
        ("prefx", Some("prefix")),
        ("perfix", Some("prefix")),
        ("sortabel", Some("sortable")),
        ("sorted", Some("sortable")),
        ("names", Some("name")),
        ("krate", Some("crate")),
        ("table", None),
        ("id", None),
        ("éàéàé", None),
    ] {
        let out = expand_str(&format!(
            "#[id(prefix = \"user\", {written})] struct UserId([u8; 16]);"
        ));
        match suggested {
            Some(key) => assert!(
                out.contains(&format!("did you mean `{key}`?")),
                "{written}: {out}"
            ),
            None => assert!(out.contains("the keys are"), "{written}: {out}"),
        }
    }
}

#[test]
fn prefix_suggestions() {
    for (written, fix) in [
        ("User", Some("user")),
        ("org-member", Some("org_member")),
        ("Org Member_", Some("org_member")),
        ("_user", Some("user")),
        ("user_", Some("user")),
        ("2fa", None),
        ("usér", None),
        ("", None),
    ] {
        let err = check_prefix(written).expect_err(written);
        match fix {
            Some(fix) => assert!(err.ends_with(&format!("try `prefix = \"{fix}\"`")), "{err}"),
            None => assert!(!err.contains("try `"), "{err}"),
        }
    }
}

#[test]
fn missing_prefix_suggests_one_from_the_type_name() {
    for (ty, prefix) in [
        ("UserId", "user"),
        ("OrgMemberId", "org_member"),
        ("HTTPRequestId", "http_request"),
        ("Widget", "widget"),
        ("Id", "id"),
        ("EvtId", "user"),
        ("Api2KeyID", "api2_key"),
    ] {
        let out = expand_str(&format!("#[derive(PrefixedId)] struct {ty}([u8; 16]);"));
        assert!(
            out.contains(&format!(
                "add `#[id(prefix = \\\"{prefix}\\\")]` above `struct {ty}`"
            )),
            "{ty}: {out}"
        );
    }
}
