//! `#[id(prefix = "...", name = "...", sortable, crate = path)]`.
//!
//! Reading happens in two steps. [`collect`] gathers the `key = value` items of every `#[id]`
//! attribute and reports what darling would report less helpfully: a bare literal
//! (`#[id("user")]`), `#[id = "user"]`, an unknown key (darling's "did you mean" offers
//! `sortable` for `table`) and a key given twice (on both occurrences, where darling shows only
//! the second). darling then reads the remaining items into [`IdAttrs`]; each value type checks
//! itself, so a bad prefix, a bad `sortable` and an unknown key are reported in the same run.

use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Lit, Meta};

use super::valid::check_prefix;

/// The keys of `#[id(...)]`.
const KEYS: &[&str] = &["prefix", "name", "sortable", "crate"];

/// The attributes of `#[derive(PrefixedId)]`, as written.
#[derive(FromMeta)]
pub(super) struct IdAttrs {
    /// The type prefix, already checked against the prefix rules.
    #[darling(default)]
    pub(super) prefix: Option<Prefix>,
    /// The entity name in logs; defaults to the prefix.
    #[darling(default)]
    pub(super) name: Option<Name>,
    /// Time-ordered IDs.
    #[darling(default)]
    pub(super) sortable: Sortable,
    /// The path of `audit_core` when the user renamed it.
    #[darling(default, rename = "crate")]
    pub(super) krate: Option<syn::Path>,
}

/// What [`collect`] found in the `#[id]` attributes.
pub(super) struct Collected<'a> {
    /// The `key = value` items, each known key at most once.
    pub(super) items: Vec<NestedMeta>,
    /// The last `#[id]` attribute, to point at when a key is missing.
    pub(super) last_attr: Option<&'a Attribute>,
    /// An error already points the user to `prefix = "..."` (after `#[id("user")]`,
    /// `#[id = "user"]`, a syntax error or an unknown key that may stand for `prefix`), so a
    /// missing prefix needs no second error.
    pub(super) prefix_hinted: bool,
}

/// Gathers the items of every `#[id(...)]`, reporting what is not a `key = value` item and
/// keys given twice; the items darling can read are returned.
pub(super) fn collect<'a>(attrs: &'a [Attribute], errors: &mut Vec<syn::Error>) -> Collected<'a> {
    let mut items = Vec::new();
    let mut seen: Vec<(String, Span)> = Vec::new();
    let mut last_attr = None;
    let mut prefix_hinted = false;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("id")) {
        last_attr = Some(attr);
        let list = match &attr.meta {
            // `#[id]` holds no key; a missing prefix is reported later.
            Meta::Path(_) => continue,
            Meta::NameValue(nv) => {
                let example = str_value(&nv.value).unwrap_or_else(|| "user".to_owned());
                errors.push(syn::Error::new_spanned(
                    &attr.meta,
                    format!(
                        "`#[id]` takes its keys in parentheses: write `#[id(prefix = {example:?})]`"
                    ),
                ));
                prefix_hinted = true;
                continue;
            }
            Meta::List(list) => list,
        };
        let nested = match NestedMeta::parse_meta_list(list.tokens.clone()) {
            Ok(nested) => nested,
            Err(err) => {
                // syn says what token it expected; add what the list should look like.
                errors.push(syn::Error::new(
                    err.span(),
                    format!(
                        "{err}: `#[id(...)]` takes `key = value` items and flags separated by \
                         commas, like `#[id(prefix = \"user\", sortable)]`"
                    ),
                ));
                prefix_hinted = true;
                continue;
            }
        };
        for item in nested {
            let meta = match item {
                NestedMeta::Lit(lit) => {
                    let message = match &lit {
                        Lit::Str(s) => format!(
                            "a bare string is not an `#[id]` key: write `prefix = {:?}`",
                            s.value()
                        ),
                        _ => {
                            "`#[id]` takes `key = value` items, like `prefix = \"user\"`".to_owned()
                        }
                    };
                    errors.push(syn::Error::new_spanned(&lit, message));
                    prefix_hinted = true;
                    continue;
                }
                NestedMeta::Meta(meta) => meta,
            };
            let key = meta
                .path()
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            if !KEYS.contains(&key.as_str()) {
                let (message, suggestion) = unknown_key(meta.path());
                errors.push(syn::Error::new_spanned(meta.path(), message));
                // `prefx = "user"` or `pfx = "user"` most likely stands for the prefix.
                prefix_hinted |= matches!(suggestion, None | Some("prefix"));
                continue;
            }
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                errors.push(syn::Error::new_spanned(
                    meta.path(),
                    format!("`{key}` is given twice: keep one of the two"),
                ));
                errors.push(syn::Error::new(
                    *first,
                    format!("`{key}` is first given here"),
                ));
                continue;
            }
            seen.push((key, meta.path().span()));
            items.push(NestedMeta::Meta(meta));
        }
    }
    Collected {
        items,
        last_attr,
        prefix_hinted,
    }
}

