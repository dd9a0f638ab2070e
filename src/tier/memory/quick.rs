//! The memory tier on quick_cache, for [`Eviction::ClockPro`]: reads take a shard's read
//! lock and touch nothing shared, so a hit costs a fraction of moka's. quick_cache keeps
//! no clock: a slot's deadline and its time to idle are checked when it is read, an
//! expired slot met by eviction counts as expired, and `purge_expired` (which `stats`
//! runs when slots can expire) removes the rest.
//!
//! [`Eviction::ClockPro`]: crate::Eviction::ClockPro

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, Weighter};

use super::{Holder, Read, Slot, Weights};
use crate::clock::monotonic_coarse_ms as coarse_now_ms;
use crate::config::CacheConfig;
use crate::stats::Counters;
use crate::Tier;

/// Each shard should hold at least this many entries of the `max_entries` quantum.
const ENTRIES_PER_SHARD: u64 = 32;
/// At most this many shards: reads share a shard's lock, so more buy little.
const MAX_SHARDS: u64 = 8;

/// Weighs slots as [`Weights`] says.
#[derive(Clone)]
struct SlotWeighter(Weights);

impl<K, H> Weighter<K, Slot<H>> for SlotWeighter {
    fn weight(&self, _key: &K, slot: &Slot<H>) -> u64 {
        self.0.of(slot.bytes)
    }
}

/// Collects what quick_cache lets go of during an insert (evicted slots, the slot a new
/// one replaces, a new one too large to admit), to be counted by [`QuickTier::insert`]
/// once the shard's lock is released.
#[derive(Clone)]
struct Evictions;

impl<K, H> Lifecycle<K, Slot<H>> for Evictions {
    type RequestState = Dropped<K, H>;

    fn on_evict(&self, dropped: &mut Self::RequestState, key: K, slot: Slot<H>) {
        match dropped.first {
            None => dropped.first = Some((key, slot)),
            Some(_) => dropped.more.push((key, slot)),
        }
    }
}

/// What one insert let go of: most often one slot (the one it replaced), kept without
/// allocating; more (evictions) in a list.
struct Dropped<K, H> {
    first: Option<(K, Slot<H>)>,
    more: Vec<(K, Slot<H>)>,
}

impl<K, H> Default for Dropped<K, H> {
    fn default() -> Self {
        Dropped {
            first: None,
            more: Vec::new(),
        }
    }
}

/// Whether `slot` is past its deadline or has idled out, at `now` (and `now_ms` on the
/// coarse monotonic clock).
fn expired<H>(slot: &Slot<H>, tti_ms: Option<u64>, now: Instant, now_ms: u64) -> bool {
    slot.deadline().is_some_and(|d| now >= d) || idled_out(slot, tti_ms, now_ms)
}

fn idled_out<H>(slot: &Slot<H>, tti_ms: Option<u64>, now_ms: u64) -> bool {
    match (tti_ms, slot.read_ms()) {
        (Some(tti), Some(read)) => now_ms.saturating_sub(read.load(Relaxed)) >= tti,
        _ => false,
    }
}

/// A quick_cache cache of slots, each holding its value as `H` (see [`Slot`]).
pub(crate) struct QuickTier<K, H> {
    cache: quick_cache::sync::Cache<K, Slot<H>, SlotWeighter, DefaultHashBuilder, Evictions>,
    /// The time to idle, in milliseconds.
    tti_ms: Option<u64>,
    /// Whether some slot may expire (a ttl, a tti, or a slot given a deadline): then usage
    /// first removes the expired ones.
    may_expire: AtomicBool,
    weights: Weights,
    /// The heaviest slot a shard admits: a heavier value is not kept in memory.
    shard_capacity: u64,
    /// Whether a value too large for a shard has been logged.
    oversize_warned: AtomicBool,
    counters: Arc<Counters>,
}

impl<K, H> QuickTier<K, H>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    H: Clone + Send + Sync + 'static,
{
    pub fn new(config: &CacheConfig, weights: Weights, counters: Arc<Counters>) -> Self {
        // Shards split the capacity, so that threads rarely share a lock: each must hold
        // a promoted copy, and, with max_entries, enough entries that the keys' spread
        // over shards does not matter. A value larger than a shard is not kept (see
        // `insert`).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        let mut shards = (threads * 4).clamp(1, MAX_SHARDS);
        while shards > 1 && config.memory_capacity / shards < config.promote_max {
            shards /= 2;
        }
        if let Some(n) = config.max_entries {
            shards = shards.min((n / ENTRIES_PER_SHARD).max(1));
        }
        let shards = 1u64 << shards.ilog2();
        let estimated = match config.max_entries {
            Some(n) => n,
            None => config.memory_capacity / 1024,
        };
        // Each shard gets capacity / shards rounded up: take the rounding off first, so
        // that the shards together hold at most the capacity.
        let capacity = weights.capacity.saturating_sub(shards - 1).max(1);
        let options = OptionsBuilder::new()
            .shards(shards as usize)
            .estimated_items_capacity(estimated.clamp(ENTRIES_PER_SHARD, 1 << 20) as usize)
            .weight_capacity(capacity)
            .build()
            .expect("shards, items and weight capacity are all positive");
        let tti_ms = config
            .tti
            .map(|tti| u64::try_from(tti.as_millis()).unwrap_or(u64::MAX));
        QuickTier {
            // quick_cache admits a slot of at most its hot share of a shard (97%).
            shard_capacity: capacity / shards / 100 * 97,
            oversize_warned: AtomicBool::new(false),
            weights,
            cache: quick_cache::sync::Cache::with_options(
                options,
                SlotWeighter(weights),
                DefaultHashBuilder::default(),
                Evictions,
            ),
            tti_ms,
            may_expire: AtomicBool::new(config.ttl.is_some() || config.tti.is_some()),
            counters,
        }
    }

