//! Rules that decide whether `#[derive(PrefixedId)]` can expand: the prefix, the name and the
//! struct's shape. Every violation is reported in one run, each on its own token.
//!
//! Validation also decides what to emit beside the errors, so that one mistake gives one
//! error: when the struct has the right shape, the full output with placeholder values for
//! the attributes that are wrong; otherwise stubs (see `fallback`).

use darling::FromMeta;
use quote::ToTokens;
use syn::{Data, DeriveInput, Fields, Type};

use super::attr::{self, IdAttrs};
use crate::type_text::{tokens_text, type_text};

/// Longest prefix: the encoded ID must fit its fixed stack buffer.
const MAX_PREFIX_LEN: usize = 32;
/// Prefixes kept for audit-core's own types.
const RESERVED: &[(&str, &str)] = &[("evt", "`audit_core::EventId`, the ID of every audit event")];
/// The prefix in the output when the written one is wrong or missing; never seen by a program
/// that compiles.
const PLACEHOLDER_PREFIX: &str = "invalid";
/// The prefix rules, as stated in every message about a broken one.
const RULE: &str = "a prefix is 1 to 32 characters of `a-z`, `0-9` and `_`, starting with a \
                    letter and not ending with `_`";

/// A checked `#[derive(PrefixedId)]` input.
pub(super) struct IdInput<'a> {
    pub(super) ident: &'a syn::Ident,
    pub(super) prefix: String,
    pub(super) name: String,
    pub(super) sortable: bool,
    pub(super) krate: syn::Path,
}

/// The outcome of validation: what to emit, and the errors to emit beside it.
pub(super) struct Checked<'a> {
    pub(super) output: Output<'a>,
    pub(super) errors: Option<syn::Error>,
}

/// What to emit.
pub(super) enum Output<'a> {
    /// The struct is `Name([u8; 16])`: the full output, with placeholders for attributes that
    /// are wrong (then `errors` is set).
    Full(IdInput<'a>),
    /// The struct has another shape: stubs of the generated API, so that code using the type
    /// adds no errors of its own (`errors` is set).
    Stubs { krate: syn::Path },
}

pub(super) fn validate(input: &DeriveInput) -> Checked<'_> {
    let mut errors = Vec::new();
    let collected = attr::collect(&input.attrs, &mut errors);
    let attrs = match IdAttrs::from_list(&collected.items) {
        Ok(attrs) => Some(attrs),
        Err(err) => {
            errors.push(err.into());
            None
        }
    };
    let shape_ok = check_shape(input, &mut errors);

    let krate = match &attrs {
        Some(attrs) => attrs.krate.clone(),
        None => attr::krate_alone(&collected.items),
    }
    .unwrap_or_else(|| syn::parse_quote!(::audit_core));

    let output = if shape_ok {
        let (prefix, name, sortable) = match attrs {
            Some(IdAttrs {
                prefix: Some(prefix),
                name,
                sortable,
                ..
            }) => {
                let name = name.map_or_else(|| prefix.0.clone(), |name| name.0);
                (prefix.0, name, sortable.0)
            }
            Some(IdAttrs { name, sortable, .. }) => {
                if !collected.prefix_hinted {
                    errors.push(missing_prefix(input, collected.last_attr));
                }
                let placeholder = PLACEHOLDER_PREFIX.to_owned();
                let name = name.map_or_else(|| placeholder.clone(), |name| name.0);
                (placeholder, name, sortable.0)
            }
            None => {
                let placeholder = PLACEHOLDER_PREFIX.to_owned();
                (placeholder.clone(), placeholder, false)
            }
        };
        Output::Full(IdInput {
            ident: &input.ident,
            prefix,
            name,
            sortable,
            krate,
        })
    } else {
        if let (Some(IdAttrs { prefix: None, .. }), false) = (&attrs, collected.prefix_hinted) {
            errors.push(missing_prefix(input, collected.last_attr));
        }
        Output::Stubs { krate }
    };
    Checked {
        output,
        errors: errors.into_iter().reduce(|mut all, err| {
            all.combine(err);
            all
        }),
    }
}

/// No `prefix` key: the error suggests one made from the type's name, on the `#[id]`
/// attribute if there is one, else on the type's name.
fn missing_prefix(input: &DeriveInput, last_attr: Option<&syn::Attribute>) -> syn::Error {
    let ident = &input.ident;
    let example = prefix_from_type_name(&ident.to_string());
    match last_attr {
        Some(attr) if matches!(attr.meta, syn::Meta::Path(_)) => syn::Error::new_spanned(
            attr,
            format!(
                "`{ident}` has no prefix: write `#[id(prefix = \"{example}\")]`, or another \
                 prefix of 1 to 32 characters of `a-z`, `0-9` and `_`"
            ),
        ),
        Some(attr) => syn::Error::new_spanned(
            attr,
            format!(
                "`{ident}` has no prefix: add `prefix = \"{example}\"` to `#[id(...)]`, or \
                 another prefix of 1 to 32 characters of `a-z`, `0-9` and `_`"
            ),
        ),
        None => syn::Error::new_spanned(
            ident,
            format!(
                "`#[derive(PrefixedId)]` needs a prefix: add `#[id(prefix = \"{example}\")]` \
                 above `struct {ident}`, or another prefix of 1 to 32 characters of `a-z`, \
                 `0-9` and `_`"
            ),
        ),
    }
}

