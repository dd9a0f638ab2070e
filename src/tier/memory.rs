//! The memory tier: a moka cache weighed by [`Cacheable::size_hint`].
//!
//! It holds the values whose home is memory, and copies of small values whose home is a
//! persistent tier (written through on insert, promoted on a read from below), so that hot
//! reads never touch the disk. Each slot remembers its home tier and its deadline, so a
//! copy never outlives the entry it copies.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use moka::Expiry;

use crate::config::{CacheConfig, Eviction};
use crate::stats::Counters;
use crate::{Cacheable, Tier};

/// One value in the memory tier.
pub(crate) struct Slot<V> {
    pub value: Arc<V>,
    /// Where the value lives (its home tier): `Memory`, or the persistent tier it copies.
    pub home: Tier,
    /// For a copy of a persisted value: when its home tier last heard of a read (ms since
    /// the Unix epoch), shared by the clones of this slot.
    pub disk_access: Option<Arc<std::sync::atomic::AtomicU64>>,
    weight: u32,
    deadline: Option<Instant>,
}

impl<V> Clone for Slot<V> {
    fn clone(&self) -> Self {
        Slot {
            value: Arc::clone(&self.value),
            home: self.home,
            disk_access: self.disk_access.clone(),
            weight: self.weight,
            deadline: self.deadline,
        }
    }
}

impl<V: Cacheable> Slot<V> {
    /// A slot for `value` of `size` bytes (its `size_hint`), living in `home`, that must be
    /// gone by `deadline`.
    pub fn new(
        value: Arc<V>,
        size: usize,
        key_size: usize,
        home: Tier,
        deadline: Option<Instant>,
    ) -> Self {
        // moka weighs in u32: clamp (values that large never go to memory anyway).
        let weight = u32::try_from(size.saturating_add(key_size)).unwrap_or(u32::MAX);
        let disk_access = home
            .is_persistent()
            .then(|| Arc::new(std::sync::atomic::AtomicU64::new(crate::clock::now_ms())));
        Slot {
            value,
            home,
            disk_access,
            weight,
            deadline,
        }
    }
}

/// Expiry per slot: its own deadline (time to live, or the persisted entry's expiry) and
/// the cache's time to idle, whichever comes first.
struct SlotExpiry {
    tti: Option<Duration>,
}

impl SlotExpiry {
    fn remaining<V>(&self, slot: &Slot<V>, now: Instant) -> Option<Duration> {
        let until_deadline = slot.deadline.map(|d| d.saturating_duration_since(now));
        match (until_deadline, self.tti) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl<K, V> Expiry<K, Slot<V>> for SlotExpiry {
    fn expire_after_create(
        &self,
        _key: &K,
        slot: &Slot<V>,
        created_at: Instant,
    ) -> Option<Duration> {
        self.remaining(slot, created_at)
    }

    fn expire_after_read(
        &self,
        _key: &K,
        slot: &Slot<V>,
        read_at: Instant,
        duration_until_expiry: Option<Duration>,
        _last_modified_at: Instant,
    ) -> Option<Duration> {
        match self.tti {
            Some(_) => self.remaining(slot, read_at),
            None => duration_until_expiry,
        }
    }

    fn expire_after_update(
        &self,
        _key: &K,
        slot: &Slot<V>,
        updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        self.remaining(slot, updated_at)
    }
}

/// The moka front of a cache.
pub(crate) struct MemoryTier<K, V> {
    cache: moka::sync::Cache<K, Slot<V>>,
    /// Whether moka expires slots itself (the cache has a ttl or tti). Otherwise the few
    /// slots with a deadline (`insert_with_ttl`, `ttl_of`, a persisted entry's expiry) are
    /// checked when read.
    expires: bool,
    counters: Arc<Counters>,
}

impl<K, V> MemoryTier<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Cacheable,
{
    pub fn new(config: &CacheConfig, counters: Arc<Counters>) -> Self {
        let policy = match config.eviction {
            Eviction::TinyLfu => EvictionPolicy::tiny_lfu(),
            Eviction::Lru => EvictionPolicy::lru(),
        };
        let expired = Arc::clone(&counters);
        let mut builder = moka::sync::Cache::builder()
            .max_capacity(config.memory_capacity)
            .weigher(|_key: &K, slot: &Slot<V>| slot.weight)
            .eviction_policy(policy)
            .eviction_listener(move |_key, _slot, cause| {
                let memory = counters.tier(Tier::Memory);
                match cause {
                    RemovalCause::Size => Counters::bump(&memory.evictions),
                    RemovalCause::Expired => Counters::bump(&memory.expirations),
                    RemovalCause::Explicit | RemovalCause::Replaced => {}
                }
            });
        // Per-slot expiry costs a little on every read: install it only when this cache
        // has a ttl or tti. Without it, a slot's deadline is checked when it is read.
        let expires = config.ttl.is_some() || config.tti.is_some();
        if expires {
            builder = builder.expire_after(SlotExpiry { tti: config.tti });
        }
        MemoryTier {
            cache: builder.build(),
            expires,
            counters: expired,
        }
    }

    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<Slot<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.cache.get(key)?;
        if !self.expires && slot.deadline.is_some_and(|d| Instant::now() >= d) {
            return self.expire(key);
        }
        Some(slot)
    }

    /// Drops a slot past its deadline (in a cache where moka does not expire slots).
    #[cold]
    fn expire<Q>(&self, key: &Q) -> Option<Slot<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.cache.remove(key).is_some() {
            Counters::bump(&self.counters.tier(Tier::Memory).expirations);
        }
        None
    }

    pub fn insert(&self, key: K, slot: Slot<V>) {
        self.cache.insert(key, slot);
    }

    pub fn remove<Q>(&self, key: &Q) -> Option<Slot<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.remove(key)
    }

    pub fn clear(&self) {
        self.cache.invalidate_all();
        self.cache.run_pending_tasks();
    }

    /// Entries and weighed bytes, after moka has applied pending work.
    pub fn usage(&self) -> (u64, u64) {
        self.cache.run_pending_tasks();
        (self.cache.entry_count(), self.cache.weighted_size())
    }
}
