//! The memory tier: slots weighed by [`Cacheable::size_hint`], in moka (`moka.rs`, for
//! the TinyLFU and LRU policies) or quick_cache (`quick.rs`, for CLOCK-Pro, the lightest
//! reads), as [`CacheConfig::eviction`] says.
//!
//! It holds the values whose home is memory, and copies of small values whose home is a
//! persistent tier (written through on insert, promoted on a read from below), so that hot
//! reads never touch the disk. Each slot remembers its home tier and its deadline, so a
//! copy never outlives the entry it copies.
//!
//! Both keep one bound, by weight. With [`CacheConfig::max_entries`] each slot weighs at
//! least a quantum, `memory_capacity / max_entries`, so that the byte bound also bounds
//! the count (see [`Weights`]).

mod moka;
mod quick;
mod slot;

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::{Arc, OnceLock};

use self::moka::MokaTier;
use self::quick::QuickTier;
pub(crate) use self::slot::{Held, Holder, Read, Slot};
use crate::config::{CacheConfig, Eviction};
use crate::stats::Counters;
use crate::Cacheable;

/// How slots are weighed: in units of `unit` bytes, each at least `quantum` units, against
/// a capacity of `capacity` units.
///
/// With `max_entries = n`, the quantum is `memory_capacity / n` bytes (rounded down) and
/// the capacity `n` quanta: as the weights sum to at most the capacity, at most `n` slots
/// fit (and `n` small ones do), and as each weighs at least its bytes, they hold at most
/// `memory_capacity` bytes. moka weighs in `u32`, so when a
/// quantum is that large the weights count in larger units, rounded up (both bounds
/// still hold).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Weights {
    pub(crate) unit: u64,
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
        // Rounded down, and the capacity made n quanta: n small slots fit exactly.
        let quantum_bytes = (memory_capacity / n).max(1);
        // A quantum of at most 2^24 units leaves room for slots 256 times its size.
        let unit = (quantum_bytes >> 24).max(1);
        let quantum = (quantum_bytes / unit).max(1);
        Weights {
            unit,
            quantum,
            capacity: quantum.saturating_mul(n).min(memory_capacity / unit),
        }
    }

    /// The weight of a slot of `bytes`: at least 1 (quick_cache never evicts a slot of
    /// weight 0).
    fn of(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.unit).max(self.quantum).max(1)
    }

    /// The weight of a slot of `bytes`, clamped to moka's `u32` (values that large never go
    /// to memory).
    fn of_u32(&self, bytes: u64) -> u32 {
        u32::try_from(self.of(bytes)).unwrap_or(u32::MAX)
    }

    /// Whether slots may weigh more than their bytes (then moka's weighed size is not
    /// the bytes held).
    fn padded(&self) -> bool {
        self.quantum > 0 || self.unit > 1
    }
}

/// The fewest entries a `max_entries` bound may allow for the memory tier to be on
/// quick_cache.
pub(crate) const MIN_CLOCKPRO_ENTRIES: u64 = 32;

/// The memory tier of a cache, on the store its eviction policy calls for.
pub(crate) struct MemoryTier<K, V> {
    store: Store<K, V>,
    /// For a tier that holds small values inline: how to clone a value, once the first
    /// hit by value has said (see [`Held`]).
    inline: OnceLock<fn(&V) -> V>,
}

/// The store underneath: moka or quick_cache, with values shared (`Arc<V>`, the
/// smallest slot) or, on quick_cache for a memoized function returning values (on
/// `Eviction::ClockPro`, a memo's default), held inline when small. moka holds them
/// shared only: a moka store for each way of holding values would compile moka's generic
/// code once more for every cache type (a third longer to build the tests).
enum Store<K, V> {
    Moka(MokaTier<K, Arc<V>>),
    Quick(QuickTier<K, Arc<V>>),
    QuickInline(QuickTier<K, Held<V>>),
}

/// Calls the same method of whichever store the tier is on.
macro_rules! on_store {
    ($tier:expr, $store:ident => $call:expr) => {
        match &$tier.store {
            Store::Moka($store) => $call,
            Store::Quick($store) => $call,
            Store::QuickInline($store) => $call,
        }
    };
}

impl<K, V> MemoryTier<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Cacheable,
{
    /// The memory tier on `config`; with `inline` and on quick_cache, one that holds small
    /// values in their slots (see [`MemoryTier::hold_inline`]).
    pub fn new(config: &CacheConfig, counters: Arc<Counters>, inline: bool) -> Self {
        let weights = Weights::new(config.memory_capacity, config.max_entries);
        // quick_cache's queues need a few dozen entries to a shard: a smaller count bound
        // is moka's.
        let few = config.max_entries.is_some_and(|n| n < MIN_CLOCKPRO_ENTRIES);
        let quick = matches!(config.policy().eviction(), Eviction::ClockPro) && !few;
        let store = match (quick, inline) {
            (true, false) => Store::Quick(QuickTier::new(config, weights, counters)),
            (false, _) => Store::Moka(MokaTier::new(config, weights, counters)),
            (true, true) => Store::QuickInline(QuickTier::new(config, weights, counters)),
        };
        MemoryTier {
            store,
            inline: OnceLock::new(),
        }
    }

