//! Expand stage of `#[memoize]`: the items written for a checked function.
//!
//! - the function itself, which looks its key up in the memo and runs the body on a miss;
//! - `<fn>_cache()`, the `SmartCache` behind it;
//! - `__<fn>_memo()`, the lazily built static `Memo` (hidden);
//! - `<fn>_uncached(..)`, the original function renamed;
//! - `<fn>_refresh`, `<fn>_prime` and `<fn>_with_cached_flag`, in `companions`.
//!
//! The first three carry the where clauses `Key: MemoKey, Value: Cacheable`, each spanned
//! as one piece at the arguments or the result, and call nothing else that needs them: a
//! type that cannot be a key or a value is one error there (the compiler reports the
//! same error at the same place once), instead of one for each use.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, ItemFn};

mod companions;

use super::key::Key;
use super::options::Options;
use super::signature::{Signature, Value, Wrapper};
use crate::attr::{Compression, Durability, Eviction, Tier};
use crate::respan::{respan, Spans};

/// The items.
pub fn memoized(function: &ItemFn, o: &Options, sig: &Signature) -> TokenStream {
    let parts = Parts::new(function, o, sig);
    let memoized = parts.memoized_fn();
    let cache = parts.cache_fn();
    let memo = parts.memo_fn();
    let uncached = parts.uncached_fn();
    let refresh = parts.refresh_fn();
    let prime = parts.prime_fn();
    let flagged = parts.with_cached_flag_fn();
    quote!(#memoized #cache #memo #uncached #refresh #prime #flagged)
}

/// What the items are made of.
struct Parts<'a> {
    function: &'a ItemFn,
    o: &'a Options,
    sig: &'a Signature<'a>,
    key: Key,
    value: Value,
    /// `Memo<K, V>`.
    memo_type: TokenStream,
    /// The call that reaches the memo: `__<fn>_memo()` or `Self::__<fn>_memo()`.
    memo_path: TokenStream,
    /// `__<fn>_memo`.
    memo_fn: Ident,
    /// `<fn>_uncached`.
    uncached_fn: Ident,
}

