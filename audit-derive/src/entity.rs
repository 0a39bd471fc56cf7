//! `#[derive(AuditEntity)]`: a model with an `#[audit(id)]` field and an `#[audit(display)]`
//! field becomes something events can name (`EntityRef::from(&model)`).

use darling::util::Flag;
use darling::{FromDeriveInput, FromField};
use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Data, DeriveInput, Fields};

use crate::audit_attr::{self, Form, Key, Place};
use crate::respan::call_on_field;

const STRUCT_KEYS: &[Key] = &[Key {
    name: "crate",
    form: Form::Path("audit_core"),
}];

const FIELD_KEYS: &[Key] = &[
    Key {
        name: "id",
        form: Form::Flag,
    },
    Key {
        name: "display",
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

const EXAMPLE: &str = "`pub struct User { #[audit(id)] pub id: UserId, #[audit(display)] pub \
                       name: String }`";

#[derive(FromDeriveInput)]
#[darling(attributes(audit), supports(struct_named))]
struct EntityAttrs {
    ident: syn::Ident,
    generics: syn::Generics,
    data: darling::ast::Data<(), EntityField>,
    #[darling(default, rename = "crate")]
    krate: Option<syn::Path>,
}

#[derive(FromField)]
#[darling(attributes(audit))]
struct EntityField {
    ident: Option<syn::Ident>,
    ty: syn::Type,
    #[darling(default)]
    id: Flag,
    #[darling(default)]
    display: Flag,
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let mut errors = darling::Error::accumulator();
    let on_struct = audit_attr::clean(&input.attrs, &ON_STRUCT, &mut errors);
    let mut krate = on_struct
        .krate()
        .unwrap_or_else(|| syn::parse_quote!(::audit_core));
    let mut id_ty = None;
    let mut output = None;
    if check_shape(input, &mut errors) {
        let mut cleaned = input.clone();
        cleaned.attrs = on_struct.attrs;
        let (mut id_reported, mut display_reported) = (false, false);
        if let Data::Struct(data) = &mut cleaned.data {
            for field in &mut data.fields {
                let on_field = audit_attr::clean(&field.attrs, &ON_FIELD, &mut errors);
                id_reported |= on_field.reported("id");
                display_reported |= on_field.reported("display");
                field.attrs = on_field.attrs;
            }
        }
        if let Some(attrs) = errors.handle(EntityAttrs::from_derive_input(&cleaned)) {
            krate = attrs.krate.clone().unwrap_or(krate);
            let fields = match &attrs.data {
                darling::ast::Data::Struct(fields) => fields.fields.as_slice(),
                darling::ast::Data::Enum(_) => &[],
            };
            let id = single(&attrs.ident, fields, Role::Id, id_reported, &mut errors);
            let display = single(
                &attrs.ident,
                fields,
                Role::Display,
                display_reported,
                &mut errors,
            );
            id_ty = id.map(|f| f.ty.clone());
            if let (Some(id), Some(display)) = (id, display) {
                output = Some(impl_entity(&attrs, &krate, id, display));
            }
        }
    }
    match (errors.finish(), output) {
        (Ok(()), Some(output)) => output,
        (result, _) => {
            let mut out = result
                .err()
                .unwrap_or_else(|| darling::Error::custom("internal: no error was recorded"))
                .write_errors();
            out.extend(stub(input, &krate, id_ty.as_ref()));
            out
        }
    }
}

fn impl_entity(
    attrs: &EntityAttrs,
    krate: &syn::Path,
    id: &EntityField,
    display: &EntityField,
) -> TokenStream {
    let ident = &attrs.ident;
    let (impl_generics, ty_generics, where_clause) = attrs.generics.split_for_impl();
    let (Some(id_member), Some(display_member)) = (&id.ident, &display.ident) else {
        // `supports(struct_named)`: every field has a name.
        return darling::Error::custom("internal: a field has no name").write_errors();
    };
    let id_ty = &id.ty;
    // Bounded by `Self: AuditEntity` only: a type that is not a `PrefixedId` is reported once,
    // on `type Id`.
    let id_value = call_on_field(
        quote!(#krate::__private::entity_id::<Self>),
        quote!(),
        id_member,
        id_ty,
        quote!(),
    );
    let display_value = call_on_field(
        quote!(#krate::__private::entity_display),
        quote!(),
        display_member,
        &display.ty,
        quote!(),
    );
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::AuditEntity for #ident #ty_generics #where_clause {
            type Id = #id_ty;
            #[inline]
            fn audit_id(&self) -> Self::Id {
                #id_value
            }
            fn audit_display(&self) -> #krate::__private::String {
                #display_value
            }
        }
    }
}

/// The impl emitted beside errors, so that `EntityRef::from(&model)` elsewhere adds none.
fn stub(input: &DeriveInput, krate: &syn::Path, id_ty: Option<&syn::Type>) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let id_ty = id_ty.map_or_else(|| quote!(#krate::EventId), ToTokens::to_token_stream);
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::AuditEntity for #ident #ty_generics #where_clause {
            type Id = #id_ty;
            fn audit_id(&self) -> Self::Id {
                ::core::unreachable!()
            }
            fn audit_display(&self) -> #krate::__private::String {
                ::core::unreachable!()
            }
        }
    }
}

