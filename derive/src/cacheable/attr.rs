//! Parse stage of the derive: the `#[cacheable(..)]` attributes on the type and on its
//! fields, read with the shared vocabulary of `crate::attr`.

use syn::spanned::Spanned;
use syn::{Attribute, ExprPath, Meta};

use crate::attr::{self, Codec, KeyParser, Keys, Tier};
use crate::ctxt::Ctxt;

/// The keys of `#[cacheable(..)]` on the type.
const TYPE_KEYS: Keys = Keys {
    what: "#[cacheable] attribute",
    valid: &["tier", "version", "ttl", "codec", "size_with", "tag", "any"],
    elsewhere: &[(
        "skip_size",
        "`skip_size` goes on a field: #[cacheable(skip_size)] above the field to leave out",
    )],
};

/// The keys of `#[cacheable(..)]` on a field.
const FIELD_KEYS: Keys = Keys {
    what: "#[cacheable] field attribute",
    valid: &["skip_size"],
    elsewhere: &[],
};

/// The attributes on the type; what a mistake left out is `None`.
#[derive(Default)]
pub struct TypeAttrs {
    /// `tier = ".."`.
    pub tier: Option<Tier>,
    /// `version = N`.
    pub version: Option<u32>,
    /// `ttl = ".."`, in milliseconds.
    pub ttl_ms: Option<u64>,
    /// `codec = ".."`.
    pub codec: Option<Codec>,
    /// `size_with = path`.
    pub size_with: Option<ExprPath>,
    /// `tag = ".."`: the type's stable name in stored entries.
    pub tag: Option<String>,
    /// `any`: registered for `AnyCache`, which then reads its values back.
    pub any: Option<proc_macro2::Span>,
}

/// Reads every `#[cacheable(..)]` on the type.
pub fn type_attrs(cx: &Ctxt, attrs: &[Attribute]) -> TypeAttrs {
    let mut out = TypeAttrs::default();
    let mut parser = KeyParser::new(cx, &TYPE_KEYS);
    for attr in cacheable(attrs) {
        parser.attribute(attr, |key, meta| {
            match key {
                "tier" => out.tier = Some(attr::tier(meta)?),
                "version" => out.version = Some(attr::integer(meta, "2")?),
                "ttl" => out.ttl_ms = Some(attr::duration_ms(meta)?),
                "codec" => out.codec = Some(attr::codec(meta)?),
                "size_with" => out.size_with = Some(meta.value()?.parse()?),
                "tag" => out.tag = Some(attr::tag(meta)?),
                "any" => out.any = Some(meta.path.span()),
                other => unreachable!("`{other}` is not in TYPE_KEYS"),
            }
            Ok(())
        });
    }
    out
}

/// Whether a field carries `#[cacheable(skip_size)]`.
pub fn skip_size(cx: &Ctxt, attrs: &[Attribute]) -> bool {
    let mut skip = false;
    let mut parser = KeyParser::new(cx, &FIELD_KEYS);
    for attr in cacheable(attrs) {
        if let Meta::Path(_) = &attr.meta {
            cx.error_spanned_by(attr, "write #[cacheable(skip_size)]");
            continue;
        }
        parser.attribute(attr, |_, _| {
            skip = true;
            Ok(())
        });
    }
    skip
}

/// The `#[cacheable(..)]` attributes among `attrs`.
fn cacheable(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("cacheable"))
}
