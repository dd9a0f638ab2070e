//! The attribute vocabulary shared by `#[cacheable(..)]` and `#[memoize(..)]`.
//!
//! This file owns how each kind of value is read and what a mistake in it says: tier
//! names, codecs, compressions, integers, durations (`"90s"`, `"10m"`, `"1h"`, `"1d"`),
//! namespaces and flags, and, for a whole `key = value, ..` list, duplicate keys and unknown
//! keys (the error lists the valid ones). Each macro says which keys it takes and what it
//! does with their values: `cacheable/attr.rs` and `memoize/options.rs`.

use std::fmt::Display;
use std::str::FromStr;

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Token};

use crate::ctxt::Ctxt;

/// Where values go: `tier = "auto" | "memory" | "sled" | "file"`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Routed by size.
    Auto,
    /// The in-memory tier.
    Memory,
    /// The sled tier.
    Sled,
    /// The file tier.
    File,
    /// The Redis tier (smartcache's feature `redis`).
    Redis,
}

/// How values become bytes: `codec = "bincode" | "json"`.
#[derive(Clone, Copy)]
pub enum Codec {
    /// bincode, the default.
    Bincode,
    /// JSON (feature `json` of smartcache).
    Json,
}

/// How persisted values are compressed: `compression = "none" | "lz4" | "zstd" |
/// "zstd(<level>)"`.
#[derive(Clone, Copy)]
pub enum Compression {
    /// Stored as they are.
    None,
    /// LZ4 frames.
    Lz4,
    /// Zstandard at a level (3 for plain `"zstd"`).
    Zstd(i32),
}

/// The memory tier's eviction policy: `eviction = "tinylfu" | "lru" | "clockpro"`.
#[derive(Clone, Copy)]
pub enum Eviction {
    TinyLfu,
    Lru,
    ClockPro,
}

/// How hard persistent tiers try to survive a crash: `durability = "buffered" | "fsync"`.
#[derive(Clone, Copy)]
pub enum Durability {
    Buffered,
    Fsync,
}

/// Reads `= "auto" | "memory" | "sled" | "file"`.
pub fn tier(meta: &ParseNestedMeta) -> syn::Result<Tier> {
    let tiers = [
        ("auto", Tier::Auto),
        ("memory", Tier::Memory),
        ("sled", Tier::Sled),
        ("file", Tier::File),
        ("redis", Tier::Redis),
    ];
    choice(meta, "tier", &tiers, "memory")
}

/// Reads `= "bincode" | "json"`.
pub fn codec(meta: &ParseNestedMeta) -> syn::Result<Codec> {
    let codecs = [("bincode", Codec::Bincode), ("json", Codec::Json)];
    choice(meta, "codec", &codecs, "json")
}

/// Reads `= "none" | "lz4" | "zstd" | "zstd(<level>)"`, a level from 1 to 22.
pub fn compression(meta: &ParseNestedMeta) -> syn::Result<Compression> {
    let lit = string(meta, "zstd")?;
    let text = lit.value();
    let level = text
        .strip_prefix("zstd(")
        .and_then(|rest| rest.strip_suffix(')'))
        .map(|level| {
            level
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|l| (1..=22).contains(l))
        });
    match (text.as_str(), level) {
        ("none", _) => Ok(Compression::None),
        ("lz4", _) => Ok(Compression::Lz4),
        ("zstd", _) => Ok(Compression::Zstd(3)),
        (_, Some(Some(level))) => Ok(Compression::Zstd(level)),
        (_, Some(None)) => Err(syn::Error::new(
            lit.span(),
            format!("bad zstd level in \"{text}\": give a level from 1 to 22, as in \"zstd(19)\""),
        )),
        _ => Err(syn::Error::new(
            lit.span(),
            format!("unknown compression \"{text}\": use \"none\", \"lz4\", \"zstd\" or \"zstd(<level>)\""),
        )),
    }
}

/// Reads `= "tinylfu" | "lru" | "clockpro"`.
pub fn eviction(meta: &ParseNestedMeta) -> syn::Result<Eviction> {
    let policies = [
        ("tinylfu", Eviction::TinyLfu),
        ("lru", Eviction::Lru),
        ("clockpro", Eviction::ClockPro),
    ];
    choice(meta, "eviction", &policies, "lru")
}

