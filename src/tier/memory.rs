//! The memory tier: a moka cache weighed by [`Cacheable::size_hint`].
//!
//! It holds the values whose home is memory, and copies of small values whose home is a
//! persistent tier (written through on insert, promoted on a read from below), so that hot
//! reads never touch the disk. Each slot remembers its home tier and its deadline, so a
//! copy never outlives the entry it copies.
//!
//! moka keeps one bound, by weight. With [`CacheConfig::max_entries`] each slot weighs at
//! least a quantum, `memory_capacity / max_entries`, so that the byte bound also bounds
//! the count (see [`Weights`]).

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
    /// Bytes of the value (its `size_hint`) and of its key.
    bytes: u64,
    deadline: Option<Instant>,
}

impl<V> Clone for Slot<V> {
    fn clone(&self) -> Self {
        Slot {
            value: Arc::clone(&self.value),
            home: self.home,
            disk_access: self.disk_access.clone(),
            bytes: self.bytes,
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
        let bytes = u64::try_from(size.saturating_add(key_size)).unwrap_or(u64::MAX);
        let disk_access = home
            .is_persistent()
            .then(|| Arc::new(std::sync::atomic::AtomicU64::new(crate::clock::now_ms())));
        Slot {
            value,
            home,
            disk_access,
            bytes,
            deadline,
        }
    }
}

/// How slots are weighed: in units of `unit` bytes, each at least `quantum` units, against
/// a capacity of `capacity` units.
///
/// With `max_entries = n`, the quantum is `memory_capacity / n` bytes (rounded up): as the
/// weights sum to at most the capacity, at most `n` slots fit, and as each weighs at least
/// its bytes, they hold at most `memory_capacity` bytes. moka weighs in `u32`, so when a
/// quantum is that large the weights count in larger units, rounded up (both bounds
/// still hold).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Weights {
    unit: u64,
    quantum: u64,
    capacity: u64,
}

impl Weights {
    fn new(memory_capacity: u64, max_entries: Option<u64>) -> Self {
        let Some(n) = max_entries.filter(|&n| n > 0) else {
            return Weights {
                unit: 1,
                quantum: 0,
                capacity: memory_capacity,
            };
        };
        let quantum_bytes = memory_capacity.div_ceil(n).max(1);
        // A quantum of at most 2^24 units leaves room for slots 256 times its size.
        let unit = (quantum_bytes >> 24).max(1);
        Weights {
            unit,
            quantum: quantum_bytes.div_ceil(unit),
            capacity: memory_capacity / unit,
        }
    }

    /// The weight of a slot of `bytes` (clamped to moka's `u32`: values that large never
    /// go to memory).
    fn of(&self, bytes: u64) -> u32 {
        let units = bytes.div_ceil(self.unit).max(self.quantum);
        u32::try_from(units).unwrap_or(u32::MAX)
    }

    /// Whether slots may weigh more than their bytes (then moka's weighed size is not
    /// the bytes held).
    fn padded(&self) -> bool {
        self.quantum > 0 || self.unit > 1
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
    /// Whether moka's weighed size is more than the bytes held (see [`Weights`]).
    padded: bool,
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
        let weights = Weights::new(config.memory_capacity, config.max_entries);
        let mut builder = moka::sync::Cache::builder()
            .max_capacity(weights.capacity)
            .weigher(move |_key: &K, slot: &Slot<V>| weights.of(slot.bytes))
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
            padded: weights.padded(),
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

    /// Entries and bytes held, after moka has applied pending work.
    pub fn usage(&self) -> (u64, u64) {
        self.cache.run_pending_tasks();
        let bytes = if self.padded {
            self.cache.iter().map(|(_, slot)| slot.bytes).sum()
        } else {
            self.cache.weighted_size()
        };
        (self.cache.entry_count(), bytes)
    }

    /// The keys of the slots held now, but those past their deadline.
    pub fn keys(&self) -> Vec<Arc<K>> {
        let now = Instant::now();
        self.cache
            .iter()
            .filter(|(_, slot)| slot.deadline.is_none_or(|d| now < d))
            .map(|(key, _)| key)
            .collect()
    }

    /// Drops every slot past its deadline. Returns how many went.
    pub fn purge_expired(&self) -> u64 {
        if self.expires {
            // moka expires slots itself; its pending work removes those due.
            let expirations = &self.counters.tier(Tier::Memory).expirations;
            let before = expirations.load(std::sync::atomic::Ordering::Relaxed);
            self.cache.run_pending_tasks();
            return expirations
                .load(std::sync::atomic::Ordering::Relaxed)
                .saturating_sub(before);
        }
        let now = Instant::now();
        let mut purged = 0;
        for (key, slot) in self.cache.iter() {
            if slot.deadline.is_some_and(|d| now >= d) && self.cache.remove(&*key).is_some() {
                Counters::bump(&self.counters.tier(Tier::Memory).expirations);
                purged += 1;
            }
        }
        purged
    }
}

#[cfg(test)]
mod tests {
    use super::Weights;

    #[test]
    fn weights_bound_both_bytes_and_entries() {
        let plain = Weights::new(1000, None);
        assert!(!plain.padded());
        assert_eq!((plain.of(10), plain.capacity), (10, 1000));

        let ten = Weights::new(1000, Some(10));
        assert_eq!(ten.of(1), 100, "a small slot weighs the quantum");
        assert_eq!(ten.of(250), 250, "a large one its bytes");
        assert_eq!(ten.capacity / u64::from(ten.of(1)), 10);

        // A quantum beyond u32: counted in larger units, both bounds kept.
        let huge = Weights::new(1 << 50, Some(3));
        assert!(huge.unit > 1);
        assert!(huge.capacity / u64::from(huge.of(1)) <= 3);
        let big = (1u64 << 49) - (1 << 40); // under half the capacity: two fit
        assert!(u64::from(huge.of(big)) * 2 <= huge.capacity);
        assert!(u64::from(huge.of(big)) * 3 > huge.capacity);

        // More entries than bytes: each still weighs at least one unit.
        let many = Weights::new(10, Some(1000));
        assert_eq!(many.of(0), 1);
    }
}
