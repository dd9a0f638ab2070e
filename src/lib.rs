//! # smartcache
//!
//! A cache in which the type of a value decides where and how it is stored.
//!
//! A value type implements [`Cacheable`] (by hand, or with `#[derive(Cacheable)]`): a size
//! estimate, a [codec](codec::Codec), and a [`Placement`]. A [`SmartCache<K, V>`] routes
//! each value to the [`Tier`] that suits it — memory (moka), an embedded store (sled), one
//! file per entry, or Redis — at compile time when the type pins its tier, at run time by size when
//! it does not. Every persisted entry carries checksums, its key and its type's
//! fingerprint: a corrupt, truncated, stale or foreign entry is a counted miss, never a
//! wrong value.
//!
//! ```
//! use smartcache::prelude::*;
//!
//! let cache = CacheConfig::temporary().build::<String, Vec<f64>>()?;
//! let small = vec![1.0; 10];          //  104 bytes: memory
//! let large = vec![1.0; 200_000];     // 1.6 MB: one file
//! assert_eq!(cache.insert("small".into(), small)?, Tier::Memory);
//! assert_eq!(cache.insert("large".into(), large)?, Tier::File);
//! assert_eq!(cache.get("large").map(|v| v.len()), Some(200_000));
//! println!("{}", cache.stats());
//! # Ok::<(), smartcache::CacheError>(())
//! ```
//!
//! [`#[memoize]`](macro@memoize) caches a function's results the same way, one cache per
//! function, with single-flight and `<fn>_cache()` / `<fn>_uncached()` companions:
//!
//! ```
//! use smartcache::prelude::*;
//!
//! #[memoize(tier = "memory")]
//! fn fibonacci(n: u64) -> u64 {
//!     if n < 2 { n } else { fibonacci(n - 1) + fibonacci(n - 2) }
//! }
//! assert_eq!(fibonacci(80), 23_416_728_348_467_685);
//! ```
//!
//! An [`AnyCache`] holds values of many types in one cache, each routed and stored by its
//! own type and read back as that type with [`AnyCache::get_as`]; see [`any`].
//!
//! # Features
//!
//! All off by default: `ndarray` (arrays, stored raw; `SmartCache::get_mapped` views one
//! in place), `polars` (`DataFrame`, `Series` as Arrow IPC), `image` (`DynamicImage` and
//! image buffers), `json` (`serde_json::Value`, `#[cacheable(codec = "json")]`), `async`
//! (`#[memoize]` on `async fn`), `redis` (`Tier::Redis`: values on a Redis server, shared
//! by processes and machines, and served locally while it is down), `redis-tls`
//! (`rediss://`). The ndarray, polars and image crates that the impls are for are
//! re-exported under the same names.
//!
//! # The guide
//!
//! The book in `book/` (`mdbook serve book`) explains tiers and routing, persistence and
//! what survives which fault, value types and codecs, memoizing functions, and the
//! mapping from Python's twat-cache.
// docs.rs builds with every feature and `--cfg docsrs` (see Cargo.toml): items behind a
// feature are marked with it.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Unsafe code is allowed only where a comment proves it sound (huge-page advice, memory maps).
#![deny(unsafe_code)]

pub mod admin;
pub mod any;
mod assertions;
mod cache;
mod cacheable;
mod catalog;
mod clock;
pub mod codec;
mod config;
pub mod content;
mod entry;
mod error;
mod hash;
mod key;
mod live;
#[cfg(feature = "ndarray")]
#[cfg_attr(docsrs, doc(cfg(feature = "ndarray")))]
pub mod mapped;
mod memoize;
mod paths;
pub mod prelude;
mod route;
mod stats;
mod tier;

pub use crate::any::{AnyCache, AnyCacheable};
pub use crate::cache::{clear_namespace, Iter, SmartCache};
pub use crate::cacheable::{configure_for, Cacheable};
pub use crate::config::{
    CacheConfig, Compression, Durability, Eviction, ImageFormat, Policy, DEFAULT_DISK_CAPACITY,
    DEFAULT_FILE_THRESHOLD, DEFAULT_MEMORY_CAPACITY, DEFAULT_MEMORY_THRESHOLD,
};
pub use crate::content::{content_hash, ContentKey};
pub use crate::error::{CacheError, Result};
pub use crate::key::CacheKey;
pub use crate::live::{clear_all, stats_all};
#[cfg(feature = "ndarray")]
#[cfg_attr(docsrs, doc(cfg(feature = "ndarray")))]
pub use crate::mapped::MappedArray;
pub use crate::route::Placement;
pub use crate::stats::{CacheStats, TierStats};
pub use crate::tier::Tier;
/// Caches a function's results in a `SmartCache`, one cache per function, built on first
/// call.
///
/// ```
/// use smartcache::prelude::*;
///
/// #[memoize(tier = "memory", ttl = "1d")]
/// fn report(year: u32, region: &str) -> Vec<String> {
///     vec![format!("{region} {year}")] // expensive
/// }
///
/// report(2024, "emea"); // computed and stored
/// report(2024, "emea"); // a hit (with `tier = "file"`, in the next run too)
/// assert_eq!(report_cache().stats().hits, 1); // the SmartCache behind it
/// report_uncached(2024, "emea"); // always runs the body
/// ```
pub use smartcache_derive::memoize;
pub use smartcache_derive::Cacheable;

