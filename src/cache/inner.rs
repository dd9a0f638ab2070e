//! The state every clone of a cache shares, the tiers it opens, and its memory front.

use super::*;
use crate::tier::memory::{Holder, Read};

pub(super) struct Inner<K, V> {
    pub(super) config: CacheConfig,
    pub(super) namespace: String,
    pub(super) router: Router,
    pub(super) fingerprint: u64,
    /// `CacheConfig::ttl_of`: each value's own time to live.
    pub(super) ttl_of: Option<fn(&V) -> Option<Duration>>,
    /// For values that carry their own types (an `AnyCache`): the namespace's salt, mixed
    /// into each entry's type fingerprint (see [`Inner::identity`]).
    pub(super) own_salt: Option<u64>,
    pub(super) counters: Arc<Counters>,
    pub(super) memory: MemoryTier<K, V>,
    /// The persistent tiers, each opened on first use (see `stores.rs`).
    pub(super) stores: Arc<Stores>,
    pub(super) flights: Mutex<HashMap<K, Arc<Flight<V>>>>,
    pub(super) generations: Generations,
    /// Whether the memory tier can hold values of this cache (not for a type pinned to a
    /// persistent tier with `promote_max(0)`).
    pub(super) uses_memory: bool,
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
            if let Some(store) = self.stores.opened(home) {
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

    /// The persistent tiers that may hold an entry of this cache, in the order to look.
    pub(super) fn persistent_tiers(&self) -> &'static [Tier] {
        self.router.persistent_tiers::<V>()
    }
}

impl<K: CacheKey, V: Cacheable> Inner<K, V> {
    /// Deletes every entry of the namespace, in every tier (`SmartCache::clear`).
    pub(super) fn clear(&self) -> Result<()> {
        for &tier in self.persistent_tiers() {
            if let Some(store) = self.stores.open_if_exists(tier)? {
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
        for store in self.stores.open_stores() {
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
        self.stores.path()
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
