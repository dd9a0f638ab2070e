//! The key of a memoized function: its type, the expression that builds it from the
//! arguments, how the computation gets its arguments back, and where an error about it
//! points.
//!
//! By default the key is the tuple of the arguments (`ignore`d ones left out; one
//! argument alone is not wrapped in a tuple), each in its owned form: `&str` becomes
//! `String`, `&T` becomes `T`. A method whose body reads `self` has its instance first
//! in the key (bound by `InstanceKey<Self>`, so that an instance that cannot be a key is
//! one error that names the fixes), unless `ignore = [self]` says every instance shares
//! results. Arguments taken by value move into the key, so a
//! hit copies nothing; on a miss the computation takes copies of them from the key.
//! `key = <expr>: <Type>` replaces the key, and the computation then uses the arguments
//! themselves.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::quote;
use syn::{Ident, Type};

use super::options::Options;
use super::signature::Signature;
use crate::respan::Spans;

/// The key of one function.
pub struct Key {
    /// Its type.
    pub ty: TokenStream,
    /// The expression that builds it, of the arguments.
    pub expr: TokenStream,
    /// Statements that give the computation back the arguments moved into the key,
    /// from `__k: &Key` (empty when none were moved).
    pub unpack: TokenStream,
    /// Where an error saying that the key cannot be a key points.
    pub span: Spans,
    /// Whether the type names `Self`.
    pub names_self: bool,
    /// Whether the method's instance is its first part.
    pub instance: bool,
}

