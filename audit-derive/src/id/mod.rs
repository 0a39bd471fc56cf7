//! `#[derive(PrefixedId)]`: `attr` reads `#[id(...)]`, `valid` checks the prefix and the
//! struct's shape, `expand` writes the output, and `fallback` writes stubs beside the errors
//! when the struct's shape is wrong.

mod attr;
mod expand;
mod fallback;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

/// Expands the derive. On error, the `compile_error!`s come with the full output (placeholder
/// values for wrong attributes) or, when the struct's shape is wrong, with stubs, so that each
/// mistake gives one error and uses of the type add none.
pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let valid::Checked { output, errors } = valid::validate(input);
    let errors = errors.map(|err| err.into_compile_error());
    let output = match &output {
        valid::Output::Full(id) => expand::expand(id),
        valid::Output::Stubs { krate } => fallback::expand(input, krate),
    };
    quote!(#errors #output)
}
