//! Parse stage of `#[memoize(..)]`: its options, read with the shared vocabulary of
//! `crate::attr`.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::{Expr, Ident, Type};

use crate::attr::{self, Compression, Durability, Eviction, KeyParser, Keys, Tier};
use crate::ctxt::Ctxt;

/// The options of `#[memoize(..)]`.
const OPTIONS: Keys = Keys {
    what: "#[memoize] option",
    valid: &[
        "tier",
        "ttl",
        "ttl_of",
        "tti",
        "capacity",
        "disk_capacity",
        "max_entries",
        "memory_threshold",
        "file_threshold",
        "eviction",
        "durability",
        "secure",
        "namespace",
        "dir",
        "compression",
        "key",
        "ignore",
        "content",
        "cache_none",
        "cache_err",
        "version",
        "config",
    ],
    elsewhere: &[
        (
            "maxsize",
            "`maxsize` is `max_entries = N` here (results kept per tier); `capacity = N` bounds the bytes of memory",
        ),
        (
            "max_size",
            "`max_size` is `max_entries = N` here (results kept per tier); `capacity = N` bounds the bytes of memory",
        ),
    ],
};

/// The parsed options; what a mistake left out keeps its default.
#[derive(Default)]
pub struct Options {
    /// `tier = ".."`, and where it is written.
    pub tier: Option<Tier>,
    pub tier_span: Option<proc_macro2::Span>,
    /// `ttl = ".."`, in milliseconds.
    pub ttl_ms: Option<u64>,
    /// `ttl_of = path`: a `fn(&Value) -> Option<Duration>`, each result's own lifetime.
    pub ttl_of: Option<syn::ExprPath>,
    /// `tti = ".."`, in milliseconds.
    pub tti_ms: Option<u64>,
    /// `capacity = N`, bytes of memory.
    pub capacity: Option<u64>,
    /// `disk_capacity = N`, bytes of disk per persistent tier.
    pub disk_capacity: Option<u64>,
    /// `max_entries = N`, entries per tier.
    pub max_entries: Option<u64>,
    /// `memory_threshold = N` and `file_threshold = N`, bytes.
    pub memory_threshold: Option<u64>,
    pub file_threshold: Option<u64>,
    /// `eviction = ".."`.
    pub eviction: Option<Eviction>,
    /// `durability = ".."`.
    pub durability: Option<Durability>,
    /// `secure` or `secure = false`.
    pub secure: Option<bool>,
    /// `namespace = ".."`.
    pub namespace: Option<String>,
    /// `dir = <expr>`.
    pub dir: Option<Expr>,
    /// `compression = ".."`.
    pub compression: Option<Compression>,
    /// `key = <expr>: <Type>`.
    pub key: Option<KeyOption>,
    /// Whether `key` is given, even if it could not be read: then the arguments are not
    /// the key, and are not checked as if they were.
    pub key_given: bool,
    /// `ignore = [arg, ..]`.
    pub ignore: Vec<Ident>,
    /// `content = [arg, ..]`: arguments keyed by their content (`ContentKey`).
    pub content: Vec<Ident>,
    /// `cache_none`.
    pub cache_none: bool,
    /// `cache_err`.
    pub cache_err: bool,
    /// `version = N`, 0 by default.
    pub version: u32,
    /// `config = <expr>`: the `CacheConfig` the other options apply to.
    pub config: Option<Expr>,
}

/// `key = <expr>: <Type>`.
pub struct KeyOption {
    /// The expression, of the arguments, that makes the key.
    pub expr: Expr,
    /// The key's type.
    pub ty: Type,
}

impl Options {
    /// Reads the arguments of `#[memoize(..)]`.
    pub fn parse(cx: &Ctxt, args: TokenStream) -> Self {
        let mut o = Options::default();
        KeyParser::new(cx, &OPTIONS).arguments(args, |name, meta| {
            match name {
                "tier" => {
                    o.tier_span = Some(syn::spanned::Spanned::span(&meta.path));
                    o.tier = Some(attr::tier(meta)?);
                }
                "ttl" => o.ttl_ms = Some(attr::duration_ms(meta)?),
                "ttl_of" => o.ttl_of = Some(meta.value()?.parse()?),
                "tti" => o.tti_ms = Some(attr::duration_ms(meta)?),
                "capacity" => o.capacity = Some(bytes(meta)?),
                "disk_capacity" => o.disk_capacity = Some(bytes(meta)?),
                "max_entries" => o.max_entries = Some(entries(meta)?),
                "memory_threshold" => o.memory_threshold = Some(attr::integer(meta, "10240")?),
                "file_threshold" => o.file_threshold = Some(attr::integer(meta, "1048576")?),
                "eviction" => o.eviction = Some(attr::eviction(meta)?),
                "durability" => o.durability = Some(attr::durability(meta)?),
                "secure" => o.secure = Some(attr::flag(meta)?),
                "namespace" => o.namespace = Some(attr::namespace(meta)?),
                "dir" => o.dir = Some(meta.value()?.parse()?),
                "compression" => o.compression = Some(attr::compression(meta)?),
                "key" => {
                    o.key_given = true;
                    o.key = Some(key(meta)?);
                }
                "ignore" => o.ignore = names(cx, meta, "ignore")?,
                "content" => o.content = names(cx, meta, "content")?,
                "cache_none" => o.cache_none = attr::flag(meta)?,
                "cache_err" => o.cache_err = attr::flag(meta)?,
                "version" => o.version = attr::integer(meta, "2")?,
                "config" => o.config = Some(meta.value()?.parse()?),
                other => unreachable!("`{other}` is not in OPTIONS"),
            }
            Ok(())
        });
        o
    }
}

/// `= N`, a positive number of bytes.
fn bytes(meta: &ParseNestedMeta) -> syn::Result<u64> {
    let bytes: u64 = attr::integer(meta, "1048576")?;
    if bytes == 0 {
        let name = meta
            .path
            .get_ident()
            .map(Ident::to_string)
            .unwrap_or_default();
        return Err(meta.error(format!("`{name}` is 0: give a positive number of bytes")));
    }
    Ok(bytes)
}

/// `= N`, a positive number of entries.
fn entries(meta: &ParseNestedMeta) -> syn::Result<u64> {
    let entries: u64 = attr::integer(meta, "1000")?;
    if entries == 0 {
        return Err(meta.error("`max_entries` is 0: give a positive number of entries"));
    }
    Ok(entries)
}

/// `= <expr>: <Type>`.
fn key(meta: &ParseNestedMeta) -> syn::Result<KeyOption> {
    let input = meta.value()?;
    let expr: Expr = input.parse()?;
    if !input.peek(syn::Token![:]) {
        return Err(syn::Error::new_spanned(
            &expr,
            "give the key's type after it: `key = <expr>: <Type>`, e.g. `key = (a, b.len()): (u32, usize)`",
        ));
    }
    input.parse::<syn::Token![:]>()?;
    let ty = input.parse()?;
    Ok(KeyOption { expr, ty })
}

/// `= [arg, ..]`; an item that is not a name is recorded, and the others kept.
fn names(cx: &Ctxt, meta: &ParseNestedMeta, option: &str) -> syn::Result<Vec<Ident>> {
    let list: syn::ExprArray = meta.value()?.parse()?;
    let mut names = Vec::new();
    for item in &list.elems {
        match item {
            Expr::Path(p) if p.path.get_ident().is_some() => {
                names.extend(p.path.get_ident().cloned());
            }
            other => cx.error_spanned_by(
                other,
                format!("`{option}` lists argument names: `{option} = [verbose, log]`"),
            ),
        }
    }
    Ok(names)
}