impl Key {
    /// The key that the options and the arguments give.
    pub fn new(o: &Options, sig: &Signature, body: &syn::Block, inputs_span: Span) -> Self {
        if let Some(key) = &o.key {
            let ty = &key.ty;
            let expr = &key.expr;
            return Key {
                ty: quote!(#ty),
                expr: quote!(#expr),
                unpack: quote!(),
                span: Spans::of(ty),
                names_self: names_self(&quote!(#ty)),
                instance: false,
            };
        }
        let args: Vec<_> = sig.key_args(o).collect();
        let receiver = sig.receiver.filter(|_| sig.keys_instance(o, body));
        let mut types = Vec::new();
        let mut values = Vec::new();
        // The pattern that takes the moved arguments out of a copy of the key.
        let mut pattern = Vec::new();
        // The instance, copied through the key's own bound (`InstanceKey<Self>`, which
        // its type is not known before the arguments are).
        let instance = receiver.map(|receiver| match receiver.reference {
            Some(_) => quote!(self),
            None => quote!(&self),
        });
        if instance.is_some() {
            types.push(quote!(Self));
            pattern.push(quote!(_));
        }
        let alone = args.len() + types.len() == 1;
        let mut moved = false;
        for &(name, ty) in &args {
            let by_content = o.content.contains(name) || is_content_type(ty);
            let part = if by_content {
                Part::content(name, ty)
            } else {
                Part::of(name, ty, alone)
            };
            pattern.push(if part.moved { quote!(#name) } else { quote!(_) });
            moved |= part.moved;
            types.push(part.ty);
            values.push(part.value);
        }
        let span = match (receiver, args.as_slice()) {
            (None, [(_, ty)]) => Spans::of(ty),
            (Some(receiver), []) => Spans::of(receiver),
            _ => Spans {
                first: inputs_span,
                last: inputs_span,
            },
        };
        if let Some(this) = instance {
            let key_type = match types.as_slice() {
                [ty] => ty.clone(),
                _ => quote!((#(#types,)*)),
            };
            values.insert(
                0,
                quote!(<#key_type as ::smartcache::__private::InstanceKey<Self>>::instance(#this)),
            );
        }
        let (ty, expr, pattern) = match (types.as_slice(), values.as_slice()) {
            ([ty], [value]) => (ty.clone(), value.clone(), pattern.remove(0)),
            _ => (
                quote!((#(#types,)*)),
                quote!((#(#values,)*)),
                quote!((#(#pattern,)*)),
            ),
        };
        let unpack = if moved {
            quote!(let #pattern = <#ty as ::smartcache::__private::MemoKey>::clone_key(__k);)
        } else {
            quote!()
        };
        Key {
            ty,
            expr,
            unpack,
            span,
            names_self: receiver.is_some(),
            instance: receiver.is_some(),
        }
    }
}

/// Whether `tokens` name the type `Self`.
fn names_self(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "Self",
        TokenTree::Group(group) => names_self(&group.stream()),
        _ => false,
    })
}

/// One argument as part of the key.
struct Part {
    /// Its owned type.
    ty: TokenStream,
    /// The expression that makes it from the argument.
    value: TokenStream,
    /// Whether the argument itself moves into the key (it is taken by value).
    moved: bool,
}

impl Part {
    /// The part for argument `name: ty`; `alone` when it is the whole key. (`check` has
    /// rejected `&mut` and `impl Trait` arguments of the key.)
    fn of(name: &Ident, ty: &Type, alone: bool) -> Self {
        let Type::Reference(r) = ty else {
            return Part {
                ty: quote!(#ty),
                value: quote!(#name),
                moved: true,
            };
        };
        let inner = &*r.elem;
        let (ty, value) = match inner {
            // Borrowed forms whose owned form exists for every value.
            Type::Path(p) if is_unsized_std(p) => (
                quote!(<#inner as ::std::borrow::ToOwned>::Owned),
                quote!(::std::borrow::ToOwned::to_owned(#name)),
            ),
            Type::Slice(slice) => {
                let element = &slice.elem;
                (
                    quote!(::std::vec::Vec<#element>),
                    quote!(<[#element]>::to_vec(#name)),
                )
            }
            // A key alone is copied through its MemoKey bound, so that a type that cannot
            // be a key is that bound's error only.
            _ if alone => (
                quote!(#inner),
                quote!(<#inner as ::smartcache::__private::MemoKey>::clone_key(#name)),
            ),
            _ => (quote!(#inner), quote!(::std::clone::Clone::clone(#name))),
        };
        Part {
            ty,
            value,
            moved: false,
        }
    }
}

impl Part {
    /// The part for an argument keyed by its content: a `ContentKey`, hashed from the
    /// argument in place (it is not moved).
    fn content(name: &Ident, ty: &Type) -> Self {
        let value = match ty {
            Type::Reference(_) => quote!(::smartcache::ContentKey::of(#name)),
            _ => quote!(::smartcache::ContentKey::of(&#name)),
        };
        Part {
            ty: quote!(::smartcache::ContentKey),
            value,
            moved: false,
        }
    }
}

/// Whether an argument of type `ty` (or `&ty`) is keyed by its content: an array,
/// `DataFrame`, `Series` or image, which cannot be a key (floats) or are too large to
/// copy into one. `content = [..]` names others.
fn is_content_type(ty: &Type) -> bool {
    let ty = match ty {
        Type::Reference(r) => &*r.elem,
        ty => ty,
    };
    let Type::Path(p) = ty else {
        return false;
    };
    p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| {
            let name = s.ident.to_string();
            name.starts_with("Array") && !name.starts_with("ArrayView")
                || [
                    "DataFrame",
                    "Series",
                    "DynamicImage",
                    "ImageBuffer",
                    "RgbImage",
                    "RgbaImage",
                    "GrayImage",
                    "GrayAlphaImage",
                ]
                .contains(&name.as_str())
        })
}

/// Whether `p` names `str`, `Path`, `OsStr` or `CStr`: borrowed forms whose owned form
/// (`String`, `PathBuf`, ...) every value has.
fn is_unsized_std(p: &syn::TypePath) -> bool {
    p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| {
            ["str", "Path", "OsStr", "CStr"]
                .iter()
                .any(|n| s.ident == n)
        })
}
