//! Parse stage of `#[memoize]`, for the function: its receiver, its arguments and what
//! its return type says about the cached value. It rejects what the function alone makes
//! impossible (generics, no return type, `&mut self`); `crate::check` compares it with the
//! options.

use syn::{FnArg, GenericArgument, Ident, Pat, PathArguments, Receiver, ReturnType, Type};

use super::options::Options;
use crate::ctxt::Ctxt;

/// The parts of the function's signature that the memo needs.
pub struct Signature<'a> {
    /// `self`, `&self`..., for a method.
    pub receiver: Option<&'a Receiver>,
    /// The arguments after the receiver.
    pub args: Vec<Arg<'a>>,
    /// The return type (`()` when there is none, which is an error).
    pub ret: Type,
    /// The type and lifetime parameters, and their where clause.
    pub generics: &'a syn::Generics,
}

/// One argument.
pub struct Arg<'a> {
    /// The pattern as written.
    pub pat: &'a Pat,
    /// Its name, when the pattern is a plain name.
    pub name: Option<&'a Ident>,
    /// Its type.
    pub ty: &'a Type,
}

impl<'a> Signature<'a> {
    /// Reads `sig`, recording what cannot be memoized.
    pub fn parse(cx: &Ctxt, sig: &'a syn::Signature) -> Self {
        let ret = match &sig.output {
            ReturnType::Type(_, ty) => (**ty).clone(),
            ReturnType::Default => {
                cx.error_spanned_by(
                    &sig.ident,
                    "a memoized function must return the value to cache",
                );
                syn::parse_quote!(())
            }
        };
        let mut receiver = None;
        let mut args = Vec::new();
        for arg in &sig.inputs {
            match arg {
                FnArg::Receiver(r) => {
                    if r.mutability.is_some() && r.reference.is_some() {
                        cx.error_spanned_by(
                            r,
                            "#[memoize] cannot cache a `&mut self` method (a hit would skip the body's changes)",
                        );
                    }
                    receiver = Some(r);
                }
                FnArg::Typed(pt) => args.push(Arg {
                    pat: &pt.pat,
                    name: match &*pt.pat {
                        Pat::Ident(p) if p.subpat.is_none() => Some(&p.ident),
                        _ => None,
                    },
                    ty: &pt.ty,
                }),
            }
        }
        Signature {
            receiver,
            args,
            ret,
            generics: &sig.generics,
        }
    }

    /// The names of the arguments, to pass them on (all of them, once checked).
    pub fn arg_names(&self) -> impl Iterator<Item = &'a Ident> + '_ {
        self.args.iter().filter_map(|arg| arg.name)
    }

    /// Whether a method's instance is part of its key: it reads `self` in `body`, and
    /// neither `key = ..` nor `ignore = [self]` says otherwise.
    pub fn keys_instance(&self, o: &Options, body: &syn::Block) -> bool {
        self.receiver.is_some()
            && !o.key_given
            && !o.ignore.iter().any(|name| name == "self")
            && reads_self(quote::quote!(#body))
    }

    /// The named arguments that make up the key: all but `ignore`d ones, or none when
    /// `key` is given.
    pub fn key_args<'s>(
        &'s self,
        o: &'s Options,
    ) -> impl Iterator<Item = (&'a Ident, &'a Type)> + 's {
        self.args
            .iter()
            .filter(|_| !o.key_given)
            .filter_map(|arg| Some((arg.name?, arg.ty)))
            .filter(|(name, _)| !o.ignore.contains(name))
    }
}

/// How the function's return type relates to the cached value.
pub enum Wrapper {
    /// `V`
    Plain,
    /// `Option<V>`: `None` is not stored.
    Option,
    /// `Result<V, E>`: `Err` is not stored.
    Result,
}

/// The cached value, as the return type holds it.
pub struct Value {
    /// The type of what the cache stores.
    pub ty: Type,
    /// The `Option` or `Result` around it, unless `cache_none`/`cache_err` stores those.
    pub wrapper: Wrapper,
    /// Whether it is behind an `Arc`: a hit then hands back the shared value.
    pub shared: bool,
}

impl Value {
    /// What the cache stores of the return type `ret`.
    pub fn of(ret: &Type, o: &Options) -> Self {
        let (inner, wrapper) = match (single_generic(ret, "Option"), o.cache_none) {
            (Some(inner), false) => (inner, Wrapper::Option),
            _ => match (first_generic(ret, "Result"), o.cache_err) {
                (Some(inner), false) => (inner, Wrapper::Result),
                _ => (ret.clone(), Wrapper::Plain),
            },
        };
        let (ty, shared) = match single_generic(&inner, "Arc") {
            Some(shared) => (shared, true),
            None => (inner, false),
        };
        Value {
            ty,
            wrapper,
            shared,
        }
    }
}

/// `T` when `ty` is `<name><T>` (by its last path segment).
pub fn single_generic(ty: &Type, name: &str) -> Option<Type> {
    let args = generic_args(ty, name)?;
    (args.len() == 1).then(|| args[0].clone())
}

/// The first type argument when `ty` is `<name><T, ..>`.
pub fn first_generic(ty: &Type, name: &str) -> Option<Type> {
    generic_args(ty, name)?.into_iter().next()
}

/// The type arguments when `ty` is `<name><..>`.
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

/// Whether `tokens` use `self` (in a macro's arguments too).
fn reads_self(tokens: proc_macro2::TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == "self",
        proc_macro2::TokenTree::Group(group) => reads_self(group.stream()),
        _ => false,
    })
}