/// The image crate this build's `Cacheable` impls are for (feature `image`).
#[cfg(feature = "image")]
#[cfg_attr(docsrs, doc(cfg(feature = "image")))]
pub use image;
/// The ndarray crate this build's `Cacheable` impls are for (feature `ndarray`): a type
/// from another version of ndarray is another type, and is not `Cacheable`.
#[cfg(feature = "ndarray")]
#[cfg_attr(docsrs, doc(cfg(feature = "ndarray")))]
pub use ndarray;
/// The polars crate this build's `Cacheable` impls are for (feature `polars`).
#[cfg(feature = "polars")]
#[cfg_attr(docsrs, doc(cfg(feature = "polars")))]
pub use polars;

/// What `#[derive(Cacheable)]` expands to refers to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::any::registry::{kind, Registration};
    pub use crate::codec::Bincode;
    #[cfg(feature = "json")]
    pub use crate::codec::Json;
    pub use crate::memoize::{
        memo_defaults, namespace as memo_namespace, tier_allows, InstanceKey, Memo, MemoCell,
        MemoClone, MemoKey,
    };
    pub use inventory;
    pub use serde::de::DeserializeOwned;
    pub use serde::Serialize;
    pub use std::borrow::Cow;
    pub use std::sync::{Arc, OnceLock};

    /// The codec of a derive that failed: it refuses every value, so that the derive's
    /// own error is the only one the user sees.
    pub struct Fallback;

    impl<T: 'static> crate::codec::Codec<T> for Fallback {
        const ID: u16 = crate::codec::ids::FALLBACK;
        const NAME: &'static str = "fallback";
        fn encode<W: std::io::Write>(_: &T, _: &mut W) -> Result<(), crate::codec::CodecError> {
            Err(crate::codec::CodecError::new(
                "the Cacheable derive of this type failed",
            ))
        }
        fn decode(_: &[u8]) -> Result<T, crate::codec::CodecError> {
            Err(crate::codec::CodecError::new(
                "the Cacheable derive of this type failed",
            ))
        }
    }

    /// Without the `json` feature, `codec = "json"` is refused by
    /// `__private_require_json!` and this keeps the impl compiling.
    #[cfg(not(feature = "json"))]
    pub type Json = Fallback;
}

/// Rejects `#[memoize]` on an `async fn` in a build without the `async` feature.
#[doc(hidden)]
#[macro_export]
#[cfg(not(feature = "async"))]
macro_rules! __private_require_async {
    () => {
        compile_error!(
            "#[memoize] on an async fn needs the `async` feature of smartcache: smartcache = { features = [\"async\"] }"
        )
    };
}

/// Accepts `#[memoize]` on an `async fn` in a build with the `async` feature.
#[doc(hidden)]
#[macro_export]
#[cfg(feature = "async")]
macro_rules! __private_require_async {
    () => {};
}

/// `Tier::Redis` for `tier = "redis"`, in a build with the `redis` feature.
#[doc(hidden)]
#[macro_export]
#[cfg(feature = "redis")]
macro_rules! __private_redis_tier {
    () => {
        $crate::Tier::Redis
    };
}

/// Rejects `tier = "redis"` in a build without the `redis` feature.
#[doc(hidden)]
#[macro_export]
#[cfg(not(feature = "redis"))]
macro_rules! __private_redis_tier {
    () => {
        compile_error!(
            "tier = \"redis\" needs the `redis` feature of smartcache: smartcache = { features = [\"redis\"] }"
        )
    };
}

/// Rejects `codec = "json"` in a build without the `json` feature.
#[doc(hidden)]
#[cfg(not(feature = "json"))]
#[macro_export]
macro_rules! __private_require_json {
    () => {
        compile_error!(
            "codec = \"json\" needs the JSON codec: enable the `json` feature of smartcache"
        );
    };
}

/// Accepts `codec = "json"` in a build with the `json` feature.
#[doc(hidden)]
#[cfg(feature = "json")]
#[macro_export]
macro_rules! __private_require_json {
    () => {};
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
