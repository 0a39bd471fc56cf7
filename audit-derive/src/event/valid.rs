//! Rules of `#[derive(AuditEvent)]` that look at more than one attribute: the action, the
//! version, the roles of the fields and the message's placeholders. Every violation is
//! reported, each on its own token.

use darling::FromDeriveInput;
use darling::util::SpannedValue;
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, Type};

use super::attr::{EventAttrs, FieldAttrs};
use super::template::{self, Piece};
use crate::audit_attr::{self, Form, Key, Place};

/// The keys of `#[audit(...)]` on the struct.
const STRUCT_KEYS: &[Key] = &[
    Key {
        name: "action",
        form: Form::Str("widget.purchased"),
    },
    Key {
        name: "version",
        form: Form::Int("1"),
    },
    Key {
        name: "message",
        form: Form::Str("{actor} bought {widget}"),
    },
    Key {
        name: "crate",
        form: Form::Path("audit_core"),
    },
];

/// The keys of `#[audit(...)]` on a field.
const FIELD_KEYS: &[Key] = &[
    Key {
        name: "actor",
        form: Form::Flag,
    },
    Key {
        name: "subject",
        form: Form::Flag,
    },
    Key {
        name: "role",
        form: Form::Str("buyer"),
    },
    Key {
        name: "outcome",
        form: Form::Flag,
    },
    Key {
        name: "skip",
        form: Form::Flag,
    },
];

const ON_STRUCT: Place<'static> = Place {
    name: "on the struct",
    keys: STRUCT_KEYS,
    other_keys: FIELD_KEYS,
    other_name: "on a field",
};

const ON_FIELD: Place<'static> = Place {
    name: "on a field",
    keys: FIELD_KEYS,
    other_keys: STRUCT_KEYS,
    other_name: "on the struct",
};

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
    /// The span of `role = "..."`'s value, when the role is renamed.
    pub(super) role_span: Option<Span>,
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

/// What the attribute pass already reported, which makes a rule's own error redundant: a
/// misspelled `#[audit(actr)]` is one mistake, not also a missing actor.
struct Reported {
    action: bool,
    actor: bool,
    subject: bool,
}

pub(super) fn validate(input: &DeriveInput) -> Result<Event<'_>, Box<Failed>> {
    let mut errors = darling::Error::accumulator();
    let on_struct = audit_attr::clean(&input.attrs, &ON_STRUCT, &mut errors);
    let krate = on_struct.krate().unwrap_or_else(default_krate);
    let failed = |errors: darling::error::Accumulator, krate: syn::Path| {
        let error = errors
            .finish()
            .err()
            .unwrap_or_else(|| darling::Error::custom("internal: no error was recorded"));
        Box::new(Failed { error, krate })
    };

    if !check_shape(input, &mut errors) {
        return Err(failed(errors, krate));
    }

    // darling reads what the attribute pass kept.
    let mut cleaned = input.clone();
    cleaned.attrs = on_struct.attrs.clone();
    // `actor` or `subject` written on the struct: reported as misplaced.
    let mut reported = Reported {
        action: on_struct.reported("action"),
        actor: on_struct.suggested.contains(&Some("actor")),
        subject: on_struct.suggested.contains(&Some("subject")),
    };
    if let Data::Struct(data) = &mut cleaned.data {
        for field in &mut data.fields {
            let on_field = audit_attr::clean(&field.attrs, &ON_FIELD, &mut errors);
            reported.actor |= on_field.reported("actor");
            reported.subject |= on_field.reported("subject");
            // `action` written on a field: reported as misplaced.
            reported.action |= on_field.suggested.contains(&Some("action"));
            field.attrs = on_field.attrs;
        }
    }
    let attrs = match EventAttrs::from_derive_input(&cleaned) {
        Ok(attrs) => attrs,
        Err(error) => {
            errors.push(error);
            return Err(failed(errors, krate));
        }
    };

    if let Some(param) = attrs.generics.params.first() {
        errors.push(
            darling::Error::custom(
                "an audit event cannot be generic: its schema is registered once per type; \
                 write one event type for each schema",
            )
            .with_span(&param.span()),
        );
    }

    let action = check_action(&attrs, reported.action, &mut errors);
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
        darling::ast::Data::Enum(_) => Vec::new(), // rejected by `check_shape`
    };
    let fields: Vec<Field> = raw_fields
        .into_iter()
        .filter_map(|f| check_field(f, &mut errors))
        .collect();

    check_roles(&attrs.ident, &fields, &reported, &mut errors);

    let message = attrs.message.as_ref().map(|m| {
        let span = m.span();
        let (pieces, problems) = template::parse(m.as_str());
        for problem in problems {
            errors.push(darling::Error::custom(problem).with_span(&span));
        }
        for piece in &pieces {
            if let Piece::Field(name) = piece {
                check_placeholder(name, span, &fields, &mut errors);
            }
        }
        (m.as_str().to_owned(), span, pieces)
    });

    let event = Event {
        ident: &input.ident,
        krate: attrs.krate.unwrap_or_else(|| krate.clone()),
        action,
        version,
        message,
        fields,
    };
    errors
        .finish_with(event)
        .map_err(|error| Box::new(Failed { error, krate }))
}

