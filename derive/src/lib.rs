//! Macros of smartcache: `#[derive(Cacheable)]` and `#[memoize]`.
//!
//! Use them through the `smartcache` crate (`use smartcache::prelude::*;`), which
//! re-exports both under the names of the things they implement.

use proc_macro::TokenStream;

/// Implements `smartcache::Cacheable` for a struct or enum.
#[proc_macro_derive(Cacheable, attributes(cacheable))]
pub fn derive_cacheable(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    syn::Error::new_spanned(
        &input.ident,
        "#[derive(Cacheable)] is not available in this version of smartcache: implement \
         smartcache::Cacheable by hand (see its documentation for an example)",
    )
    .into_compile_error()
    .into()
}

/// Caches a function's results in a `SmartCache`.
#[proc_macro_attribute]
pub fn memoize(_args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let error = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[memoize] is not available in this version of smartcache: use SmartCache::get_with",
    )
    .into_compile_error();
    quote::quote!(#error #item).into()
}
