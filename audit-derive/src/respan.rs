//! Moving generated tokens onto the user's tokens.

use proc_macro2::{Group, Span, TokenStream, TokenTree};

/// `tokens` with every token at `span`. A trait check generated this way is reported on
/// `span` alone: with `quote_spanned!`, the interpolated paths keep their call-site spans and
/// rustc adds a "required by a bound introduced by this call" label on the derive's name.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                TokenTree::Group(group)
            }
            mut tt => {
                tt.set_span(span);
                tt
            }
        })
        .collect()
}

/// The spans of the first and the last token of `ty`.
pub(crate) fn first_last(ty: &syn::Type) -> (Span, Span) {
    let mut tokens = quote::ToTokens::to_token_stream(ty).into_iter();
    let first = tokens.next().map_or_else(Span::call_site, |tt| tt.span());
    let last = tokens.last().map_or(first, |tt| tt.span());
    (first, last)
}

/// `path(before.. &self.member, after..)`, where `&self.member` spans the whole of `ty` (its
/// first token to its last: rustc reports a bound that an argument does not meet on that
/// argument's span) and so does the path; the other tokens sit on `ty`'s first token, the
/// parentheses on its last.
pub(crate) fn call_on_field(
    path: TokenStream,
    before: TokenStream,
    member: &syn::Ident,
    ty: &syn::Type,
    after: TokenStream,
) -> TokenStream {
    call_on(quote::quote!(&self.), path, before, member, ty, after)
}

/// [`call_on_field`] with `&mut self.member`.
pub(crate) fn call_on_field_mut(
    path: TokenStream,
    before: TokenStream,
    member: &syn::Ident,
    ty: &syn::Type,
    after: TokenStream,
) -> TokenStream {
    call_on(quote::quote!(&mut self.), path, before, member, ty, after)
}

fn call_on(
    receiver: TokenStream,
    path: TokenStream,
    before: TokenStream,
    member: &syn::Ident,
    ty: &syn::Type,
    after: TokenStream,
) -> TokenStream {
    let (first, last) = first_last(ty);
    let mut member = member.clone();
    member.set_span(last);
    let mut inner = respan(before, first);
    inner.extend(respan(receiver, first));
    inner.extend(quote::quote!(#member));
    inner.extend(respan(after, first));
    let mut group = Group::new(proc_macro2::Delimiter::Parenthesis, inner);
    group.set_span(last);
    // The path spans `ty` as well: rustc labels the callee "required by a bound introduced by
    // this call" unless it has the argument's span.
    let mut call: Vec<TokenTree> = respan(path, first).into_iter().collect();
    if let Some(tt) = call.last_mut() {
        tt.set_span(last);
    }
    call.push(TokenTree::Group(group));
    call.into_iter().collect()
}
