//! [`SmartCache`]: the cache. It routes each value to its tier, keeps a memory front over
//! the persistent tiers, turns every bad entry into a counted, logged miss, and runs a
//! computation once per key however many threads ask for it at the same time.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::clock::{now_ms, Clock};
use crate::codec::Codec;
use crate::config::{derived_namespace, CacheConfig};
use crate::entry::{EntryMeta, Expect};
use crate::key::Address;
use crate::route::Router;
use crate::stats::{CacheStats, Counters};
use crate::tier::file::FileTier;
use crate::tier::memory::{MemoryTier, Slot};
use crate::tier::sled::SledTier;
use crate::tier::{LazyTier, LoadError, Loaded, Store, Usage};
use crate::{key, paths, CacheError, CacheKey, Cacheable, Placement, Result, Tier};

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
pub struct SmartCache<K: CacheKey, V: Cacheable> {
    inner: Arc<Inner<K, V>>,
}

impl<K: CacheKey, V: Cacheable> Clone for SmartCache<K, V> {
    fn clone(&self) -> Self {
        SmartCache {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<K: CacheKey, V: Cacheable> {
    config: CacheConfig,
    namespace: String,
    /// `<root>/<namespace>`, or why there is none (persistent tiers then fail with it).
    dir: std::result::Result<PathBuf, String>,
    router: Router,
    fingerprint: u64,
    counters: Arc<Counters>,
    memory: MemoryTier<K, V>,
    sled: LazyTier<Arc<SledTier>>,
    file: LazyTier<FileTier>,
    flights: Mutex<HashMap<K, Arc<Flight<V>>>>,
    generations: Generations,
    /// Whether the memory tier can hold values of this cache (not for a type pinned to a
    /// persistent tier with `promote_max(0)`).
    uses_memory: bool,
    /// Whether sled-bound values go to the file tier now (logged when it starts).
    rerouting: std::sync::atomic::AtomicBool,
    /// Whether the file tier may hold values bound for sled, and when its marker was last
    /// looked for.
    sled_values_in_files: std::sync::atomic::AtomicBool,
    marker_checked_ms: AtomicU64,
    /// Declared last: dropped after the tiers have closed.
    _cleanup: Option<Cleanup>,
}

/// Deletes the storage of a temporary cache when dropped.
enum Cleanup {
    TempDir(#[allow(dead_code)] tempfile::TempDir),
    Folder(PathBuf),
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Cleanup::Folder(dir) = self {
            if let Err(e) = std::fs::remove_dir_all(&*dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(dir = %dir.display(), error = %e, "temporary cache: cannot delete its folder");
                }
            }
        }
    }
}

/// A persistent tier, by reference (the tiers have generic methods, so no `dyn`).
#[derive(Clone, Copy)]
enum Persistent<'a> {
    Sled(&'a SledTier),
    File(&'a FileTier),
}

impl Persistent<'_> {
    fn tier(self) -> Tier {
        match self {
            Persistent::Sled(_) => Tier::Sled,
            Persistent::File(_) => Tier::File,
        }
    }
    fn store<V: Cacheable>(self, address: &Address, meta: &EntryMeta, value: &V) -> Result<u64> {
        match self {
            Persistent::Sled(t) => t.store(address, meta, value),
            Persistent::File(t) => t.store(address, meta, value),
        }
    }
    fn load<V: Cacheable>(
        self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> std::result::Result<Option<Loaded<V>>, LoadError> {
        match self {
            Persistent::Sled(t) => t.load(address, expect),
            Persistent::File(t) => t.load(address, expect),
        }
    }
    fn probe(self, address: &Address, expect: &Expect<'_>) -> std::result::Result<bool, LoadError> {
        match self {
            Persistent::Sled(t) => t.probe(address, expect),
            Persistent::File(t) => t.probe(address, expect),
        }
    }
    fn remove(self, address: &Address) -> Result<bool> {
        match self {
            Persistent::Sled(t) => t.remove(address),
            Persistent::File(t) => t.remove(address),
        }
    }
    fn clear(self) -> Result<()> {
        match self {
            Persistent::Sled(t) => t.clear(),
            Persistent::File(t) => t.clear(),
        }
    }
    fn flush(self) -> Result<()> {
        match self {
            Persistent::Sled(t) => t.flush(),
            Persistent::File(t) => t.flush(),
        }
    }
    fn touch(self, address: &Address, now_ms: u64) {
        match self {
            Persistent::Sled(t) => t.touch(address, now_ms),
            Persistent::File(t) => t.touch(address, now_ms),
        }
    }
    fn usage(self) -> Usage {
        match self {
            Persistent::Sled(t) => t.usage(),
            Persistent::File(t) => t.usage(),
        }
    }
}

/// One computation in progress for `get_with`: the leader fills it, followers wait.
struct Flight<V> {
    /// The thread running the computation.
    leader: std::thread::ThreadId,
    /// `None` while running; `Some(Some(v))` done; `Some(None)` failed or panicked.
    outcome: Mutex<Option<Option<Arc<V>>>>,
    done: Condvar,
}

impl<V> Flight<V> {
    fn finish(&self, outcome: Option<Arc<V>>) {
        let mut slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(outcome);
        }
        self.done.notify_all();
    }

    fn wait(&self) -> Option<Arc<V>> {
        let mut slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(outcome) = &*slot {
                return outcome.clone();
            }
            slot = self.done.wait(slot).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Held by the leader of a flight. Dropping it (also by a panic) releases the followers
/// and retires the flight.
struct Leader<'a, K: CacheKey, V: Cacheable> {
    inner: &'a Inner<K, V>,
    key: &'a K,
    flight: Arc<Flight<V>>,
}

impl<K: CacheKey, V: Cacheable> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        // Retire the flight before waking the followers, so that a follower of a failed
        // computation that tries again starts a new flight instead of finding this one.
        {
            let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
            if flights
                .get(self.key)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                flights.remove(self.key);
            }
        }
        self.flight.finish(None); // no-op when already finished
    }
}