/// Reads `= "buffered" | "fsync"`.
pub fn durability(meta: &ParseNestedMeta) -> syn::Result<Durability> {
    let choices = [
        ("buffered", Durability::Buffered),
        ("fsync", Durability::Fsync),
    ];
    choice(meta, "durability", &choices, "fsync")
}

/// Reads `= "<name>"`, one of `choices`.
fn choice<T: Copy>(
    meta: &ParseNestedMeta,
    what: &str,
    choices: &[(&str, T)],
    example: &str,
) -> syn::Result<T> {
    let lit = string(meta, example)?;
    let text = lit.value();
    match choices.iter().find(|(name, _)| *name == text) {
        Some(&(_, value)) => Ok(value),
        None => {
            let names = choices.iter().map(|(name, _)| format!("\"{name}\""));
            Err(syn::Error::new(
                lit.span(),
                format!("unknown {what} \"{text}\": use {}", one_of(names)),
            ))
        }
    }
}

/// Reads `= "<text>"`; `example` is a good text to show.
fn string(meta: &ParseNestedMeta, example: &str) -> syn::Result<LitStr> {
    let key = key_name(meta);
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit),
        _ => Err(syn::Error::new_spanned(
            &expr,
            format!("`{key}` takes a string, e.g. `{key} = \"{example}\"`"),
        )),
    }
}

/// Reads `= N`, an integer literal that fits in `T`; `example` is a good value to show.
pub fn integer<T>(meta: &ParseNestedMeta, example: &str) -> syn::Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    let key = key_name(meta);
    let expr: Expr = meta.value()?.parse()?;
    match &expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<T>().map_err(|_| {
            syn::Error::new(
                int.span(),
                format!(
                    "`{key}` must fit in a {}, e.g. `{key} = {example}`",
                    std::any::type_name::<T>()
                ),
            )
        }),
        _ => Err(syn::Error::new_spanned(
            &expr,
            format!("`{key}` must be an integer literal, e.g. `{key} = {example}`"),
        )),
    }
}

/// Reads `= "<duration>"` (see [`parse_duration`]), in seconds.
pub fn duration_ms(meta: &ParseNestedMeta) -> syn::Result<u64> {
    let lit = string(meta, "10m")?;
    parse_duration(&lit.value()).ok_or_else(|| {
        syn::Error::new(
            lit.span(),
            format!(
                "bad duration \"{}\": write a whole number and a unit, as in \"250ms\", \"90s\", \"10m\", \"1h\" or \"1d\"",
                lit.value()
            ),
        )
    })
}

/// `"250ms"`, `"90s"`, `"10m"`, `"1h"`, `"1d"` in milliseconds; `None` for anything else,
/// and for zero.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number.checked_mul(scale).filter(|&ms| ms > 0)
}

/// A type tag (`tag = "thumbnail"`): a name that is not empty.
pub fn tag(meta: &ParseNestedMeta) -> syn::Result<String> {
    let lit = string(meta, "thumbnail")?;
    let tag = lit.value();
    if tag.trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "a type tag is a name: it cannot be empty",
        ));
    }
    Ok(tag)
}

/// Reads `= "<name>"`, a plain folder name.
pub fn namespace(meta: &ParseNestedMeta) -> syn::Result<String> {
    let lit = string(meta, "reports")?;
    let name = lit.value();
    if name.is_empty()
        || name.contains(['/', '\\', ':'])
        || name.contains("..")
        || name.starts_with('.')
    {
        return Err(syn::Error::new(
            lit.span(),
            "a namespace is a plain folder name: no `/`, `\\`, `:`, `..` or leading `.`",
        ));
    }
    Ok(name)
}

/// Reads a flag: `name` alone is `true`, else `name = true | false`.
pub fn flag(meta: &ParseNestedMeta) -> syn::Result<bool> {
    if meta.input.peek(Token![=]) {
        let value: syn::LitBool = meta.value()?.parse()?;
        Ok(value.value)
    } else {
        Ok(true)
    }
}

