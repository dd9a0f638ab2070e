//! `#[derive(Cacheable)]`: parse the type and its attributes (`attr`), check them
//! (`crate::check`), write the impl (`expand`).
//!
//! This file owns the parsed form of the input, [`Container`], and the entry point that
//! runs the stages. When any stage found a mistake, the output is every error and a
//! fallback impl, so that the errors are the only ones the user sees.

mod attr;
mod expand;

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DataUnion, DeriveInput};

use self::attr::TypeAttrs;
use crate::check;
use crate::ctxt::Ctxt;

/// The derive input, with its attributes read.
pub struct Container<'a> {
    /// The input as written.
    pub input: &'a DeriveInput,
    /// The `#[cacheable(..)]` attributes of the type.
    pub attrs: TypeAttrs,
    /// The fields, by variant.
    pub body: Body<'a>,
}

/// The fields of the type.
pub enum Body<'a> {
    /// A struct's fields.
    Struct(Vec<Field<'a>>),
    /// An enum's variants.
    Enum(Vec<Variant<'a>>),
    /// A union, which `check` rejects.
    Union(&'a DataUnion),
}

/// A variant of an enum.
pub struct Variant<'a> {
    /// The variant as written.
    pub variant: &'a syn::Variant,
    /// Its fields.
    pub fields: Vec<Field<'a>>,
}

/// A field, with its `#[cacheable(..)]` attribute read.
pub struct Field<'a> {
    /// The field as written.
    pub field: &'a syn::Field,
    /// `#[cacheable(skip_size)]`: left out of the size estimate.
    pub skip_size: bool,
}

impl<'a> Container<'a> {
    /// Parse stage: reads the attributes of the type and of every field.
    fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        // The type's attributes first, so that errors come in the order of the source.
        let attrs = attr::type_attrs(cx, &input.attrs);
        let fields = |fields: &'a syn::Fields| -> Vec<Field<'a>> {
            fields
                .iter()
                .map(|field| Field {
                    field,
                    skip_size: attr::skip_size(cx, &field.attrs),
                })
                .collect()
        };
        let body = match &input.data {
            Data::Struct(data) => Body::Struct(fields(&data.fields)),
            Data::Enum(data) => Body::Enum(
                data.variants
                    .iter()
                    .map(|variant| Variant {
                        variant,
                        fields: fields(&variant.fields),
                    })
                    .collect(),
            ),
            Data::Union(data) => Body::Union(data),
        };
        Container { input, attrs, body }
    }
}

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
