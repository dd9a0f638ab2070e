//! The `#[cacheable(..)]` attributes, parsed into typed values.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, ExprPath, Lit, LitStr, Meta};

/// Where the derived type goes.
#[derive(Clone, Copy)]
pub enum TierChoice {
    Auto,
    Memory,
    Sled,
    File,
    Redis,
}

/// How the derived type becomes bytes.
#[derive(Clone, Copy)]
pub enum CodecChoice {
    Bincode,
    Json,
}

/// The attributes on the type.
#[derive(Default)]
pub struct TypeAttrs {
    pub tier: Option<(TierChoice, Span)>,
    pub version: Option<u32>,
    pub ttl_secs: Option<u64>,
    pub codec: Option<CodecChoice>,
    pub size_with: Option<ExprPath>,
}

/// Parses every `#[cacheable(..)]` on the type.
pub fn type_attrs(attrs: &[Attribute]) -> syn::Result<TypeAttrs> {
    let mut out = TypeAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("cacheable")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            let duplicate = || meta.error(format!("duplicate `{key}`: give it once"));
            match key.as_str() {
                "tier" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let tier = match lit.value().as_str() {
                        "auto" => TierChoice::Auto,
                        "memory" => TierChoice::Memory,
                        "sled" => TierChoice::Sled,
                        "file" => TierChoice::File,
                        "redis" => TierChoice::Redis,
                        other => {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!(
                                    "unknown tier `{other}`: use one of \"auto\", \"memory\", \"sled\", \"file\", \"redis\""
                                ),
                            ))
                        }
                    };
                    if out.tier.replace((tier, lit.span())).is_some() {
                        return Err(duplicate());
                    }
                }
                "version" => {
                    let expr: Expr = meta.value()?.parse()?;
                    let version = match &expr {
                        Expr::Lit(ExprLit {
                            lit: Lit::Int(int), ..
                        }) => int.base10_parse::<u32>().map_err(|_| {
                            syn::Error::new(int.span(), "version must fit in a u32, e.g. version = 2")
                        })?,
                        _ => {
                            return Err(syn::Error::new(
                                expr.span(),
                                "version must be an integer literal, e.g. version = 2",
                            ))
                        }
                    };
                    if out.version.replace(version).is_some() {
                        return Err(duplicate());
                    }
                }
                "ttl" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let secs = parse_duration(&lit.value()).ok_or_else(|| {
                        syn::Error::new(
                            lit.span(),
                            format!(
                                "bad duration \"{}\": write a whole number and a unit, as in \"90s\", \"10m\", \"1h\" or \"1d\"",
                                lit.value()
                            ),
                        )
                    })?;
                    if out.ttl_secs.replace(secs).is_some() {
                        return Err(duplicate());
                    }
                }
                "codec" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let codec = match lit.value().as_str() {
                        "bincode" => CodecChoice::Bincode,
                        "json" => CodecChoice::Json,
                        other => {
                            return Err(syn::Error::new(
                                lit.span(),
                                format!("unknown codec `{other}`: use \"bincode\" or \"json\""),
                            ))
                        }
                    };
                    if out.codec.replace(codec).is_some() {
                        return Err(duplicate());
                    }
                }
                "size_with" => {
                    let path: ExprPath = meta.value()?.parse()?;
                    if out.size_with.replace(path).is_some() {
                        return Err(duplicate());
                    }
                }
                "skip_size" => {
                    return Err(meta.error(
                        "`skip_size` goes on a field: #[cacheable(skip_size)] above the field to leave out",
                    ))
                }
                _ => {
                    return Err(meta.error(format!(
                        "unknown attribute `{key}`: use tier, version, ttl, codec or size_with"
                    )))
                }
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// Whether a field carries `#[cacheable(skip_size)]`.
pub fn skip_size(attrs: &[Attribute]) -> syn::Result<bool> {
    let mut skip = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("cacheable")) {
        if let Meta::Path(_) = &attr.meta {
            return Err(syn::Error::new(
                attr.span(),
                "write #[cacheable(skip_size)]",
            ));
        }
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip_size") {
                if skip {
                    return Err(meta.error("duplicate `skip_size`: give it once"));
                }
                skip = true;
                Ok(())
            } else {
                Err(meta.error("the only field attribute is #[cacheable(skip_size)]"))
            }
        })?;
    }
    Ok(skip)
}

/// `"90s"`, `"10m"`, `"1h"`, `"1d"` in seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    number.checked_mul(scale).filter(|&secs| secs > 0)
}
