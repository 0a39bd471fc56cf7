//! Expansion snapshot of `#[derive(AuditEvent)]`, formatted with prettyplease.

fn expand_str(src: &str) -> String {
    let input: syn::DeriveInput = syn::parse_str(src).expect("test input parses");
    let tokens = super::expand(&input);
    let file: syn::File = syn::parse2(tokens).expect("expansion parses as items");
    prettyplease::unparse(&file)
}

#[test]
fn expansion_snapshot() {
    let out = expand_str(
        r#"
        #[audit(action = "widget.purchased", version = 2, message = "{actor} bought {quantity} of {widget}")]
        pub struct WidgetPurchased {
            #[audit(actor)] pub buyer: EntityRef<UserId>,
            #[audit(subject, role = "item")] pub widget: EntityRef<WidgetId>,
            #[audit(subject)] pub also: Option<EntityRef<WidgetId>>,
            pub quantity: u32,
            pub card_last4: Redacted<String>,
            #[audit(outcome)] pub outcome: Outcome,
            #[audit(skip)] pub internal: u8,
        }
        "#,
    );
    let expected = include_str!("snapshots/widget_purchased.rs");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/event/snapshots/widget_purchased.rs"
        );
        std::fs::write(path, &out).expect("snapshot written");
        return;
    }
    assert_eq!(
        out, expected,
        "rerun with UPDATE_SNAPSHOTS=1 after reading the diff"
    );
}

#[test]
fn errors_come_with_a_stub() {
    let input: syn::DeriveInput =
        syn::parse_str("#[audit(action = \"Bad\")] struct E { x: u8 }").unwrap();
    let out = super::expand(&input).to_string();
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.contains("AuditEvent for E"), "{out}");
}

#[test]
fn crate_path_replaces_audit_core_everywhere() {
    let out = expand_str(
        r#"
        #[audit(crate = renamed, action = "a.b", message = "{actor} {d}")]
        pub struct E {
            #[audit(actor, subject)] a: EntityRef<U>,
            #[audit(subject)] s: Option<EntityRef<W>>,
            #[audit(outcome)] o: Outcome,
            d: u8,
        }
        "#,
    );
    assert!(!out.contains("audit_core"), "{out}");
    assert!(out.contains("renamed::__private"), "{out}");

    // The stub emitted beside errors, and `#[derive(AuditEntity)]` with and without errors.
    for (src, entity) in [
        (
            "#[audit(crate = renamed, action = \"Bad\")] struct E { x: u8 }",
            false,
        ),
        (
            "#[audit(crate = renamed)] struct M { #[audit(id)] i: I, #[audit(display)] n: String }",
            true,
        ),
        (
            "#[audit(crate = renamed)] struct M { #[audit(id)] i: I }",
            true,
        ),
    ] {
        let input: syn::DeriveInput = syn::parse_str(src).unwrap();
        let out = if entity {
            crate::entity::expand(&input)
        } else {
            super::expand(&input)
        }
        .to_string();
        // A path, as `TokenStream::to_string` writes it (messages may name `audit_core::X`).
        assert!(!out.contains("audit_core ::"), "{out}");
        assert!(out.contains("renamed ::"), "{out}");
    }
}