/// A struct with named fields; an error on the offending token otherwise.
fn check_shape(input: &DeriveInput, errors: &mut darling::error::Accumulator) -> bool {
    const EXAMPLE: &str = "`pub struct WidgetPurchased { #[audit(actor)] pub buyer: \
                           EntityRef<UserId>, #[audit(subject)] pub widget: EntityRef<WidgetId> }`";
    let (message, span) = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(_) => return true,
            Fields::Unnamed(fields) => (
                format!(
                    "`#[derive(AuditEvent)]` needs named fields: each field's name is its key in \
                     the log (a detail's key, a subject's role, a message placeholder); write \
                     {EXAMPLE}"
                ),
                fields.paren_token.span.join(),
            ),
            Fields::Unit => (
                format!(
                    "`#[derive(AuditEvent)]` needs named fields, at least an actor and a \
                     subject, like {EXAMPLE}"
                ),
                input.ident.span(),
            ),
        },
        Data::Enum(data) => (
            format!(
                "`#[derive(AuditEvent)]` needs a struct with named fields, like {EXAMPLE}; found \
                 an enum: write one event type for each kind of event"
            ),
            data.enum_token.span,
        ),
        Data::Union(data) => (
            format!(
                "`#[derive(AuditEvent)]` needs a struct with named fields, like {EXAMPLE}; found \
                 a union"
            ),
            data.union_token.span,
        ),
    };
    errors.push(darling::Error::custom(message).with_span(&span));
    false
}

fn check_action(
    attrs: &EventAttrs,
    reported: bool,
    errors: &mut darling::error::Accumulator,
) -> String {
    let Some(action) = &attrs.action else {
        if !reported {
            errors.push(
                darling::Error::custom(format!(
                    "`{}` has no action: add `#[audit(action = \"noun.verb\")]` above the \
                     struct, like `#[audit(action = \"widget.purchased\")]`",
                    attrs.ident
                ))
                .with_span(&attrs.ident),
            );
        }
        return String::new();
    };
    if let Some(problem) = action_problem(action) {
        let hint = [
            suggest_action(action),
            suggest_action(&action.replace(['-', ' ', ':', '/'], ".")),
        ]
        .into_iter()
        .flatten()
        .find(|fixed| action_problem(fixed).is_none())
        .map(|fixed| format!("; try `{fixed}`"))
        .unwrap_or_default();
        errors.push(
            darling::Error::custom(format!(
                "`{}` is not a valid action: {problem}; an action is dotted lowercase, \
                 `noun.verb` (`a-z`, `0-9` and `_`, each segment starting with a letter), like \
                 `widget.purchased`{hint}",
                action.as_str()
            ))
            .with_span(&action.span()),
        );
    }
    action.as_str().to_owned()
}