/// Per-key-stripe write generations. A write bumps the generation of its key's stripe
/// while it updates the memory tier; a read from below promotes its value into memory only
/// if the generation is still the one it saw before reading, so a slow read never puts
/// back a value that a later insert or remove replaced.
struct Generations {
    stripes: Box<[Mutex<u64>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Generations {
    fn new() -> Self {
        Generations {
            stripes: (0..64).map(|_| Mutex::new(0)).collect(),
            hasher: Default::default(),
        }
    }

    fn stripe<K: std::hash::Hash>(&self, key: &K) -> &Mutex<u64> {
        use std::hash::BuildHasher;
        let i = self.hasher.hash_one(key) as usize % self.stripes.len();
        &self.stripes[i]
    }

    /// The generation of `key`'s stripe now.
    fn current<K: std::hash::Hash>(&self, key: &K) -> u64 {
        *self.stripe(key).lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bumps the generation of `key`'s stripe, which stays locked (for the memory update
    /// of the write) until the guard is dropped.
    fn write<K: std::hash::Hash>(&self, key: &K) -> std::sync::MutexGuard<'_, u64> {
        let mut generation = self.stripe(key).lock().unwrap_or_else(|p| p.into_inner());
        *generation += 1;
        generation
    }

    /// Runs a promotion of `key` if no write happened since generation `seen`.
    fn promote_if_unchanged<K: std::hash::Hash>(&self, key: &K, seen: u64, promote: impl FnOnce()) {
        let generation = self.stripe(key).lock().unwrap_or_else(|p| p.into_inner());
        if *generation == seen {
            promote();
        }
    }

    /// Bumps every generation (after a clear).
    fn bump_all(&self) {
        for stripe in self.stripes.iter() {
            *stripe.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        }
    }
}

impl<K: CacheKey, V: Cacheable> SmartCache<K, V> {
    /// A cache configured by [`configure_for::<V>()`](crate::configure_for). Never fails:
    /// storage is opened on first use, and a storage problem then is an error of that
    /// operation (or a miss for [`SmartCache::get`]).
    pub fn new() -> Self {
        match Self::build(V::default_config(), false) {
            Ok(cache) => cache,
            Err(e) => {
                tracing::error!(error = %e, value = %V::type_tag(),
                    "the type's default_config is invalid; using CacheConfig::default()");
                Self::build(CacheConfig::default(), false)
                    .expect("CacheConfig::default() is valid and opens nothing when lazy")
            }
        }
    }

    /// A cache with this configuration. Fails when the configuration is invalid or its
    /// storage cannot be used: the folder is a file or not writable, the sled database is
    /// locked by another process.
    pub fn with_config(config: CacheConfig) -> Result<Self> {
        Self::build(config, true)
    }

    fn build(config: CacheConfig, eager: bool) -> Result<Self> {
        #[allow(clippy::let_unit_value)] // evaluating the constant is the check
        let () = crate::assertions::PinnedTierCheck::<V>::OK;
        config.validate()?;
        let namespace = match &config.namespace {
            Some(ns) => ns.clone(),
            None => {
                let derived = derived_namespace(std::any::type_name::<K>(), &V::type_tag());
                match &config.namespace_prefix {
                    Some(prefix) => format!("{prefix}-{derived}"),
                    None => derived,
                }
            }
        };
        let mut cleanup = None;
        let root = if config.temporary && config.dir.is_none() {
            let temp = tempfile::Builder::new()
                .prefix("smartcache-")
                .tempdir()
                .map_err(|e| CacheError::BadDirectory {
                    path: std::env::temp_dir(),
                    reason: format!("cannot create a temporary folder: {e}"),
                })?;
            let path = temp.path().to_path_buf();
            cleanup = Some(Cleanup::TempDir(temp));
            Ok(path)
        } else {
            config.root()
        };
        let dir = match root {
            Ok(root) => Ok(root.join(&namespace)),
            Err(e) if eager => return Err(e),
            Err(e) => Err(e.to_string()),
        };
        if let (true, Ok(dir)) = (config.temporary, &dir) {
            if cleanup.is_none() {
                cleanup = Some(Cleanup::Folder(dir.clone()));
            }
        }
        let counters = Arc::new(Counters::default());
        let inner = Inner {
            router: Router {
                memory_threshold: config.memory_threshold,
                file_threshold: config.file_threshold,
                persist_all: config.persist_all,
            },
            // The namespace is part of it: two namespaces that share a folder (on a
            // case-insensitive file system) never read each other's entries.
            fingerprint: crate::hash::hash64(
                &[
                    &crate::cacheable::fingerprint::<V>().to_le_bytes()[..],
                    namespace.as_bytes(),
                ]
                .concat(),
            ),
            memory: MemoryTier::new(&config, Arc::clone(&counters)),
            counters,
            namespace,
            dir,
            sled: LazyTier::new(),
            file: LazyTier::new(),
            flights: Mutex::new(HashMap::new()),
            generations: Generations::new(),
            uses_memory: !matches!(V::PLACEMENT, Placement::Pinned(t) if t.is_persistent())
                || config.promote_max > 0,
            rerouting: std::sync::atomic::AtomicBool::new(false),
            sled_values_in_files: std::sync::atomic::AtomicBool::new(false),
            marker_checked_ms: AtomicU64::new(0),
            config,
            _cleanup: cleanup,
        };
        if eager {
            if let Ok(dir) = &inner.dir {
                paths::ensure_usable_dir(dir, inner.config.secure)?;
            }
            for &tier in inner.persistent_tiers() {
                inner.open(tier)?;
            }
        }
        Ok(SmartCache {
            inner: Arc::new(inner),
        })
    }

    /// The tier `value` would be stored in.
    #[inline]
    pub fn route(&self, value: &V) -> Tier {
        self.inner.router.route::<V>(value.size_hint())
    }

    /// Stores `value` under `key` and returns the tier it went to. Replaces any earlier
    /// value of `key`, in whatever tier that was.
    pub fn insert(&self, key: K, value: V) -> Result<Tier> {
        self.insert_arc(key, Arc::new(value))
    }

    /// Inserts a value already behind an `Arc` (which the memory tier then shares).
    pub(crate) fn insert_arc(&self, key: K, value: Arc<V>) -> Result<Tier> {
        let size = value.size_hint();
        let tier = self.inner.router.route::<V>(size);
        self.inner.store(key, value, size, tier, None)
    }

    /// A cache on `config` whose persistent tiers open on first use: storage problems
    /// show up as counted errors then, not here. Falls back to the memory tier alone
    /// when `config` itself is invalid.
    pub(crate) fn lazy(config: CacheConfig) -> Self {
        match Self::build(config, false) {
            Ok(cache) => cache,
            Err(e) => {
                tracing::error!(error = %e, "invalid cache configuration; keeping values in memory only");
                Self::build(
                    CacheConfig::default()
                        .memory_threshold(usize::MAX)
                        .file_threshold(usize::MAX),
                    false,
                )
                .expect("the default configuration is valid and opens nothing when lazy")
            }
        }
    }

    /// The value of `key`, from the fastest tier that has it. Errors and invalid entries
    /// are misses (counted in [`SmartCache::stats`] and logged); use
    /// [`SmartCache::try_get`] to see them.
    #[inline]
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        if let Some(value) = self.inner.get_memory(key) {
            return Some(value);
        }
        self.inner.get_below(key).unwrap_or_default()
    }

    /// Like [`SmartCache::get`], but a tier that fails (I/O, a locked database) is an
    /// error. Invalid entries are still misses.
    pub fn try_get(&self, key: &K) -> Result<Option<Arc<V>>> {
        if let Some(value) = self.inner.get_memory(key) {
            return Ok(Some(value));
        }
        self.inner.get_below(key)
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
        let inner = &*self.inner;
        let mut init = Some(init);
        let me = std::thread::current().id();
        loop {
            if let Some(value) = inner.get_memory(&key) {
                return Ok(value);
            }
            let (flight, leading) = {
                let mut flights = inner.flights.lock().unwrap_or_else(|p| p.into_inner());
                match flights.get(&key) {
                    // `init` asking for its own key would wait for itself: compute instead.
                    Some(flight) if flight.leader == me => break,
                    Some(flight) => (Arc::clone(flight), false),
                    None => {
                        let flight = Arc::new(Flight {
                            leader: me,
                            outcome: Mutex::new(None),
                            done: Condvar::new(),
                        });
                        flights.insert(key.clone(), Arc::clone(&flight));
                        (flight, true)
                    }
                }
            };
            if !leading {
                if let Some(value) = flight.wait() {
                    Counters::bump(&inner.counters.shared_hits);
                    return Ok(value);
                }
                continue; // the leader failed: try again, perhaps as the leader
            }
            let leader = Leader {
                inner,
                key: &key,
                flight,
            };
            // The previous leader may have finished between our miss and our lead.
            if let Some(value) = inner.get_memory(&key) {
                leader.flight.finish(Some(Arc::clone(&value)));
                return Ok(value);
            }
            if let Some(value) = inner.get_below(&key).unwrap_or_default() {
                leader.flight.finish(Some(Arc::clone(&value)));
                return Ok(value);
            }
            let Some(init) = init.take() else { break };
            let value = inner.compute_and_store(key.clone(), init)?;
            leader.flight.finish(Some(Arc::clone(&value)));
            return Ok(value);
        }
        // Re-entered from `init` for the same key (or `init` was already used): compute
        // without single-flight.
        match init.take() {
            Some(init) => inner.compute_and_store(key, init),
            None => unreachable_init(),
        }
    }

    /// Deletes `key` from every tier. `Ok(true)` when some tier held it.
    pub fn remove(&self, key: &K) -> Result<bool> {
        let inner = &*self.inner;
        let mut removed = false;
        if !inner.persistent_tiers().is_empty() {
            let address = inner.address(key)?;
            removed |= inner.remove_persistent(&address, None)?;
        }
        let _write = inner.generations.write(key);
        removed |= inner.memory.remove(key).is_some();
        Ok(removed)
    }

    /// Whether some tier holds a valid, unexpired value for `key` (persistent entries are
    /// checked by header, without reading their payload).
    pub fn contains_key(&self, key: &K) -> bool {
        self.tier_of(key).is_some()
    }

    /// The tier that holds `key`'s value: its home tier, even when a copy is also in
    /// memory. `None` when no tier holds it.
    pub fn tier_of(&self, key: &K) -> Option<Tier> {
        let inner = &*self.inner;
        if let Some(slot) = inner.uses_memory.then(|| inner.memory.get(key)).flatten() {
            return Some(slot.home);
        }
        let address = inner.address(key).ok()?;
        let expect = inner.expect(&address);
        for &tier in inner.persistent_tiers() {
            let Ok(Some(store)) = inner.open_if_exists(tier) else {
                continue;
            };
            match store.probe(&address, &expect) {
                Ok(true) => return Some(tier),
                Ok(false) | Err(LoadError::Failed(_)) => {}
                Err(e) => inner.discard(store, &address, e),
            }
        }
        None
    }

    /// Deletes every entry of this cache, in every tier.
    pub fn clear(&self) -> Result<()> {
        let inner = &*self.inner;
        for &tier in inner.persistent_tiers() {
            if let Some(store) = inner.open_if_exists(tier)? {
                store.clear()?;
            }
        }
        inner.generations.bump_all();
        inner.memory.clear();
        Ok(())
    }

    /// Makes every write so far durable (sled flushes; file entries are complete when
    /// `insert` returns).
    pub fn flush(&self) -> Result<()> {
        for tier in [Tier::Sled, Tier::File] {
            if let Some(store) = self.inner.opened(tier) {
                store.flush()?;
            }
        }
        Ok(())
    }

    /// A snapshot of the counters, with entries and bytes per tier.
    pub fn stats(&self) -> CacheStats {
        let inner = &*self.inner;
        // Usage first: it runs moka's pending work, which counts evictions and expirations.
        let (entries, bytes) = inner.memory.usage();
        let mut stats = inner.counters.snapshot();
        (stats.memory.entries, stats.memory.bytes) = (entries, bytes);
        for tier in [Tier::Sled, Tier::File] {
            if let Some(store) = inner.opened(tier) {
                let usage = store.usage();
                let s = match tier {
                    Tier::Sled => &mut stats.sled,
                    _ => &mut stats.file,
                };
                s.entries = usage.entries;
                s.bytes = usage.bytes;
                s.disk_bytes = usage.disk_bytes;
                s.quarantined = usage.quarantined;
                s.evictions += usage.evictions;
            }
        }
        stats
    }

    /// The namespace: the folder under the storage root that holds this cache.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The folder that holds this cache's persistent tiers (`<root>/<namespace>`).
    pub fn path(&self) -> Option<&Path> {
        self.inner.dir.as_deref().ok()
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
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// Never called: `try_get_with` takes `init` once and returns after using it.
#[cold]
fn unreachable_init() -> ! {
    unreachable!("try_get_with used its computation twice")
}

#[cfg(feature = "ndarray")]
impl<K: CacheKey, V: Cacheable> SmartCache<K, V> {
    /// Maps the file-tier entry of `key` (header checked, payload unread) and hands it to
    /// `view`; counts the hit or miss, and discards an entry `view` refuses.
    pub(crate) fn map_file_entry<T>(
        &self,
        key: &K,
        view: impl FnOnce(
            memmap2::Mmap,
            &crate::entry::Header,
            &std::fs::Metadata,
        ) -> std::result::Result<T, LoadError>,
    ) -> Result<Option<T>> {
        let inner = &*self.inner;
        let miss = || {
            Counters::bump(&inner.counters.tier(Tier::File).misses);
            Counters::bump(&inner.counters.misses);
        };
        let Some(store @ Persistent::File(files)) = inner.open_if_exists(Tier::File)? else {
            miss();
            return Ok(None);
        };
        let address = inner.address(key)?;
        let expect = inner.expect(&address);
        let result = files.map(&address, &expect).and_then(|mapped| {
            mapped
                .map(|(map, header, meta)| view(map, &header, &meta))
                .transpose()
        });
        match result {
            Ok(Some(value)) => {
                inner.count_hit(Tier::File);
                Ok(Some(value))
            }
            Ok(None) => {
                miss();
                Ok(None)
            }
            Err(LoadError::Failed(e)) => {
                Counters::bump(&inner.counters.tier(Tier::File).errors);
                Err(e)
            }
            Err(why) => {
                miss();
                inner.discard(store, &address, why);
                Ok(None)
            }
        }
    }
}

impl<K: CacheKey, V: Cacheable> Inner<K, V> {
    /// Runs `init` and stores its value. A storage failure is logged, never returned:
    /// the computed value is handed back all the same.
    fn compute_and_store<E>(
        &self,
        key: K,
        init: impl FnOnce() -> std::result::Result<V, E>,
    ) -> std::result::Result<Arc<V>, E> {
        let value = init()?;
        let size = value.size_hint();
        let tier = self.router.route::<V>(size);
        let value = Arc::new(value);
        if let Err(e) = self.store(key, Arc::clone(&value), size, tier, None) {
            tracing::warn!(tier = %tier, error = %e, "get_with: the computed value could not be stored");
        }
        Ok(value)
    }

    /// A hit in the memory tier, counted.
    #[inline]
    fn get_memory(&self, key: &K) -> Option<Arc<V>> {
        if !self.uses_memory {
            return None;
        }
        let slot = self.memory.get(key)?;
        self.count_hit(Tier::Memory);
        if let (Some(tti), Some(last)) = (self.config.tti, &slot.disk_access) {
            self.keep_alive_below(key, slot.home, last, tti);
        }
        Some(slot.value)
    }

    /// A memory hit on a copy of a persisted value is a read of that value: with a time to
    /// idle, tell the home tier (at most every quarter of the tti), so that a value kept
    /// hot in memory does not idle out on disk.
    #[cold]
    fn keep_alive_below(&self, key: &K, home: Tier, last: &AtomicU64, tti: Duration) {
        let now = now_ms();
        let every = u64::try_from((tti / 4).as_millis()).unwrap_or(u64::MAX);
        if now.saturating_sub(last.load(Relaxed)) < every {
            return;
        }
        last.store(now, Relaxed);
        let touched = self.address(key).map(|address| {
            if let Some(store) = self.opened(home) {
                store.touch(&address, now);
            }
        });
        if let Err(e) = touched {
            tracing::debug!(tier = %home, error = %e, "cannot record an access");
        }
    }

    #[inline]
    fn count_hit(&self, tier: Tier) {
        Counters::bump(&self.counters.tier(tier).hits);
    }

    fn address(&self, key: &K) -> Result<Address> {
        key::address(&self.namespace, key)
    }

    fn expect<'a>(&self, address: &'a Address) -> Expect<'a> {
        Expect {
            codec: <V::Codec as Codec<V>>::ID,
            fingerprint: self.fingerprint,
            key: address.key(),
            now: Clock::default(),
            tti: self.config.tti,
        }
    }

    fn dir(&self, tier: Tier) -> Result<&Path> {
        match &self.dir {
            Ok(dir) => Ok(dir),
            Err(_) => Err(CacheError::TierUnavailable {
                tier,
                reason: "no storage folder: set CacheConfig::dir or $SMARTCACHE_DIR",
            }),
        }
    }

    fn tier_dir(&self, tier: Tier) -> Result<PathBuf> {
        let dir = self.dir(tier)?;
        Ok(match tier {
            Tier::Sled => paths::sled_dir(dir),
            _ => paths::files_dir(dir),
        })
    }

    /// The tier, opened if need be.
    fn open(&self, tier: Tier) -> Result<Persistent<'_>> {
        if let Some(store) = self.opened(tier) {
            return Ok(store);
        }
        match tier {
            Tier::Sled => {
                let dir = self.tier_dir(tier)?;
                let sled = self
                    .sled
                    .get_or_open(tier, || SledTier::open(&dir, &self.config))?;
                Ok(Persistent::Sled(sled))
            }
            Tier::File => {
                let dir = self.tier_dir(tier)?;
                let file = self
                    .file
                    .get_or_open(tier, || FileTier::open(&dir, &self.config))?;
                Ok(Persistent::File(file))
            }
            Tier::Redis => Err(CacheError::TierUnavailable {
                tier,
                reason: "this build has no Redis support",
            }),
            Tier::Memory => Err(CacheError::TierUnavailable {
                tier,
                reason: "the memory tier is not a persistent tier",
            }),
        }
    }

