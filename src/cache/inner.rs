//! The state every clone of a cache shares, the tiers it opens, and its memory front.

use super::*;
use crate::tier::memory::{Holder, Read};

pub(super) struct Inner<K, V> {
    pub(super) config: CacheConfig,
    pub(super) namespace: String,
    /// `<root>/<namespace>`, or why there is none (persistent tiers then fail with it).
    pub(super) dir: std::result::Result<PathBuf, String>,
    pub(super) router: Router,
    pub(super) fingerprint: u64,
    /// `CacheConfig::ttl_of`: each value's own time to live.
    pub(super) ttl_of: Option<fn(&V) -> Option<Duration>>,
    /// For values that carry their own types (an `AnyCache`): the namespace's salt, mixed
    /// into each entry's type fingerprint (see [`Inner::identity`]).
    pub(super) own_salt: Option<u64>,
    pub(super) counters: Arc<Counters>,
    pub(super) memory: MemoryTier<K, V>,
    /// The persistent tiers, as [`PERSISTENT`] lists them, each opened on first use.
    pub(super) stores: Stores,
    pub(super) flights: Mutex<HashMap<K, Arc<Flight<V>>>>,
    pub(super) generations: Generations,
    /// Whether the memory tier can hold values of this cache (not for a type pinned to a
    /// persistent tier with `promote_max(0)`).
    pub(super) uses_memory: bool,
    /// Whether sled-bound values go to the file tier now (logged when it starts).
    pub(super) rerouting: std::sync::atomic::AtomicBool,
    /// Whether the file tier may hold values bound for sled, and when its marker was last
    /// looked for.
    pub(super) sled_values_in_files: std::sync::atomic::AtomicBool,
    pub(super) marker_checked_ms: AtomicU64,
    /// Names this cache's types in its folder's catalog, once.
    pub(super) cataloged: std::sync::Once,
    /// Declared last: dropped after the tiers have closed.
    pub(super) _cleanup: Option<Cleanup>,
}

/// A memory hit on `key`: counted, told to the home tier when the cache has a time to
/// idle, and its value handed out shared (`C` = [`Shared`]) or owned ([`Owned`]).
struct MemoryHit<'a, K, V, Q: ?Sized, C> {
    inner: &'a Inner<K, V>,
    key: &'a Q,
    clone: C,
}

/// A memory hit's value, shared.
struct Shared;

/// A memory hit's value, owned: cloned by the function when it is shared.
struct Owned<V>(fn(&V) -> V);

impl<K: CacheKey, V: Cacheable, Q: Serialize + ?Sized, C> MemoryHit<'_, K, V, Q, C> {
    #[inline]
    fn count<H>(&self, slot: &Slot<H>) {
        self.inner.count_hit(Tier::Memory);
        if let (Some(tti), Some(last)) = (self.inner.config.tti, slot.disk_access()) {
            self.inner.keep_alive_below(self.key, slot.home, last, tti);
        }
    }
}

impl<K: CacheKey, V: Cacheable, Q: Serialize + ?Sized> Read<V> for MemoryHit<'_, K, V, Q, Shared> {
    type Output = Arc<V>;

    #[inline]
    fn read<H: Holder<V>>(self, slot: Slot<H>) -> Arc<V> {
        self.count(&slot);
        slot.value().shared()
    }
}

impl<K: CacheKey, V: Cacheable, Q: Serialize + ?Sized> Read<V>
    for MemoryHit<'_, K, V, Q, Owned<V>>
{
    type Output = V;

    #[inline]
    fn read<H: Holder<V>>(self, slot: Slot<H>) -> V {
        self.count(&slot);
        slot.value().owned(self.clone.0)
    }
}

/// A memory slot's home tier.
pub(super) struct Home;

impl<V> Read<V> for Home {
    type Output = Tier;

    fn read<H: Holder<V>>(self, slot: Slot<H>) -> Tier {
        slot.home
    }
}

impl<K: CacheKey, V: Cacheable> Inner<K, V> {
    /// Stores a value just computed. A storage failure is logged, never returned: the
    /// computed value is handed back all the same.
    pub(super) fn store_computed(&self, key: K, value: V) -> Arc<V> {
        let size = value.size_hint();
        let tier = self.router.route_value(&value, size);
        let value = Arc::new(value);
        if let Err(e) = self.store(key, Arc::clone(&value), size, tier, None) {
            tracing::warn!(tier = %tier, error = %e, "get_with: the computed value could not be stored");
        }
        value
    }

