//! `#[derive(PrefixedId)]`: `attr` reads `#[id(...)]`, `valid` checks the prefix and the
//! struct's shape, `expand` writes the output.

mod attr;
mod expand;
mod valid;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use syn::DeriveInput;

/// Expands the derive; errors come out as `compile_error!`s beside stub-free output.
pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    match valid::validate(input) {
        Ok(id) => expand::expand(&id),
        Err(err) => err.write_errors(),
    }
}
