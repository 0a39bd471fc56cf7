//! Rules of `#[derive(AuditEvent)]` that look at more than one attribute: the action, the
//! version, the roles of the fields and the message's placeholders. Every violation is
//! reported, each on its own token.

use darling::FromDeriveInput;
use darling::util::SpannedValue;
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, Type};

use super::attr::{EventAttrs, FieldAttrs};
use super::template::{self, Piece};

/// What a field is in the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Actor,
    Subject,
    ActorAndSubject,
    Detail,
    Outcome,
    Skipped,
}

impl Role {
    pub(super) fn is_actor(self) -> bool {
        matches!(self, Role::Actor | Role::ActorAndSubject)
    }

    pub(super) fn is_subject(self) -> bool {
        matches!(self, Role::Subject | Role::ActorAndSubject)
    }

    /// The variant name of `audit_core::catalog::FieldRole`.
    pub(super) fn variant(self) -> &'static str {
        match self {
            Role::Actor => "Actor",
            Role::Subject => "Subject",
            Role::ActorAndSubject => "ActorAndSubject",
            Role::Detail => "Detail",
            Role::Outcome => "Outcome",
            Role::Skipped => "Skipped",
        }
    }
}

/// A checked field.
pub(super) struct Field {
    pub(super) member: Ident,
    pub(super) name: String,
    pub(super) ty: Type,
    pub(super) role: Role,
    pub(super) subject_role: Option<String>,
    pub(super) redacted: bool,
}

/// A checked `#[derive(AuditEvent)]` input.
pub(super) struct Event<'a> {
    pub(super) ident: &'a Ident,
    pub(super) krate: syn::Path,
    pub(super) action: String,
    pub(super) version: u32,
    /// The template, its span and its pieces.
    pub(super) message: Option<(String, Span, Vec<Piece>)>,
    pub(super) fields: Vec<Field>,
}

/// A failed input: the errors, and what the fallback needs.
pub(super) struct Failed {
    pub(super) error: darling::Error,
    pub(super) krate: syn::Path,
}

fn default_krate() -> syn::Path {
    syn::parse_quote!(::audit_core)
}

pub(super) fn validate(input: &DeriveInput) -> Result<Event<'_>, Box<Failed>> {
    let attrs = match EventAttrs::from_derive_input(input) {
        Ok(attrs) => attrs,
        Err(error) => {
            return Err(Box::new(Failed {
                error,
                krate: default_krate(),
            }));
        }
    };
    let krate = attrs.krate.clone().unwrap_or_else(default_krate);
    let mut errors = darling::Error::accumulator();

    if let Some(param) = attrs.generics.params.first() {
        errors.push(
            darling::Error::custom(
                "an audit event cannot be generic: its schema is registered once per type",
            )
            .with_span(&param.span()),
        );
    }

    let action = check_action(&attrs, &mut errors);
    let version = match &attrs.version {
        Some(v) if **v == 0 => {
            errors.push(
                darling::Error::custom("versions start at 1: write `version = 1`")
                    .with_span(&v.span()),
            );
            0
        }
        Some(v) => **v,
        None => 1,
    };

    let raw_fields = match attrs.data {
        darling::ast::Data::Struct(fields) => fields.fields,
        darling::ast::Data::Enum(_) => Vec::new(), // rejected by `supports(struct_named)`
    };
    let fields: Vec<Field> = raw_fields
        .into_iter()
        .filter_map(|f| check_field(f, &mut errors))
        .collect();

    check_roles(&attrs.ident, &fields, &mut errors);

    let message = attrs.message.as_ref().and_then(|m| {
        let span = m.span();
        match template::parse(m.as_str()) {
            Ok(pieces) => {
                for piece in &pieces {
                    if let Piece::Field(name) = piece {
                        check_placeholder(name, span, &fields, &mut errors);
                    }
                }
                Some((m.as_str().to_owned(), span, pieces))
            }
            Err(msg) => {
                errors.push(darling::Error::custom(msg).with_span(&span));
                None
            }
        }
    });

    match errors.finish() {
        Ok(()) => Ok(Event {
            ident: &input.ident,
            krate,
            action,
            version,
            message,
            fields,
        }),
        Err(error) => Err(Box::new(Failed { error, krate })),
    }
}

