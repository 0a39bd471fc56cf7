//! Derive macros for [`audit-core`](https://docs.rs/audit-core). Use them through `audit-core`,
//! which re-exports them; the generated code names only `::audit_core::...` paths.
//!
//! Each derive is a thin entry point: parse the input, call its `expand`, and turn errors into
//! `compile_error!`s spanned on the offending tokens, every error in one run.
#![deny(missing_docs)]

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

mod id;

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
