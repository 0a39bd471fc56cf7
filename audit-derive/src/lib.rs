//! Derive macros for [`audit-core`](https://docs.rs/audit-core). Use them through `audit-core`,
//! which re-exports them; the generated code names only `::audit_core::...` paths.
//!
//! Each derive is a thin entry point: parse the input, call its `expand`, and turn errors into
//! `compile_error!`s spanned on the offending tokens, every error in one run.
#![deny(missing_docs)]

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

mod audit_attr;
mod entity;
mod event;
mod id;
mod respan;
mod type_text;

/// Derives `audit_core::PrefixedId` for a tuple struct holding one `[u8; 16]`.
///
/// ```ignore
/// #[derive(PrefixedId)]
/// #[id(prefix = "user")]
/// pub struct UserId([u8; 16]);
/// ```
///
/// See `audit_core::PrefixedId` for the attributes and the generated API.
#[proc_macro_derive(PrefixedId, attributes(id))]
pub fn derive_prefixed_id(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    id::expand(&input).into()
}

/// Derives `audit_core::AuditEvent` for a struct with named fields.
///
/// ```ignore
/// #[derive(AuditEvent)]
/// #[audit(action = "widget.purchased", version = 1,
///         message = "{actor} bought {quantity} of {widget}")]
/// pub struct WidgetPurchased {
///     #[audit(actor)] pub buyer: EntityRef<UserId>,
///     #[audit(subject)] pub widget: EntityRef<WidgetId>,
///     pub quantity: u32,
///     pub card_last4: Redacted<String>,
/// }
/// ```
///
/// See `audit_core::event` for the attributes and the rules the derive checks.
#[proc_macro_derive(AuditEvent, attributes(audit))]
pub fn derive_audit_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    event::expand(&input).into()
}

/// Derives `audit_core::AuditEntity` for a model with one `#[audit(id)]` field (a
/// `PrefixedId`) and one `#[audit(display)]` field (anything `Display`).
#[proc_macro_derive(AuditEntity, attributes(audit))]
pub fn derive_audit_entity(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    entity::expand(&input).into()
}
