//! A type as the user wrote it, as compact text: `Option<EntityRef<UserId>>`, `[u8; 16]`,
//! `&'static str`. Used for schema descriptors (stable across compiler versions, unlike
//! `std::any::type_name`) and in error messages.

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// The compact text of a type's tokens.
pub(crate) fn type_text(ty: &syn::Type) -> String {
    tokens_text(quote::quote!(#ty))
}

/// Tokens as a user writes them: `Vec<u8>` rather than `Vec < u8 >`.
pub(crate) fn tokens_text(tokens: TokenStream) -> String {
    let mut out = String::new();
    write_tokens(tokens, &mut out);
    out
}

fn write_tokens(tokens: TokenStream, out: &mut String) {
    for tt in tokens {
        match tt {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("", ""),
                };
                // `Fn(u8)`: a group follows a name without a space, but not a lifetime or a
                // keyword: `&'a [u8]`, `&mut [u8]`.
                if ends_with_lifetime_or_keyword(out) {
                    out.push(' ');
                }
                out.push_str(open);
                write_tokens(g.stream(), out);
                if out.ends_with(", ") {
                    out.truncate(out.len() - 2);
                }
                out.push_str(close);
            }
            TokenTree::Ident(i) => {
                space_if_word(out);
                out.push_str(&i.to_string());
            }
            TokenTree::Literal(l) => {
                space_if_word(out);
                out.push_str(&l.to_string());
            }
            TokenTree::Punct(p) => {
                let c = p.as_char();
                match c {
                    ',' | ';' => {
                        out.push(c);
                        out.push(' ');
                    }
                    '=' => {
                        out.push_str(" = ");
                    }
                    '+' => out.push_str(" + "),
                    '>' if out.ends_with(", ") => {
                        // A trailing comma before the closing angle bracket.
                        out.truncate(out.len() - 2);
                        out.push('>');
                    }
                    // A bound's `:` (alone), not a path's `::` (joint, then alone).
                    ':' if p.spacing() == proc_macro2::Spacing::Alone && !out.ends_with(':') => {
                        out.push_str(": ");
                    }
                    '>' if out.ends_with('-') => {
                        // `->` in a fn type.
                        out.pop();
                        out.push_str(" -> ");
                    }
                    '\'' => {
                        space_if_word(out);
                        out.push(c);
                    }
                    _ => out.push(c),
                }
            }
        }
    }
}

fn ends_with_lifetime_or_keyword(out: &str) -> bool {
    let word_start = out
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let word = &out[word_start..];
    !word.is_empty()
        && (out[..word_start].ends_with('\'')
            || matches!(word, "mut" | "dyn" | "impl" | "const" | "unsafe" | "extern"))
}

/// Two words in a row (`dyn Trait`, `&'a mut T`, `impl Trait`) need a space between them.
fn space_if_word(out: &mut String) {
    if out
        .chars()
        .last()
        .is_some_and(|c| c.is_alphanumeric() || c == '_')
    {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::type_text;

    #[test]
    fn compact() {
        for (src, text) in [
            (
                "Option < EntityRef < UserId > >",
                "Option<EntityRef<UserId>>",
            ),
            ("[u8 ; 16]", "[u8; 16]"),
            ("& 'static str", "&'static str"),
            ("&'a mut Vec<u8>", "&'a mut Vec<u8>"),
            ("&'a [u8; 16]", "&'a [u8; 16]"),
            ("&mut [u8]", "&mut [u8]"),
            (
                "Box<dyn Iterator<Item = u8>>",
                "Box<dyn Iterator<Item = u8>>",
            ),
            (
                "std :: collections :: BTreeMap<String, u32>",
                "std::collections::BTreeMap<String, u32>",
            ),
            ("(u8, String)", "(u8, String)"),
            (
                "Box<dyn Fn(u8) -> u8 + Send>",
                "Box<dyn Fn(u8) -> u8 + Send>",
            ),
        ] {
            let ty: syn::Type = syn::parse_str(src).unwrap();
            assert_eq!(type_text(&ty), text, "{src}");
        }
    }
}

#[cfg(test)]
mod generics_tests {
    #[test]
    fn bounds() {
        let g: syn::Generics = syn::parse_str("<T: Clone + Send, 'a>").unwrap();
        assert_eq!(
            super::tokens_text(quote::quote!(#g)),
            "<'a, T: Clone + Send>"
        );
    }
}
