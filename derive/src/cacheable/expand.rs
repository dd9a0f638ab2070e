//! Expand stage of the derive: the `Cacheable` impl of a checked [`Container`].

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericParam, Generics, Type};

use super::ast::{Body, Container, Field};
use crate::attr::{Codec, Tier};

/// The impl of `Cacheable`, in a `const _` block with the checks it needs.
pub fn impl_cacheable(container: &Container) -> TokenStream {
    let attrs = &container.attrs;
    let name = &container.input.ident;
    let sized = size_estimate(container);
    let size_body = match &attrs.size_with {
        Some(path) => quote!(#path(self)),
        None => sized.body,
    };
    let placement = placement(attrs.tier);
    let requirements = match attrs.codec {
        Some(Codec::Json) => quote!(::smartcache::__private_require_json!();),
        _ => quote!(),
    };
    let version = attrs.version.unwrap_or(0);
    let codec = match attrs.codec {
        None | Some(Codec::Bincode) => quote!(::smartcache::__private::Bincode),
        Some(Codec::Json) => quote!(::smartcache::__private::Json),
    };
    let ttl = attrs.ttl_ms.map(|ms| {
        quote! {
            const TTL: ::core::option::Option<::core::time::Duration> =
                ::core::option::Option::Some(::core::time::Duration::from_millis(#ms));
        }
    });
    // Field types need no bound when `size_with` does the sizing.
    let sized_types = match attrs.size_with {
        Some(_) => &[][..],
        None => &sized.types[..],
    };
    let generics = bounded_generics(container, sized_types);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let type_tag = type_tag(container, attrs.tag.as_deref());
    let register = attrs
        .any
        .map(|_| quote!(::smartcache::register_any!(#name);));

    quote! {
        #[allow(non_upper_case_globals, unused_qualifications)]
        const _: () = {
            #requirements
            #[automatically_derived]
            impl #impl_generics ::smartcache::Cacheable for #name #ty_generics #where_clause {
                const PLACEMENT: ::smartcache::Placement = #placement;
                const VERSION: u32 = #version;
                type Codec = #codec;
                fn size_hint(&self) -> usize {
                    #size_body
                }
                fn type_tag() -> ::smartcache::__private::Cow<'static, str> {
                    #type_tag
                }
                #ttl
            }
            #register
        };
    }
}

/// `Cacheable::PLACEMENT` for `tier = ".."`.
fn placement(tier: Option<Tier>) -> TokenStream {
    let pinned = |tier| quote!(::smartcache::Placement::Pinned(::smartcache::Tier::#tier));
    match tier {
        None | Some(Tier::Auto) => quote!(::smartcache::Placement::Auto),
        Some(Tier::Memory) => pinned(format_ident!("Memory")),
        Some(Tier::Sled) => pinned(format_ident!("Sled")),
        Some(Tier::File) => pinned(format_ident!("File")),
        Some(Tier::Redis) => {
            quote!(::smartcache::Placement::Pinned(
                ::smartcache::__private_redis_tier!()
            ))
        }
    }
}

/// The body of the size estimate, and the field types it needs to be `Cacheable`.
struct Sized<'a> {
    body: TokenStream,
    types: Vec<&'a Type>,
}

/// The sum of the fields' `size_hint`s, by variant for an enum.
fn size_estimate<'a>(container: &Container<'a>) -> Sized<'a> {
    let name = &container.input.ident;
    match &container.body {
        Body::Struct(fields) => fields_size(fields, |i, field| match &field.ident {
            Some(ident) => quote!(&self.#ident),
            None => {
                let index = syn::Index::from(i);
                quote!(&self.#index)
            }
        }),
        Body::Enum(variants) => {
            let mut arms = Vec::new();
            let mut types = Vec::new();
            for variant in variants {
                let ident = &variant.variant.ident;
                let bindings: Vec<_> = (0..variant.fields.len())
                    .map(|i| format_ident!("__f{i}"))
                    .collect();
                let sized = fields_size(&variant.fields, |i, _| {
                    let binding = &bindings[i];
                    quote!(#binding)
                });
                let body = sized.body;
                let pattern = match &variant.variant.fields {
                    syn::Fields::Named(named) => {
                        let names = named.named.iter().map(|f| &f.ident);
                        quote!(#name::#ident { #(#names: #bindings),* })
                    }
                    syn::Fields::Unnamed(_) => quote!(#name::#ident ( #(#bindings),* )),
                    syn::Fields::Unit => quote!(#name::#ident),
                };
                arms.push(quote!(#[allow(unused_variables)] #pattern => #body,));
                types.extend(sized.types);
            }
            let body = if arms.is_empty() {
                quote!(0usize)
            } else {
                quote!(match self { #(#arms)* })
            };
            Sized { body, types }
        }
        // Rejected by `check`; no field to size.
        Body::Union(_) => Sized {
            body: quote!(0usize),
            types: Vec::new(),
        },
    }
}

/// The size estimate of one set of fields, each reached through `access`.
fn fields_size<'a>(
    fields: &[Field<'a>],
    access: impl Fn(usize, &syn::Field) -> TokenStream,
) -> Sized<'a> {
    let mut terms = Vec::new();
    let mut types = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        if field.skip_size {
            continue;
        }
        let access = access(i, field.field);
        terms.push(quote!(::smartcache::Cacheable::size_hint(#access)));
        types.push(&field.field.ty);
    }
    let body = if fields.is_empty() {
        quote!(::core::mem::size_of::<Self>())
    } else {
        quote!(0usize #(+ #terms)*)
    };
    Sized { body, types }
}

/// The type's generics with the impl's bounds: every type parameter is `Cacheable` (its
/// tag is part of ours), every sized field type is `Cacheable`, and the type itself goes
/// through serde.
fn bounded_generics(container: &Container, sized_types: &[&Type]) -> Generics {
    let input = container.input;
    let name = &input.ident;
    let mut generics = input.generics.clone();
    let type_params: Vec<_> = generics.type_params().map(|p| p.ident.clone()).collect();
    let (_, ty_generics, _) = input.generics.split_for_impl();
    let where_clause = generics.make_where_clause();
    for param in &type_params {
        where_clause
            .predicates
            .push(syn::parse_quote!(#param: ::smartcache::Cacheable));
    }
    let mut seen = HashSet::new();
    for ty in sized_types {
        if seen.insert(quote!(#ty).to_string()) {
            // Spanned to the field's type, so an error points at the field.
            let bound = quote_spanned!(ty.span()=> #ty: ::smartcache::Cacheable);
            where_clause.predicates.push(syn::parse_quote!(#bound));
        }
    }
    where_clause.predicates.push(syn::parse_quote!(
        #name #ty_generics: ::smartcache::__private::Serialize + ::smartcache::__private::DeserializeOwned
    ));
    generics
}

/// `Cacheable::type_tag`: `tag = ".."` or the module path and name, with the tags of the
/// type and const parameters.
fn type_tag(container: &Container, tag: Option<&str>) -> TokenStream {
    let input = container.input;
    let name = &input.ident;
    let tag_params: Vec<TokenStream> = input
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(t) => {
                let ident = &t.ident;
                Some(quote!(::std::string::String::from(<#ident as ::smartcache::Cacheable>::type_tag())))
            }
            GenericParam::Const(c) => {
                let ident = &c.ident;
                Some(quote!(::std::string::ToString::to_string(&#ident)))
            }
            GenericParam::Lifetime(_) => None,
        })
        .collect();
    // The type's own name: `tag = ".."`, or its path in the crate.
    let base = match tag {
        Some(tag) => quote!(#tag),
        None => quote!(concat!(module_path!(), "::", stringify!(#name))),
    };
    if tag_params.is_empty() {
        quote!(::smartcache::__private::Cow::Borrowed(#base))
    } else {
        // Each instance of a generic type has a tag of its own.
        quote!(::smartcache::__private::Cow::Owned(::std::format!(
            "{}<{}>",
            #base,
            [#(#tag_params),*].join(",")
        )))
    }
}