impl<'a> Parts<'a> {
    fn new(function: &'a ItemFn, o: &'a Options, sig: &'a Signature<'a>) -> Self {
        let name = &function.sig.ident;
        let key = Key::new(
            o,
            sig,
            &function.block,
            function.sig.paren_token.span.join(),
        );
        let value = Value::of(&sig.ret, o);
        let memo_type = {
            let (key_type, value_type) = (&key.ty, &value.ty);
            quote!(::smartcache::__private::Memo::<#key_type, #value_type>)
        };
        let memo_fn = format_ident!("__{}_memo", name);
        let memo_path = match sig.receiver {
            Some(_) => quote!(Self::#memo_fn()),
            None => quote!(#memo_fn()),
        };
        Parts {
            function,
            o,
            sig,
            key,
            value,
            memo_type,
            memo_path,
            memo_fn,
            uncached_fn: format_ident!("{}_uncached", name),
        }
    }

    fn is_async(&self) -> bool {
        self.function.sig.asyncness.is_some()
    }

    /// `where Key: MemoKey, Value: Cacheable` (and `Value: MemoClone` when a hit returns
    /// a clone), each bound spanned as one piece over what it is about.
    fn bounds(&self) -> TokenStream {
        let (key_type, value_type) = (&self.key.ty, &self.value.ty);
        let bound = if self.key.instance {
            quote!(::smartcache::__private::InstanceKey<Self>)
        } else {
            quote!(::smartcache::__private::MemoKey)
        };
        let key = respan(quote!(#key_type: #bound), self.key.span);
        let ret = Spans::of(&self.sig.ret);
        let value = respan(quote!(#value_type: ::smartcache::Cacheable), ret);
        let clone = if self.value.shared {
            quote!()
        } else {
            respan(
                quote!(#value_type: ::smartcache::__private::MemoClone,),
                ret,
            )
        };
        quote!(where #key, #value, #clone)
    }

    /// The function's own parameters (`<T: Display>`), and the where clause of an item
    /// that has them: [`Parts::bounds`] and the function's own predicates.
    fn generic_parts(&self) -> (TokenStream, TokenStream) {
        let generics = self.sig.generics;
        let (params, _, _) = generics.split_for_impl();
        let own = generics.where_clause.as_ref().map(|w| &w.predicates);
        let bounds = self.bounds();
        (quote!(#params), quote!(#bounds #own))
    }

    /// The function as the user calls it: the key, then the memo's lookup.
    fn memoized_fn(&self) -> TokenStream {
        let ItemFn { attrs, vis, .. } = self.function;
        let syn::Signature {
            asyncness,
            unsafety,
            ident: name,
            inputs,
            output,
            ..
        } = &self.function.sig;
        let async_check = if self.is_async() {
            quote!(::smartcache::__private_require_async!();)
        } else {
            quote!()
        };
        let (key_type, key_expr) = (&self.key.ty, &self.key.expr);
        let (memo_type, memo_path) = (&self.memo_type, &self.memo_path);
        let lookup = self.lookup();
        let (params, bounds) = self.generic_parts();
        let tier_check = self.tier_check();
        quote! {
            #(#attrs)*
            #vis #asyncness #unsafety fn #name #params (#inputs) #output #bounds {
                #async_check
                #tier_check
                #[allow(unused_parens, unused_braces)]
                let __key: #key_type = #key_expr;
                let __memo: &'static #memo_type = #memo_path;
                #lookup
            }
        }
    }

    /// With `tier = ".."`, a compile-time check that the result type does not pin another
    /// tier (its pin would win, and the option would say something untrue).
    fn tier_check(&self) -> TokenStream {
        let Some((tier, name)) = self.tier() else {
            return quote!();
        };
        let value = &self.value.ty;
        let message = format!(
            "#[memoize(tier = \"{name}\")]: the result type pins another tier in its Cacheable impl; leave `tier` out, or change the type's placement"
        );
        let span = self.o.tier_span.unwrap_or_else(Span::call_site);
        quote_spanned! {span=>
            const _: () = ::core::assert!(
                ::smartcache::__private::tier_allows::<#value>(#tier),
                #message
            );
        }
    }

    /// The `Tier` that `tier = ".."` names, and its name; `None` for `auto` or none.
    fn tier(&self) -> Option<(TokenStream, &'static str)> {
        let span = self.o.tier_span.unwrap_or_else(Span::call_site);
        Some(match self.o.tier? {
            Tier::Memory => (quote!(::smartcache::Tier::Memory), "memory"),
            Tier::Sled => (quote!(::smartcache::Tier::Sled), "sled"),
            Tier::File => (quote!(::smartcache::Tier::File), "file"),
            // The macro says so when smartcache is built without its `redis` feature.
            Tier::Redis => (
                quote_spanned!(span=> ::smartcache::__private_redis_tier!()),
                "redis",
            ),
            Tier::Auto => return None,
        })
    }

    /// The memo's `call..` for the return type, from `__key` and `__memo`.
    fn lookup(&self) -> TokenStream {
        self.lookup_then(quote!())
    }

    /// [`Parts::lookup`], running `on_compute` when the body runs.
    fn lookup_then(&self, on_compute: TokenStream) -> TokenStream {
        let method = match (&self.value.wrapper, self.is_async()) {
            (Wrapper::Plain, false) => "call",
            (Wrapper::Option, false) => "call_option",
            (Wrapper::Result, false) => "call_result",
            (Wrapper::Plain, true) => "call_async",
            (Wrapper::Option, true) => "call_async_option",
            (Wrapper::Result, true) => "call_async_result",
        };
        let owned = self.by_value();
        let method = match owned {
            true => format_ident!("{method}_owned"),
            false => Ident::new(method, Span::call_site()),
        };
        let key_type = &self.key.ty;
        let (compute, unpack) = (self.compute(), &self.key.unpack);
        let memo_key = quote!(<#key_type as ::smartcache::__private::MemoKey>);
        let call = if self.is_async() {
            quote!(#memo_key::#method(__memo, __key, move |__k: &#key_type| {
                #on_compute
                #unpack
                async move { #compute }
            }).await)
        } else {
            quote!(#memo_key::#method(__memo, __key, move |__k: &#key_type| {
                #on_compute
                #unpack
                #compute
            }))
        };
        if owned {
            return call;
        }
        let ret_value = self.ret_value();
        match self.value.wrapper {
            Wrapper::Plain => quote! {
                let v = #call;
                #ret_value
            },
            Wrapper::Option | Wrapper::Result => quote!(#call.map(|v| #ret_value)),
        }
    }

    /// Whether the memo hands back values, not `Arc`s: for a sync function that returns
    /// its value. Its memory tier can then hold small values without a reference count.
    fn by_value(&self) -> bool {
        !self.value.shared && !self.is_async()
    }

    /// What a hit hands back of `v: Arc<V>`: the shared value, or a clone of it.
    fn ret_value(&self) -> TokenStream {
        if self.value.shared {
            quote!(v)
        } else {
            quote!(::smartcache::__private::MemoClone::clone_result(&*v))
        }
    }

    /// The computation, as the memo stores it: `V`, `Option<V>` or `Result<V, E>`, out of
    /// its `Arc` when the function returns one.
    fn compute(&self) -> TokenStream {
        let uncached_fn = &self.uncached_fn;
        let args = self.sig.arg_names();
        let call = match self.sig.receiver {
            Some(_) => quote!(self.#uncached_fn(#(#args),*)),
            None => quote!(#uncached_fn(#(#args),*)),
        };
        let call = if self.is_async() {
            quote!(#call.await)
        } else {
            call
        };
        match (self.value.shared, &self.value.wrapper) {
            (false, _) => call,
            (true, Wrapper::Plain) => quote!(::smartcache::__private::Arc::unwrap_or_clone(#call)),
            (true, _) => quote!((#call).map(::smartcache::__private::Arc::unwrap_or_clone)),
        }
    }

    /// `<fn>_cache()`.
    fn cache_fn(&self) -> TokenStream {
        let vis = &self.function.vis;
        let name = &self.function.sig.ident;
        let cache_fn = format_ident!("{}_cache", name);
        let target = match self.sig.receiver {
            Some(_) => format!("Self::{name}"),
            None => format!("{name}()"),
        };
        let doc =
            format!("The cache of [`{name}`]({target}): its `stats()`, `clear()`, `remove(&key)`.");
        let (key_type, value_type) = (&self.key.ty, &self.value.ty);
        let memo_path = &self.memo_path;
        let bounds = self.bounds();
        quote! {
            #[doc = #doc]
            #[allow(dead_code)]
            #vis fn #cache_fn() -> &'static ::smartcache::SmartCache<#key_type, #value_type> #bounds {
                #memo_path.cache()
            }
        }
    }

    /// `__<fn>_memo()`: the static memo, built on first call.
    fn memo_fn(&self) -> TokenStream {
        let vis = &self.function.vis;
        let (memo_fn, memo_type) = (&self.memo_fn, &self.memo_type);
        let config = self.config();
        let fingerprint = self.fingerprint();
        let persistent = self.o.tier != Some(Tier::Memory);
        let by_value = self.by_value();
        let key_type = &self.key.ty;
        let bounds = self.bounds();
        // A static cannot name `Self`: a key that does keeps its memo in a `MemoCell`.
        let (cell, memo) = if self.key.names_self {
            (quote!(::smartcache::__private::MemoCell), quote!(memo_in))
        } else {
            (
                quote!(::smartcache::__private::OnceLock<#memo_type>),
                quote!(memo),
            )
        };
        quote! {
            #[doc(hidden)]
            #[allow(dead_code)]
            #vis fn #memo_fn() -> &'static #memo_type #bounds {
                static MEMO: #cell = <#cell>::new();
                <#key_type as ::smartcache::__private::MemoKey>::#memo(
                    &MEMO,
                    || #config,
                    #fingerprint,
                    #persistent,
                    #by_value,
                )
            }
        }
    }

    /// `<fn>_uncached(..)`: the function as written, renamed.
    fn uncached_fn(&self) -> TokenStream {
        let ItemFn { vis, block, .. } = self.function;
        let mut sig = self.function.sig.clone();
        let doc = format!("`{}` without its cache: always runs the body.", sig.ident);
        sig.ident = self.uncached_fn.clone();
        quote! {
            #[doc = #doc]
            #[allow(dead_code)]
            #vis #sig #block
        }
    }

    /// The `CacheConfig` of the memo's cache, from the options.
    fn config(&self) -> TokenStream {
        let o = self.o;
        let value = &self.value.ty;
        let name = &self.function.sig.ident;
        // `config = ..`, or the result type's own; the other options apply on top.
        let mut config = match &o.config {
            Some(config) => quote!((#config)),
            None => quote!(::smartcache::configure_for::<#value>()),
        };
        config = quote!(::smartcache::__private::memo_defaults(
            #config,
            ::core::module_path!(),
            ::core::stringify!(#name)
        ));
        if let Some(ns) = &o.namespace {
            config = quote!(#config.namespace(#ns));
        }
        if let Some((tier, _)) = self.tier() {
            config = quote!(#config.tier(#tier));
        }
        if let Some(ms) = o.ttl_ms {
            config = quote!(#config.ttl(::core::time::Duration::from_millis(#ms)));
        }
        if let Some(ttl_of) = &o.ttl_of {
            config = quote!(#config.ttl_of::<#value>(#ttl_of));
        }
        if let Some(ms) = o.tti_ms {
            config = quote!(#config.tti(::core::time::Duration::from_millis(#ms)));
        }
        if let Some(bytes) = o.capacity {
            config = quote!(#config.memory_capacity(#bytes));
        }
        if let Some(bytes) = o.disk_capacity {
            config = quote!(#config.disk_capacity(#bytes));
        }
        if let Some(entries) = o.max_entries {
            config = quote!(#config.max_entries(#entries));
        }
        if let Some(bytes) = o.memory_threshold {
            config = quote!(#config.memory_threshold(#bytes));
        }
        if let Some(bytes) = o.file_threshold {
            config = quote!(#config.file_threshold(#bytes));
        }
        if let Some(eviction) = o.eviction {
            let eviction = match eviction {
                Eviction::TinyLfu => quote!(::smartcache::Eviction::TinyLfu),
                Eviction::Lru => quote!(::smartcache::Eviction::Lru),
                Eviction::ClockPro => quote!(::smartcache::Eviction::ClockPro),
            };
            config = quote!(#config.eviction(#eviction));
        }
        if let Some(durability) = o.durability {
            let durability = match durability {
                Durability::Buffered => quote!(::smartcache::Durability::Buffered),
                Durability::Fsync => quote!(::smartcache::Durability::Fsync),
            };
            config = quote!(#config.durability(#durability));
        }
        if let Some(secure) = o.secure {
            config = quote!(#config.secure(#secure));
        }
        if let Some(compression) = o.compression {
            let compression = match compression {
                Compression::None => quote!(::smartcache::Compression::None),
                Compression::Lz4 => quote!(::smartcache::Compression::Lz4),
                Compression::Zstd(level) => quote!(::smartcache::Compression::Zstd(#level)),
            };
            config = quote!(#config.compression(#compression));
        }
        if let Some(dir) = &o.dir {
            config = quote!(#config.dir(#dir));
        }
        config
    }

    /// The fingerprint of the function's code: its signature, body and version. Stored
    /// results are keyed by it too, so that those of another fingerprint are never read.
    fn fingerprint(&self) -> u64 {
        let ItemFn { sig, block, .. } = self.function;
        let text = format!("{} {} v{}", quote!(#sig), quote!(#block), self.o.version);
        fnv1a(text.as_bytes())
    }
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
