//! [`SmartCache`]: the cache. It routes each value to its tier, keeps a memory front over
//! the persistent tiers, turns every bad entry into a counted, logged miss, and runs a
//! computation once per key however many threads ask for it at the same time.
//!
//! This file holds the type and its public methods. Beside it: `build.rs` (opening a
//! cache from its configuration), `inner.rs` (the shared state and its memory front),
//! `stores.rs` (the persistent tiers, opened on first use), `write.rs` (inserts),
//! `read.rs` (reads below memory), `flight.rs` (single-flight for `get_with`),
//! `generations.rs` (no stale promotion), `mapped.rs` (mapped arrays), `walk.rs` (keys,
//! iteration, purging and shrinking). The persistent tiers are `dyn Store`s (see
//! `tier/`); a tier that cannot always take writes is one too, its failover store.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::clock::{now_ms, Clock};
use crate::codec::Codec;
use crate::config::{derived_namespace, CacheConfig};
use crate::entry::{EntryMeta, Expect, IncomingValue, OutgoingValue, OwnTypes};
use crate::key::Address;
use crate::route::Router;
use crate::stats::{CacheStats, Counters};
use crate::tier::memory::{MemoryTier, Slot};
use crate::tier::{LoadError, Loaded, Store, PERSISTENT};
use serde::Serialize;

use crate::{key, paths, CacheError, CacheKey, Cacheable, Placement, Result, Tier};

mod build;
mod flight;
mod generations;
mod inner;
#[cfg(feature = "ndarray")]
mod mapped;
mod namespace;
mod read;
mod stores;
mod walk;
mod write;

pub use self::namespace::clear_namespace;
pub use self::walk::Iter;

use self::build::Cleanup;
use self::flight::Flight;
use self::generations::Generations;
use self::inner::{deadline_of, log_failure, Home, Inner};
use self::stores::{CatalogEntry, Stores};

/// A cache whose values of type `V` go to the tier their type and size call for.
///
/// Cloning is cheap: clones share one cache. Dropping the last clone flushes the
/// persistent tiers (and deletes the storage of a [`CacheConfig::temporary`] cache).
///
/// ```
/// use smartcache::prelude::*;
///
/// let cache = CacheConfig::temporary().build::<u32, String>()?;
/// assert_eq!(cache.insert(1, "one".to_string())?, Tier::Memory); // small: memory
/// assert_eq!(cache.get(&1).as_deref().map(String::as_str), Some("one"));
/// let two = cache.get_with(2, || "two".to_string());               // computed once
/// assert_eq!(*two, "two");
/// # Ok::<(), smartcache::CacheError>(())
/// ```
pub struct SmartCache<K, V> {
    inner: Arc<Inner<K, V>>,
}

