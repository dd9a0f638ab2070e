//! Writes the `Cacheable` impl for a derive input, or one error and a fallback impl.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, GenericParam, Type};

use crate::attr::{self, CodecChoice, TierChoice};

/// The impl, or the error and a fallback impl that keeps the user's other code compiling.
pub fn derive(input: &DeriveInput) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err(error) => {
            let error = error.into_compile_error();
            let fallback = fallback(input);
            quote!(#error #fallback)
        }
    }
}

/// The size estimate of one set of fields, and the types it needs to be `Cacheable`.
struct Sized_ {
    body: TokenStream,
    types: Vec<Type>,
}

fn fields_size(
    fields: &Fields,
    access: impl Fn(usize, &syn::Field) -> TokenStream,
) -> syn::Result<Sized_> {
    let mut terms = Vec::new();
    let mut types = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        if attr::skip_size(&field.attrs)? {
            continue;
        }
        let access = access(i, field);
        terms.push(quote!(::smartcache::Cacheable::size_hint(#access)));
        types.push(field.ty.clone());
    }
    let body = if fields.is_empty() {
        quote!(::core::mem::size_of::<Self>())
    } else {
        quote!(0usize #(+ #terms)*)
    };
    Ok(Sized_ { body, types })
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let attrs = attr::type_attrs(&input.attrs)?;
    let name = &input.ident;

    let sized = match &input.data {
        Data::Struct(data) => fields_size(&data.fields, |i, field| match &field.ident {
            Some(ident) => quote!(&self.#ident),
            None => {
                let index = syn::Index::from(i);
                quote!(&self.#index)
            }
        })?,
        Data::Enum(data) => {
            let mut arms = Vec::new();
            let mut types = Vec::new();
            for variant in &data.variants {
                let ident = &variant.ident;
                let bindings: Vec<_> = (0..variant.fields.len())
                    .map(|i| format_ident!("__f{i}"))
                    .collect();
                let sized = fields_size(&variant.fields, |i, _| {
                    let binding = &bindings[i];
                    quote!(#binding)
                })?;
                let body = sized.body;
                let pattern = match &variant.fields {
                    Fields::Named(named) => {
                        let names = named.named.iter().map(|f| &f.ident);
                        quote!(#name::#ident { #(#names: #bindings),* })
                    }
                    Fields::Unnamed(_) => quote!(#name::#ident ( #(#bindings),* )),
                    Fields::Unit => quote!(#name::#ident),
                };
                arms.push(quote!(#[allow(unused_variables)] #pattern => #body,));
                types.extend(sized.types);
            }
            let body = if arms.is_empty() {
                quote!(0usize)
            } else {
                quote!(match self { #(#arms)* })
            };
            Sized_ { body, types }
        }
        Data::Union(data) => {
            return Err(syn::Error::new(
                data.union_token.span,
                "Cacheable cannot be derived for a union: use a struct or an enum",
            ))
        }
    };

    let size_body = match &attrs.size_with {
        Some(path) => quote!(#path(self)),
        None => sized.body,
    };

    let placement = match attrs.tier.map(|(tier, _)| tier) {
        None | Some(TierChoice::Auto) => quote!(::smartcache::Placement::Auto),
        Some(TierChoice::Memory) => {
            quote!(::smartcache::Placement::Pinned(::smartcache::Tier::Memory))
        }
        Some(TierChoice::Sled) => quote!(::smartcache::Placement::Pinned(::smartcache::Tier::Sled)),
        Some(TierChoice::File) => quote!(::smartcache::Placement::Pinned(::smartcache::Tier::File)),
        Some(TierChoice::Redis) => {
            quote!(::smartcache::Placement::Pinned(::smartcache::Tier::Redis))
        }
    };
    let requirements = {
        let mut checks = Vec::new();
        if let Some((TierChoice::Redis, span)) = attrs.tier {
            checks.push(quote::quote_spanned!(span=> ::smartcache::__private_require_redis!();));
        }
        if let Some(CodecChoice::Json) = attrs.codec {
            checks.push(quote!(::smartcache::__private_require_json!();));
        }
        checks
    };
    let version = attrs.version.unwrap_or(0);
    let codec = match attrs.codec {
        None | Some(CodecChoice::Bincode) => quote!(::smartcache::__private::Bincode),
        Some(CodecChoice::Json) => quote!(::smartcache::__private::Json),
    };
    let default_config = attrs.ttl_secs.map(|secs| {
        quote! {
            fn default_config() -> ::smartcache::CacheConfig {
                ::smartcache::CacheConfig::default().ttl(::core::time::Duration::from_secs(#secs))
            }
        }
    });

    // Bounds: every sized field type is Cacheable, every type parameter is Cacheable
    // (its tag is part of ours), and the type itself can go through serde.
    let mut generics = input.generics.clone();
    let type_params: Vec<_> = generics.type_params().map(|p| p.ident.clone()).collect();
    {
        let (_, ty_generics, _) = input.generics.split_for_impl();
        let where_clause = generics.make_where_clause();
        for param in &type_params {
            where_clause
                .predicates
                .push(syn::parse_quote!(#param: ::smartcache::Cacheable));
        }
        let mut seen = std::collections::HashSet::new();
        for ty in &sized.types {
            if attrs.size_with.is_none() && seen.insert(quote!(#ty).to_string()) {
                // Spanned to the field's type, so an error points at the field.
                let bound = quote::quote_spanned!(syn::spanned::Spanned::span(ty)=> #ty: ::smartcache::Cacheable);
                where_clause.predicates.push(syn::parse_quote!(#bound));
            }
        }
        where_clause.predicates.push(syn::parse_quote!(
            #name #ty_generics: ::smartcache::__private::Serialize + ::smartcache::__private::DeserializeOwned
        ));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

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
    let type_tag = if tag_params.is_empty() {
        quote!(::smartcache::__private::Cow::Borrowed(concat!(
            module_path!(),
            "::",
            stringify!(#name)
        )))
    } else {
        quote!(::smartcache::__private::Cow::Owned(::std::format!(
            "{}::{}<{}>",
            module_path!(),
            stringify!(#name),
            [#(#tag_params),*].join(",")
        )))
    };

    Ok(quote! {
        #[allow(non_upper_case_globals, unused_qualifications)]
        const _: () = {
            #(#requirements)*
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
                #default_config
            }
        };
    })
}

/// An impl with no requirements, so that a mistake in the attributes is the only error.
fn fallback(input: &DeriveInput) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
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
