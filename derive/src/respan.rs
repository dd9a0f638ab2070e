//! Placing generated tokens at the user's: a bound written by a macro is reported where
//! the code it is about stands.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;

/// Where a generated bound points: from the first token of what it is about to the last.
#[derive(Clone, Copy)]
pub struct Spans {
    pub first: Span,
    pub last: Span,
}

impl Spans {
    /// The first and last tokens of `tokens`.
    pub fn of(tokens: &impl ToTokens) -> Self {
        let mut spans = tokens.to_token_stream().into_iter().map(|t| t.span());
        let first = spans.next().unwrap_or_else(Span::call_site);
        Spans {
            first,
            last: spans.last().unwrap_or(first),
        }
    }
}

/// `tokens` placed at `spans`: every token at the first span but the last, at the last
/// span. The compiler reports a bound at the stretch its tokens cover, so the same bound
/// written on several items is the same error at the same place, reported once.
pub fn respan(tokens: TokenStream, spans: Spans) -> TokenStream {
    let mut tokens: Vec<TokenTree> = at(tokens, spans.first).into_iter().collect();
    if let Some(last) = tokens.last_mut() {
        last.set_span(spans.last);
    }
    tokens.into_iter().collect()
}

/// `tokens` with every token, inside groups too, at `span`.
fn at(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), at(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}