    /// The tier if it is open.
    fn opened(&self, tier: Tier) -> Option<Persistent<'_>> {
        match tier {
            Tier::Sled => self.sled.get().map(|s| Persistent::Sled(s)),
            Tier::File => self.file.get().map(Persistent::File),
            _ => None,
        }
    }

    /// The tier if it is open or has a folder on disk: reads never create storage.
    fn open_if_exists(&self, tier: Tier) -> Result<Option<Persistent<'_>>> {
        if let Some(store) = self.opened(tier) {
            return Ok(Some(store));
        }
        match self.tier_dir(tier) {
            Ok(dir) if dir.is_dir() => self.open(tier).map(Some),
            _ => Ok(None),
        }
    }

    /// Stores a value in `tier` (and a copy in memory when small), and deletes older
    /// values of the key from the other tiers. Returns the tier the value went to: the
    /// file tier for a sled-bound value while sled cannot take it. `expires_ms` keeps the
    /// expiry of a value moved between tiers; `None` computes it from the ttl.
    ///
    /// An insert that fails changes nothing that could be read back: older values it could
    /// not delete stay consistent with the failed insert, and no stale copy stays in memory.
    fn store(
        &self,
        key: K,
        value: Arc<V>,
        size: usize,
        tier: Tier,
        expires_ms: Option<u64>,
    ) -> Result<Tier> {
        let ttl = self.config.ttl;
        let key_size = std::mem::size_of::<K>();
        let address = match V::PLACEMENT {
            Placement::Pinned(Tier::Memory) => None,
            _ => Some(self.address(&key)?),
        };
        let mut home = tier;
        let result = (|| {
            let Some(address) = &address else {
                return Ok(());
            };
            if tier == Tier::Sled && !self.sled_takes_writes() {
                home = Tier::File;
                self.mark_sled_values_in_files();
                if let Some(sled) = self.sled.get() {
                    self.share_sled_entries(sled);
                }
            }
            if self.persistent_tiers().len() > 1 {
                // An earlier value of this key may be in another tier.
                self.remove_persistent(address, Some(home))?;
            }
            if home == Tier::Memory {
                return Ok(());
            }
            let now = now_ms();
            let meta = EntryMeta {
                codec: <V::Codec as Codec<V>>::ID,
                fingerprint: self.fingerprint,
                created_ms: now,
                expires_ms: expires_ms.unwrap_or_else(|| {
                    ttl.map_or(0, |ttl| {
                        now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
                            .max(1)
                    })
                }),
                compression: self.config.compression,
                options: crate::codec::CodecOptions {
                    image_format: self.config.image_format,
                },
            };
            self.open(home)?.store(address, &meta, &*value).map(|_| ())
        })();
        if let Err(e) = result {
            Counters::bump(&self.counters.tier(home).errors);
            if self.uses_memory {
                let _write = self.generations.write(&key);
                self.memory.remove(&key);
            }
            tracing::warn!(tier = %home, error = %e, "insert failed");
            return Err(e);
        }
        self.note_rerouting(tier, home);
        Counters::bump(&self.counters.tier(home).inserts);
        if !self.uses_memory {
            return Ok(home);
        }
        let deadline = match expires_ms {
            Some(ms) => deadline_of(ms),
            None => ttl.and_then(|ttl| Instant::now().checked_add(ttl)),
        };
        let keep = home == Tier::Memory
            || (size <= self.config.promote_max && self.memory.admits(deadline));
        let _write = self.generations.write(&key);
        if keep {
            self.memory
                .insert(key, Slot::new(value, size, key_size, home, deadline));
        } else {
            self.memory.remove(&key);
        }
        Ok(home)
    }

    /// Whether the sled tier takes writes now (open, held by this process, and not
    /// wanted by other processes).
    fn sled_takes_writes(&self) -> bool {
        match self.open(Tier::Sled) {
            Ok(Persistent::Sled(sled)) => sled.accepts_writes(),
            _ => false,
        }
    }

    /// The persistent tiers that may hold an entry of this cache, in the order to look.
    /// Values of a type pinned to sled are looked for in the file tier only once some
    /// process has sent such values there (see [`Inner::files_hold_sled_values`]); while
    /// other processes share the namespace, the file tier, which they all see, holds the
    /// newest values and comes first.
    fn persistent_tiers(&self) -> &'static [Tier] {
        match self.router.persistent_tiers::<V>() {
            [Tier::Sled, Tier::File]
                if V::PLACEMENT == Placement::Pinned(Tier::Sled)
                    && !self.files_hold_sled_values() =>
            {
                &[Tier::Sled]
            }
            [Tier::Sled, Tier::File] if self.sled_is_shared() => &[Tier::File, Tier::Sled],
            tiers => tiers,
        }
    }

    /// Whether the file tier may hold values bound for sled: a marker in the namespace
    /// folder says so, left by the first process that sent one there (looked for at most
    /// once a second, and remembered once found).
    fn files_hold_sled_values(&self) -> bool {
        if self.sled_values_in_files.load(Relaxed) {
            return true;
        }
        let now = crate::clock::coarse_now_ms();
        if now.saturating_sub(self.marker_checked_ms.load(Relaxed)) < 1000 {
            return false;
        }
        self.marker_checked_ms.store(now, Relaxed);
        let found = self
            .dir
            .as_ref()
            .is_ok_and(|dir| paths::sled_values_marker(dir).exists());
        if found {
            self.sled_values_in_files.store(true, Relaxed);
        }
        found
    }

    /// Leaves the marker that the file tier holds values bound for sled.
    fn mark_sled_values_in_files(&self) {
        if self.sled_values_in_files.swap(true, Relaxed) {
            return;
        }
        if let Ok(dir) = &self.dir {
            let marker = paths::sled_values_marker(dir);
            match paths::create_file(&marker, self.config.secure) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    tracing::warn!(path = %marker.display(), error = %e, "cannot mark the file tier as holding sled-bound values");
                    self.sled_values_in_files.store(false, Relaxed);
                }
            }
        }
    }

    /// Whether other processes share this namespace (see [`Inner::persistent_tiers`]).
    /// Moves a batch of sled entries to the file tier meanwhile, so that the others see
    /// those too.
    fn sled_is_shared(&self) -> bool {
        let Some(sled) = self.sled.get() else {
            return false;
        };
        if !sled.others_waiting() {
            return false;
        }
        self.share_sled_entries(sled);
        true
    }

    /// Moves up to a batch of entries from sled, which other processes cannot read, to
    /// the file tier, as they are (times, type and all). An entry already in the file
    /// tier is newer and stays; a moved entry leaves sled only if it did not change.
    fn share_sled_entries(&self, sled: &SledTier) {
        const BATCH: usize = 32;
        let entries = sled.entries_to_share(BATCH);
        if entries.is_empty() {
            return;
        }
        let files = match self.open(Tier::File) {
            Ok(Persistent::File(files)) => files,
            _ => return,
        };
        self.mark_sled_values_in_files();
        for (sled_key, stored) in entries {
            if let Some((key, relaid)) = crate::entry::relaid_for_file(&stored) {
                let hash = key::address_of_encoded(&self.namespace, &key).hash();
                if let Err(e) = files.adopt(hash, &relaid) {
                    tracing::debug!(error = %e, "cannot move a sled entry to the file tier");
                    return;
                }
            }
            // Moved, or not an entry anyone could read: either way it leaves sled.
            sled.remove_moved(&sled_key, &stored);
        }
    }

    /// Counts a value that went to `home` instead of `tier`, and logs when rerouting
    /// starts and ends.
    fn note_rerouting(&self, tier: Tier, home: Tier) {
        if tier != Tier::Sled {
            return;
        }
        let rerouted = home != tier;
        if rerouted {
            Counters::bump(&self.counters.tier(tier).rerouted);
        }
        if self.rerouting.swap(rerouted, Relaxed) != rerouted {
            if rerouted {
                tracing::warn!(namespace = %self.namespace,
                    "the sled tier cannot take values now (another process holds it, or it failed): they go to the file tier");
            } else {
                tracing::info!(namespace = %self.namespace, "the sled tier takes values again");
            }
        }
    }

    /// Deletes the key from every persistent tier but `keep`. `Ok(true)` if one held it.
    fn remove_persistent(&self, address: &Address, keep: Option<Tier>) -> Result<bool> {
        let mut removed = false;
        for &tier in self.persistent_tiers() {
            if Some(tier) == keep {
                continue;
            }
            if let Some(store) = self.open_if_exists(tier)? {
                removed |= store.remove(address)?;
            }
        }
        Ok(removed)
    }

    /// Looks below the memory tier (which already missed).
    fn get_below(&self, key: &K) -> Result<Option<Arc<V>>> {
        if self.uses_memory {
            Counters::bump(&self.counters.tier(Tier::Memory).misses);
        }
        let tiers = self.persistent_tiers();
        if tiers.is_empty() {
            Counters::bump(&self.counters.misses);
            return Ok(None);
        }
        let address = self.address(key)?;
        let expect = self.expect(&address);
        let generation = self.uses_memory.then(|| self.generations.current(key));
        let mut failure = None;
        for &tier in tiers {
            let store = match self.open_if_exists(tier) {
                Ok(Some(store)) => store,
                Ok(None) => continue,
                Err(e) => {
                    Counters::bump(&self.counters.tier(tier).errors);
                    log_failure(tier, &e, "get: tier unavailable");
                    failure.get_or_insert(e);
                    continue;
                }
            };
            match store.load::<V>(&address, &expect) {
                Ok(Some(loaded)) => {
                    self.count_hit(tier);
                    return Ok(Some(self.promote(key, loaded, tier, generation)));
                }
                Ok(None) => Counters::bump(&self.counters.tier(tier).misses),
                Err(LoadError::Failed(e)) => {
                    Counters::bump(&self.counters.tier(tier).errors);
                    log_failure(tier, &e, "get: read failed");
                    failure.get_or_insert(e);
                }
                Err(e) => {
                    Counters::bump(&self.counters.tier(tier).misses);
                    self.discard(store, &address, e);
                }
            }
        }
        Counters::bump(&self.counters.misses);
        match failure {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// Counts, logs and deletes an expired or invalid entry.
    fn discard(&self, store: Persistent<'_>, address: &Address, why: LoadError) {
        let tier = store.tier();
        let counters = self.counters.tier(tier);
        let key_hash = format_args!("{:032x}", address.hash());
        match &why {
            LoadError::Expired => {
                Counters::bump(&counters.expirations);
                tracing::debug!(tier = %tier, key_hash = %key_hash, "expired entry removed");
            }
            LoadError::Invalid(reason) => {
                Counters::bump(&counters.invalid);
                tracing::warn!(tier = %tier, key_hash = %key_hash, reason = %reason, "invalid entry treated as a miss and removed");
            }
            LoadError::Failed(_) => return,
        }
        if let Err(e) = store.remove(address) {
            Counters::bump(&counters.errors);
            tracing::warn!(tier = %tier, key_hash = %key_hash, error = %e, "cannot remove a bad entry");
        }
    }

    /// Puts a copy of a value read from `tier` in memory, when small enough and when no
    /// write to the key happened since the read began (`generation`).
    fn promote(&self, key: &K, loaded: Loaded<V>, tier: Tier, generation: Option<u64>) -> Arc<V> {
        let value = Arc::new(loaded.value);
        let Some(generation) = generation else {
            return value;
        };
        let size = value.size_hint();
        if size <= self.config.promote_max {
            let deadline = deadline_of(loaded.expires_ms);
            if self.memory.admits(deadline) {
                let slot = Slot::new(
                    Arc::clone(&value),
                    size,
                    std::mem::size_of::<K>(),
                    tier,
                    deadline,
                );
                self.generations.promote_if_unchanged(key, generation, || {
                    self.memory.insert(key.clone(), slot)
                });
            }
        }
        value
    }
}

/// The instant of an expiry time in ms since the Unix epoch (0: never).
fn deadline_of(expires_ms: u64) -> Option<Instant> {
    match expires_ms {
        0 => None,
        ms => Instant::now().checked_add(Duration::from_millis(ms.saturating_sub(now_ms()))),
    }
}

/// Logs a tier failure met by a read: a tier that is unavailable has logged why once
/// itself (when it failed), so it is not repeated for every read.
fn log_failure(tier: Tier, error: &CacheError, what: &str) {
    if matches!(error, CacheError::TierUnavailable { .. }) {
        tracing::debug!(tier = %tier, error = %error, "{what}");
    } else {
        tracing::warn!(tier = %tier, error = %error, "{what}");
    }
}

impl<K: CacheKey, V: Cacheable> Drop for Inner<K, V> {
    fn drop(&mut self) {
        for tier in [Tier::Sled, Tier::File] {
            if let Some(store) = self.opened(tier) {
                if let Err(e) = store.flush() {
                    tracing::warn!(tier = %tier, error = %e, "flush on drop failed");
                }
            }
        }
    }
}
