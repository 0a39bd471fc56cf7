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
    for bad in ["", "User", "us-er", "user_", "_user", "1user", "evt", &"a".repeat(33), "usér"] {
        assert!(check_prefix(bad).is_err(), "{bad}");
    }
}
