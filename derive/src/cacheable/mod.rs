//! `#[derive(Cacheable)]`: parse the type and its attributes (`attr`), check them
//! (`crate::check`), write the impl (`expand`).
//!
//! This file owns the entry point that runs the stages; `ast` the parsed form of the
//! input ([`Container`]). When any stage found a mistake, the output is every error and a
//! fallback impl, so that the errors are the only ones the user sees.

pub mod ast;
mod attr;
mod expand;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use self::ast::Container;
use crate::check;
use crate::ctxt::Ctxt;

/// The impl, or every error and a fallback impl that keeps the user's other code
/// compiling.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let container = Container::from_ast(&cx, input);
    check::cacheable(&cx, &container);
    match cx.check() {
        Ok(()) => expand::impl_cacheable(&container),
        Err(errors) => {
            let errors = errors.into_compile_error();
            let fallback = fallback(input);
            quote!(#errors #fallback)
        }
    }
}

/// An impl with no requirements, so that a mistake in the attributes is the only error.
fn fallback(input: &DeriveInput) -> TokenStream {
    let name = &input.ident;
    // What `Cacheable` itself requires of the type, for each type parameter.
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(::core::marker::Send));
        param.bounds.push(syn::parse_quote!(::core::marker::Sync));
        param.bounds.push(syn::parse_quote!('static));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        const _: () = {
            impl #impl_generics ::smartcache::Cacheable for #name #ty_generics #where_clause {
                type Codec = ::smartcache::__private::Fallback;
                fn size_hint(&self) -> usize {
                    0
                }
            }
        };
    }
}