impl<K, V> Clone for SmartCache<K, V> {
    fn clone(&self) -> Self {
        SmartCache {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: CacheKey, V: Cacheable> SmartCache<K, V> {
    /// A cache configured by [`configure_for::<V>()`](crate::configure_for). Never fails:
    /// storage is opened on first use, and a storage problem then is an error of that
    /// operation (or a miss for [`SmartCache::get`]).
    pub fn new() -> Self {
        match Self::build(V::default_config(), false, false) {
            Ok(cache) => cache,
            Err(e) => {
                tracing::error!(error = %e, value = %V::type_tag(),
                    "the type's default_config is invalid; using CacheConfig::default()");
                Self::build(CacheConfig::default(), false, false)
                    .expect("CacheConfig::default() is valid and opens nothing when lazy")
            }
        }
    }

    /// A cache with this configuration. Fails when the configuration is invalid or its
    /// storage cannot be used: the folder is a file or not writable, the sled database is
    /// locked by another process.
    pub fn with_config(config: CacheConfig) -> Result<Self> {
        Self::build(config, true, false)
    }

    /// The tier `value` would be stored in.
    #[inline]
    pub fn route(&self, value: &V) -> Tier {
        self.inner.router.route_value(value, value.size_hint())
    }

    /// Stores `value` under `key` and returns the tier it went to. Replaces any earlier
    /// value of `key`, in whatever tier that was.
    pub fn insert(&self, key: K, value: V) -> Result<Tier> {
        self.insert_arc(key, Arc::new(value))
    }

    /// Like [`SmartCache::insert`], with a time to live of this entry's own instead of
    /// the cache's ([`CacheConfig::ttl`]): from a quarter of a second to years, in every
    /// tier (Redis keeps it itself).
    ///
    /// ```
    /// # use smartcache::prelude::*;
    /// # use std::time::Duration;
    /// let cache = CacheConfig::temporary().build::<String, String>()?;
    /// cache.insert_with_ttl("token".into(), "t0k3n".into(), Duration::from_millis(250))?;
    /// assert!(cache.get("token").is_some());
    /// std::thread::sleep(Duration::from_millis(300));
    /// assert!(cache.get("token").is_none());
    /// # Ok::<(), smartcache::CacheError>(())
    /// ```
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) -> Result<Tier> {
        if ttl.is_zero() {
            return Err(CacheError::config(
                "insert_with_ttl with a zero time to live: nothing could be read back",
                "give insert_with_ttl a positive duration, or use insert for the cache's own",
            ));
        }
        let value = Arc::new(value);
        let size = value.size_hint();
        let tier = self.inner.router.route_value(&*value, size);
        self.inner.store(key, value, size, tier, Some(ttl))
    }

    /// Inserts a value already behind an `Arc` (which the memory tier then shares).
    pub(crate) fn insert_arc(&self, key: K, value: Arc<V>) -> Result<Tier> {
        let size = value.size_hint();
        let tier = self.inner.router.route_value(&*value, size);
        self.inner.store(key, value, size, tier, None)
    }

    /// The value of `key`, from the fastest tier that has it. Errors and invalid entries
    /// are misses (counted in [`SmartCache::stats`] and logged); use
    /// [`SmartCache::try_get`] to see them.
    ///
    /// `key` may be any borrowed form of `K` that hashes, compares and serializes as `K`
    /// does, as for `HashMap::get`: a `&str` for a `String` key, a `&[T]` for a `Vec<T>`.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(value) = self.inner.get_memory(key) {
            return Some(value);
        }
        self.inner.get_below(key, true).unwrap_or_default()
    }

