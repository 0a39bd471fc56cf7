//! `#[derive(AuditEvent)]`: `attr` reads `#[audit(...)]`, `template` parses the message,
//! `valid` checks the rules that span several attributes, `expand` writes the output and
//! `fallback` the stub emitted beside errors.

mod attr;
mod expand;
mod fallback;
mod template;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use syn::DeriveInput;

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    match valid::validate(input) {
        Ok(event) => expand::expand(&event),
        Err(failed) => {
            let mut out = failed.error.write_errors();
            // A generic struct cannot take the non-generic stub.
            if input.generics.params.is_empty() && matches!(input.data, syn::Data::Struct(_)) {
                out.extend(fallback::expand(&input.ident, &failed.krate));
            }
            out
        }
    }
}