/// `OrgMemberId` gives `org_member`; `user` when the name gives no valid prefix.
fn prefix_from_type_name(name: &str) -> String {
    let stem = name
        .strip_suffix("Id")
        .or_else(|| name.strip_suffix("ID"))
        .filter(|stem| !stem.is_empty())
        .unwrap_or(name);
    let chars: Vec<char> = stem.chars().collect();
    let mut snake = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                snake.push('_');
            }
        }
        snake.extend(c.to_lowercase());
    }
    if check_prefix(&snake).is_ok() {
        snake
    } else {
        "user".to_owned()
    }
}

/// The derive needs `struct Name([u8; 16]);` without generics. Returns whether the shape is
/// right.
fn check_shape(input: &DeriveInput, errors: &mut Vec<syn::Error>) -> bool {
    let ident = &input.ident;
    let expected = format!(
        "`#[derive(PrefixedId)]` needs a tuple struct with exactly one `[u8; 16]` field, \
         like `pub struct {ident}([u8; 16]);`"
    );
    let before = errors.len();
    match &input.data {
        Data::Enum(data) => errors.push(syn::Error::new_spanned(
            data.enum_token,
            format!("{expected}; found an enum"),
        )),
        Data::Union(data) => errors.push(syn::Error::new_spanned(
            data.union_token,
            format!("{expected}; found a union"),
        )),
        Data::Struct(data) => match &data.fields {
            Fields::Unnamed(unnamed) if unnamed.unnamed.len() == 1 => {
                let ty = &unnamed.unnamed[0].ty;
                if !is_u8_16(ty) {
                    errors.push(syn::Error::new_spanned(
                        ty,
                        format!(
                            "the field of a `PrefixedId` must be `[u8; 16]`, found `{}`",
                            type_text(ty)
                        ),
                    ));
                }
            }
            Fields::Unnamed(unnamed) => {
                let found = match unnamed.unnamed.len() {
                    0 => "no field".to_owned(),
                    n => format!("{n} fields"),
                };
                errors.push(syn::Error::new_spanned(
                    unnamed,
                    format!("{expected}; found {found}"),
                ));
            }
            Fields::Named(named) => {
                let error = match named.named.first() {
                    Some(field) if named.named.len() == 1 => syn::Error::new_spanned(
                        field,
                        format!(
                            "`#[derive(PrefixedId)]` needs a tuple struct: write \
                             `pub struct {ident}([u8; 16]);`, without a field name"
                        ),
                    ),
                    _ => syn::Error::new_spanned(named, format!("{expected}; found named fields")),
                };
                errors.push(error);
            }
            Fields::Unit => errors.push(syn::Error::new_spanned(
                ident,
                format!("{expected}; found a unit struct"),
            )),
        },
    }
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &input.generics,
            format!(
                "a `PrefixedId` cannot have generic parameters: each ID type has one fixed \
                 prefix; remove `{}`",
                tokens_text(input.generics.to_token_stream())
            ),
        ));
    }
    errors.len() == before
}

fn is_u8_16(ty: &Type) -> bool {
    let Type::Array(array) = ty else {
        return false;
    };
    let elem_is_u8 =
        matches!(&*array.elem, Type::Path(p) if p.qself.is_none() && p.path.is_ident("u8"));
    let len_is_16 = matches!(
        &array.len,
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(n), .. })
            if n.base10_parse::<usize>().ok() == Some(16)
    );
    elem_is_u8 && len_is_16
}

/// The prefix rules: 1 to 32 characters of `a-z`, `0-9` and `_`, starting with a letter, not
/// ending with `_`, and not reserved. The error says which rule is broken and, when a fix is
/// obvious, the prefix to write instead.
pub(super) fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err(format!(
            "the prefix is empty: {RULE}, like `prefix = \"user\"`"
        ));
    }
    let problem = if let Some(bad) = prefix
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        let what = if bad.is_uppercase() {
            format!("an uppercase letter (`{bad}`)")
        } else if bad == ' ' {
            "a space".to_owned()
        } else {
            format!("`{}`", bad.escape_debug())
        };
        format!(
            "the prefix `{}` contains {what}: {RULE}",
            prefix.escape_debug()
        )
    } else if prefix.len() > MAX_PREFIX_LEN {
        return Err(format!(
            "the prefix is {} characters long, over the limit of {MAX_PREFIX_LEN} (every ID \
             repeats it): choose a shorter one, such as an abbreviation",
            prefix.len()
        ));
    } else if let Some(first) = prefix.chars().next().filter(|c| !c.is_ascii_lowercase()) {
        format!("the prefix `{prefix}` starts with `{first}`, not a letter: {RULE}")
    } else if prefix.ends_with('_') {
        format!(
            "the prefix `{prefix}` ends with `_`, but the derive adds the `_` between the \
             prefix and the random part itself"
        )
    } else if let Some((_, owner)) = RESERVED.iter().find(|(p, _)| *p == prefix) {
        return Err(format!(
            "the prefix `{prefix}` is reserved for {owner}: choose another prefix"
        ));
    } else {
        return Ok(());
    };
    Err(match suggest_prefix(prefix) {
        Some(fix) => format!("{problem}; try `prefix = \"{fix}\"`"),
        None => problem,
    })
}

/// The obvious fix for a broken prefix (`Org-Member_` gives `org_member`), if there is one.
fn suggest_prefix(prefix: &str) -> Option<String> {
    let fixed: String = prefix
        .chars()
        .map(|c| match c {
            '-' | ' ' | '.' | ':' | '/' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let fixed = fixed.trim_matches('_');
    (fixed != prefix && check_prefix(fixed).is_ok()).then(|| fixed.to_owned())
}
