//! `#[audit(...)]` on an event struct and on its fields, read with darling.

use darling::util::{Flag, SpannedValue};
use darling::{FromDeriveInput, FromField};

/// The struct-level attributes of `#[derive(AuditEvent)]`, as written.
#[derive(FromDeriveInput)]
#[darling(attributes(audit), supports(struct_named))]
pub(super) struct EventAttrs {
    pub(super) ident: syn::Ident,
    pub(super) generics: syn::Generics,
    pub(super) data: darling::ast::Data<(), FieldAttrs>,
    #[darling(default)]
    pub(super) action: Option<SpannedValue<String>>,
    #[darling(default)]
    pub(super) version: Option<SpannedValue<u32>>,
    #[darling(default)]
    pub(super) message: Option<SpannedValue<String>>,
    #[darling(default, rename = "crate")]
    pub(super) krate: Option<syn::Path>,
}

/// The attributes of one field, as written.
#[derive(FromField)]
#[darling(attributes(audit))]
pub(super) struct FieldAttrs {
    pub(super) ident: Option<syn::Ident>,
    pub(super) ty: syn::Type,
    #[darling(default)]
    pub(super) actor: Flag,
    #[darling(default)]
    pub(super) subject: Flag,
    #[darling(default)]
    pub(super) role: Option<SpannedValue<String>>,
    #[darling(default)]
    pub(super) outcome: Flag,
    #[darling(default)]
    pub(super) skip: Flag,
}
