//! [`AccessTable`]: a mostly lock-free record of recent reads, for the sled tier's time to
//! idle and least-recently-used eviction.
//!
//! A read stores one word, without a lock: the table is direct-mapped, slot `id % SLOTS`
//! holding the rest of the id as a tag and the time of the read. When a read takes a slot
//! that holds another id's record, that record moves to a small map (the only lock, taken
//! only then), so no access is forgotten before it is written to `meta`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

/// Slots in a table (a power of two).
const SLOTS: usize = 1 << 16;
const INDEX_BITS: u32 = SLOTS.trailing_zeros();
/// Bits of the id kept as the tag.
const TAG_BITS: u32 = 24;
/// Bits of the time, in ms since [`BASE_MS`]: 2^40 ms is 34 years.
const TIME_BITS: u32 = 64 - TAG_BITS;
/// 2020-01-01T00:00:00Z in ms since the Unix epoch.
const BASE_MS: u64 = 1_577_836_800_000;
/// Parked records that call for a write to `meta`.
const MAX_PARKED: usize = 1 << 16;

/// The identity of an entry in the table and in `meta`: 40 bits of a hash of its key.
pub(crate) fn access_id(key: &[u8]) -> u64 {
    crate::hash::hash64(key) & ((1 << (INDEX_BITS + TAG_BITS)) - 1)
}

/// Recent reads by access id.
pub(crate) struct AccessTable {
    slots: Box<[AtomicU64]>,
    /// Records pushed out of their slot, and records being written to `meta`.
    parked: Mutex<HashMap<u64, u64>>,
}

impl AccessTable {
    pub fn new() -> Self {
        AccessTable {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            parked: Mutex::new(HashMap::new()),
        }
    }

    fn split(id: u64) -> (usize, u64) {
        ((id as usize) & (SLOTS - 1), id >> INDEX_BITS)
    }

    /// The `(id, ms)` a slot word holds, if any.
    fn unpack(index: usize, word: u64) -> Option<(u64, u64)> {
        let time = word & ((1 << TIME_BITS) - 1);
        (time != 0).then(|| {
            (
                ((word >> TIME_BITS) << INDEX_BITS) | index as u64,
                time + BASE_MS,
            )
        })
    }

    fn parked(&self) -> MutexGuard<'_, HashMap<u64, u64>> {
        self.parked.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn park(parked: &mut HashMap<u64, u64>, id: u64, ms: u64) {
        let at = parked.entry(id).or_insert(ms);
        *at = (*at).max(ms);
    }

    /// Records a read of `id` at `now_ms`. Returns true when records have piled up and
    /// should be written to `meta`.
    #[inline]
    pub fn record(&self, id: u64, now_ms: u64) -> bool {
        let (index, tag) = Self::split(id);
        let time = now_ms
            .saturating_sub(BASE_MS)
            .clamp(1, (1 << TIME_BITS) - 1);
        let old = self.slots[index].swap((tag << TIME_BITS) | time, Relaxed);
        if old >> TIME_BITS != tag {
            if let Some((other, ms)) = Self::unpack(index, old) {
                let mut parked = self.parked();
                Self::park(&mut parked, other, ms);
                return parked.len() >= MAX_PARKED;
            }
        }
        false
    }

    /// The last recorded read of `id` not yet written to `meta`.
    #[inline]
    pub fn get(&self, id: u64) -> Option<u64> {
        let (index, tag) = Self::split(id);
        let word = self.slots[index].load(Relaxed);
        let time = word & ((1 << TIME_BITS) - 1);
        if time != 0 && word >> TIME_BITS == tag {
            return Some(time + BASE_MS);
        }
        self.parked().get(&id).copied()
    }

    /// Every record, to write to `meta`: `(id, ms)`. They stay readable (parked) until
    /// [`AccessTable::written`] says they are in `meta`.
    pub fn take(&self) -> Vec<(u64, u64)> {
        let mut parked = self.parked();
        for (index, slot) in self.slots.iter().enumerate() {
            if let Some((id, ms)) = Self::unpack(index, slot.swap(0, Relaxed)) {
                Self::park(&mut parked, id, ms);
            }
        }
        parked.iter().map(|(&id, &ms)| (id, ms)).collect()
    }

    /// The records returned by [`AccessTable::take`] are in `meta`: drop them, unless a
    /// newer read of the same id arrived meanwhile.
    pub fn written(&self, records: &[(u64, u64)]) {
        let mut parked = self.parked();
        for &(id, ms) in records {
            if parked.get(&id) == Some(&ms) {
                parked.remove(&id);
            }
        }
    }

    /// Forgets `id`.
    pub fn forget(&self, id: u64) {
        let (index, tag) = Self::split(id);
        let _ = self.slots[index]
            .fetch_update(Relaxed, Relaxed, |w| (w >> TIME_BITS == tag).then_some(0));
        self.parked().remove(&id);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for slot in self.slots.iter() {
            slot.store(0, Relaxed);
        }
        self.parked().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_never_lost_or_confused() {
        let table = AccessTable::new();
        let a = access_id(b"a");
        let now = 1_800_000_000_123;
        assert_eq!(table.get(a), None);
        table.record(a, now);
        assert_eq!(table.get(a), Some(now));
        // Same slot, other tag: `a` is parked, never confused with `b` or lost.
        let b = a ^ (1 << INDEX_BITS);
        assert_eq!(table.get(b), None);
        table.record(b, now + 5);
        assert_eq!(table.get(a), Some(now));
        assert_eq!(table.get(b), Some(now + 5));
        let mut taken = table.take();
        taken.sort_unstable();
        let mut expected = vec![(a, now), (b, now + 5)];
        expected.sort_unstable();
        assert_eq!(taken, expected);
        // Still readable until written; a newer read survives `written`.
        assert_eq!(table.get(b), Some(now + 5));
        table.record(a, now + 9);
        table.written(&taken);
        assert_eq!(table.get(b), None);
        assert_eq!(table.get(a), Some(now + 9));
        table.forget(a);
        assert_eq!(table.get(a), None);
    }
}
