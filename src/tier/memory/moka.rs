//! The memory tier on moka, for [`Eviction::TinyLfu`] and [`Eviction::Lru`]: moka applies
//! its bounds in its pending work, and, in a cache with a ttl or tti, expires slots itself
//! (per-slot deadlines and the time to idle); otherwise the few slots with a deadline are
//! checked when read.
//!
//! What moka removes on its own is counted by its eviction listener only where moka
//! expires slots (a cache with a ttl or tti), which needs the causes told apart. A
//! listener makes moka lock each key on every insert (to order its notifications), which
//! more than doubles an insert's cost; elsewhere the count comes from a [`Tally`].

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::moka::notification::RemovalCause;
use ::moka::policy::EvictionPolicy;
use ::moka::Expiry;

use super::{Slot, Weights};
use crate::config::{CacheConfig, Eviction};
use crate::stats::Counters;
use crate::Tier;

/// Expiry per slot: its own deadline (time to live, or the persisted entry's expiry) and
/// the cache's time to idle, whichever comes first.
struct SlotExpiry {
    tti: Option<Duration>,
}

impl SlotExpiry {
    fn remaining<H>(&self, slot: &Slot<H>, now: Instant) -> Option<Duration> {
        let until_deadline = slot.deadline().map(|d| d.saturating_duration_since(now));
        match (until_deadline, self.tti) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl<K, H> Expiry<K, Slot<H>> for SlotExpiry {
    fn expire_after_create(
        &self,
        _key: &K,
        slot: &Slot<H>,
        created_at: Instant,
    ) -> Option<Duration> {
        self.remaining(slot, created_at)
    }

    fn expire_after_read(
        &self,
        _key: &K,
        slot: &Slot<H>,
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
        slot: &Slot<H>,
        updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        self.remaining(slot, updated_at)
    }
}

/// What moka removed on its own, known without a listener: slots started on a key moka
/// did not hold, less the slots this tier ended itself (removed, expired, cleared), less
/// the slots held. In a cache without a ttl or tti, moka removes slots only to keep its
/// bounds: that difference is the evictions.
///
/// Inserts of one key are serialized by the cache (its generation stripes), so the count
/// is exact, but for a key moka evicts between the look and the insert (one eviction not
/// counted).
#[derive(Default)]
struct Tally {
    started: AtomicU64,
    ended: AtomicU64,
}

impl Tally {
    /// Evictions, given the entries held once moka's pending work has run.
    fn evictions(&self, held: u64) -> u64 {
        self.started
            .load(Relaxed)
            .saturating_sub(self.ended.load(Relaxed))
            .saturating_sub(held)
    }
}

/// A moka cache of slots, each holding its value as `H` (see [`Slot`]).
pub(crate) struct MokaTier<K, H> {
    cache: moka::sync::Cache<K, Slot<H>>,
    /// `None` where moka's listener counts evictions and expirations (it expires slots).
    tally: Option<Tally>,
    /// Whether moka expires slots itself (the cache has a ttl or tti). Otherwise the few
    /// slots with a deadline (`insert_with_ttl`, `ttl_of`, a persisted entry's expiry) are
    /// checked when read.
    expires: bool,
    /// Whether moka's weighed size is more than the bytes held (see [`Weights`]).
    padded: bool,
    counters: Arc<Counters>,
}

impl<K, H> MokaTier<K, H>
where
    K: Hash + Eq + Send + Sync + 'static,
    H: Clone + Send + Sync + 'static,
{
    pub fn new(config: &CacheConfig, weights: Weights, counters: Arc<Counters>) -> Self {
        let policy = match config.policy().eviction() {
            Eviction::Lru => EvictionPolicy::lru(),
            _ => EvictionPolicy::tiny_lfu(),
        };
        let mut builder = moka::sync::Cache::builder()
            .max_capacity(weights.capacity)
            .weigher(move |_key: &K, slot: &Slot<H>| weights.of_u32(slot.bytes))
            .eviction_policy(policy);
        // Per-slot expiry costs a little on every read: install it only when this cache
        // has a ttl or tti. Without it, a slot's deadline is checked when it is read.
        let expires = config.ttl.is_some() || config.tti.is_some();
        if expires {
            let listener = Arc::clone(&counters);
            builder = builder
                .expire_after(SlotExpiry { tti: config.tti })
                .eviction_listener(move |_key, _slot, cause| {
                    let memory = listener.tier(Tier::Memory);
                    match cause {
                        RemovalCause::Size => Counters::bump(&memory.evictions),
                        RemovalCause::Expired => Counters::bump(&memory.expirations),
                        RemovalCause::Explicit | RemovalCause::Replaced => {}
                    }
                });
        }
        MokaTier {
            cache: builder.build(),
            tally: (!expires).then(Tally::default),
            expires,
            padded: weights.padded(),
            counters,
        }
    }

    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<Slot<H>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.cache.get(key)?;
        if !self.expires && slot.deadline().is_some_and(|d| Instant::now() >= d) {
            return self.expire(key);
        }
        Some(slot)
    }

    /// Drops a slot past its deadline (in a cache where moka does not expire slots).
    #[cold]
    fn expire<Q>(&self, key: &Q) -> Option<Slot<H>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.remove(key).is_some() {
            Counters::bump(&self.counters.tier(Tier::Memory).expirations);
        }
        None
    }

