//! [`CacheConfig`]: the builder every cache is made from, and its option enums
//! ([`Compression`], [`Eviction`], [`Durability`]). Beside it: `policy.rs` (reading a
//! configuration back, [`Policy`]) and `check.rs` (the checks that turn a bad
//! configuration into a clear [`CacheError`](crate::CacheError) when the cache is built).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{CacheKey, Cacheable, Result, SmartCache, Tier};

mod check;
mod policy;
#[cfg(feature = "redis")]
mod redis;

pub(crate) use self::check::{default_root, derived_namespace, validate_namespace};
pub use self::policy::Policy;
#[cfg(feature = "redis")]
pub(crate) use self::redis::{redacted, RedisSettings, URL_VAR};

/// Compression of persisted payloads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// Stored as encoded (the default: fastest).
    #[default]
    None,
    /// LZ4 frames: cheap, modest ratio.
    Lz4,
    /// Zstandard at the given level (1–22; 3 is a good default).
    Zstd(i32),
}

/// How images are stored in the persistent tiers (feature `image`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImageFormat {
    /// Raw pixels behind a small header (the default: fastest; pair it with
    /// [`Compression::Lz4`] to save space cheaply).
    #[default]
    Raw,
    /// PNG (lossless, smaller, slower). Pixel types PNG cannot hold (32-bit float) are
    /// stored raw.
    Png,
}

/// The eviction policy of the memory tier, and the store that keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Eviction {
    /// TinyLFU admission with LRU eviction, in moka: keeps frequently used entries. The
    /// default of a cache.
    #[default]
    TinyLfu,
    /// Least recently used, in moka.
    Lru,
    /// CLOCK-Pro, in quick_cache (close to S3-FIFO): scan resistant, with hit rates near
    /// TinyLFU's, and reads several times lighter than moka's. The default of a
    /// `#[memoize]`d function, whose hits are what users compare. Expiry is checked when
    /// a slot is read (and by `purge_expired`, which `stats` runs). Its capacity is split
    /// among shards (up to 8, four per core, fewer for a small capacity), and a value
    /// larger than 97% of a shard is not kept in memory (logged once). With
    /// `max_entries` below 32 the memory tier stays on moka (TinyLFU).
    ClockPro,
}

/// How hard the persistent tiers try to survive a crash of the machine.
///
/// Either way a half-written entry is never read back as a value: entries are written
/// to a temporary file and renamed into place, and every entry carries checksums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// Leave write-back to the operating system (sled flushes every 500 ms).
    #[default]
    Buffered,
    /// `fsync` every file entry and its folder, and flush sled after every insert.
    Fsync,
}

/// Default memory capacity: 256 MiB.
pub const DEFAULT_MEMORY_CAPACITY: u64 = 256 << 20;
/// Default capacity of each persistent tier: 8 GiB.
pub const DEFAULT_DISK_CAPACITY: u64 = 8 << 30;
/// Default threshold below which [`Placement::Auto`](crate::Placement::Auto) values stay
/// in memory: 10 KiB.
pub const DEFAULT_MEMORY_THRESHOLD: u64 = 10 << 10;
/// Default threshold from which [`Placement::Auto`](crate::Placement::Auto) values go to
/// files: 1 MiB.
pub const DEFAULT_FILE_THRESHOLD: u64 = 1 << 20;

