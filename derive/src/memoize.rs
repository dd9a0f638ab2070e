//! `#[memoize]`: parses the options and the function's signature, then writes the
//! memoized function, its `<fn>_cache()` and `<fn>_uncached(..)` companions, and the
//! lazily built static that holds the function's `Memo`.
//!
//! The key is the tuple of the arguments (`&self` and `ignore`d ones left out), each
//! turned into its owned form (`&str` → `String`, `&T` → `T`); `key = <expr>` replaces
//! it. The cached value is the return type, minus the `Option`/`Result` around it unless
//! `cache_none`/`cache_err` asks to store those too, and minus an `Arc` around it (a hit
//! then hands back the shared value without a copy).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, GenericArgument, Ident, ItemFn, Lit, Pat, PathArguments, ReturnType, Type};

use crate::attr::parse_duration;

const OPTIONS: &str = "tier, ttl, capacity, disk_capacity, namespace, dir, compression, key, ignore, cache_none, cache_err, version";

/// The parsed options.
#[derive(Default)]
struct Options {
    tier: Option<String>,
    ttl_secs: Option<u64>,
    capacity: Option<u64>,
    disk_capacity: Option<u64>,
    namespace: Option<String>,
    dir: Option<Expr>,
    compression: Option<TokenStream>,
    key: Option<(Expr, Option<Type>)>,
    ignore: Vec<Ident>,
    cache_none: bool,
    cache_err: bool,
    version: u32,
}

fn parse_options(args: TokenStream) -> syn::Result<Options> {
    let mut o = Options::default();
    let mut seen: Vec<String> = Vec::new();
    let parser = syn::meta::parser(|meta| {
        let name = meta
            .path
            .get_ident()
            .map(Ident::to_string)
            .unwrap_or_default();
        if seen.contains(&name) {
            return Err(meta.error(format!("`{name}` is given twice: keep one")));
        }
        seen.push(name.clone());
        let string = |meta: &syn::meta::ParseNestedMeta| -> syn::Result<(String, Span)> {
            let lit: syn::LitStr = meta.value()?.parse()?;
            Ok((lit.value(), lit.span()))
        };
        let int = |meta: &syn::meta::ParseNestedMeta, what: &str| -> syn::Result<u64> {
            let expr: Expr = meta.value()?.parse()?;
            match &expr {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Int(i), ..
                }) => i.base10_parse::<u64>(),
                _ => Err(syn::Error::new(
                    expr.span(),
                    format!("`{what}` takes an integer literal, e.g. `{what} = 3`"),
                )),
            }
        };
        let flag = |meta: &syn::meta::ParseNestedMeta| -> syn::Result<bool> {
            if meta.input.peek(syn::Token![=]) {
                let value: syn::LitBool = meta.value()?.parse()?;
                Ok(value.value)
            } else {
                Ok(true)
            }
        };
        match name.as_str() {
            "tier" => {
                let (tier, span) = string(&meta)?;
                if !["auto", "memory", "sled", "file"].contains(&tier.as_str()) {
                    return Err(syn::Error::new(
                        span,
                        format!("unknown tier \"{tier}\": use \"auto\", \"memory\", \"sled\" or \"file\""),
                    ));
                }
                o.tier = Some(tier);
            }
            "ttl" => {
                let (text, span) = string(&meta)?;
                o.ttl_secs = Some(parse_duration(&text).ok_or_else(|| {
                    syn::Error::new(
                        span,
                        format!("bad duration \"{text}\": write a number and a unit, e.g. \"90s\", \"10m\", \"1h\" or \"1d\""),
                    )
                })?);
            }
            "capacity" | "disk_capacity" => {
                let bytes = int(&meta, &name)?;
                if bytes == 0 {
                    return Err(
                        meta.error(format!("`{name}` is 0: give a positive number of bytes"))
                    );
                }
                if name == "capacity" {
                    o.capacity = Some(bytes);
                } else {
                    o.disk_capacity = Some(bytes);
                }
            }
            "namespace" => {
                let (ns, span) = string(&meta)?;
                if ns.is_empty()
                    || ns.contains(['/', '\\', ':'])
                    || ns.contains("..")
                    || ns.starts_with('.')
                {
                    return Err(syn::Error::new(
                        span,
                        "a namespace is a plain folder name: no `/`, `\\`, `:`, `..` or leading `.`",
                    ));
                }
                o.namespace = Some(ns);
            }
            "dir" => o.dir = Some(meta.value()?.parse()?),
            "compression" => {
                let (text, span) = string(&meta)?;
                o.compression = Some(match text.as_str() {
                    "none" => quote!(::smartcache::Compression::None),
                    "lz4" => quote!(::smartcache::Compression::Lz4),
                    "zstd" => quote!(::smartcache::Compression::Zstd(3)),
                    _ => {
                        return Err(syn::Error::new(
                            span,
                            format!(
                                "unknown compression \"{text}\": use \"none\", \"lz4\" or \"zstd\""
                            ),
                        ))
                    }
                });
            }
            "key" => {
                let input = meta.value()?;
                let expr: Expr = input.parse()?;
                let ty = if input.peek(syn::Token![:]) {
                    input.parse::<syn::Token![:]>()?;
                    Some(input.parse::<Type>()?)
                } else {
                    None
                };
                o.key = Some((expr, ty));
            }
            "ignore" => {
                let list: syn::ExprArray = meta.value()?.parse()?;
                for item in list.elems {
                    match item {
                        Expr::Path(p) if p.path.get_ident().is_some() => {
                            o.ignore.extend(p.path.get_ident().cloned());
                        }
                        other => {
                            return Err(syn::Error::new(
                                other.span(),
                                "`ignore` lists argument names: `ignore = [verbose, log]`",
                            ))
                        }
                    }
                }
            }
            "cache_none" => o.cache_none = flag(&meta)?,
            "cache_err" => o.cache_err = flag(&meta)?,
            "version" => {
                o.version = u32::try_from(int(&meta, "version")?)
                    .map_err(|_| meta.error("`version` must fit in a u32"))?;
            }
            _ => {
                return Err(meta.error(format!(
                    "unknown #[memoize] option `{}`: the options are {OPTIONS}",
                    {
                        let path = &meta.path;
                        quote!(#path).to_string().replace(' ', "")
                    }
                )))
            }
        }
        Ok(())
    });
    parser.parse2(args)?;
    Ok(o)
}