    pub fn insert(&self, key: K, slot: Slot<H>) {
        if let Some(tally) = &self.tally {
            if !self.cache.contains_key(&key) {
                tally.started.fetch_add(1, Relaxed);
            }
        }
        self.cache.insert(key, slot);
    }

    pub fn remove<Q>(&self, key: &Q) -> Option<Slot<H>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let removed = self.cache.remove(key);
        if let (Some(tally), Some(_)) = (&self.tally, &removed) {
            tally.ended.fetch_add(1, Relaxed);
        }
        removed
    }

    pub fn clear(&self) {
        if let Some(tally) = &self.tally {
            self.cache.run_pending_tasks();
            tally.ended.fetch_add(self.cache.entry_count(), Relaxed);
        }
        self.cache.invalidate_all();
        self.cache.run_pending_tasks();
    }

    /// Entries and bytes held, after moka has applied pending work (which, in a cache
    /// whose evictions are tallied, brings the count of evictions up to date).
    pub fn usage(&self) -> (u64, u64) {
        self.cache.run_pending_tasks();
        let entries = self.cache.entry_count();
        if let Some(tally) = &self.tally {
            let evictions = &self.counters.tier(Tier::Memory).evictions;
            evictions.fetch_max(tally.evictions(entries), Relaxed);
        }
        let bytes = if self.padded {
            self.cache.iter().map(|(_, slot)| slot.bytes).sum()
        } else {
            self.cache.weighted_size()
        };
        (entries, bytes)
    }

    /// The keys of the slots held now, but those past their deadline.
    pub fn keys(&self) -> Vec<K>
    where
        K: Clone,
    {
        let now = Instant::now();
        self.cache
            .iter()
            .filter(|(_, slot)| slot.deadline().is_none_or(|d| now < d))
            .map(|(key, _)| K::clone(&key))
            .collect()
    }

    /// Drops every slot past its deadline. Returns how many went.
    pub fn purge_expired(&self) -> u64 {
        let expirations = &self.counters.tier(Tier::Memory).expirations;
        let before = expirations.load(Relaxed);
        if self.expires {
            // moka expires slots itself; its pending work removes those due.
            self.cache.run_pending_tasks();
        } else {
            let now = Instant::now();
            for (key, slot) in self.cache.iter() {
                if slot.deadline().is_some_and(|d| now >= d) {
                    self.expire(&*key);
                }
            }
        }
        expirations.load(Relaxed).saturating_sub(before)
    }
}
