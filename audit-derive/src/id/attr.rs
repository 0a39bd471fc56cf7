//! `#[id(prefix = "...", name = "...", sortable, crate = path)]`.

use darling::FromDeriveInput;
use darling::util::{Flag, SpannedValue};

/// The attributes of `#[derive(PrefixedId)]`, as written.
#[derive(FromDeriveInput)]
#[darling(attributes(id))]
pub(super) struct IdAttrs {
    /// The type prefix; checked by `valid`.
    #[darling(default)]
    pub(super) prefix: Option<SpannedValue<String>>,
    /// The entity name in logs; defaults to the prefix.
    #[darling(default)]
    pub(super) name: Option<SpannedValue<String>>,
    /// Time-ordered IDs.
    #[darling(default)]
    pub(super) sortable: Flag,
    /// The path of `audit_core` when the user renamed it.
    #[darling(default, rename = "crate")]
    pub(super) krate: Option<syn::Path>,
}
