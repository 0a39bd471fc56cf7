//! The items of `#[audit(...)]`, read before darling, for `#[derive(AuditEvent)]` and
//! `#[derive(AuditEntity)]`.
//!
//! darling stops at the first attribute it cannot read, so an unknown key would hide every
//! other mistake of the definition, and its wording speaks of "fields" where the user wrote
//! attribute keys. [`clean`] reports here what darling would report less helpfully: an unknown
//! key (with the key it most likely stands for, or a key that belongs on the struct rather
//! than a field), a key given twice (on both occurrences), a value of the wrong form (`actor =
//! true`, `action = widget.purchased`, `version = "2"`). It returns attributes holding only the
//! items darling can read, so the rules that follow still run in the same pass.

use darling::ast::NestedMeta;
use darling::error::Accumulator;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Lit, Meta};

/// What a key's value looks like.
#[derive(Clone, Copy)]
pub(crate) enum Form {
    /// `key`, no value.
    Flag,
    /// `key = "..."`, with an example value.
    Str(&'static str),
    /// `key = 1`, with an example value.
    Int(&'static str),
    /// `key = path`, with an example value.
    Path(&'static str),
}

/// A key of `#[audit(...)]`.
pub(crate) struct Key {
    pub(crate) name: &'static str,
    pub(crate) form: Form,
}

/// The keys of one place: on the struct or on a field.
pub(crate) struct Place<'a> {
    /// `"on the struct"` or `"on a field"`, for messages.
    pub(crate) name: &'static str,
    /// The keys read here.
    pub(crate) keys: &'a [Key],
    /// The keys read at the other place, and where that is (`"on a field"`): a key of the
    /// other place gets a hint to move it rather than a suggestion.
    pub(crate) other_keys: &'a [Key],
    pub(crate) other_name: &'static str,
}

/// What [`clean`] kept.
pub(crate) struct Cleaned {
    /// The attributes with the `#[audit(...)]` items darling can read, the others unchanged.
    pub(crate) attrs: Vec<Attribute>,
    /// The items kept, each key at most once.
    pub(crate) items: Vec<Meta>,
    /// For each unknown key, the known key it most likely stands for.
    pub(crate) suggested: Vec<Option<&'static str>>,
    /// Known keys dropped because their value had the wrong form.
    pub(crate) rejected: Vec<&'static str>,
}

impl Cleaned {
    /// Whether an error was already reported about `key`: it was dropped for its form, or an
    /// unknown key may have stood for it (it was suggested, or nothing was). A rule that
    /// needs `key` then stays quiet, so that one mistake gives one error.
    pub(crate) fn reported(&self, key: &str) -> bool {
        self.rejected.contains(&key) || self.suggested.iter().any(|s| s.is_none_or(|s| s == key))
    }

    /// The `crate = path` item, if any.
    pub(crate) fn krate(&self) -> Option<syn::Path> {
        self.items.iter().find_map(|item| match item {
            Meta::NameValue(nv) if nv.path.is_ident("crate") => match unwrap_group(&nv.value) {
                Expr::Path(p) => Some(p.path.clone()),
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => s.parse().ok(),
                _ => None,
            },
            _ => None,
        })
    }
}

/// Reads the `#[audit(...)]` attributes among `attrs`, reporting every item darling would
/// reject; see the module docs.
pub(crate) fn clean(attrs: &[Attribute], place: &Place<'_>, errors: &mut Accumulator) -> Cleaned {
    let mut kept_attrs = Vec::new();
    let mut items: Vec<Meta> = Vec::new();
    let mut suggested = Vec::new();
    let mut rejected = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("audit") {
            kept_attrs.push(attr.clone());
            continue;
        }
        let list = match &attr.meta {
            Meta::List(list) => list,
            Meta::Path(_) | Meta::NameValue(_) => {
                errors.push(
                    darling::Error::custom(format!(
                        "`#[audit]` takes its keys in parentheses, like `#[audit({})]`",
                        example_item(place.keys)
                    ))
                    .with_span(&attr.meta),
                );
                suggested.push(None);
                continue;
            }
        };
        let nested = match NestedMeta::parse_meta_list(list.tokens.clone()) {
            Ok(nested) => nested,
            Err(err) => {
                errors.push(
                    darling::Error::custom(format!(
                        "{err}: `#[audit(...)]` takes keys separated by commas, like \
                         `#[audit({})]`",
                        example_item(place.keys)
                    ))
                    .with_span(&err.span()),
                );
                suggested.push(None);
                continue;
            }
        };
        for item in nested {
            let meta = match item {
                NestedMeta::Meta(meta) => meta,
                NestedMeta::Lit(lit) => {
                    errors.push(
                        darling::Error::custom(format!(
                            "`#[audit(...)]` takes keys, not literals, like `#[audit({})]`",
                            example_item(place.keys)
                        ))
                        .with_span(&lit),
                    );
                    suggested.push(None);
                    continue;
                }
            };
            let name = path_text(meta.path());
            let Some(key) = place.keys.iter().find(|k| k.name == name) else {
                let (message, suggestion) = unknown_key(&name, place);
                errors.push(darling::Error::custom(message).with_span(meta.path()));
                suggested.push(suggestion);
                continue;
            };
            if let Some(first) = items.iter().find(|m| m.path().is_ident(key.name)) {
                errors.push(
                    darling::Error::custom(format!("`{name}` is given twice: keep one of the two"))
                        .with_span(meta.path()),
                );
                errors.push(
                    darling::Error::custom(format!("`{name}` is first given here"))
                        .with_span(first.path()),
                );
                continue;
            }
            if let Err(err) = check_form(&meta, key) {
                errors.push(err);
                rejected.push(key.name);
                continue;
            }
            items.push(meta);
        }
    }
    if !items.is_empty() {
        kept_attrs.push(syn::parse_quote!(#[audit(#(#items),*)]));
    }
    Cleaned {
        attrs: kept_attrs,
        items,
        suggested,
        rejected,
    }
}

fn path_text(path: &syn::Path) -> String {
    path.get_ident().map_or_else(
        || path.to_token_stream().to_string().replace(' ', ""),
        ToString::to_string,
    )
}

fn example_item(keys: &[Key]) -> String {
    keys.first().map_or_else(String::new, |k| match k.form {
        Form::Flag => k.name.to_owned(),
        Form::Str(example) => format!("{} = \"{example}\"", k.name),
        Form::Int(example) | Form::Path(example) => format!("{} = {example}", k.name),
    })
}

/// The message for an unknown key, and the known key it most likely stands for.
fn unknown_key(name: &str, place: &Place<'_>) -> (String, Option<&'static str>) {
    if let Some(other) = place.other_keys.iter().find(|k| k.name == name) {
        return (
            format!(
                "`{name}` goes in `#[audit(...)]` {}, not {}: move it there",
                place.other_name, place.name
            ),
            Some(other.name),
        );
    }
    let suggestion = place
        .keys
        .iter()
        .map(|k| k.name)
        .filter(|known| {
            strsim::osa_distance(name, known) <= (known.len() / 3).max(1)
                || (name.len() >= 4 && known.starts_with(&name[..4]))
                || (known.len() >= 4 && name.starts_with(known))
        })
        .min_by_key(|known| strsim::osa_distance(name, known));
    let message = match suggestion {
        Some(known) => format!(
            "unknown key `{name}` in `#[audit(...)]` {}: did you mean `{known}`?",
            place.name
        ),
        None => format!(
            "unknown key `{name}` in `#[audit(...)]` {}: the keys are {}",
            place.name,
            list(place.keys.iter().map(|k| k.name))
        ),
    };
    (message, suggestion)
}

/// `a`, `b` and `c`.
fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn unwrap_group(mut expr: &Expr) -> &Expr {
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    expr
}

/// Checks that `meta` has the form of `key`'s values.
fn check_form(meta: &Meta, key: &Key) -> darling::Result<()> {
    let name = key.name;
    match key.form {
        Form::Flag => match meta {
            Meta::Path(_) => Ok(()),
            Meta::NameValue(nv) => Err(darling::Error::custom(format!(
                "`{name}` is a flag and takes no value: write `#[audit({name})]`"
            ))
            .with_span(&nv.value)),
            Meta::List(list) => Err(darling::Error::custom(format!(
                "`{name}` is a flag and takes no value: write `#[audit({name})]`"
            ))
            .with_span(&list.delimiter.span().join())),
        },
        Form::Str(example) | Form::Int(example) | Form::Path(example) => {
            let value = match meta {
                Meta::NameValue(nv) => unwrap_group(&nv.value),
                Meta::Path(path) => {
                    return Err(darling::Error::custom(format!(
                        "`{name}` needs a value: write `{}`",
                        item_text(key, example)
                    ))
                    .with_span(path));
                }
                Meta::List(list) => {
                    return Err(darling::Error::custom(format!(
                        "`{name}` takes `=` and a value: write `{}`",
                        item_text(key, example)
                    ))
                    .with_span(&list.delimiter.span().join()));
                }
            };
            check_value(value, key, example)
        }
    }
}

fn item_text(key: &Key, value: &str) -> String {
    match key.form {
        Form::Str(_) => format!("{} = \"{value}\"", key.name),
        Form::Flag => key.name.to_owned(),
        Form::Int(_) | Form::Path(_) => format!("{} = {value}", key.name),
    }
}

fn check_value(value: &Expr, key: &Key, example: &str) -> darling::Result<()> {
    let name = key.name;
    let text = value.to_token_stream().to_string().replace(' ', "");
    let fail = |what: &str, fixed: String| {
        Err(darling::Error::custom(format!(
            "`{name}` takes {what}: write `{}`",
            item_text(key, &fixed)
        ))
        .with_span(&value.span()))
    };
    let lit = match value {
        Expr::Lit(lit) => Some(&lit.lit),
        _ => None,
    };
    match key.form {
        Form::Flag => Ok(()),
        Form::Str(_) => match lit {
            Some(Lit::Str(_)) => Ok(()),
            // `action = widget.purchased` most likely means `action = "widget.purchased"`.
            _ if !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-')) =>
            {
                fail("a string literal", text)
            }
            _ => fail("a string literal", example.to_owned()),
        },
        Form::Int(_) => match lit {
            Some(Lit::Int(_)) => Ok(()),
            Some(Lit::Str(s)) if s.value().parse::<u32>().is_ok() => {
                fail("an integer, not a string", s.value())
            }
            _ => fail("an integer", example.to_owned()),
        },
        Form::Path(_) => match (value, lit) {
            (Expr::Path(_), _) | (_, Some(Lit::Str(_))) => Ok(()),
            _ => fail("a path", example.to_owned()),
        },
    }
}
