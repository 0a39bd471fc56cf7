//! Rules that decide whether `#[derive(PrefixedId)]` can expand: the prefix, the name and the
//! struct's shape. Every violation is reported, each on its own token.

use darling::FromDeriveInput;
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Type};

use super::attr::IdAttrs;

/// Longest prefix: the encoded ID must fit its fixed stack buffer.
const MAX_PREFIX_LEN: usize = 32;
/// Prefixes kept for audit-core's own types.
const RESERVED: &[(&str, &str)] = &[("evt", "audit_core::EventId")];

/// A checked `#[derive(PrefixedId)]` input.
pub(super) struct IdInput<'a> {
    pub(super) ident: &'a syn::Ident,
    pub(super) prefix: String,
    pub(super) name: String,
    pub(super) sortable: bool,
    pub(super) krate: syn::Path,
}

pub(super) fn validate(input: &DeriveInput) -> darling::Result<IdInput<'_>> {
    let mut errors = darling::Error::accumulator();
    check_shape(input, &mut errors);
    let attrs = errors.handle(IdAttrs::from_derive_input(input));
    let Some(attrs) = attrs else {
        return Err(errors.finish().expect_err("an error was pushed"));
    };

    let prefix = match &attrs.prefix {
        Some(prefix) => {
            if let Err(msg) = check_prefix(prefix.as_str()) {
                errors.push(darling::Error::custom(msg).with_span(&prefix.span()));
            }
            prefix.as_str().to_owned()
        }
        None => {
            errors.push(
                darling::Error::custom(format!(
                    "`#[derive(PrefixedId)]` needs a prefix: add `#[id(prefix = \"...\")]` \
                     above `struct {}`, e.g. `#[id(prefix = \"user\")]`",
                    input.ident
                ))
                .with_span(&input.ident),
            );
            String::new()
        }
    };
    let name = match &attrs.name {
        Some(name) => {
            if name.is_empty() || name.chars().any(char::is_control) {
                errors.push(
                    darling::Error::custom(
                        "`name` must be a non-empty entity type name, like `name = \"widget\"`",
                    )
                    .with_span(&name.span()),
                );
            }
            name.as_str().to_owned()
        }
        None => prefix.clone(),
    };
    errors.finish_with(IdInput {
        ident: &input.ident,
        prefix,
        name,
        sortable: attrs.sortable.is_present(),
        krate: attrs
            .krate
            .unwrap_or_else(|| syn::parse_quote!(::audit_core)),
    })
}

/// The derive needs `struct Name([u8; 16]);` without generics.
fn check_shape(input: &DeriveInput, errors: &mut darling::error::Accumulator) {
    let expected = format!(
        "`#[derive(PrefixedId)]` needs a tuple struct with exactly one `[u8; 16]` field, \
         like `pub struct {}([u8; 16]);`",
        input.ident
    );
    let fields = match &input.data {
        Data::Struct(data) => &data.fields,
        Data::Enum(data) => {
            errors.push(darling::Error::custom(expected).with_span(&data.enum_token));
            return;
        }
        Data::Union(data) => {
            errors.push(darling::Error::custom(expected).with_span(&data.union_token));
            return;
        }
    };
    match fields {
        Fields::Unnamed(unnamed) if unnamed.unnamed.len() == 1 => {
            let field = &unnamed.unnamed[0];
            if !is_u8_16(&field.ty) {
                errors.push(
                    darling::Error::custom(format!(
                        "the field of a `PrefixedId` must be `[u8; 16]`, found `{}`",
                        type_text(&field.ty)
                    ))
                    .with_span(&field.ty),
                );
            }
        }
        Fields::Unnamed(unnamed) => errors.push(
            darling::Error::custom(format!(
                "{expected}; found {} fields",
                unnamed.unnamed.len()
            ))
            .with_span(&unnamed.span()),
        ),
        Fields::Named(named) => errors.push(
            darling::Error::custom(format!("{expected}; found named fields"))
                .with_span(&named.span()),
        ),
        Fields::Unit => {
            errors.push(darling::Error::custom(format!("{expected}; found a unit struct")).with_span(&input.ident));
        }
    }
    if let Some(param) = input.generics.params.first() {
        errors.push(
            darling::Error::custom(
                "a `PrefixedId` cannot be generic: each ID type has its own fixed prefix",
            )
            .with_span(&param.span()),
        );
    }
}

fn is_u8_16(ty: &Type) -> bool {
    let Type::Array(array) = ty else {
        return false;
    };
    let elem_is_u8 = matches!(&*array.elem, Type::Path(p) if p.qself.is_none() && p.path.is_ident("u8"));
    let len_is_16 = matches!(
        &array.len,
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(n), .. })
            if n.base10_parse::<usize>().ok() == Some(16)
    );
    elem_is_u8 && len_is_16
}

fn type_text(ty: &Type) -> String {
    quote::quote!(#ty).to_string().replace(" ;", ";").replace("[ ", "[").replace(" ]", "]")
}

/// The prefix rules: 1 to 32 characters of `a-z`, `0-9` and `_`, starting with a letter, not
/// ending with `_`, and not reserved.
pub(super) fn check_prefix(prefix: &str) -> Result<(), String> {
    const RULE: &str = "a prefix is 1 to 32 characters of `a-z`, `0-9` and `_`, starts with a \
                        letter and does not end with `_`";
    if prefix.is_empty() {
        return Err(format!("the prefix is empty: {RULE}, like `prefix = \"user\"`"));
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(format!(
            "the prefix is {} characters long: {RULE}",
            prefix.chars().count()
        ));
    }
    if let Some(bad) = prefix
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        let hint = if bad.is_ascii_uppercase() {
            format!(" (try `{}`)", prefix.to_ascii_lowercase())
        } else if bad == '-' {
            format!(" (try `{}`)", prefix.replace('-', "_"))
        } else {
            String::new()
        };
        return Err(format!("the prefix contains {bad:?}: {RULE}{hint}"));
    }
    if !prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("the prefix must start with a letter: {RULE}"));
    }
    if prefix.ends_with('_') {
        return Err(format!(
            "the prefix must not end with `_` (the derive adds the separator): {RULE} (try `{}`)",
            prefix.trim_end_matches('_')
        ));
    }
    if let Some((_, owner)) = RESERVED.iter().find(|(p, _)| *p == prefix) {
        return Err(format!(
            "the prefix `{prefix}` is reserved for `{owner}`; choose another prefix"
        ));
    }
    Ok(())
}

#[allow(dead_code)]
fn _span_is_used(_: Span) {}