/// An argument that is part of the key.
struct KeyArg {
    /// The owned type stored in the key.
    owned: TokenStream,
    /// How to get it from the argument.
    to_owned: TokenStream,
    /// Span of the argument's type, for errors.
    span: Span,
}

/// How the function's return type relates to the cached value.
enum Wrapper {
    /// `V`
    Plain,
    /// `Option<V>`: `None` is not stored.
    Option,
    /// `Result<V, E>`: `Err` is not stored.
    Result,
}

/// The cached value type, how the return type wraps it, and whether it is behind `Arc`.
fn value_type(ret: &Type, o: &Options) -> (Type, Wrapper, bool) {
    let (inner, wrapper) = match (single_generic(ret, "Option"), o.cache_none) {
        (Some(inner), false) => (inner, Wrapper::Option),
        _ => match (first_generic(ret, "Result"), o.cache_err) {
            (Some(inner), false) => (inner, Wrapper::Result),
            _ => (ret.clone(), Wrapper::Plain),
        },
    };
    match single_generic(&inner, "Arc") {
        Some(shared) => (shared, wrapper, true),
        None => (inner, wrapper, false),
    }
}

/// `T` when `ty` is `<name><T>` (by its last path segment).
fn single_generic(ty: &Type, name: &str) -> Option<Type> {
    let args = generic_args(ty, name)?;
    (args.len() == 1).then(|| args[0].clone())
}

/// The first type argument when `ty` is `<name><T, ..>`.
fn first_generic(ty: &Type, name: &str) -> Option<Type> {
    generic_args(ty, name)?.into_iter().next()
}

fn generic_args(ty: &Type, name: &str) -> Option<Vec<Type>> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    Some(
        args.args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t.clone()),
                _ => None,
            })
            .collect(),
    )
}