/// What breaks `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`, if anything.
fn action_problem(action: &str) -> Option<String> {
    if action.is_empty() {
        return Some("it is empty".to_owned());
    }
    if let Some(c) = action.chars().find(char::is_ascii_uppercase) {
        return Some(format!("it has an uppercase letter (`{c}`)"));
    }
    if let Some(c) = action
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
    {
        return Some(format!("it contains `{c}`"));
    }
    if !action.contains('.') {
        return Some("it has only one segment".to_owned());
    }
    for segment in action.split('.') {
        if segment.is_empty() {
            return Some("it has an empty segment".to_owned());
        }
        if !segment.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Some(format!(
                "the segment `{segment}` does not start with a letter"
            ));
        }
    }
    None
}

/// `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`
#[cfg(test)]
fn is_valid_action(action: &str) -> bool {
    action_problem(action).is_none()
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

    if skip && (actor || subject || outcome) {
        let other = if actor {
            "actor"
        } else if subject {
            "subject"
        } else {
            "outcome"
        };
        errors.push(
            darling::Error::custom(format!(
                "`{name}` cannot be both `{other}` and `skip`: `skip` keeps a field out of the \
                 log, and the {other} is always in it; remove one of the two"
            ))
            .with_span(&f.skip.span()),
        );
    }
    if outcome && (actor || subject) {
        let other = if actor { "actor" } else { "subject" };
        errors.push(
            darling::Error::custom(format!(
                "`{name}` cannot be both `{other}` and `outcome`: the outcome is an \
                 `audit_core::Outcome` and the {other} an entity; remove one of the two"
            ))
            .with_span(&f.outcome.span()),
        );
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
        } else if !is_role_name(role.as_str()) {
            let fixed: String = role
                .trim()
                .chars()
                .map(|c| match c {
                    '-' | ' ' | '.' => '_',
                    c => c.to_ascii_lowercase(),
                })
                .collect();
            let hint = if is_role_name(&fixed) {
                format!("; try `role = \"{fixed}\"`")
            } else {
                String::new()
            };
            errors.push(
                darling::Error::custom(format!(
                    "`{}` is not a valid role: a role is lowercase `a-z`, `0-9` and `_`, \
                     starting with a letter, like `role = \"target\"`{hint}",
                    role.as_str()
                ))
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
    let role_span = f.role.as_ref().filter(|_| subject).map(SpannedValue::span);
    let redacted = is_redacted(&f.ty);
    Some(Field {
        member,
        name,
        ty: f.ty,
        role,
        subject_role,
        role_span,
        redacted,
    })
}

fn is_role_name(role: &str) -> bool {
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
    if (last.ident == "Option" || last.ident == "Vec")
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
    {
        return args.args.iter().any(|a| match a {
            syn::GenericArgument::Type(inner) => is_redacted(inner),
            _ => false,
        });
    }
    false
}

fn check_roles(
    ident: &Ident,
    fields: &[Field],
    reported: &Reported,
    errors: &mut darling::error::Accumulator,
) {
    let actors: Vec<&Field> = fields.iter().filter(|f| f.role.is_actor()).collect();
    match actors.as_slice() {
        [] if reported.actor => {}
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
    if !reported.subject && !fields.iter().any(|f| f.role.is_subject()) {
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
            let why = if first.role_span.is_none() {
                " (a subject's role is its field name unless renamed)"
            } else {
                ""
            };
            let span = f.role_span.unwrap_or_else(|| f.member.span());
            errors.push(
                darling::Error::custom(format!(
                    "the subject role `{role}` is already taken by `{}`{why}: roles tell \
                     subjects apart in the log; give `{}` another one with \
                     `#[audit(subject, role = \"...\")]`",
                    first.name, f.name
                ))
                .with_span(&span),
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
        None => {
            let names: Vec<String> = std::iter::once("actor")
                .chain(fields.iter().map(|f| f.name.as_str()))
                .map(|n| format!("`{{{n}}}`"))
                .collect();
            let (last, init) = names.split_last().unwrap_or((&names[0], &[]));
            format!(
                "; the placeholders of this event are {} and {last}",
                init.join(", ")
            )
        }
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
