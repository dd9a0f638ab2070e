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

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use self::moka::MokaTier;
use self::quick::QuickTier;
use crate::config::{CacheConfig, Eviction};
use crate::stats::Counters;
use crate::{Cacheable, Tier};

/// One value in the memory tier. Kept small, as every hit copies it: the times only some
/// slots have live behind one pointer.
pub(crate) struct Slot<V> {
    pub value: Arc<V>,
    /// Its times, shared by the clones of the slot; `None` for a value whose home is
    /// memory, with no deadline and no time to idle (most of them).
    times: Option<Arc<Times>>,
    /// Bytes of the value (its `size_hint`) and of its key.
    bytes: u64,
    /// Where the value lives (its home tier): `Memory`, or the persistent tier it copies.
    pub home: Tier,
}

/// The times of a slot that has any.
#[derive(Default)]
struct Times {
    /// For a copy of a persisted value: when its home tier last heard of a read (ms since
    /// the Unix epoch).
    disk_access: Option<AtomicU64>,
    /// With a time to idle, in quick_cache: when the slot was last read (ms on the
    /// coarse monotonic clock).
    read_ms: Option<AtomicU64>,
    deadline: Option<Instant>,
}

/// A copy of each time, as it is now (for a slot whose times are shared already).
impl Clone for Times {
    fn clone(&self) -> Self {
        let copy = |at: &AtomicU64| AtomicU64::new(at.load(std::sync::atomic::Ordering::Relaxed));
        Times {
            disk_access: self.disk_access.as_ref().map(copy),
            read_ms: self.read_ms.as_ref().map(copy),
            deadline: self.deadline,
        }
    }
}

impl<V> Clone for Slot<V> {
    fn clone(&self) -> Self {
        Slot {
            value: Arc::clone(&self.value),
            times: self.times.clone(),
            bytes: self.bytes,
            home: self.home,
        }
    }
}

impl<V> Slot<V> {
    /// When the slot must be gone, if ever.
    #[inline]
    pub fn deadline(&self) -> Option<Instant> {
        self.times.as_ref().and_then(|times| times.deadline)
    }

    /// For a copy of a persisted value: when its home tier last heard of a read.
    #[inline]
    pub fn disk_access(&self) -> Option<&AtomicU64> {
        self.times.as_ref()?.disk_access.as_ref()
    }

    /// With a time to idle (quick_cache): when the slot was last read.
    #[inline]
    fn read_ms(&self) -> Option<&AtomicU64> {
        self.times.as_ref()?.read_ms.as_ref()
    }

    /// The slot, its last read set to `now_ms` (before it is first stored).
    fn read_at(mut self, now_ms: u64) -> Self {
        let times = self.times.get_or_insert_with(Default::default);
        Arc::make_mut(times).read_ms = Some(AtomicU64::new(now_ms));
        self
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
            .then(|| AtomicU64::new(crate::clock::now_ms()));
        let times = (disk_access.is_some() || deadline.is_some()).then(|| {
            Arc::new(Times {
                disk_access,
                read_ms: None,
                deadline,
            })
        });
        Slot {
            value,
            times,
            bytes,
            home,
        }
    }
}

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
pub(crate) enum MemoryTier<K, V> {
    Moka(MokaTier<K, V>),
    Quick(QuickTier<K, V>),
}

/// Calls the same method of whichever store the tier is on.
macro_rules! on_store {
    ($tier:expr, $store:ident => $call:expr) => {
        match $tier {
            MemoryTier::Moka($store) => $call,
            MemoryTier::Quick($store) => $call,
        }
    };
}

impl<K, V> MemoryTier<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Cacheable,
{
    pub fn new(config: &CacheConfig, counters: Arc<Counters>) -> Self {
        let weights = Weights::new(config.memory_capacity, config.max_entries);
        // quick_cache's queues need a few dozen entries to a shard: a smaller count bound
        // is moka's.
        let few = config.max_entries.is_some_and(|n| n < MIN_CLOCKPRO_ENTRIES);
        match config.policy().eviction() {
            Eviction::ClockPro if !few => {
                MemoryTier::Quick(QuickTier::new(config, weights, counters))
            }
            _ => MemoryTier::Moka(MokaTier::new(config, weights, counters)),
        }
    }

    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<Slot<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        on_store!(self, store => store.get(key))
    }

    pub fn insert(&self, key: K, slot: Slot<V>) {
        on_store!(self, store => store.insert(key, slot))
    }

    pub fn remove<Q>(&self, key: &Q) -> Option<Slot<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        on_store!(self, store => store.remove(key))
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
    use super::Weights;

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
