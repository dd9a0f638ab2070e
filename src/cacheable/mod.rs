//! The [`Cacheable`] trait: what a value type tells the cache about itself — where it
//! belongs ([`Placement`]), how it becomes bytes (its [`Codec`]), how large it is
//! ([`Cacheable::size_hint`]), and which version of its format is current.
//!
//! Implementations for the standard library live beside this file, one family a file:
//! `primitives.rs` (numbers, `bool`, `char`, `String`, `()`), `collections.rs` (`Vec`,
//! `VecDeque`, `Option`, `Box`, tuples, arrays, maps and sets), and one file for each
//! optional family: `ndarray.rs`, `polars.rs`, `image.rs`, `json.rs`.

use std::borrow::Cow;

use crate::codec::Codec;
use crate::{CacheConfig, Placement};

mod collections;
#[cfg(feature = "image")]
mod image;
#[cfg(feature = "json")]
mod json;
#[cfg(feature = "ndarray")]
mod ndarray;
#[cfg(feature = "polars")]
mod polars;
mod primitives;

/// A type that [`SmartCache`](crate::SmartCache) can store.
///
/// Derive it with `#[derive(Cacheable)]`, or implement it by hand:
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use smartcache::prelude::*;
///
/// #[derive(Serialize, Deserialize)]
/// struct Thumbnail { pixels: Vec<u8> }
///
/// impl Cacheable for Thumbnail {
///     const PLACEMENT: Placement = Placement::Pinned(Tier::Sled); // decided at compile time
///     const VERSION: u32 = 2;                                      // bump to drop old entries
///     type Codec = smartcache::codec::Bincode;
///     fn size_hint(&self) -> usize { self.pixels.size_hint() }
///     fn type_tag() -> std::borrow::Cow<'static, str> { "thumbnail".into() }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not Cacheable",
    label = "smartcache cannot store a `{Self}`",
    note = "add #[derive(Cacheable)] (with serde's Serialize and Deserialize) to `{Self}`, or implement smartcache::Cacheable for it",
    note = "an ndarray, polars or image type needs smartcache's feature of that name, and the version smartcache is built with (ndarray 0.17, polars 0.55, image 0.25; or use smartcache::ndarray, smartcache::polars, smartcache::image)"
)]
pub trait Cacheable: Send + Sync + Sized + 'static {
    /// Where values of this type go: [`Placement::Auto`] (by size, at run time) or
    /// [`Placement::Pinned`] (always one tier, decided at compile time).
    const PLACEMENT: Placement = Placement::Auto;

    /// The version of this type's stored form. Persisted entries written under another
    /// version are misses (and are removed), so bump it when the type changes shape.
    const VERSION: u32 = 0;

    /// How long values of this type live, unless the cache's configuration sets its own
    /// [`ttl`](CacheConfig::ttl). Applies to every cache of the type, however it is built
    /// (`#[cacheable(ttl = "1h")]` sets it).
    const TTL: Option<std::time::Duration> = None;

    /// How values become bytes in the persistent tiers.
    type Codec: Codec<Self>;

    /// Estimated size in bytes, heap included (a `Vec<String>` counts its strings).
    /// Weighs the value in the memory tier and drives [`Placement::Auto`] routing.
    fn size_hint(&self) -> usize;

    /// A name for the type that stays the same across builds and compiler versions.
    /// Stored (hashed, with [`Cacheable::VERSION`]) in every persisted entry: an entry
    /// written for another type is a miss.
    ///
    /// The default is [`std::any::type_name`], which the compiler does not promise to keep
    /// stable: a change only costs misses, never a wrong value. The built-in types and
    /// `#[derive(Cacheable)]` give stable names.
    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed(std::any::type_name::<Self>())
    }

    /// The configuration [`configure_for`](crate::configure_for) returns for this type,
    /// and that [`SmartCache::new`](crate::SmartCache::new) uses. The default is
    /// `CacheConfig::default()` with the type's [`Cacheable::TTL`].
    fn default_config() -> CacheConfig {
        match Self::TTL {
            Some(ttl) => CacheConfig::default().ttl(ttl),
            None => CacheConfig::default(),
        }
    }

    // Per-value hooks: hidden, with defaults that fold away at compile time in a typed
    // cache. A value of many types (`src/any/`) overrides them, so that each value's own
    // type decides its tier, the identity its entry records and the decoder that reads it
    // back; the cache, the routing and the envelope ask only these.

    /// Whether each value carries its own type (a value of many types): the cache then
    /// checks entries by [`Cacheable::__knows`] and decodes them by
    /// [`Cacheable::__decode_own`].
    #[doc(hidden)]
    const __OWN_TYPES: bool = false;

    /// Where this value goes: its type's [`Cacheable::PLACEMENT`], or its own type's.
    #[doc(hidden)]
    #[inline]
    fn __placement(&self) -> Placement {
        Self::PLACEMENT
    }

    /// The codec id and the fingerprint the entry of this value records, when it carries
    /// its own type (`None`: the cache's own). An error when that type cannot be read back.
    #[doc(hidden)]
    #[inline]
    fn __identity(&self) -> crate::Result<Option<(u16, u64)>> {
        Ok(None)
    }

    /// Whether this program decodes values of the own type of `fingerprint`, written with
    /// `codec`.
    #[doc(hidden)]
    fn __knows(_fingerprint: u64, _codec: u16) -> bool {
        false
    }

    /// Whether the values of own types this program knows can be read back (checked when
    /// a cache is built).
    #[doc(hidden)]
    fn __ready() -> crate::Result<()> {
        Ok(())
    }

    /// Decodes a value of the own type of `fingerprint` from `payload`, which follows
    /// `header`.
    #[doc(hidden)]
    #[allow(private_interfaces)] // crate-private types: only this crate overrides it
    fn __decode_own(
        _fingerprint: u64,
        _payload: crate::entry::Payload<'_>,
        _header: &crate::entry::Header,
    ) -> Result<Self, crate::entry::Refusal> {
        Err(crate::entry::Refusal::Foreign)
    }
}

/// The configuration tuned to `V` (its [`Cacheable::default_config`]), to adjust with the
/// builder methods of [`CacheConfig`].
///
/// ```
/// use smartcache::prelude::*;
/// use std::time::Duration;
///
/// let dir = tempfile::tempdir()?;
/// let cache: SmartCache<u64, Vec<f64>> = configure_for::<Vec<f64>>()
///     .dir(dir.path())
///     .ttl(Duration::from_secs(3600))
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn configure_for<V: Cacheable>() -> CacheConfig {
    V::default_config()
}

/// The stable fingerprint of a type's stored form: its tag, version and codec.
pub(crate) fn fingerprint<V: Cacheable>() -> u64 {
    let tag = V::type_tag();
    let mut bytes = Vec::with_capacity(tag.len() + 6);
    bytes.extend_from_slice(tag.as_bytes());
    bytes.extend_from_slice(&V::VERSION.to_le_bytes());
    bytes.extend_from_slice(&<V::Codec as Codec<V>>::ID.to_le_bytes());
    crate::hash::hash64(&bytes)
}

/// The `size_hint` of a slice's elements: `len × size_of::<T>()` for types that own no
/// heap memory (no drop glue), the sum of the elements' hints otherwise.
#[inline]
pub(crate) fn elements_size<'a, T: Cacheable + 'a>(
    items: impl ExactSizeIterator<Item = &'a T>,
) -> usize {
    if std::mem::needs_drop::<T>() {
        items.map(Cacheable::size_hint).sum()
    } else {
        items.len() * std::mem::size_of::<T>()
    }
}
