//! `#[derive(AuditEntity)]`: a model with an `#[audit(id)]` field and an `#[audit(display)]`
//! field becomes something events can name (`EntityRef::from(&model)`).

use darling::util::Flag;
use darling::{FromDeriveInput, FromField};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

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
    match expand_checked(input) {
        Ok(tokens) => tokens,
        Err(err) => err.write_errors(),
    }
}

fn expand_checked(input: &DeriveInput) -> darling::Result<TokenStream> {
    let attrs = EntityAttrs::from_derive_input(input)?;
    let krate = attrs
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::audit_core));
    let fields = match &attrs.data {
        darling::ast::Data::Struct(fields) => fields.fields.as_slice(),
        darling::ast::Data::Enum(_) => &[],
    };
    let mut errors = darling::Error::accumulator();
    let id = single(&attrs.ident, fields, "id", |f| &f.id, &mut errors);
    let display = single(&attrs.ident, fields, "display", |f| &f.display, &mut errors);
    errors.finish()?;
    let (Some(id), Some(display)) = (id, display) else {
        return Err(darling::Error::custom("internal: a role was not found"));
    };

    let ident = &attrs.ident;
    let (impl_generics, ty_generics, where_clause) = attrs.generics.split_for_impl();
    let id_member = &id.ident;
    let id_ty = &id.ty;
    let display_member = &display.ident;
    let id_check = quote_spanned!(id_ty.span()=> #krate::__private::entity_id(&self.#id_member));
    let display_value = quote_spanned!(display.ty.span()=> #krate::__private::entity_display(&self.#display_member));
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::AuditEntity for #ident #ty_generics #where_clause {
            type Id = #id_ty;
            #[inline]
            fn audit_id(&self) -> Self::Id {
                #id_check
            }
            fn audit_display(&self) -> #krate::__private::String {
                #display_value
            }
        }
    })
}

/// The one field marked `#[audit(<key>)]`; an error on the struct when there is none, and on
/// each extra one.
fn single<'a>(
    ident: &syn::Ident,
    fields: &'a [EntityField],
    key: &str,
    flag: impl Fn(&EntityField) -> &Flag,
    errors: &mut darling::error::Accumulator,
) -> Option<&'a EntityField> {
    let marked: Vec<&EntityField> = fields.iter().filter(|f| flag(f).is_present()).collect();
    match marked.as_slice() {
        [] => {
            let what = if key == "id" {
                "its `PrefixedId` field"
            } else {
                "the field that names it for people"
            };
            errors.push(
                darling::Error::custom(format!(
                    "`{ident}` needs one `#[audit({key})]` field: mark {what} `#[audit({key})]`"
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
                    .with_span(&flag(extra).span()),
                );
            }
            None
        }
    }
}