    /// Like [`SmartCache::get`], but a tier that fails (I/O, a locked database) is an
    /// error. Invalid entries are still misses.
    pub fn try_get<Q>(&self, key: &Q) -> Result<Option<Arc<V>>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(value) = self.inner.get_memory(key) {
            return Ok(Some(value));
        }
        self.inner.get_below(key, true)
    }

    /// The value of `key`, computed by `init` and stored if no tier has it. However many
    /// threads ask for the same missing key at once, `init` runs once; the others wait
    /// for its value. A storage failure never fails the computation: it is logged and
    /// counted, and the computed value is returned.
    pub fn get_with(&self, key: K, init: impl FnOnce() -> V) -> Arc<V> {
        match self.try_get_with(key, || Ok::<V, std::convert::Infallible>(init())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// Like [`SmartCache::get_with`] for a computation that can fail. An `Err` is returned
    /// to the caller that ran `init` and is not cached: threads waiting on that
    /// computation try again themselves.
    pub fn try_get_with<E>(
        &self,
        key: K,
        init: impl FnOnce() -> std::result::Result<V, E>,
    ) -> std::result::Result<Arc<V>, E> {
        self.inner.get_with(key, |_| init())
    }

    /// Stores a value just computed, as `get_with` does: a storage failure is logged and
    /// counted, and the value returned all the same.
    pub(crate) fn store_computed(&self, key: K, value: V) -> Arc<V> {
        self.inner.store_computed(key, value)
    }

    /// Like [`SmartCache::try_get_with`], with the key handed to `init` (a memoized
    /// function rebuilds its arguments from it instead of cloning them for every call).
    pub(crate) fn try_get_with_key<E>(
        &self,
        key: K,
        init: impl FnOnce(&K) -> std::result::Result<V, E>,
    ) -> std::result::Result<Arc<V>, E> {
        self.inner.get_with(key, init)
    }

    /// Like [`SmartCache::try_get_with_key`], by value: `clone` copies the cached value
    /// (small values are then held inline in memory, so a hit copies them and touches no
    /// reference count).
    #[inline]
    pub(crate) fn try_get_with_key_owned<E>(
        &self,
        key: K,
        init: impl FnOnce(&K) -> std::result::Result<V, E>,
        clone: fn(&V) -> V,
    ) -> std::result::Result<V, E> {
        self.inner.get_with_owned(key, init, clone)
    }

    /// Like [`SmartCache::try_get_with_key`] for a computation that is awaited: tasks
    /// and threads that ask for the same missing key share one computation.
    #[cfg(feature = "async")]
    pub(crate) async fn try_get_with_async<E, F>(
        &self,
        key: K,
        init: impl FnOnce(&K) -> F,
    ) -> std::result::Result<Arc<V>, E>
    where
        F: std::future::Future<Output = std::result::Result<V, E>>,
    {
        self.inner.get_with_async(key, init).await
    }

    /// Deletes `key` from every tier. `Ok(true)` when some tier held it.
    pub fn remove<Q>(&self, key: &Q) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ?Sized,
    {
        let inner = &*self.inner;
        let mut removed = false;
        if !inner.persistent_tiers().is_empty() {
            let address = inner.address(key)?;
            removed |= inner.remove_persistent(&address, None)?;
        }
        let _write = inner.generations.write(key);
        removed |= inner.memory.remove(key);
        Ok(removed)
    }

    /// Whether some tier holds a valid, unexpired value for `key` (persistent entries are
    /// checked by header, without reading their payload).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ?Sized,
    {
        self.tier_of(key).is_some()
    }

    /// The tier that holds `key`'s value: its home tier, even when a copy is also in
    /// memory. `None` when no tier holds it.
    pub fn tier_of<Q>(&self, key: &Q) -> Option<Tier>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ?Sized,
    {
        let inner = &*self.inner;
        if let Some(home) = inner
            .uses_memory
            .then(|| inner.memory.get(key, Home))
            .flatten()
        {
            return Some(home);
        }
        let address = inner.address(key).ok()?;
        let expect = inner.expect(&address);
        for &tier in inner.persistent_tiers() {
            let Ok(Some(store)) = inner.stores.open_if_exists(tier) else {
                continue;
            };
            match store.probe(&address, &expect) {
                Ok(Some(held)) => return Some(held),
                Ok(None) | Err(LoadError::Failed(_)) => {}
                Err(e) => inner.discard(store, &address, e),
            }
        }
        None
    }

    /// Deletes every entry of this cache, in every tier: every entry in its namespace,
    /// whatever its type (see [`CacheConfig::namespace`]).
    pub fn clear(&self) -> Result<()> {
        self.inner.clear()
    }

    /// Makes every write so far durable (sled flushes; file entries are complete when
    /// `insert` returns).
    pub fn flush(&self) -> Result<()> {
        for store in self.inner.stores.open_stores() {
            store.flush()?;
        }
        Ok(())
    }

    /// A snapshot of the counters, with entries and bytes per tier.
    pub fn stats(&self) -> CacheStats {
        self.inner.stats()
    }
}

impl<K, V> SmartCache<K, V> {
    /// The namespace: the folder under the storage root that holds this cache.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The folder that holds this cache's persistent tiers (`<root>/<namespace>`).
    pub fn path(&self) -> Option<&Path> {
        self.inner.stores.path()
    }

    /// The configuration the cache was built with.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }
}

impl<K: CacheKey, V: Cacheable> Default for SmartCache<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: CacheKey, V: Cacheable> fmt::Debug for SmartCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmartCache")
            .field("value", &V::type_tag())
            .field("namespace", &self.inner.namespace)
            .field("dir", &self.inner.stores.path())
            .finish_non_exhaustive()
    }
}