fn check_action(attrs: &EventAttrs, errors: &mut darling::error::Accumulator) -> String {
    let Some(action) = &attrs.action else {
        errors.push(
            darling::Error::custom(format!(
                "`{}` has no action: add `#[audit(action = \"noun.verb\")]` above the struct, \
                 like `#[audit(action = \"widget.purchased\")]`",
                attrs.ident
            ))
            .with_span(&attrs.ident),
        );
        return String::new();
    };
    if !is_valid_action(action) {
        let fixed = suggest_action(action);
        let hint = match fixed {
            Some(fixed) if is_valid_action(&fixed) => format!("; try `{fixed}`"),
            _ => String::new(),
        };
        errors.push(
            darling::Error::custom(format!(
                "`{}` is not a valid action: an action is dotted lowercase, at least two \
                 segments of `a-z`, `0-9` and `_` that each start with a letter, like \
                 `widget.purchased`{hint}",
                action.as_str()
            ))
            .with_span(&action.span()),
        );
    }
    action.as_str().to_owned()
}

/// `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`
fn is_valid_action(action: &str) -> bool {
    let mut segments = 0;
    for segment in action.split('.') {
        segments += 1;
        let mut chars = segment.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !starts_with_letter
            || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return false;
        }
    }
    segments >= 2
}