/// The owned form of an argument type, and the expression that makes it from `name`.
fn owned(name: &Ident, ty: &Type) -> syn::Result<(TokenStream, TokenStream)> {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => Err(syn::Error::new(
            ty.span(),
            "a `&mut` argument cannot be part of a key (a hit would skip the body's changes): pass it by value or `&`, or leave it out with `ignore = [..]`",
        )),
        Type::Reference(r) => {
            let inner = &r.elem;
            Ok((
                quote!(<#inner as ::std::borrow::ToOwned>::Owned),
                quote!(::std::borrow::ToOwned::to_owned(#name)),
            ))
        }
        Type::ImplTrait(_) => Err(syn::Error::new(
            ty.span(),
            "an `impl Trait` argument cannot be part of a key: take a concrete type, or give `key = <expr>: <Type>`",
        )),
        _ => Ok((quote!(#ty), quote!(::std::clone::Clone::clone(&#name)))),
    }
}

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            return syn::Error::new(
                Span::call_site(),
                "#[memoize] goes on a function or a method",
            )
            .into_compile_error()
        }
    };
    match expand_fn(args, &function) {
        Ok(tokens) => tokens,
        Err(e) => {
            let error = e.into_compile_error();
            quote!(#error #function)
        }
    }
}

fn expand_fn(args: TokenStream, function: &ItemFn) -> syn::Result<TokenStream> {
    let o = parse_options(args)?;
    let sig = &function.sig;
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "#[memoize] cannot cache a generic function (its one cache would hold values of every type): memoize a non-generic wrapper",
        ));
    }
    let ret = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => {
            return Err(syn::Error::new(
                sig.ident.span(),
                "a memoized function must return the value to cache",
            ))
        }
    };
    let mut receiver = None;
    let mut key_args = Vec::new();
    let mut call_args = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(r) => {
                if r.mutability.is_some() && r.reference.is_some() {
                    return Err(syn::Error::new(
                        r.span(),
                        "#[memoize] cannot cache a `&mut self` method (a hit would skip the body's changes)",
                    ));
                }
                receiver = Some(r);
            }
            FnArg::Typed(pt) => {
                let name = match &*pt.pat {
                    Pat::Ident(p) if p.subpat.is_none() => p.ident.clone(),
                    other => {
                        if o.key.is_none() {
                            return Err(syn::Error::new(
                                other.span(),
                                "#[memoize] names the key after the arguments: bind this argument to a name, or give `key = <expr>: <Type>`",
                            ));
                        }
                        return Err(syn::Error::new(
                            other.span(),
                            "#[memoize] needs plain argument names (destructure inside the body)",
                        ));
                    }
                };
                call_args.push(name.clone());
                if o.ignore.contains(&name) {
                    continue;
                }
                if o.key.is_some() {
                    continue; // the key expression says what the key is made of
                }
                let (owned, to_owned) = owned(&name, &pt.ty)?;
                key_args.push(KeyArg {
                    owned,
                    to_owned,
                    span: pt.ty.span(),
                });
            }
        }
    }
    for ignored in &o.ignore {
        if !call_args.contains(ignored) {
            return Err(syn::Error::new(
                ignored.span(),
                format!("`ignore` names `{ignored}`, which is not an argument"),
            ));
        }
    }

    let (value, wrapper, shared) = value_type(&ret, &o);
    let (key_type, key_expr, key_asserts) = match &o.key {
        Some((expr, Some(ty))) => (quote!(#ty), quote!(#expr), quote_spanned!(ty.span()=> ::smartcache::__private::assert_key::<#ty>();)),
        Some((expr, None)) => {
            return Err(syn::Error::new(
                expr.span(),
                "give the key's type after it: `key = <expr>: <Type>`, e.g. `key = (a, b.len()): (u32, usize)`",
            ))
        }
        None => {
            let types: Vec<_> = key_args.iter().map(|a| &a.owned).collect();
            let values: Vec<_> = key_args.iter().map(|a| &a.to_owned).collect();
            let asserts: Vec<_> = key_args
                .iter()
                .map(|a| {
                    let owned = &a.owned;
                    quote_spanned!(a.span=> ::smartcache::__private::assert_key::<#owned>();)
                })
                .collect();
            match key_args.len() {
                1 => (quote!(#(#types)*), quote!(#(#values)*), quote!(#(#asserts)*)),
                _ => (quote!((#(#types,)*)), quote!((#(#values,)*)), quote!(#(#asserts)*)),
            }
        }
    };

    let vis = &function.vis;
    let attrs = &function.attrs;
    let name = &sig.ident;
    let cache_fn = format_ident!("{}_cache", name);
    let uncached_fn = format_ident!("{}_uncached", name);
    let body = &function.block;
    let is_async = sig.asyncness.is_some();

    // The fingerprint of the function's code: its signature, body and version.
    let fingerprint = {
        let text = format!("{} {} v{}", quote!(#sig), quote!(#body), o.version);
        fnv1a(text.as_bytes())
    };
    let mut config = quote!(::smartcache::configure_for::<#value>());
    config = match &o.namespace {
        Some(ns) => quote!(#config.namespace(#ns)),
        None => {
            quote!(#config.namespace(::smartcache::__private::memo_namespace(::core::module_path!(), ::core::stringify!(#name))))
        }
    };
    if let Some(tier) = &o.tier {
        config = match tier.as_str() {
            "memory" => quote!(#config.memory_threshold(usize::MAX).file_threshold(usize::MAX)),
            "sled" => quote!(#config.memory_threshold(0).file_threshold(usize::MAX)),
            "file" => quote!(#config.memory_threshold(0).file_threshold(0)),
            _ => config,
        };
    }
    if let Some(secs) = o.ttl_secs {
        config = quote!(#config.ttl(::core::time::Duration::from_secs(#secs)));
    }
    if let Some(bytes) = o.capacity {
        config = quote!(#config.memory_capacity(#bytes));
    }
    if let Some(bytes) = o.disk_capacity {
        config = quote!(#config.disk_capacity(#bytes));
    }
    if let Some(compression) = &o.compression {
        config = quote!(#config.compression(#compression));
    }
    if let Some(dir) = &o.dir {
        config = quote!(#config.dir(#dir));
    }

    // The uncached function: the original, renamed.
    let mut uncached_sig = sig.clone();
    uncached_sig.ident = uncached_fn.clone();
    let memo_fn = format_ident!("__{}_memo", name);
    let (call_uncached, memo_path) = if receiver.is_some() {
        (
            quote!(self.#uncached_fn(#(#call_args),*)),
            quote!(Self::#memo_fn()),
        )
    } else {
        (quote!(#uncached_fn(#(#call_args),*)), quote!(#memo_fn()))
    };
    let call_uncached = if is_async {
        quote!(#call_uncached.await)
    } else {
        call_uncached
    };
    let memo_type = quote!(::smartcache::__private::Memo::<#key_type, #value>);
    // What a hit hands back: the shared value, or a clone of it.
    let ret_value = if shared {
        quote!(v)
    } else {
        quote!((*v).clone())
    };
    // The computation, as the memo stores it: V, Option<V> or Result<V, E>.
    let compute = if shared {
        match wrapper {
            Wrapper::Plain => quote!(::smartcache::__private::Arc::unwrap_or_clone(#call_uncached)),
            _ => quote!((#call_uncached).map(::smartcache::__private::Arc::unwrap_or_clone)),
        }
    } else {
        call_uncached
    };
    let lookup = match (&wrapper, is_async) {
        (Wrapper::Plain, false) => quote! {
            let v = __memo.call(__key, || #compute);
            #ret_value
        },
        (Wrapper::Option, false) => {
            quote!(__memo.call_option(__key, || #compute).map(|v| #ret_value))
        }
        (Wrapper::Result, false) => {
            quote!(__memo.call_result(__key, || #compute).map(|v| #ret_value))
        }
        (Wrapper::Plain, true) => quote! {
            let v = __memo.call_async(__key, async { #compute }).await;
            #ret_value
        },
        (Wrapper::Option, true) => {
            quote!(__memo.call_async_option(__key, async { #compute }).await.map(|v| #ret_value))
        }
        (Wrapper::Result, true) => {
            quote!(__memo.call_async_result(__key, async { #compute }).await.map(|v| #ret_value))
        }
    };
    let async_check = if is_async {
        quote!(::smartcache::__private_require_async!();)
    } else {
        quote!()
    };
    let value_assert =
        quote_spanned!(ret.span()=> ::smartcache::__private::assert_value::<#value>(););
    let persistent = o.tier.as_deref() != Some("memory");
    let doc_cache =
        format!("The cache of [`{name}`](Self::{name}): its `stats()`, `clear()`, `remove(&key)`.");
    let doc_cache = if receiver.is_some() {
        doc_cache
    } else {
        doc_cache
            .replace("(Self::", "(")
            .replace(&format!("({name})"), &format!("({name}())"))
    };
    let doc_uncached = format!("`{name}` without its cache: always runs the body.");
    let inputs = &sig.inputs;
    let output = &sig.output;
    let asyncness = &sig.asyncness;
    let unsafety = &sig.unsafety;
    Ok(quote! {
        #(#attrs)*
        #vis #asyncness #unsafety fn #name(#inputs) #output {
            #async_check
            #key_asserts
            #value_assert
            #[allow(unused_parens, unused_braces)]
            let __key: #key_type = #key_expr;
            let __memo: &'static #memo_type = #memo_path;
            #lookup
        }

        #[doc = #doc_cache]
        #[allow(dead_code)]
        #vis fn #cache_fn() -> &'static ::smartcache::SmartCache<#key_type, #value> {
            #memo_path.cache()
        }

        #[doc(hidden)]
        #[allow(dead_code)]
        #vis fn #memo_fn() -> &'static #memo_type {
            static MEMO: ::smartcache::__private::LazyLock<#memo_type> =
                ::smartcache::__private::LazyLock::new(|| {
                    ::smartcache::__private::Memo::new(#config, #fingerprint, #persistent)
                });
            &MEMO
        }

        #[doc = #doc_uncached]
        #[allow(dead_code)]
        #vis #uncached_sig #body
    })
}

/// FNV-1a, 64 bits: a stable hash of the function's tokens.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
