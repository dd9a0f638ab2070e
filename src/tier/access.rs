//! [`AccessTable`]: a lock-free record of recent reads, for the sled tier's time to idle
//! and least-recently-used eviction.
//!
//! A read stores one word, without a lock: the table is direct-mapped, slot `id % SLOTS`
//! holding the rest of the id as a tag and the time of the read. Two ids that share a slot
//! replace each other's record; the one replaced falls back to the time persisted in
//! `meta` or to its creation time, which can only make an entry look older than it is
//! (an earlier eviction or idle expiry: a miss, never a wrong value).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Slots in a table (a power of two).
const SLOTS: usize = 1 << 16;
const INDEX_BITS: u32 = SLOTS.trailing_zeros();
/// Bits of the id kept as the tag.
const TAG_BITS: u32 = 24;
/// Bits of the time, in ms since [`BASE_MS`]: 2^40 ms is 34 years.
const TIME_BITS: u32 = 64 - TAG_BITS;
/// 2020-01-01T00:00:00Z in ms since the Unix epoch.
const BASE_MS: u64 = 1_577_836_800_000;

/// The identity of an entry in the table and in `meta`: 40 bits of a hash of its key.
pub(crate) fn access_id(key: &[u8]) -> u64 {
    crate::hash::hash64(key) & ((1 << (INDEX_BITS + TAG_BITS)) - 1)
}

/// Recent reads by access id.
pub(crate) struct AccessTable {
    slots: Box<[AtomicU64]>,
}

impl AccessTable {
    pub fn new() -> Self {
        AccessTable {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn split(id: u64) -> (usize, u64) {
        ((id as usize) & (SLOTS - 1), id >> INDEX_BITS)
    }

    /// Records a read of `id` at `now_ms`.
    #[inline]
    pub fn record(&self, id: u64, now_ms: u64) {
        let (index, tag) = Self::split(id);
        let time = now_ms
            .saturating_sub(BASE_MS)
            .clamp(1, (1 << TIME_BITS) - 1);
        self.slots[index].store((tag << TIME_BITS) | time, Relaxed);
    }

    /// The last recorded read of `id`, if the table still holds it.
    #[inline]
    pub fn get(&self, id: u64) -> Option<u64> {
        let (index, tag) = Self::split(id);
        let word = self.slots[index].load(Relaxed);
        let time = word & ((1 << TIME_BITS) - 1);
        (time != 0 && word >> TIME_BITS == tag).then_some(time + BASE_MS)
    }

    /// Takes every record out of the table: `(id, ms)`.
    pub fn drain(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for (index, slot) in self.slots.iter().enumerate() {
            let word = slot.swap(0, Relaxed);
            let time = word & ((1 << TIME_BITS) - 1);
            if time != 0 {
                out.push((
                    ((word >> TIME_BITS) << INDEX_BITS) | index as u64,
                    time + BASE_MS,
                ));
            }
        }
        out
    }

    /// Forgets `id`.
    pub fn forget(&self, id: u64) {
        let (index, tag) = Self::split(id);
        let _ = self.slots[index]
            .fetch_update(Relaxed, Relaxed, |w| (w >> TIME_BITS == tag).then_some(0));
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for slot in self.slots.iter() {
            slot.store(0, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_and_drain() {
        let table = AccessTable::new();
        let a = access_id(b"a");
        let now = 1_800_000_000_123;
        assert_eq!(table.get(a), None);
        table.record(a, now);
        assert_eq!(table.get(a), Some(now));
        // Same slot, other tag: replaced, never confused.
        let b = a ^ (1 << INDEX_BITS);
        assert_eq!(table.get(b), None);
        table.record(b, now + 5);
        assert_eq!(table.get(a), None);
        assert_eq!(table.drain(), vec![(b, now + 5)]);
        assert_eq!(table.get(b), None);
        table.record(a, now);
        table.forget(b);
        assert_eq!(table.get(a), Some(now));
        table.forget(a);
        assert_eq!(table.get(a), None);
    }
}
