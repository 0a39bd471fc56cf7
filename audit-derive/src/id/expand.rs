//! The output of `#[derive(PrefixedId)]`: one call of `audit_core`'s `impl_prefixed_id!`,
//! which holds the impls, so that feature-gated impls (uuid, databases) follow the features
//! of `audit-core` without the user's crate naming them.

use proc_macro2::TokenStream;
use quote::quote;

use super::valid::IdInput;

pub(super) fn expand(id: &IdInput<'_>) -> TokenStream {
    let IdInput {
        ident,
        prefix,
        name,
        sortable,
        krate,
    } = id;
    quote! {
        #[doc(hidden)]
        const _: () = {
            #krate::__private::impl_prefixed_id! {
                type = #ident, prefix = #prefix, name = #name, sortable = #sortable
            }
        };
    }
}
