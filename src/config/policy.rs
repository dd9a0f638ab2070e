//! [`Policy`]: a configuration read back, option by option, as moka's `Cache::policy()`
//! reads back its own. The setters of [`CacheConfig`] keep the short names; the getters
//! live here, under the same names.

use std::path::Path;
use std::time::Duration;

use super::{CacheConfig, Compression, Durability, Eviction, ImageFormat};

/// What a [`CacheConfig`] says: see [`CacheConfig::policy`] and
/// [`SmartCache::config`](crate::SmartCache::config).
///
/// ```
/// use smartcache::prelude::*;
/// use std::time::Duration;
///
/// let config = CacheConfig::default().ttl(Duration::from_secs(60)).namespace("reports");
/// assert_eq!(config.policy().time_to_live(), Some(Duration::from_secs(60)));
/// assert_eq!(config.policy().namespace(), Some("reports"));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a>(pub(super) &'a CacheConfig);

impl Policy<'_> {
    /// The storage root set by [`CacheConfig::dir`], if any (otherwise
    /// `$SMARTCACHE_DIR`, then the platform's cache folder, is used).
    pub fn dir(&self) -> Option<&Path> {
        self.0.dir.as_deref()
    }

    /// The namespace set by [`CacheConfig::namespace`], if any.
    pub fn namespace(&self) -> Option<&str> {
        self.0.namespace.as_deref()
    }

    /// The prefix set by [`CacheConfig::namespace_prefix`], if any.
    pub fn namespace_prefix(&self) -> Option<&str> {
        self.0.namespace_prefix.as_deref()
    }

    /// Bytes of memory the memory tier may hold ([`CacheConfig::memory_capacity`]).
    pub fn memory_capacity(&self) -> u64 {
        self.0.memory_capacity
    }

    /// Bytes of disk each persistent tier may hold ([`CacheConfig::disk_capacity`]).
    pub fn disk_capacity(&self) -> u64 {
        self.0.disk_capacity
    }

    /// Entries each tier may hold ([`CacheConfig::max_entries`]), if bounded.
    pub fn max_entries(&self) -> Option<u64> {
        self.0.max_entries
    }

    /// The time to live ([`CacheConfig::ttl`]), if any.
    pub fn time_to_live(&self) -> Option<Duration> {
        self.0.ttl
    }

    /// The time to idle ([`CacheConfig::tti`]), if any.
    pub fn time_to_idle(&self) -> Option<Duration> {
        self.0.tti
    }

    /// Values of no fixed tier smaller than this stay in memory
    /// ([`CacheConfig::memory_threshold`]).
    pub fn memory_threshold(&self) -> u64 {
        self.0.memory_threshold
    }

    /// Values of no fixed tier from this size go to files
    /// ([`CacheConfig::file_threshold`]).
    pub fn file_threshold(&self) -> u64 {
        self.0.file_threshold
    }

    /// Persisted values up to this size keep a copy in memory
    /// ([`CacheConfig::promote_max`]).
    pub fn promote_max(&self) -> u64 {
        self.0.promote_max
    }

    /// The compression of persisted payloads ([`CacheConfig::compression`]).
    pub fn compression(&self) -> Compression {
        self.0.compression
    }

    /// How images are stored ([`CacheConfig::image_format`]).
    pub fn image_format(&self) -> ImageFormat {
        self.0.image_format
    }

    /// The memory tier's eviction policy ([`CacheConfig::eviction`]).
    pub fn eviction(&self) -> Eviction {
        self.0.eviction.unwrap_or_default()
    }

    /// The durability of persistent writes ([`CacheConfig::durability`]).
    pub fn durability(&self) -> Durability {
        self.0.durability
    }

    /// Whether folders and files are owner-only ([`CacheConfig::secure`]).
    pub fn secure(&self) -> bool {
        self.0.secure
    }

    /// Whether large file entries are read through a memory map
    /// ([`CacheConfig::mmap_reads`]).
    pub fn mmap_reads(&self) -> bool {
        self.0.mmap_reads
    }

    /// Whether values that would stay in memory are persisted too
    /// ([`CacheConfig::persist_all`]).
    pub fn persist_all(&self) -> bool {
        self.0.persist_all
    }

    /// Whether the storage is deleted with the cache ([`CacheConfig::temporary`]).
    pub fn temporary(&self) -> bool {
        self.0.temporary
    }

    /// The Redis server's URL, its password replaced by `***` ([`CacheConfig::redis`];
    /// `None`: `$SMARTCACHE_REDIS_URL` is read when the cache is built).
    #[cfg(feature = "redis")]
    pub fn redis_url(&self) -> Option<String> {
        self.0.redis.url.as_deref().map(super::redacted)
    }

    /// The longest wait for Redis ([`CacheConfig::redis_timeout`]).
    #[cfg(feature = "redis")]
    pub fn redis_timeout(&self) -> Duration {
        self.0.redis.timeout
    }

    /// How long Redis counts as down after a failure ([`CacheConfig::redis_backoff`]).
    #[cfg(feature = "redis")]
    pub fn redis_backoff(&self) -> Duration {
        self.0.redis.backoff
    }

    /// Where values bound for Redis go while it is down ([`CacheConfig::redis_fallback`]).
    #[cfg(feature = "redis")]
    pub fn redis_fallback(&self) -> crate::Tier {
        self.0.redis.fallback
    }
}
