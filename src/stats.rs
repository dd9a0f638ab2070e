//! Statistics: the counters a cache keeps per tier ([`TierStats`]) and the snapshot that
//! [`SmartCache::stats`](crate::SmartCache::stats) returns ([`CacheStats`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::Tier;

/// What one tier has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TierStats {
    /// Reads this tier answered.
    pub hits: u64,
    /// Reads this tier could not answer.
    pub misses: u64,
    /// Values written to this tier (as their home tier).
    pub inserts: u64,
    /// Entries dropped to stay within capacity.
    pub evictions: u64,
    /// Entries dropped because their time to live or to idle ran out.
    pub expirations: u64,
    /// Entries refused as corrupt, truncated or colliding (then removed).
    pub invalid: u64,
    /// Entries of another value type, VERSION, codec or envelope format (another build of
    /// smartcache) met by a read: misses, left for the cache or build they belong to (an
    /// insert of the same key replaces them; capacity eviction reclaims stale ones).
    pub foreign: u64,
    /// Reads or writes that failed (I/O, locks, codecs).
    pub errors: u64,
    /// Entries held now.
    pub entries: u64,
    /// Bytes held now (memory: weighed by `size_hint`; disk: entry sizes).
    pub bytes: u64,
    /// Bytes the tier's folder takes on disk when `stats()` is called: entries plus the
    /// store's own overhead and any crash leftovers not yet reclaimed (persistent tiers).
    pub disk_bytes: u64,
    /// Values bound for this tier that went to another because this one could not take
    /// them (another process holds the sled database, or the tier had failed).
    pub rerouted: u64,
    /// Damaged stores of this tier set aside (quarantined) and replaced by fresh ones.
    pub quarantined: u64,
    /// Panics raised inside the tier's engine (sled 0.34, on some damaged stores) and
    /// contained: none reached the caller. The process's panic hook still printed each
    /// one; the warning logged beside it says so.
    pub contained_panics: u64,
}

impl TierStats {
    /// Adds what a persistent tier reports of itself: entries, bytes, evictions.
    pub(crate) fn add_usage(&mut self, usage: crate::tier::Usage) {
        self.entries = usage.entries;
        self.bytes = usage.bytes;
        self.disk_bytes = usage.disk_bytes;
        self.quarantined = usage.quarantined;
        self.contained_panics = usage.contained_panics;
        self.evictions += usage.evictions;
    }
}

/// A snapshot of a cache's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads answered by any tier.
    pub hits: u64,
    /// Reads no tier could answer.
    pub misses: u64,
    /// The memory tier (which also holds copies of small persisted values).
    pub memory: TierStats,
    /// The sled tier.
    pub sled: TierStats,
    /// The file tier.
    pub file: TierStats,
    /// The Redis tier (feature `redis`).
    #[cfg(feature = "redis")]
    pub redis: TierStats,
}

impl CacheStats {
    /// The statistics of one tier.
    pub fn tier(&self, tier: Tier) -> &TierStats {
        match tier {
            Tier::Memory => &self.memory,
            Tier::Sled => &self.sled,
            Tier::File => &self.file,
            #[cfg(feature = "redis")]
            Tier::Redis => &self.redis,
        }
    }

    /// The statistics of one tier, to fill in.
    pub(crate) fn tier_mut(&mut self, tier: Tier) -> &mut TierStats {
        match tier {
            Tier::Memory => &mut self.memory,
            Tier::Sled => &mut self.sled,
            Tier::File => &mut self.file,
            #[cfg(feature = "redis")]
            Tier::Redis => &mut self.redis,
        }
    }

    /// Hits over reads, from 0.0 to 1.0 (0.0 before any read).
    pub fn hit_ratio(&self) -> f64 {
        let reads = self.hits + self.misses;
        if reads == 0 {
            0.0
        } else {
            self.hits as f64 / reads as f64
        }
    }

    /// Entries refused as invalid, in all tiers.
    pub fn invalid(&self) -> u64 {
        Tier::ALL.iter().map(|&t| self.tier(t).invalid).sum()
    }

    /// Failed reads or writes, in all tiers.
    pub fn errors(&self) -> u64 {
        Tier::ALL.iter().map(|&t| self.tier(t).errors).sum()
    }
}