/// The keys one list of `key = value` entries takes.
pub struct Keys {
    /// What an entry is called in errors, e.g. "#[memoize] option".
    pub what: &'static str,
    /// The valid keys, in the order the docs give them.
    pub valid: &'static [&'static str],
    /// Keys that belong somewhere else, with the error that says where.
    pub elsewhere: &'static [(&'static str, &'static str)],
}

/// Reads `key = value` lists, records every mistake in the `Ctxt` and goes on to the next
/// entry, so that one build shows them all.
pub struct KeyParser<'a> {
    cx: &'a Ctxt,
    keys: &'static Keys,
    /// The keys read so far, across every attribute of one item.
    seen: Vec<String>,
}

impl<'a> KeyParser<'a> {
    /// A parser for the entries of `keys`.
    pub fn new(cx: &'a Ctxt, keys: &'static Keys) -> Self {
        KeyParser {
            cx,
            keys,
            seen: Vec::new(),
        }
    }

    /// Reads the entries of an attribute such as `#[cacheable(..)]`, handing each valid
    /// key, read once, to `entry`.
    pub fn attribute<F>(&mut self, attr: &Attribute, mut entry: F)
    where
        F: FnMut(&str, &ParseNestedMeta) -> syn::Result<()>,
    {
        let result = attr.parse_nested_meta(|meta| self.entry(&meta, &mut entry));
        self.cx.ok(result);
    }

    /// Reads the entries of an attribute macro's arguments, as in `#[memoize(..)]`.
    pub fn arguments<F>(&mut self, args: TokenStream, mut entry: F)
    where
        F: FnMut(&str, &ParseNestedMeta) -> syn::Result<()>,
    {
        let cx = self.cx;
        let parser = syn::meta::parser(|meta| self.entry(&meta, &mut entry));
        cx.ok(parser.parse2(args));
    }

    /// One entry. A mistake in it is recorded and the rest of its value passed over, so
    /// that the list goes on; only a list that cannot be split into entries stops.
    fn entry<F>(&mut self, meta: &ParseNestedMeta, entry: &mut F) -> syn::Result<()>
    where
        F: FnMut(&str, &ParseNestedMeta) -> syn::Result<()>,
    {
        let key = key_name(meta);
        let misplaced = self.keys.elsewhere.iter().find(|(k, _)| *k == key);
        let result = if let Some((_, error)) = misplaced {
            Err(meta.error(error))
        } else if !self.keys.valid.contains(&key.as_str()) {
            let valid = self.keys.valid.iter().map(ToString::to_string);
            Err(meta.error(format!(
                "unknown {} `{key}`: use {}",
                self.keys.what,
                one_of(valid)
            )))
        } else if self.seen.contains(&key) {
            skip_value(meta.input)?;
            Err(meta.error(format!("duplicate `{key}`: give it once")))
        } else {
            self.seen.push(key.clone());
            entry(&key, meta)
        };
        if let Err(error) = result {
            self.cx.syn_error(error);
            skip_value(meta.input)?;
        }
        Ok(())
    }
}

/// The key of an entry as written, e.g. `ttl` or `a::b`.
fn key_name(meta: &ParseNestedMeta) -> String {
    match meta.path.get_ident() {
        Some(ident) => ident.to_string(),
        None => meta.path.to_token_stream().to_string().replace(' ', ""),
    }
}

/// Passes over what is left of an entry's value, up to the `,` before the next entry.
fn skip_value(input: ParseStream) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// `a`, `a or b`, `a, b or c`.
fn one_of(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_a_whole_positive_number_and_a_unit() {
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("10m"), Some(600_000));
        assert_eq!(parse_duration(" 1h "), Some(3_600_000));
        assert_eq!(parse_duration("2d"), Some(172_800_000));
        for bad in ["", "0s", "10", "m", "1.5h", "10 minutes", "1w", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        assert_eq!(parse_duration("18446744073709551615s"), None);
    }

    #[test]
    fn lists_read_as_prose() {
        let list = |items: &[&str]| one_of(items.iter().map(ToString::to_string));
        assert_eq!(list(&["a"]), "a");
        assert_eq!(list(&["a", "b"]), "a or b");
        assert_eq!(list(&["a", "b", "c"]), "a, b or c");
    }
}
