//! Macros of smartcache: `#[derive(Cacheable)]` and `#[memoize]`.
//!
//! Use them through the `smartcache` crate (`use smartcache::prelude::*;`), which
//! re-exports both under the names of the things they implement. Generated code names only
//! `::smartcache::__private::…`.
//!
//! The derive runs in stages, one file each: `attr` parses `#[cacheable(..)]` attributes
//! into typed values (rejecting duplicates and unknown keys), `expand` writes the impl.
//! A mistake gives one error that says the fix, plus a fallback impl so that it is the only
//! error the user sees.

use proc_macro::TokenStream;

mod attr;
mod expand;
mod memoize;

/// Implements `smartcache::Cacheable` for a struct or enum.
///
/// Type attributes: `#[cacheable(tier = "auto|memory|sled|file|redis", version = N,
/// ttl = "90s|10m|1h|1d", codec = "bincode|json", size_with = path)]`. Field attribute:
/// `#[cacheable(skip_size)]` leaves the field out of the size estimate.
#[proc_macro_derive(Cacheable, attributes(cacheable))]
pub fn derive_cacheable(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input).into()
}

/// Caches a function's results in a `SmartCache`: see `smartcache::memoize`.
#[proc_macro_attribute]
pub fn memoize(args: TokenStream, item: TokenStream) -> TokenStream {
    memoize::expand(args.into(), item.into()).into()
}
