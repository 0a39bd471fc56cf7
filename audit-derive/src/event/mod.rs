//! `#[derive(AuditEvent)]`: `attr` reads `#[audit(...)]` (after the shared pass of
//! `crate::audit_attr`), `template` parses the message, `valid` checks the rules that span
//! several attributes, `expand` writes the output and `fallback` the stub emitted beside errors.

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
            out.extend(fallback::expand(input, &failed.krate));
            out
        }
    }
}
