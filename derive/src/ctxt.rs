//! The error collector that every stage writes to.
//!
//! A stage that finds a mistake records it here and goes on, so that one build reports
//! every mistake in the attributes and the signature at once, as serde_derive's `Ctxt`
//! does. The macro's entry point asks [`Ctxt::check`] for the verdict before it expands.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// The mistakes found so far in one macro invocation.
///
/// It must be consumed by [`Ctxt::check`]: dropping it unchecked is a bug in the macro
/// (its errors would be lost), so it panics then.
pub struct Ctxt {
    /// `None` once checked.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    /// A collector with no errors yet.
    pub fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error spanning all of `tokens` (a type, an expression, a pattern..).
    pub fn error_spanned_by<T: ToTokens, M: Display>(&self, tokens: T, message: M) {
        self.syn_error(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Records an error made elsewhere, such as a parse error of `syn`.
    pub fn syn_error(&self, error: syn::Error) {
        if let Some(errors) = self.errors.borrow_mut().as_mut() {
            errors.push(error);
        }
    }

    /// Records the error of `result`, if any, and hands back its value.
    pub fn ok<T>(&self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.syn_error(error)).ok()
    }

    /// Every recorded error, combined into one `syn::Error` (its `to_compile_error`
    /// gives one `compile_error!` for each), or `Ok` when there is none.
    pub fn check(self) -> syn::Result<()> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut errors = errors.into_iter();
        match errors.next() {
            None => Ok(()),
            Some(mut combined) => {
                combined.extend(errors);
                Err(combined)
            }
        }
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("smartcache-derive: a Ctxt was dropped without `check`");
        }
    }
}
