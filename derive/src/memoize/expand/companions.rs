//! The companions of a memoized function for one call: `<fn>_refresh(..)` runs the body
//! and stores its result, `<fn>_prime(.., value)` stores a result without running it, and
//! `<fn>_with_cached_flag(..)` says whether the cache served the call.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ItemFn;

use super::{Parts, Wrapper};

impl Parts<'_> {
    /// The function's result type (`()` when it returns nothing).
    fn output_type(&self) -> TokenStream {
        match &self.function.sig.output {
            syn::ReturnType::Default => quote!(()),
            syn::ReturnType::Type(_, ty) => quote!(#ty),
        }
    }

    /// `<fn>_refresh(..)`: runs the body, stores what it returns (as the function would),
    /// and returns it; joblib's `func.call`, cached's `force_refresh`.
    pub(super) fn refresh_fn(&self) -> TokenStream {
        let ItemFn { vis, .. } = self.function;
        let syn::Signature {
            asyncness,
            unsafety,
            ident: name,
            inputs,
            output,
            ..
        } = &self.function.sig;
        let refresh = format_ident!("{}_refresh", name);
        let doc = format!(
            "[`{name}`] that runs the body whatever the cache holds, and stores its result in place of the cached one."
        );
        let (key_type, key_expr, unpack) = (&self.key.ty, &self.key.expr, &self.key.unpack);
        let (memo_type, memo_path) = (&self.memo_type, &self.memo_path);
        let compute = self.compute();
        let ret_value = self.ret_value();
        let store = quote!({
            let v = <#key_type as ::smartcache::__private::MemoKey>::store(__memo, __key, __v);
            #ret_value
        });
        let result = match self.value.wrapper {
            Wrapper::Plain => quote!({
                let __v = __r;
                #store
            }),
            Wrapper::Option | Wrapper::Result => quote!(__r.map(|__v| #store)),
        };
        let (params, bounds) = self.generic_parts();
        quote! {
            #[doc = #doc]
            #[allow(dead_code, unused_parens, unused_braces)]
            #vis #asyncness #unsafety fn #refresh #params (#inputs) #output #bounds {
                let __key: #key_type = #key_expr;
                let __memo: &'static #memo_type = #memo_path;
                let __r = {
                    let __k = &__key;
                    #unpack
                    #compute
                };
                #result
            }
        }
    }

    /// `<fn>_prime(.., value)`: stores `value` as the result of the call with these
    /// arguments, without running the body.
    pub(super) fn prime_fn(&self) -> TokenStream {
        let ItemFn { vis, .. } = self.function;
        let syn::Signature {
            unsafety,
            ident: name,
            inputs,
            ..
        } = &self.function.sig;
        let prime = format_ident!("{}_prime", name);
        let doc = format!(
            "Stores `value` as the result of [`{name}`] for these arguments, without running its body. Returns the tier it went to."
        );
        let (key_type, key_expr, value_type) = (&self.key.ty, &self.key.expr, &self.value.ty);
        let memo_path = &self.memo_path;
        // `value`, unless an argument has that name.
        let value = if self.sig.arg_names().any(|name| name == "value") {
            format_ident!("__value")
        } else {
            format_ident!("value")
        };
        let comma = if inputs.is_empty() || inputs.trailing_punct() {
            quote!()
        } else {
            quote!(,)
        };
        let (params, bounds) = self.generic_parts();
        quote! {
            #[doc = #doc]
            #[allow(dead_code, unused_variables, unused_parens, unused_braces)]
            #vis #unsafety fn #prime #params (#inputs #comma #value: #value_type)
                -> ::smartcache::Result<::smartcache::Tier> #bounds
            {
                let __key: #key_type = #key_expr;
                <#key_type as ::smartcache::__private::MemoKey>::prime(#memo_path, __key, #value)
            }
        }
    }

    /// `<fn>_with_cached_flag(..)`: the result, and whether the cache served it (cached's
    /// `with_cached_flag`).
    pub(super) fn with_cached_flag_fn(&self) -> TokenStream {
        let ItemFn { vis, .. } = self.function;
        let syn::Signature {
            asyncness,
            unsafety,
            ident: name,
            inputs,
            ..
        } = &self.function.sig;
        let flagged = format_ident!("{}_with_cached_flag", name);
        let doc = format!(
            "[`{name}`], and whether its result came from the cache (`true`) or from running the body (`false`)."
        );
        let (key_type, key_expr) = (&self.key.ty, &self.key.expr);
        let (memo_type, memo_path) = (&self.memo_type, &self.memo_path);
        let output = self.output_type();
        let lookup = self.lookup_then(quote!(
            __computed.store(true, ::core::sync::atomic::Ordering::Relaxed);
        ));
        let (params, bounds) = self.generic_parts();
        quote! {
            #[doc = #doc]
            #[allow(dead_code, unused_parens, unused_braces)]
            #vis #asyncness #unsafety fn #flagged #params (#inputs) -> (#output, bool) #bounds {
                let __key: #key_type = #key_expr;
                let __memo: &'static #memo_type = #memo_path;
                let __computed = &::core::sync::atomic::AtomicBool::new(false);
                let __result = { #lookup };
                (__result, !__computed.load(::core::sync::atomic::Ordering::Relaxed))
            }
        }
    }
}