fn suggest_action(action: &str) -> Option<String> {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in action.chars() {
        match c {
            'A'..='Z' => {
                if prev_lower {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
                prev_lower = false;
            }
            '-' | ' ' => {
                out.push('_');
                prev_lower = false;
            }
            ':' | '/' => {
                out.push('.');
                prev_lower = false;
            }
            c => {
                out.push(c);
                prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            }
        }
    }
    let out = out.replace("..", ".");
    (out != action).then_some(out)
}

fn check_field(f: FieldAttrs, errors: &mut darling::error::Accumulator) -> Option<Field> {
    let member = f.ident?;
    let name = member.unraw().to_string();
    let actor = f.actor.is_present();
    let subject = f.subject.is_present();
    let outcome = f.outcome.is_present();
    let skip = f.skip.is_present();

    let conflict = |a: &str, b: &str, span: Span| {
        darling::Error::custom(format!(
            "a field cannot be both `{a}` and `{b}`: `{name}` must be one or the other"
        ))
        .with_span(&span)
    };
    if skip && (actor || subject || outcome) {
        let other = if actor {
            "actor"
        } else if subject {
            "subject"
        } else {
            "outcome"
        };
        errors.push(conflict(other, "skip", f.skip.span()));
    }
    if outcome && (actor || subject) {
        let other = if actor { "actor" } else { "subject" };
        errors.push(conflict(other, "outcome", f.outcome.span()));
    }
    if let Some(role) = &f.role {
        if !subject {
            errors.push(
                darling::Error::custom(format!(
                    "`role` names the role of a subject: mark `{name}` `#[audit(subject, role = \
                     \"...\")]`, or remove `role`"
                ))
                .with_span(&role.span()),
            );
        } else if !is_role_name(role) {
            errors.push(
                darling::Error::custom(
                    "a role is lowercase `a-z`, `0-9` and `_`, starting with a letter, like \
                     `role = \"target\"`",
                )
                .with_span(&role.span()),
            );
        }
    }

    let role = match (actor, subject, outcome, skip) {
        (true, true, _, _) => Role::ActorAndSubject,
        (true, false, _, _) => Role::Actor,
        (false, true, _, _) => Role::Subject,
        (_, _, true, _) => Role::Outcome,
        (_, _, _, true) => Role::Skipped,
        _ => Role::Detail,
    };
    let subject_role = role.is_subject().then(|| {
        f.role
            .as_ref()
            .map_or_else(|| name.clone(), |r| r.as_str().to_owned())
    });
    let redacted = is_redacted(&f.ty);
    Some(Field {
        member,
        name,
        ty: f.ty,
        role,
        subject_role,
        redacted,
    })
}

fn is_role_name(role: &SpannedValue<String>) -> bool {
    let mut chars = role.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `Redacted<_>`, also inside `Option<_>` or `Vec<_>`.
fn is_redacted(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    if last.ident == "Redacted" {
        return true;
    }
    if let (true, syn::PathArguments::AngleBracketed(args)) = (
        last.ident == "Option" || last.ident == "Vec",
        &last.arguments,
    ) {
        return args.args.iter().any(|a| match a {
            syn::GenericArgument::Type(inner) => is_redacted(inner),
            _ => false,
        });
    }
    false
}

fn check_roles(ident: &Ident, fields: &[Field], errors: &mut darling::error::Accumulator) {
    let actors: Vec<&Field> = fields.iter().filter(|f| f.role.is_actor()).collect();
    match actors.as_slice() {
        [] => errors.push(
            darling::Error::custom(format!(
                "`{ident}` has no actor: mark the field of who acted `#[audit(actor)]` (an \
                 `EntityRef<SomeId>` or an `audit_core::Actor`)"
            ))
            .with_span(ident),
        ),
        [_] => {}
        [first, rest @ ..] => {
            for extra in rest {
                errors.push(
                    darling::Error::custom(format!(
                        "an event has exactly one actor, and `{}` is already the actor: make \
                         `{}` a subject or a detail",
                        first.name, extra.name
                    ))
                    .with_span(&extra.member),
                );
            }
        }
    }
    if !fields.iter().any(|f| f.role.is_subject()) {
        errors.push(
            darling::Error::custom(format!(
                "`{ident}` has no subject: mark what was acted on `#[audit(subject)]`, or \
                 `#[audit(actor, subject)]` when the actor acts on itself"
            ))
            .with_span(ident),
        );
    }
    let outcomes: Vec<&Field> = fields.iter().filter(|f| f.role == Role::Outcome).collect();
    for extra in outcomes.iter().skip(1) {
        errors.push(
            darling::Error::custom(format!(
                "an event has at most one outcome field, and `{}` is already it",
                outcomes[0].name
            ))
            .with_span(&extra.member),
        );
    }
    for (i, f) in fields.iter().enumerate() {
        let Some(role) = &f.subject_role else {
            continue;
        };
        if let Some(first) = fields[..i]
            .iter()
            .find(|g| g.subject_role.as_ref() == Some(role))
        {
            errors.push(
                darling::Error::custom(format!(
                    "the subject role `{role}` is already used by `{}`: give `{}` its own \
                     `#[audit(subject, role = \"...\")]`",
                    first.name, f.name
                ))
                .with_span(&f.member),
            );
        }
    }
}

fn check_placeholder(
    name: &str,
    span: Span,
    fields: &[Field],
    errors: &mut darling::error::Accumulator,
) {
    if name == "actor" || fields.iter().any(|f| f.name == name) {
        return;
    }
    let best = fields
        .iter()
        .map(|f| f.name.as_str())
        .chain(std::iter::once("actor"))
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let hint = match best {
        Some((_, candidate)) => format!("; did you mean `{{{candidate}}}`?"),
        None => format!(
            "; the fields are {}, and `actor`",
            fields
                .iter()
                .map(|f| format!("`{}`", f.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    errors.push(
        darling::Error::custom(format!(
            "`{{{name}}}` in `message` names no field of this event{hint}"
        ))
        .with_span(&span),
    );
}

#[cfg(test)]
mod tests {
    use super::{is_valid_action, suggest_action};

    #[test]
    fn actions() {
        for ok in ["widget.purchased", "a.b", "user.logged_in", "v2.x1.y_z"] {
            assert!(is_valid_action(ok), "{ok}");
        }
        for bad in [
            "widget",
            "Widget.purchased",
            ".a",
            "a.",
            "a..b",
            "1a.b",
            "a.1b",
            "a-b.c",
            "",
            "a.b ",
            "a._b",
        ] {
            assert!(!is_valid_action(bad), "{bad}");
        }
        assert_eq!(
            suggest_action("widgetPurchased"),
            Some("widget_purchased".into())
        );
        assert_eq!(
            suggest_action("Widget.Purchased"),
            Some("widget.purchased".into())
        );
        assert_eq!(
            suggest_action("widget-purchased"),
            Some("widget_purchased".into())
        );
    }
}