/// The message for an unknown key: the key it most likely stands for, else the list of keys
/// (darling's own message is close, but its suggestions are loose: it offers `sortable` for
/// `table`). Also returns the suggested key.
fn unknown_key(path: &syn::Path) -> (String, Option<&'static str>) {
    let key = path.get_ident().map_or_else(
        || quote::quote!(#path).to_string().replace(' ', ""),
        ToString::to_string,
    );
    let suggestion = KEYS.iter().find(|known| {
        osa_distance(&key, known) <= known.len() / 3
            || key.get(..4).is_some_and(|start| known.starts_with(start))
    });
    let message = match suggestion {
        Some(known) => format!("unknown key `{key}` in `#[id(...)]`: did you mean `{known}`?"),
        None => format!(
            "unknown key `{key}` in `#[id(...)]`: the keys are `prefix`, `name`, `sortable` and \
             `crate`"
        ),
    };
    (message, suggestion.copied())
}

/// The edit distance where swapping two neighbours counts as one edit (optimal string
/// alignment), so that `sortabel` is one edit from `sortable`.
fn osa_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The string in `"..."`, looking through the invisible groups of `macro_rules!` arguments.
fn str_value(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        Expr::Group(group) => str_value(&group.expr),
        _ => None,
    }
}

/// The value of a `key = "..."` item: the string and the span of its literal, or an error
/// saying that a string literal is expected.
fn string_item(item: &Meta, key: &str, example: &str) -> darling::Result<(String, Span)> {
    let value = match item {
        Meta::NameValue(nv) => &nv.value,
        Meta::Path(path) => {
            return Err(darling::Error::custom(format!(
                "`{key}` needs a value: write `{key} = \"{example}\"`"
            ))
            .with_span(path));
        }
        Meta::List(list) => {
            return Err(darling::Error::custom(format!(
                "`{key}` takes a string: write `{key} = \"{example}\"`"
            ))
            .with_span(&list.delimiter.span().join()));
        }
    };
    let mut expr = value;
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    if let Expr::Lit(syn::ExprLit {
        lit: Lit::Str(s), ..
    }) = expr
    {
        return Ok((s.value(), s.span()));
    }
    // `prefix = user` most likely means `prefix = "user"`.
    let example = match expr {
        Expr::Path(path) => path
            .path
            .get_ident()
            .map_or_else(|| example.to_owned(), ToString::to_string),
        _ => example.to_owned(),
    };
    Err(darling::Error::custom(format!(
        "`{key}` takes a string literal: write `{key} = \"{example}\"`"
    ))
    .with_span(expr))
}

/// `prefix = "..."`, valid by the prefix rules.
pub(super) struct Prefix(pub(super) String);

impl FromMeta for Prefix {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        let (value, span) = string_item(item, "prefix", "user")?;
        check_prefix(&value).map_err(|msg| darling::Error::custom(msg).with_span(&span))?;
        Ok(Self(value))
    }
}

/// `name = "..."`: not empty, no control characters.
pub(super) struct Name(pub(super) String);

impl FromMeta for Name {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        let (value, span) = string_item(item, "name", "widget")?;
        if value.trim().is_empty() || value.chars().any(char::is_control) {
            return Err(darling::Error::custom(
                "`name` is the entity's type name in logs and cannot be blank or hold control \
                 characters: write a name like `name = \"widget\"`, or remove it to use the prefix",
            )
            .with_span(&span));
        }
        Ok(Self(value))
    }
}

/// `sortable`, a flag: `sortable = true` and `sortable = false` are errors that say what to
/// write instead, so that there is one spelling to grep for.
#[derive(Default)]
pub(super) struct Sortable(pub(super) bool);

impl FromMeta for Sortable {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        let value = match item {
            Meta::Path(_) => return Ok(Self(true)),
            Meta::NameValue(nv) => &nv.value,
            Meta::List(list) => {
                return Err(darling::Error::custom(
                    "`sortable` takes no value: write `sortable` alone",
                )
                .with_span(&list.delimiter.span().join()));
            }
        };
        let message = match value {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Bool(b), ..
            }) if b.value => "`sortable` is a flag: write `sortable` alone, without `= true`",
            Expr::Lit(syn::ExprLit {
                lit: Lit::Bool(_), ..
            }) => "`sortable` is a flag, off unless written: remove `sortable = false`",
            _ => "`sortable` takes no value: write `sortable` alone",
        };
        Err(darling::Error::custom(message).with_span(value))
    }
}

/// `crate = path` on its own, to name `audit_core` in the fallback output when another key is
/// wrong.
pub(super) fn krate_alone(items: &[NestedMeta]) -> Option<syn::Path> {
    items.iter().find_map(|item| match item {
        NestedMeta::Meta(meta) if meta.path().is_ident("crate") => {
            Option::<syn::Path>::from_meta(meta).ok().flatten()
        }
        _ => None,
    })
}