    /// A hit in the memory tier, counted.
    #[inline]
    pub(super) fn get_memory<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ?Sized,
    {
        self.memory_hit(key, Shared)
    }

    /// A hit in the memory tier, counted, by value: `clone` copies a value that is shared.
    #[inline]
    pub(super) fn get_memory_owned<Q>(&self, key: &Q, clone: fn(&V) -> V) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ?Sized,
    {
        self.memory_hit(key, Owned(clone))
    }

    /// A hit in the memory tier, its value handed out as `C` says.
    #[inline]
    fn memory_hit<'a, Q, C>(
        &'a self,
        key: &'a Q,
        clone: C,
    ) -> Option<<MemoryHit<'a, K, V, Q, C> as Read<V>>::Output>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ?Sized,
        MemoryHit<'a, K, V, Q, C>: Read<V>,
    {
        if !self.uses_memory {
            return None;
        }
        let hit = MemoryHit {
            inner: self,
            key,
            clone,
        };
        self.memory.get(key, hit)
    }

    /// A memory hit on a copy of a persisted value is a read of that value: with a time to
    /// idle, tell the home tier (at most every quarter of the tti), so that a value kept
    /// hot in memory does not idle out on disk.
    #[cold]
    pub(super) fn keep_alive_below<Q: Serialize + ?Sized>(
        &self,
        key: &Q,
        home: Tier,
        last: &AtomicU64,
        tti: Duration,
    ) {
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
    pub(super) fn count_hit(&self, tier: Tier) {
        match tier {
            Tier::Memory => self.counters.memory_hits.bump(),
            _ => Counters::bump(&self.counters.tier(tier).hits),
        }
    }

    pub(super) fn address<Q: Serialize + ?Sized>(&self, key: &Q) -> Result<Address> {
        key::address(&self.namespace, self.config.key_version, key)
    }

    pub(super) fn expect<'a>(&self, address: &'a Address) -> Expect<'a> {
        Expect {
            codec: <V::Codec as Codec<V>>::ID,
            fingerprint: self.fingerprint,
            key: address.key(),
            now: Clock::default(),
            tti: self.config.tti,
            own_types: self.own_salt.map(|salt| OwnTypes {
                salt,
                known: V::__knows,
            }),
        }
    }

    pub(super) fn dir(&self, tier: Tier) -> Result<&Path> {
        match &self.dir {
            Ok(dir) => Ok(dir),
            Err(_) => Err(CacheError::TierUnavailable {
                tier,
                reason: "no storage folder: set CacheConfig::dir or $SMARTCACHE_DIR",
            }),
        }
    }

    /// The persistent tiers that may hold an entry of this cache, in the order to look.
    /// Values of a type pinned to sled are looked for in the file tier only once some
    /// process has sent such values there (see [`Inner::files_hold_sled_values`]); while
    /// other processes share the namespace, the file tier, which they all see, holds the
    /// newest values and comes first.
    pub(super) fn persistent_tiers(&self) -> &'static [Tier] {
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
    pub(super) fn files_hold_sled_values(&self) -> bool {
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

    /// Whether other processes share this namespace, so that the file tier, which they
    /// all see, holds the newest values (see [`Inner::persistent_tiers`]).
    pub(super) fn sled_is_shared(&self) -> bool {
        self.opened(Tier::Sled)
            .is_some_and(|sled| sled.wanted_elsewhere())
    }

    /// The tier, opened if need be.
    pub(super) fn open(&self, tier: Tier) -> Result<&dyn Store> {
        let Some((i, kind)) = Kind::of(tier) else {
            return Err(CacheError::TierUnavailable {
                tier,
                reason: "the memory tier is not a persistent tier",
            });
        };
        if let Some(store) = self.stores.0[i].get() {
            return Ok(&**store);
        }
        let folder = match kind.folder {
            Some(name) => Some(self.dir(tier)?.join(name)),
            None => None,
        };
        let opening = Opening {
            folder: folder.as_deref(),
            namespace: &self.namespace,
            config: &self.config,
        };
        let store = self.stores.0[i].get_or_open(tier, || {
            let store = (kind.open)(&opening)?;
            if kind.folder.is_some() {
                self.record_in_catalog();
            }
            Ok(store)
        })?;
        Ok(&**store)
    }

    /// Names this cache's types and key version in its folder's catalog, the first time
    /// one of its tiers opens storage there.
    fn record_in_catalog(&self) {
        let Ok(dir) = &self.dir else {
            return;
        };
        self.cataloged.call_once(|| {
            crate::catalog::record(
                dir,
                self.fingerprint,
                std::any::type_name::<K>(),
                std::any::type_name::<V>(),
                self.config.key_version,
                self.config.secure,
            );
        });
    }

    /// The tier if it is open.
    pub(super) fn opened(&self, tier: Tier) -> Option<&dyn Store> {
        let (i, _) = Kind::of(tier)?;
        self.stores.0[i].get().map(|store| &**store)
    }

    /// The persistent tiers that are open.
    pub(super) fn open_stores(&self) -> impl Iterator<Item = &dyn Store> {
        self.stores.open()
    }

    /// The tier if it is open or has a folder on disk: reads never create storage.
    pub(super) fn open_if_exists(&self, tier: Tier) -> Result<Option<&dyn Store>> {
        if let Some(store) = self.opened(tier) {
            return Ok(Some(store));
        }
        let exists = Kind::of(tier).is_some_and(|(_, kind)| match kind.folder {
            Some(name) => self.dir.as_ref().is_ok_and(|dir| dir.join(name).is_dir()),
            // A tier kept elsewhere (a server) is there to be asked.
            None => true,
        });
        if exists {
            self.open(tier).map(Some)
        } else {
            Ok(None)
        }
    }
}

