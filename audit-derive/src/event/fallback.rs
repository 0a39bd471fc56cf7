//! What `#[derive(AuditEvent)]` emits beside its errors: an `AuditEvent` impl whose bodies are
//! never run, so that one mistake in the definition gives one error, not one more at every
//! place the event is emitted. It is emitted for any input, generic or not, struct or not.

use proc_macro2::TokenStream;
use quote::quote;

pub(super) fn expand(input: &syn::DeriveInput, krate: &syn::Path) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let p = quote!(#krate::__private);
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::AuditEvent for #ident #ty_generics #where_clause {
                const ACTION: &'static str = "";
                const VERSION: u32 = 0;
                fn actor(&self) -> #p::ActorRecord {
                    ::core::unreachable!()
                }
                fn subjects(&self) -> #p::Vec<#p::SubjectRecord> {
                    ::core::unreachable!()
                }
                fn message(&self) -> ::core::result::Result<::core::option::Option<#p::String>, ::core::fmt::Error> {
                    ::core::unreachable!()
                }
                fn serialize_details<__S: #p::serde::Serializer>(
                    &self,
                    _: __S,
                ) -> ::core::result::Result<__S::Ok, __S::Error> {
                    ::core::unreachable!()
                }
                fn schema() -> &'static #p::EventSchema {
                    ::core::unreachable!()
                }
            }
        };
    }
}
