//! # smartcache
//!
//! A cache in which the type of a value decides where and how it is stored.
//!
//! A value type implements [`Cacheable`] (by hand, or with `#[derive(Cacheable)]`): a size
//! estimate, a [codec](codec::Codec), and a [`Placement`]. A [`SmartCache<K, V>`] routes
//! each value to the [`Tier`] that suits it — memory (moka), an embedded store (sled), one
//! file per entry — at compile time when the type pins its tier, at run time by size when
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
//! assert_eq!(cache.get(&"large".into()).map(|v| v.len()), Some(200_000));
//! println!("{}", cache.stats());
//! # Ok::<(), smartcache::CacheError>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod cache;
mod cacheable;
pub mod codec;
mod config;
mod entry;
mod error;
mod hash;
mod key;
mod paths;
pub mod prelude;
mod route;
mod stats;
mod tier;

pub use crate::cache::SmartCache;
pub use crate::cacheable::{configure_for, Cacheable};
pub use crate::config::{
    CacheConfig, Compression, Durability, Eviction, DEFAULT_DISK_CAPACITY, DEFAULT_FILE_THRESHOLD,
    DEFAULT_MEMORY_CAPACITY, DEFAULT_MEMORY_THRESHOLD,
};
pub use crate::error::{CacheError, Result};
pub use crate::key::CacheKey;
pub use crate::route::Placement;
pub use crate::stats::{CacheStats, TierStats};
pub use crate::tier::Tier;
pub use smartcache_derive::{memoize, Cacheable};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
