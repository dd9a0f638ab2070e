//! What a persistent tier holds and may hold: the [`Usage`] it reports, the [`Gauge`]
//! that counts its entries, bytes and evictions, and the [`Limits`] it keeps.

use super::Tier;
use crate::CacheError;

/// Entries and bytes held by a tier.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usage {
    pub entries: u64,
    pub bytes: u64,
    pub evictions: u64,
    /// Bytes the tier's folder takes on disk, leftovers and store overhead included.
    pub disk_bytes: u64,
    /// Damaged stores set aside and replaced.
    pub quarantined: u64,
    /// Panics raised inside the store's engine and contained (sled).
    pub contained_panics: u64,
}

/// Subtracts from a counter without wrapping below zero.
fn saturating_sub(counter: &std::sync::atomic::AtomicU64, n: u64) {
    use std::sync::atomic::Ordering::Relaxed;
    let _ = counter.fetch_update(Relaxed, Relaxed, |c| Some(c.saturating_sub(n)));
}

/// The entries, bytes and evictions of a persistent tier.
#[derive(Debug, Default)]
pub(crate) struct Gauge {
    count: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
    evictions: std::sync::atomic::AtomicU64,
}

impl Gauge {
    /// An entry of `len` bytes was written, replacing one of `old` bytes if any.
    pub fn stored(&self, old: Option<u64>, len: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        match old {
            Some(old) => saturating_sub(&self.bytes, old),
            None => {
                self.count.fetch_add(1, Relaxed);
            }
        }
        self.bytes.fetch_add(len, Relaxed);
    }

    /// An entry of `len` bytes is gone.
    pub fn removed(&self, len: u64) {
        saturating_sub(&self.bytes, len);
        saturating_sub(&self.count, 1);
    }

    /// An eviction happened.
    pub fn evicted(&self) {
        self.evictions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets the entries and bytes (after counting them, or clearing).
    pub fn set(&self, count: u64, bytes: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.count.store(count, Relaxed);
        self.bytes.store(bytes, Relaxed);
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn usage(&self) -> Usage {
        use std::sync::atomic::Ordering::Relaxed;
        Usage {
            entries: self.count.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            evictions: self.evictions.load(Relaxed),
            disk_bytes: 0,
            quarantined: 0,
            contained_panics: 0,
        }
    }
}

/// What a tier may hold: bytes and entries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub bytes: u64,
    pub entries: u64,
}

impl Limits {
    /// The bounds of a tier: `bytes`, and `max_entries` entries if set.
    pub fn of(bytes: u64, max_entries: Option<u64>) -> Self {
        Limits {
            bytes,
            entries: max_entries.unwrap_or(u64::MAX),
        }
    }

    /// Half of these limits.
    pub fn halved(self) -> Self {
        Limits {
            bytes: self.bytes / 2,
            entries: self.entries / 2,
        }
    }

    /// Where an eviction stops, for a tier of `capacity` bytes and at most `max_entries`:
    /// 90% of each, so that the next writes do not evict again at once (and, for a few
    /// entries, one fewer).
    pub fn after_eviction(capacity: u64, max_entries: Option<u64>) -> Self {
        Limits {
            bytes: capacity / 10 * 9,
            entries: max_entries.map_or(u64::MAX, |n| n - (n / 10).max(1)),
        }
    }

    /// Whether `usage` is within these limits.
    pub fn holds(&self, usage: Usage) -> bool {
        usage.bytes <= self.bytes && usage.entries <= self.entries
    }
}

/// The error for an entry of `len` bytes that can never fit in a tier of `capacity`.
pub(crate) fn too_large(tier: Tier, len: u64, capacity: u64) -> CacheError {
    CacheError::config(
        format!("an entry of {len} bytes is larger than the {tier} tier's disk_capacity of {capacity} bytes"),
        "raise CacheConfig::disk_capacity (or, for sled, lower CacheConfig::file_threshold so large values go to files)",
    )
}
