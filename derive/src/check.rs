//! Check stage: what is wrong only in how parts of the input go together, once each part
//! has been parsed on its own. The derive's checks look at the shape of the type; the
//! memoize checks hold the options against the function's arguments. Every problem is
//! recorded in the `Ctxt`; the expand stages run only when there is none.

use syn::Type;

use crate::cacheable::ast::{Body, Container};
use crate::ctxt::Ctxt;
use crate::memoize::options::Options;
use crate::memoize::signature::{first_generic, single_generic, Signature};

/// `#[derive(Cacheable)]`: the type is a struct or an enum, and `skip_size` does not
/// stand beside `size_with` (which sizes the whole value, so it would do nothing).
pub fn cacheable(cx: &Ctxt, container: &Container) {
    let fields: Vec<_> = match &container.body {
        Body::Union(data) => {
            cx.error_spanned_by(
                data.union_token,
                "Cacheable cannot be derived for a union: use a struct or an enum",
            );
            return;
        }
        Body::Struct(fields) => fields.iter().collect(),
        Body::Enum(variants) => variants.iter().flat_map(|v| &v.fields).collect(),
    };
    if let (Some(span), false) = (
        container.attrs.any,
        container.input.generics.params.is_empty(),
    ) {
        cx.error_spanned_by(
            quote::quote_spanned!(span=> any),
            "#[cacheable(any)] registers one concrete type: remove it here, and register each instance with smartcache::register_any!(Type<..>)",
        );
    }
    if container.attrs.size_with.is_some() {
        for field in fields.iter().filter(|f| f.skip_size) {
            cx.error_spanned_by(
                field.field,
                "`skip_size` does nothing beside `size_with`, which sizes the whole value: remove one of them",
            );
        }
    }
}

/// `#[memoize]`: every argument has a name, `ignore` names arguments, and every argument
/// of the key can be one.
pub fn memoize(cx: &Ctxt, o: &Options, sig: &Signature) {
    for arg in sig.args.iter().filter(|arg| arg.name.is_none()) {
        cx.error_spanned_by(
            arg.pat,
            "#[memoize] passes arguments on by name: bind this one to a name (`pair: (u32, u32)`) and destructure it in the body",
        );
    }
    for (option, names) in [("ignore", &o.ignore), ("content", &o.content)] {
        for named in names {
            // `ignore = [self]`: every instance of a method shares its results.
            let instance = option == "ignore" && named == "self" && sig.receiver.is_some();
            if !instance && !sig.arg_names().any(|name| name == named) {
                cx.error_spanned_by(
                    named,
                    format!("`{option}` names `{named}`, which is not an argument"),
                );
            }
        }
    }
    for (_, ty) in sig.key_args(o) {
        key_arg_type(cx, ty);
    }
    generic(cx, o, sig);
    if o.cache_none && single_generic(&sig.ret, "Option").is_none() {
        cx.error_spanned_by(
            &sig.ret,
            "`cache_none` does nothing here: the function does not return an `Option`",
        );
    }
    if o.cache_err && first_generic(&sig.ret, "Result").is_none() {
        cx.error_spanned_by(
            &sig.ret,
            "`cache_err` does nothing here: the function does not return a `Result`",
        );
    }
}

/// A generic function has one cache, of one key type and one value type: `key = ..`
/// names the key's, and the result names no type parameter.
fn generic(cx: &Ctxt, o: &Options, sig: &Signature) {
    let params: Vec<&syn::Ident> = sig
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            syn::GenericParam::Type(t) => Some(&t.ident),
            syn::GenericParam::Const(c) => Some(&c.ident),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect();
    if params.is_empty() {
        return;
    }
    if !o.key_given {
        cx.error_spanned_by(
            sig.generics,
            "a memoized generic function has one cache for every instance: give its key a concrete type with `key = <expr>: <Type>` (e.g. `key = x.to_string(): String`)",
        );
    }
    let mentions = |ty: &syn::Type| {
        quote::quote!(#ty)
            .into_iter()
            .any(|token| matches!(&token, proc_macro2::TokenTree::Ident(i) if params.contains(&i)))
    };
    if mentions(&sig.ret) {
        cx.error_spanned_by(
            &sig.ret,
            "a memoized generic function has one cache for every instance: its result type cannot name a type parameter",
        );
    }
}

/// An argument of the key is owned or borrowed, and has a type that can be named.
fn key_arg_type(cx: &Ctxt, ty: &Type) {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => cx.error_spanned_by(
            ty,
            "a `&mut` argument cannot be part of a key (a hit would skip the body's changes): pass it by value or `&`, or leave it out with `ignore = [..]`",
        ),
        Type::ImplTrait(_) => cx.error_spanned_by(
            ty,
            "an `impl Trait` argument cannot be part of a key: take a concrete type, or give `key = <expr>: <Type>`",
        ),
        _ => {}
    }
}
