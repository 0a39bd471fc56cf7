//! What `#[derive(PrefixedId)]` emits beside its errors when the struct does not have the
//! shape `Name([u8; 16])`: the generated API with bodies that are never run, so that code
//! using the type (`UserId::new()`, `id.to_string()`, `a == b`, a serde derive on a struct
//! holding it) adds no errors of its own, and the mistake is reported once
//! (dtolnay/thiserror `impl/src/fallback.rs`).
//!
//! `Copy` and the `PrefixedId` trait are left out: `Copy` needs every field to be `Copy`, and
//! the trait has `Copy` as a supertrait, so either could add an error about the fields.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub(super) fn expand(input: &DeriveInput, krate: &syn::Path) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut de_generics = input.generics.clone();
    de_generics.params.insert(0, syn::parse_quote!('de));
    let (de_impl_generics, _, _) = de_generics.split_for_impl();
    let stub = quote!(::core::unreachable!("`#[derive(PrefixedId)]` failed"));
    quote! {
        #[doc(hidden)]
        const _: () = {
            impl #impl_generics #ident #ty_generics #where_clause {
                pub const PREFIX: &'static str = "";
                pub fn new() -> Self { #stub }
                pub fn from_bytes(_: [u8; 16]) -> Self { #stub }
                pub fn to_bytes(&self) -> [u8; 16] { #stub }
                pub fn parse(_: &str) -> ::core::result::Result<Self, #krate::ParseIdError> {
                    #stub
                }
                pub fn encode(&self) -> #krate::EncodedId { #stub }
            }

            #[automatically_derived]
            impl #impl_generics ::core::clone::Clone for #ident #ty_generics #where_clause {
                fn clone(&self) -> Self { #stub }
            }

            #[automatically_derived]
            impl #impl_generics ::core::cmp::PartialEq for #ident #ty_generics #where_clause {
                fn eq(&self, _: &Self) -> bool { #stub }
            }

            #[automatically_derived]
            impl #impl_generics ::core::cmp::Eq for #ident #ty_generics #where_clause {}

            #[automatically_derived]
            impl #impl_generics ::core::cmp::PartialOrd for #ident #ty_generics #where_clause {
                fn partial_cmp(
                    &self,
                    _: &Self,
                ) -> ::core::option::Option<::core::cmp::Ordering> {
                    #stub
                }
            }

            #[automatically_derived]
            impl #impl_generics ::core::cmp::Ord for #ident #ty_generics #where_clause {
                fn cmp(&self, _: &Self) -> ::core::cmp::Ordering { #stub }
            }

            #[automatically_derived]
            impl #impl_generics ::core::hash::Hash for #ident #ty_generics #where_clause {
                fn hash<H: ::core::hash::Hasher>(&self, _: &mut H) { #stub }
            }

            #[automatically_derived]
            impl #impl_generics ::core::fmt::Display for #ident #ty_generics #where_clause {
                fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    #stub
                }
            }

            #[automatically_derived]
            impl #impl_generics ::core::fmt::Debug for #ident #ty_generics #where_clause {
                fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    #stub
                }
            }

            #[automatically_derived]
            impl #impl_generics ::core::str::FromStr for #ident #ty_generics #where_clause {
                type Err = #krate::ParseIdError;
                fn from_str(_: &str) -> ::core::result::Result<Self, #krate::ParseIdError> {
                    #stub
                }
            }

            #[automatically_derived]
            impl #impl_generics ::core::convert::TryFrom<&str> for #ident #ty_generics #where_clause {
                type Error = #krate::ParseIdError;
                fn try_from(_: &str) -> ::core::result::Result<Self, #krate::ParseIdError> {
                    #stub
                }
            }

            #[automatically_derived]
            impl #impl_generics #krate::__private::serde::Serialize for #ident #ty_generics #where_clause {
                fn serialize<S: #krate::__private::serde::Serializer>(
                    &self,
                    _: S,
                ) -> ::core::result::Result<S::Ok, S::Error> {
                    #stub
                }
            }

            #[automatically_derived]
            impl #de_impl_generics #krate::__private::serde::Deserialize<'de> for #ident #ty_generics #where_clause {
                fn deserialize<D: #krate::__private::serde::Deserializer<'de>>(
                    _: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    #stub
                }
            }
        };
    }
}