/// A struct with named fields; an error on the offending token otherwise.
fn check_shape(input: &DeriveInput, errors: &mut darling::error::Accumulator) -> bool {
    let (found, span) = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(_) => return true,
            Fields::Unnamed(fields) => ("a tuple struct", fields.paren_token.span.join()),
            Fields::Unit => ("a unit struct", input.ident.span()),
        },
        Data::Enum(data) => ("an enum", data.enum_token.span),
        Data::Union(data) => ("a union", data.union_token.span),
    };
    errors.push(
        darling::Error::custom(format!(
            "`#[derive(AuditEntity)]` needs a struct with named fields, one marked \
             `#[audit(id)]` and one `#[audit(display)]`, like {EXAMPLE}; found {found}"
        ))
        .with_span(&span),
    );
    false
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Id,
    Display,
}

impl Role {
    fn key(self) -> &'static str {
        match self {
            Role::Id => "id",
            Role::Display => "display",
        }
    }

    fn flag(self, field: &EntityField) -> &Flag {
        match self {
            Role::Id => &field.id,
            Role::Display => &field.display,
        }
    }

    /// A field that most likely plays this role, by its name or type.
    fn candidate(self, fields: &[EntityField]) -> Option<&EntityField> {
        let name = |f: &EntityField| f.ident.as_ref().map(ToString::to_string);
        match self {
            Role::Id => fields
                .iter()
                .find(|f| name(f).as_deref() == Some("id"))
                .or_else(|| {
                    let mut ids = fields.iter().filter(|f| match &f.ty {
                        syn::Type::Path(p) => p
                            .path
                            .segments
                            .last()
                            .is_some_and(|s| s.ident.to_string().ends_with("Id")),
                        _ => false,
                    });
                    ids.next().filter(|_| ids.next().is_none())
                }),
            Role::Display => ["name", "display_name", "title", "username", "label"]
                .iter()
                .find_map(|wanted| fields.iter().find(|f| name(f).as_deref() == Some(*wanted))),
        }
    }
}

/// The one field marked `#[audit(<role>)]`; an error on the struct when there is none, and on
/// each extra one.
fn single<'a>(
    ident: &syn::Ident,
    fields: &'a [EntityField],
    role: Role,
    reported: bool,
    errors: &mut darling::error::Accumulator,
) -> Option<&'a EntityField> {
    let key = role.key();
    let marked: Vec<&EntityField> = fields
        .iter()
        .filter(|f| role.flag(f).is_present())
        .collect();
    match marked.as_slice() {
        [] if reported => None,
        [] => {
            let what = match role {
                Role::Id => "the field that holds its `PrefixedId`",
                Role::Display => "the field that names it for people",
            };
            let hint = match role.candidate(fields) {
                Some(f) => format!(
                    " (here `{}: {}`) with `#[audit({key})]`",
                    f.ident
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    crate::type_text::type_text(&f.ty)
                ),
                None => match role {
                    Role::Id => {
                        " with `#[audit(id)]`, like `#[audit(id)] pub id: UserId`".to_owned()
                    }
                    Role::Display => {
                        " with `#[audit(display)]`, like `#[audit(display)] pub name: String`"
                            .to_owned()
                    }
                },
            };
            errors.push(
                darling::Error::custom(format!(
                    "`{ident}` has no `#[audit({key})]` field: mark {what}{hint}"
                ))
                .with_span(ident),
            );
            None
        }
        [one] => Some(one),
        [first, rest @ ..] => {
            for extra in rest {
                errors.push(
                    darling::Error::custom(format!(
                        "only one field can be `#[audit({key})]`, and `{}` already is",
                        first
                            .ident
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    ))
                    .with_span(&role.flag(extra).span()),
                );
            }
            None
        }
    }
}