    /// The slot of `key`, as `read` takes it. A slot that may have expired is checked
    /// on a path of its own, so that the common hit hands its slot straight to `read`
    /// (merged, the two paths would pass the slot through the stack).
    #[inline]
    pub fn get<Q, V, R: Read<V>>(&self, key: &Q, read: R) -> Option<R::Output>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        H: Holder<V>,
    {
        let slot = self.cache.get(key)?;
        if slot.deadline().is_some() || self.tti_ms.is_some() {
            return self.check_time(key, slot).map(|slot| read.read(slot));
        }
        Some(read.read(slot))
    }

    /// A slot read that may have expired: dropped if it has, else its read recorded.
    #[inline(never)]
    fn check_time<Q>(&self, key: &Q, slot: Slot<H>) -> Option<Slot<H>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now_ms = coarse_now_ms();
        if expired(&slot, self.tti_ms, Instant::now(), now_ms) {
            self.expire(key);
            return None;
        }
        if let Some(read) = slot.read_ms() {
            if read.load(Relaxed) != now_ms {
                read.store(now_ms, Relaxed);
            }
        }
        Some(slot)
    }

    /// Drops the slot of `key` if it has expired (not one written since).
    #[cold]
    fn expire<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (tti_ms, now, now_ms) = (self.tti_ms, Instant::now(), coarse_now_ms());
        let removed = self
            .cache
            .remove_if(key, |slot| expired(slot, tti_ms, now, now_ms));
        if removed.is_some() {
            Counters::bump(&self.counters.tier(Tier::Memory).expirations);
        }
    }

    pub fn insert(&self, key: K, mut slot: Slot<H>) {
        if self.weights.of(slot.bytes) > self.shard_capacity
            && !self.oversize_warned.swap(true, Relaxed)
        {
            tracing::warn!(
                bytes = slot.bytes,
                shard_bytes = self.shard_capacity * self.weights.unit,
                "memory tier (ClockPro): a value larger than one of its shards is not kept in memory; raise memory_capacity, or use Eviction::TinyLfu"
            );
        }
        if self.tti_ms.is_some() {
            slot = slot.read_at(coarse_now_ms());
        }
        if slot.deadline().is_some() && !self.may_expire.load(Relaxed) {
            self.may_expire.store(true, Relaxed);
        }
        let mut dropped = Dropped::default();
        // quick_cache turns away a slot heavier than its hot share of a shard.
        let heavy = self.weights.of(slot.bytes) > self.shard_capacity / 2;
        self.cache
            .insert_with_lifecycle(key.clone(), slot, &mut dropped);
        let memory = self.counters.tier(Tier::Memory);
        // A slot let go of under the inserted key is the one this insert replaced, which
        // is not an eviction (moka does not count it either); or the new slot itself,
        // turned away for its weight, which is.
        if heavy && !self.cache.contains_key(&key) {
            Counters::bump(&memory.evictions);
        }
        let mut now = None;
        for (old_key, old) in dropped.first.iter().chain(&dropped.more) {
            if *old_key == key {
                continue;
            }
            let (now, now_ms) = *now.get_or_insert_with(|| (Instant::now(), coarse_now_ms()));
            if expired(old, self.tti_ms, now, now_ms) {
                Counters::bump(&memory.expirations);
            } else {
                Counters::bump(&memory.evictions);
            }
        }
    }

    pub fn remove<Q>(&self, key: &Q) -> Option<Slot<H>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.remove(key).map(|(_, slot)| slot)
    }

    pub fn clear(&self) {
        self.cache.clear();
    }

    /// Entries and bytes held, expired slots removed first.
    pub fn usage(&self) -> (u64, u64) {
        if self.may_expire.load(Relaxed) {
            self.purge_expired();
        }
        let bytes = if self.weights.padded() {
            self.cache.iter().map(|(_, slot)| slot.bytes).sum()
        } else {
            self.cache.weight()
        };
        (self.cache.len() as u64, bytes)
    }

    /// The keys of the slots held now, but those that have expired.
    pub fn keys(&self) -> Vec<K> {
        let (now, now_ms) = (Instant::now(), coarse_now_ms());
        self.cache
            .iter()
            .filter(|(_, slot)| !expired(slot, self.tti_ms, now, now_ms))
            .map(|(key, _)| key)
            .collect()
    }

    /// Drops every slot that has expired. Returns how many went.
    pub fn purge_expired(&self) -> u64 {
        let (tti_ms, now, now_ms) = (self.tti_ms, Instant::now(), coarse_now_ms());
        let purged = AtomicU64::new(0);
        self.cache.retain(|_, slot| {
            let keep = !expired(slot, tti_ms, now, now_ms);
            if !keep {
                purged.fetch_add(1, Relaxed);
            }
            keep
        });
        let purged = purged.into_inner();
        self.counters
            .tier(Tier::Memory)
            .expirations
            .fetch_add(purged, Relaxed);
        purged
    }
}