impl fmt::Display for CacheStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "hits {} misses {} (hit ratio {:.1}%)",
            self.hits,
            self.misses,
            self.hit_ratio() * 100.0
        )?;
        writeln!(
            f,
            "{:<7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7} {:>9} {:>12}",
            "tier",
            "hits",
            "misses",
            "inserts",
            "evicted",
            "expired",
            "invalid",
            "foreign",
            "errors",
            "entries",
            "bytes"
        )?;
        for tier in Tier::ALL {
            let s = self.tier(tier);
            writeln!(
                f,
                "{:<7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7} {:>9} {:>12}",
                tier.name(),
                s.hits,
                s.misses,
                s.inserts,
                s.evictions,
                s.expirations,
                s.invalid,
                s.foreign,
                s.errors,
                s.entries,
                s.bytes
            )?;
        }
        Ok(())
    }
}

/// Live counters of one tier.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct TierCounters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub inserts: AtomicU64,
    pub evictions: AtomicU64,
    pub expirations: AtomicU64,
    pub invalid: AtomicU64,
    pub foreign: AtomicU64,
    pub errors: AtomicU64,
    pub rerouted: AtomicU64,
}

impl TierCounters {
    fn snapshot(&self) -> TierStats {
        TierStats {
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            inserts: self.inserts.load(Relaxed),
            evictions: self.evictions.load(Relaxed),
            expirations: self.expirations.load(Relaxed),
            invalid: self.invalid.load(Relaxed),
            foreign: self.foreign.load(Relaxed),
            errors: self.errors.load(Relaxed),
            rerouted: self.rerouted.load(Relaxed),
            entries: 0,
            bytes: 0,
            disk_bytes: 0,
            quarantined: 0,
            contained_panics: 0,
        }
    }
}

/// Live counters of a cache.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Reads answered by another thread's computation (`get_with` followers); the other
    /// hits are the tiers' hits.
    pub shared_hits: AtomicU64,
    pub misses: AtomicU64,
    /// Hits in memory, the hottest counter: striped, so that threads hitting one cache
    /// do not fight over one cache line (the memory tier's `hits`; see `count_hit`).
    pub memory_hits: Striped,
    tiers: [TierCounters; Tier::ALL.len()],
}

/// Stripes of a [`Striped`] counter: the first half each owned by one thread, the
/// second shared by the threads after those.
const STRIPES: usize = 32;
/// Threads that get a stripe of their own.
const OWNED: usize = STRIPES / 2;

/// A counter that many threads bump at once: each thread on its own stripe, a stripe to
/// each pair of cache lines, since processors fetch lines in pairs and two neighbouring
/// stripes would still be shared.
///
/// The first [`OWNED`] threads of the process to bump one each own a stripe, which only
/// they ever write: they bump it with a load and a store, no locked instruction (the
/// hottest path of a memory hit). Later threads share the other stripes, dealt in turn,
/// and bump them with an atomic add.
#[derive(Debug, Default)]
pub(crate) struct Striped([Stripe; STRIPES]);

#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

impl Striped {
    #[inline]
    pub fn bump(&self) {
        let i = stripe();
        let stripe = &self.0[i].0;
        if i < OWNED {
            // Only this thread writes this stripe: nothing to race with.
            stripe.store(stripe.load(Relaxed).wrapping_add(1), Relaxed);
        } else {
            stripe.fetch_add(1, Relaxed);
        }
    }

    pub fn sum(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Relaxed)).sum()
    }
}

/// This thread's stripe: its own if it is one of the first [`OWNED`] threads to ask,
/// else one of the shared ones.
#[inline]
fn stripe() -> usize {
    use std::cell::Cell;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|stripe| {
        let mut i = stripe.get();
        if i == usize::MAX {
            let n = NEXT.fetch_add(1, Relaxed) as usize;
            i = if n < OWNED {
                n
            } else {
                OWNED + n % (STRIPES - OWNED)
            };
            stripe.set(i);
        }
        i
    })
}

impl Counters {
    #[inline]
    pub fn tier(&self, tier: Tier) -> &TierCounters {
        &self.tiers[tier as usize]
    }

    #[inline]
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self) -> CacheStats {
        let mut stats = CacheStats {
            hits: self.shared_hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            memory: TierStats {
                hits: self.memory_hits.sum(),
                ..self.tier(Tier::Memory).snapshot()
            },
            sled: self.tier(Tier::Sled).snapshot(),
            file: self.tier(Tier::File).snapshot(),
            #[cfg(feature = "redis")]
            redis: self.tier(Tier::Redis).snapshot(),
        };
        stats.hits += Tier::ALL.iter().map(|&t| stats.tier(t).hits).sum::<u64>();
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_striped_counter_counts_every_bump_of_owning_and_sharing_threads() {
        let counter = Striped::default();
        // More threads than owned stripes, all bumping at once: some share stripes.
        std::thread::scope(|s| {
            for _ in 0..3 * OWNED {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        counter.bump();
                    }
                });
            }
        });
        assert_eq!(counter.sum(), 3 * OWNED as u64 * 10_000);
    }
}