/// How a [`SmartCache`] is set up. Every setter is optional.
///
/// ```
/// use smartcache::prelude::*;
/// use std::time::Duration;
///
/// let dir = tempfile::tempdir()?;
/// let cache = CacheConfig::default()
///     .dir(dir.path())
///     .namespace("reports")
///     .memory_capacity(64 << 20)
///     .ttl(Duration::from_secs(600))
///     .build::<String, String>()?;
/// cache.insert("q3".to_string(), "all good".to_string())?;
/// assert_eq!(cache.get(&"q3".to_string()).as_deref().map(String::as_str), Some("all good"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
// On the type, so that every setter's result is must-use too.
#[must_use = "a CacheConfig does nothing until `build` makes a cache of it"]
pub struct CacheConfig {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) namespace: Option<String>,
    pub(crate) namespace_prefix: Option<String>,
    pub(crate) memory_capacity: u64,
    pub(crate) disk_capacity: u64,
    pub(crate) max_entries: Option<u64>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) tti: Option<Duration>,
    pub(crate) memory_threshold: u64,
    pub(crate) file_threshold: u64,
    pub(crate) promote_max: u64,
    pub(crate) compression: Compression,
    pub(crate) image_format: ImageFormat,
    /// `None`: the default of what is built (a cache's, or a memoized function's).
    pub(crate) eviction: Option<Eviction>,
    pub(crate) durability: Durability,
    pub(crate) secure: bool,
    pub(crate) mmap_reads: bool,
    pub(crate) temporary: bool,
    pub(crate) persist_all: bool,
    /// Where persisted values of no fixed tier go instead of sled and files.
    pub(crate) persistent_home: Option<Tier>,
    /// The Redis server (feature `redis`).
    #[cfg(feature = "redis")]
    pub(crate) redis: RedisSettings,
    /// `ttl_of`: a `fn(&V) -> Option<Duration>` for the cache's value type `V`.
    pub(crate) ttl_of: Option<TtlOf>,
    /// For a memoized function: the fingerprint of its code, put before every key, so
    /// that results of several versions of the code live side by side.
    pub(crate) key_version: Option<u64>,
    /// For the tools that look into a cache ([`crate::admin`]): a tier opened only to be
    /// looked at cleans nothing up (temporary files of dead writers, interrupted
    /// compactions), compacts nothing, sets no damaged store aside, joins no queue for a
    /// database another process holds, and changes no folder's permissions.
    pub(crate) look_only: bool,
}

/// The function of [`CacheConfig::ttl_of`], its value type erased until the cache is built.
#[derive(Clone)]
pub(crate) struct TtlOf {
    /// A `fn(&V) -> Option<Duration>`.
    pub function: std::sync::Arc<dyn std::any::Any + Send + Sync>,
    /// `V`'s name, for the error when it is not the cache's value type.
    pub value_type: &'static str,
}

impl std::fmt::Debug for TtlOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fn(&{}) -> Option<Duration>", self.value_type)
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            dir: None,
            namespace: None,
            namespace_prefix: None,
            memory_capacity: DEFAULT_MEMORY_CAPACITY,
            disk_capacity: DEFAULT_DISK_CAPACITY,
            max_entries: None,
            ttl: None,
            tti: None,
            memory_threshold: DEFAULT_MEMORY_THRESHOLD,
            file_threshold: DEFAULT_FILE_THRESHOLD,
            promote_max: DEFAULT_FILE_THRESHOLD,
            compression: Compression::None,
            image_format: ImageFormat::Raw,
            eviction: None,
            durability: Durability::Buffered,
            secure: true,
            mmap_reads: false,
            temporary: false,
            persist_all: false,
            persistent_home: None,
            #[cfg(feature = "redis")]
            redis: Default::default(),
            ttl_of: None,
            key_version: None,
            look_only: false,
        }
    }
}

impl CacheConfig {
    /// A configuration whose storage is deleted when the cache is dropped: a fresh
    /// temporary folder, unless [`CacheConfig::dir`] names one (then the namespace folder
    /// under it is deleted).
    pub fn temporary() -> Self {
        CacheConfig {
            temporary: true,
            ..CacheConfig::default()
        }
    }

