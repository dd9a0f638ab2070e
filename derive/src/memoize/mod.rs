//! `#[memoize]`: parse the options (`options`) and the function's signature
//! (`signature`), check them against each other (`crate::check`), then write the memoized
//! function and its companions (`expand`, with the key from `key`).
//!
//! This file owns the entry point that runs the stages. When any stage found a mistake,
//! the output is every error and the function as written, so that its callers still
//! compile and the errors are about the attribute only.

mod expand;
mod key;
pub mod options;
pub mod signature;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemFn;

use self::options::Options;
use self::signature::Signature;
use crate::check;
use crate::ctxt::Ctxt;

/// The memoized function, `<fn>_cache()`, `<fn>_uncached(..)` and `__<fn>_memo()`; or
/// the errors and the function unchanged.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let Ok(function) = syn::parse2::<ItemFn>(item) else {
        return syn::Error::new(
            Span::call_site(),
            "#[memoize] goes on a function or a method",
        )
        .into_compile_error();
    };
    let cx = Ctxt::new();
    let options = Options::parse(&cx, args);
    let sig = Signature::parse(&cx, &function.sig);
    check::memoize(&cx, &options, &sig);
    match cx.check() {
        Ok(()) => expand::memoized(&function, &options, &sig),
        Err(errors) => {
            let errors = errors.into_compile_error();
            quote!(#errors #function)
        }
    }
}