    /// For a tier made to hold values inline: from now on, small values are held in
    /// their slots, cloned by `clone`.
    #[inline]
    pub fn hold_inline(&self, clone: fn(&V) -> V) {
        if matches!(self.store, Store::QuickInline(_)) {
            self.inline.get_or_init(|| clone);
        }
    }

    /// The slot of `key`, as `read` takes it (each store holds its values its own way).
    #[inline]
    pub fn get<Q, R: Read<V>>(&self, key: &Q, read: R) -> Option<R::Output>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match &self.store {
            Store::Moka(store) => store.get(key).map(|slot| read.read(slot)),
            Store::Quick(store) => store.get(key, read),
            Store::QuickInline(store) => store.get(key, read),
        }
    }

    pub fn insert(&self, key: K, slot: Slot<Arc<V>>) {
        match &self.store {
            Store::Moka(store) => store.insert(key, slot),
            Store::Quick(store) => store.insert(key, slot),
            Store::QuickInline(store) => store.insert(key, slot.inlined(self.inline.get())),
        }
    }

    /// Drops the slot of `key`. Whether there was one.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        on_store!(self, store => store.remove(key).is_some())
    }

    pub fn clear(&self) {
        on_store!(self, store => store.clear())
    }

    /// Entries and bytes held (not the weights), expired slots left out.
    pub fn usage(&self) -> (u64, u64) {
        on_store!(self, store => store.usage())
    }

    /// The keys of the slots held now, but those that have expired.
    pub fn keys(&self) -> Vec<K> {
        on_store!(self, store => store.keys())
    }

    /// Drops every slot that has expired. Returns how many went.
    pub fn purge_expired(&self) -> u64 {
        on_store!(self, store => store.purge_expired())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tier;

    /// Reads whether a slot holds its value inline, and the value.
    struct Probe;

    impl Read<u64> for Probe {
        type Output = (bool, u64);

        fn read<H: Holder<u64>>(self, slot: Slot<H>) -> (bool, u64) {
            let value = slot.value();
            (value.is_inline(), *value.shared())
        }
    }

    #[test]
    fn a_tier_made_to_hold_values_inline_does_so_once_told_how_to_clone() {
        for eviction in [Eviction::ClockPro, Eviction::TinyLfu] {
            let config = CacheConfig::default().eviction(eviction);
            let slot = |value: u64| Slot::new(Arc::new(value), 8, 8, Tier::Memory, None);
            let inline: MemoryTier<u64, u64> =
                MemoryTier::new(&config, Arc::new(Counters::default()), true);
            inline.insert(1, slot(10));
            inline.hold_inline(|v| *v);
            inline.insert(2, slot(20));
            inline.insert(3, Slot::new(Arc::new(30), 4096, 8, Tier::Memory, None));
            // On quick_cache only (moka's stores hold values shared).
            let held = eviction == Eviction::ClockPro;
            assert_eq!(inline.get(&1, Probe), Some((false, 10)), "{eviction:?}");
            assert_eq!(inline.get(&2, Probe), Some((held, 20)), "{eviction:?}");
            assert_eq!(
                inline.get(&3, Probe),
                Some((false, 30)),
                "{eviction:?}: large"
            );

            let shared: MemoryTier<u64, u64> =
                MemoryTier::new(&config, Arc::new(Counters::default()), false);
            shared.hold_inline(|v| *v);
            shared.insert(2, slot(20));
            assert_eq!(shared.get(&2, Probe), Some((false, 20)), "{eviction:?}");
        }
    }

    #[test]
    fn weights_bound_both_bytes_and_entries() {
        let plain = Weights::new(1000, None);
        assert!(!plain.padded());
        assert_eq!((plain.of(10), plain.capacity), (10, 1000));

        // Capacities that n does not divide: still n small slots.
        for (capacity, n) in [(256 << 20, 1000), (1000, 3), (1_000_000_000, 1), (10, 1000)] {
            let w = Weights::new(capacity, Some(n));
            let fit = w.capacity / w.of(1);
            assert_eq!(fit, n.min(capacity), "{capacity} bytes, {n} entries: {w:?}");
            assert!(w.capacity * w.unit <= capacity, "{w:?}");
        }

        let ten = Weights::new(1000, Some(10));
        assert_eq!(ten.of(1), 100, "a small slot weighs the quantum");
        assert_eq!(ten.of(250), 250, "a large one its bytes");
        assert_eq!(ten.capacity / ten.of(1), 10);

        // A quantum beyond u32: counted in larger units, both bounds kept.
        let huge = Weights::new(1 << 50, Some(3));
        assert!(huge.unit > 1);
        assert_eq!(huge.capacity / u64::from(huge.of_u32(1)), 3);
        let big = (1u64 << 49) - (1 << 40); // under half the capacity: two fit
        assert!(u64::from(huge.of_u32(big)) * 2 <= huge.capacity);
        assert!(u64::from(huge.of_u32(big)) * 3 > huge.capacity);

        // More entries than bytes: each still weighs at least one unit.
        let many = Weights::new(10, Some(1000));
        assert_eq!(many.of(0), 1);
    }
}