    /// The storage root. Default: `$SMARTCACHE_DIR`, else the platform cache folder
    /// (`~/.cache/smartcache` on Linux).
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The folder under the storage root that holds this cache. A plain name: no `/`,
    /// `\`, `..` or leading `.`. Default: derived from the key and value types.
    ///
    /// Give each value type its own namespace. Caches of two types on one namespace do
    /// not read each other's entries (each is a miss for the other, counted as
    /// `foreign`, and left in place), but they share one key space: an insert replaces
    /// the other type's value of that key, and [`SmartCache::clear`] empties both.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// A prefix for the namespace derived from the key and value types, when
    /// [`CacheConfig::namespace`] is not set: `ndarray-u64-array_f64_ix2-…`. A plain
    /// name, as for `namespace`. [`configure_for`](crate::configure_for) sets one per
    /// value family (`ndarray`, `polars`, `image`, `json`).
    pub fn namespace_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.namespace_prefix = Some(prefix.into());
        self
    }

    /// Bytes of memory the memory tier may hold, weighed by
    /// [`Cacheable::size_hint`]. Default 256 MiB.
    pub fn memory_capacity(mut self, bytes: u64) -> Self {
        self.memory_capacity = bytes;
        self
    }

    /// Bytes each persistent tier may take on disk before it evicts the least recently
    /// used entries. Default 8 GiB. The file tier counts its entry files; the sled tier
    /// counts its folder, which needs room of its own beyond the entries, so it keeps
    /// live entries to a quarter of this (the book's persistence chapter has the numbers).
    pub fn disk_capacity(mut self, bytes: u64) -> Self {
        self.disk_capacity = bytes;
        self
    }

    /// Entries each tier may hold (memory, sled, files), beside the bytes of
    /// [`CacheConfig::memory_capacity`] and [`CacheConfig::disk_capacity`], which still
    /// hold: the least recently used entries are evicted past either bound. No bound by
    /// default. A Redis server keeps its own bounds (`maxmemory`).
    ///
    /// In memory each entry counts as at least `memory_capacity / max_entries` bytes, so
    /// that one weigher keeps both bounds: a mix of many small entries and a few large
    /// ones may hold a little fewer of each than either bound alone would allow. On
    /// [`Eviction::ClockPro`] each shard keeps its share of the bound, so an uneven spread
    /// of keys over shards may evict a little before `max_entries` are held.
    ///
    /// ```
    /// use smartcache::prelude::*;
    ///
    /// let cache = CacheConfig::temporary().max_entries(2).build::<u32, u32>()?;
    /// for i in 0..10 {
    ///     cache.insert(i, i)?;
    /// }
    /// assert!(cache.stats().memory.entries <= 2);
    /// # Ok::<(), smartcache::CacheError>(())
    /// ```
    pub fn max_entries(mut self, entries: u64) -> Self {
        self.max_entries = Some(entries);
        self
    }

    /// Time to live: entries expire this long after they were inserted, in every tier.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Lets each value decide its own time to live: `ttl_of(value)` when it is inserted or
    /// computed (`get_with`, `#[memoize]`), and the cache's [`ttl`](CacheConfig::ttl) when
    /// it returns `None`. [`SmartCache::insert_with_ttl`](crate::SmartCache::insert_with_ttl)
    /// still wins. `V` must be the cache's value type, or building the cache fails.
    ///
    /// ```
    /// # use smartcache::prelude::*;
    /// # use std::time::Duration;
    /// /// Answers that were found expire after an hour, failures after a second.
    /// fn lifetime(answer: &Option<String>) -> Option<Duration> {
    ///     Some(if answer.is_some() { Duration::from_secs(3600) } else { Duration::from_secs(1) })
    /// }
    /// let cache = CacheConfig::temporary()
    ///     .ttl_of(lifetime)
    ///     .build::<String, Option<String>>()?;
    /// # Ok::<(), smartcache::CacheError>(())
    /// ```
    pub fn ttl_of<V: 'static>(mut self, ttl_of: fn(&V) -> Option<Duration>) -> Self {
        self.ttl_of = Some(TtlOf {
            function: std::sync::Arc::new(ttl_of),
            value_type: std::any::type_name::<V>(),
        });
        self
    }

    /// Time to idle: entries expire when unread for this long, in every tier.
    pub fn tti(mut self, tti: Duration) -> Self {
        self.tti = Some(tti);
        self
    }

    /// Size below which [`Placement::Auto`](crate::Placement::Auto) values stay in memory.
    /// Default 10 KiB.
    pub fn memory_threshold(mut self, bytes: u64) -> Self {
        self.memory_threshold = bytes;
        self
    }

    /// Size from which [`Placement::Auto`](crate::Placement::Auto) values go to files
    /// (below it, to sled). Default 1 MiB.
    pub fn file_threshold(mut self, bytes: u64) -> Self {
        self.file_threshold = bytes;
        self
    }

    /// Sends every [`Placement::Auto`](crate::Placement::Auto) value to `tier`, whatever
    /// its size: the two thresholds set so that only `tier` is left. A type that pins
    /// its tier still goes there. `#[memoize(tier = "..")]` is this.
    ///
    /// ```
    /// use smartcache::prelude::*;
    ///
    /// let cache = CacheConfig::temporary().tier(Tier::File).build::<u32, String>()?;
    /// assert_eq!(cache.insert(1, "small, yet in a file".into())?, Tier::File);
    /// # Ok::<(), smartcache::CacheError>(())
    /// ```
    pub fn tier(mut self, tier: Tier) -> Self {
        let (memory_below, file_from) = match tier {
            Tier::Memory => (u64::MAX, u64::MAX),
            Tier::Sled => (0, u64::MAX),
            Tier::File => (0, 0),
            // Every value persisted, to Redis (files while Redis is down).
            #[cfg(feature = "redis")]
            Tier::Redis => (0, u64::MAX),
        };
        self.persistent_home = None;
        #[cfg(feature = "redis")]
        if tier == Tier::Redis {
            self.persistent_home = Some(Tier::Redis);
        }
        self.memory_threshold(memory_below)
            .file_threshold(file_from)
    }

    /// Largest value the memory tier keeps a copy of when it is written to or read from a
    /// persistent tier. `0` never copies. Default 1 MiB.
    pub fn promote_max(mut self, bytes: u64) -> Self {
        self.promote_max = bytes;
        self
    }

    /// Compression of persisted payloads. Default none.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// How images are stored: [`ImageFormat::Raw`] (default) or [`ImageFormat::Png`].
    pub fn image_format(mut self, format: ImageFormat) -> Self {
        self.image_format = format;
        self
    }

    /// Eviction policy of the memory tier, and the store that keeps it. Default
    /// [`Eviction::TinyLfu`] for a cache, [`Eviction::ClockPro`] for a memoized function.
    pub fn eviction(mut self, eviction: Eviction) -> Self {
        self.eviction = Some(eviction);
        self
    }

    /// Durability of persistent writes. Default buffered.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Owner-only permissions: folders 0700, files 0600 (the default). `false` leaves
    /// them to the process umask.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Read large file-tier entries (4 MiB and up) through a memory map instead of into
    /// a buffer: the payload is checked and decoded where the page cache holds it, which
    /// saves a copy and the zeroing of a buffer as large as the entry (a 320 MB
    /// `DataFrame` get measured about 295 ms read, 245 ms mapped). Default: off.
    ///
    /// The cost: with a map, an I/O error while the entry is read, or the entry file
    /// truncated by another program meanwhile, stops the process with `SIGBUS` instead of
    /// returning an error. smartcache itself never truncates or rewrites an entry file
    /// (new values are new files renamed into place), so only a disk failure or a
    /// program writing into the cache folder can cause it.
    pub fn mmap_reads(mut self, on: bool) -> Self {
        self.mmap_reads = on;
        self
    }

    /// With `true`, values that would stay in memory are persisted too (to sled), so
    /// every value survives the process. Default `false`.
    pub fn persist_all(mut self, on: bool) -> Self {
        self.persist_all = on;
        self
    }

    /// The Redis server of the Redis tier (feature `redis`):
    /// `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS (feature
    /// `redis-tls`). Default: `$SMARTCACHE_REDIS_URL`. The password never appears in
    /// messages, logs or `Debug`.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, url: impl Into<String>) -> Self {
        self.redis.url = Some(url.into());
        self
    }

    /// Where values bound for Redis go while it is down: [`Tier::File`] (the default,
    /// seen by every process on this machine and kept across restarts), [`Tier::Sled`],
    /// or [`Tier::Memory`] (this process only). The fallback is read before Redis, so a
    /// value written there during an outage is not hidden by an older one on the server.
    #[cfg(feature = "redis")]
    pub fn redis_fallback(mut self, tier: Tier) -> Self {
        self.redis.fallback = tier;
        self
    }

    /// A PEM file of the certificate authority that signed the Redis server's
    /// certificate, for a `rediss://` server whose certificate the system does not trust
    /// (a private authority, or a self-signed certificate). Read when the cache is built.
    #[cfg(feature = "redis-tls")]
    pub fn redis_ca(mut self, pem: impl Into<std::path::PathBuf>) -> Self {
        self.redis.ca = Some(pem.into());
        self
    }

    /// The longest the Redis tier waits for a connection or a reply. Default 250 ms.
    #[cfg(feature = "redis")]
    pub fn redis_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.redis.timeout = timeout;
        self
    }

    /// How long the Redis tier stays down after a failure (its values are misses, new
    /// ones go to files) before it tries the server again. Default 3 s.
    #[cfg(feature = "redis")]
    pub fn redis_backoff(mut self, backoff: std::time::Duration) -> Self {
        self.redis.backoff = backoff;
        self
    }

    /// What this configuration says, option by option (the setters' values, read back).
    pub fn policy(&self) -> Policy<'_> {
        Policy(self)
    }

    /// Builds the cache: same as [`SmartCache::with_config`].
    pub fn build<K: CacheKey, V: Cacheable>(self) -> Result<SmartCache<K, V>> {
        SmartCache::with_config(self)
    }
}
