//! The key of a memoized function: its type, the expression that builds it from the
//! arguments, and the checks that it can be a key.
//!
//! By default the key is the tuple of the arguments (`&self` and `ignore`d ones left
//! out; one argument alone is not wrapped in a tuple), each in its owned form: `&str`
//! becomes `String`, `&T` becomes `T`. `key = <expr>: <Type>` replaces it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use super::options::Options;
use super::signature::Signature;

/// The key of one function.
pub struct Key {
    /// Its type.
    pub ty: TokenStream,
    /// The expression that builds it, of the arguments.
    pub expr: TokenStream,
    /// `assert_key` for its parts, each spanned to the type it checks.
    pub asserts: TokenStream,
}

impl Key {
    /// The key that the options and the arguments give.
    pub fn new(o: &Options, sig: &Signature) -> Self {
        if let Some(key) = &o.key {
            let ty = &key.ty;
            let expr = &key.expr;
            return Key {
                ty: quote!(#ty),
                expr: quote!(#expr),
                asserts: assert_key(ty, ty.span()),
            };
        }
        let mut types = Vec::new();
        let mut values = Vec::new();
        let mut asserts = Vec::new();
        for (name, ty) in sig.key_args(o) {
            let (owned, to_owned) = owned(name, ty);
            asserts.push(assert_key(&owned, ty.span()));
            types.push(owned);
            values.push(to_owned);
        }
        let asserts = quote!(#(#asserts)*);
        match (types.as_slice(), values.as_slice()) {
            ([ty], [value]) => Key {
                ty: ty.clone(),
                expr: value.clone(),
                asserts,
            },
            _ => Key {
                ty: quote!((#(#types,)*)),
                expr: quote!((#(#values,)*)),
                asserts,
            },
        }
    }
}

/// The owned form of an argument type, and the expression that makes it from `name`.
/// (`check` has rejected `&mut` and `impl Trait` arguments of the key.)
fn owned(name: &Ident, ty: &Type) -> (TokenStream, TokenStream) {
    match ty {
        Type::Reference(r) => {
            let inner = &r.elem;
            (
                quote!(<#inner as ::std::borrow::ToOwned>::Owned),
                quote!(::std::borrow::ToOwned::to_owned(#name)),
            )
        }
        _ => (quote!(#ty), quote!(::std::clone::Clone::clone(&#name))),
    }
}

/// A check that `ty` is a key, whose error points at `span`.
fn assert_key(ty: &impl ToTokens, span: Span) -> TokenStream {
    quote_spanned!(span=> ::smartcache::__private::assert_key::<#ty>();)
}