impl<K: CacheKey, V: Cacheable> Inner<K, V> {
    /// Deletes every entry of the namespace, in every tier (`SmartCache::clear`).
    pub(super) fn clear(&self) -> Result<()> {
        for &tier in self.persistent_tiers() {
            if let Some(store) = self.open_if_exists(tier)? {
                store.clear()?;
            }
        }
        self.generations.bump_all();
        self.memory.clear();
        Ok(())
    }

    /// The counters, with entries and bytes per tier (`SmartCache::stats`).
    pub(super) fn stats(&self) -> CacheStats {
        // Usage first: it runs moka's pending work, which counts evictions and expirations.
        let (entries, bytes) = self.memory.usage();
        let mut stats = self.counters.snapshot();
        (stats.memory.entries, stats.memory.bytes) = (entries, bytes);
        for store in self.open_stores() {
            stats.tier_mut(store.tier()).add_usage(store.usage());
        }
        stats
    }
}

impl<K: CacheKey, V: Cacheable> crate::live::Live for Inner<K, V> {
    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn path(&self) -> Option<&Path> {
        self.dir.as_deref().ok()
    }

    fn clear(&self) -> Result<()> {
        Inner::clear(self)
    }

    fn stats(&self) -> CacheStats {
        Inner::stats(self)
    }
}

/// The instant of an expiry time in ms since the Unix epoch (0: never).
pub(super) fn deadline_of(expires_ms: u64) -> Option<Instant> {
    match expires_ms {
        0 => None,
        ms => Instant::now().checked_add(Duration::from_millis(ms.saturating_sub(now_ms()))),
    }
}

/// Logs a tier failure met by a read: a tier that is unavailable, or a server that does
/// not answer, has logged why once itself (when it failed), so it is not repeated.
pub(super) fn log_failure(tier: Tier, error: &CacheError, what: &str) {
    let logged = match error {
        CacheError::TierUnavailable { .. } => true,
        #[cfg(feature = "redis")]
        CacheError::Redis { source, .. } => source
            .downcast_ref::<redis::RedisError>()
            .is_some_and(crate::tier::redis::is_outage),
        _ => false,
    };
    if logged {
        tracing::debug!(tier = %tier, error = %error, "{what}");
    } else {
        tracing::warn!(tier = %tier, error = %error, "{what}");
    }
}

/// The persistent tiers of a cache, as [`PERSISTENT`] lists them, each opened on first
/// use. Dropped with the cache's last clone: every open tier is flushed.
pub(super) struct Stores(pub(super) [LazyTier<Arc<dyn Store>>; PERSISTENT.len()]);

impl Stores {
    pub(super) fn new() -> Self {
        Stores(std::array::from_fn(|_| LazyTier::new()))
    }

    /// The tiers that are open.
    pub(super) fn open(&self) -> impl Iterator<Item = &dyn Store> {
        self.0.iter().filter_map(|s| s.get()).map(|store| &**store)
    }
}

impl Drop for Stores {
    fn drop(&mut self) {
        for store in self.open() {
            if let Err(e) = store.flush() {
                tracing::warn!(tier = %store.tier(), error = %e, "flush on drop failed");
            }
        }
    }
}
