//! What the memory tier keeps for one key: a [`Slot`], the value with its size, its home
//! tier and the times only some slots have; and how the value is held, shared behind an
//! `Arc` or, for the small results of a memoized function returning by value, in the slot
//! itself ([`Held`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use crate::{Cacheable, Tier};

/// One value in the memory tier, held as `H`: `Arc<V>`, or [`Held<V>`] in a memory tier
/// that holds small values inline. Kept small, as every hit copies it (a larger slot is a
/// slower hit: quick_cache's entries then spread over more cache lines), so the times
/// only some slots have live behind one pointer.
pub(crate) struct Slot<H> {
    value: H,
    /// Its times, shared by the clones of the slot; `None` for a value whose home is
    /// memory, with no deadline and no time to idle (most of them).
    times: Option<Arc<Times>>,
    /// Bytes of the value (its `size_hint`) and of its key.
    pub(super) bytes: u64,
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
        let copy = |at: &AtomicU64| AtomicU64::new(at.load(Relaxed));
        Times {
            disk_access: self.disk_access.as_ref().map(copy),
            read_ms: self.read_ms.as_ref().map(copy),
            deadline: self.deadline,
        }
    }
}

impl<H: Clone> Clone for Slot<H> {
    #[inline]
    fn clone(&self) -> Self {
        Slot {
            value: self.value.clone(),
            times: self.times.clone(),
            bytes: self.bytes,
            home: self.home,
        }
    }
}

impl<H> Slot<H> {
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
    pub(super) fn read_ms(&self) -> Option<&AtomicU64> {
        self.times.as_ref()?.read_ms.as_ref()
    }

    /// The slot, its last read set to `now_ms` (before it is first stored).
    pub(super) fn read_at(mut self, now_ms: u64) -> Self {
        let times = self.times.get_or_insert_with(Default::default);
        Arc::make_mut(times).read_ms = Some(AtomicU64::new(now_ms));
        self
    }

    /// The same slot, its value held as `value` makes it.
    #[inline]
    fn map<G>(self, value: impl FnOnce(H) -> G) -> Slot<G> {
        Slot {
            value: value(self.value),
            times: self.times,
            bytes: self.bytes,
            home: self.home,
        }
    }
}

impl<V: Cacheable> Slot<Arc<V>> {
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

impl<V> Slot<Arc<V>> {
    /// The slot as a tier holding values inline keeps it: its value inline when it is
    /// small and `clone` is known.
    pub(super) fn inlined(self, clone: Option<&fn(&V) -> V>) -> Slot<Held<V>> {
        match clone {
            Some(&clone) if self.bytes <= INLINE_MAX => {
                self.map(|value| Held::Inline(clone(&value), clone))
            }
            _ => self.map(Held::Shared),
        }
    }
}

impl<H> Slot<H> {
    /// The value, as the slot holds it.
    #[inline]
    pub fn value(self) -> H {
        self.value
    }
}

/// How a slot holds a value of type `V`.
pub(crate) trait Holder<V>: Clone {
    /// The value, to share.
    fn shared(self) -> Arc<V>;
    /// The value, to own: `clone` copies a shared one.
    fn owned(self, clone: fn(&V) -> V) -> V;

    /// Whether the value is held in the slot.
    #[cfg(test)]
    fn is_inline(&self) -> bool {
        false
    }
}

impl<V> Holder<V> for Arc<V> {
    #[inline]
    fn shared(self) -> Arc<V> {
        self
    }

    #[inline]
    fn owned(self, clone: fn(&V) -> V) -> V {
        clone(&self)
    }
}

impl<V> Holder<V> for Held<V> {
    #[inline]
    fn shared(self) -> Arc<V> {
        match self {
            Held::Shared(value) => value,
            Held::Inline(value, _) => Arc::new(value),
        }
    }

    #[inline]
    fn owned(self, clone: fn(&V) -> V) -> V {
        match self {
            Held::Shared(value) => clone(&value),
            Held::Inline(value, _) => value,
        }
    }

    #[cfg(test)]
    fn is_inline(&self) -> bool {
        matches!(self, Held::Inline(..))
    }
}

/// What a read of the memory tier makes of the slot it finds, however it holds its
/// value: a generic method, so that each store's hit is compiled on its own slot (a slot
/// converted from one form to the other is copied through the stack, a slower hit).
pub(crate) trait Read<V> {
    type Output;
    fn read<H: Holder<V>>(self, slot: Slot<H>) -> Self::Output;
}

/// A slot's value in a memory tier that holds small values inline (that of a memoized
/// function returning values, not `Arc`s): shared behind an `Arc`, or in the slot with the
/// function that clones it, so that a hit copies the value and touches no reference count.
pub(crate) enum Held<V> {
    Shared(Arc<V>),
    Inline(V, fn(&V) -> V),
}

impl<V> Clone for Held<V> {
    #[inline]
    fn clone(&self) -> Self {
        match self {
            Held::Shared(value) => Held::Shared(Arc::clone(value)),
            Held::Inline(value, clone) => Held::Inline(clone(value), *clone),
        }
    }
}

/// The largest slot (its value's `size_hint` and its key, in bytes) whose value is held
/// inline: larger values are cheaper to share than to copy on each hit.
const INLINE_MAX: u64 = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stay_small() {
        // Every hit copies a slot, and quick_cache's entries hold them: a byte more here
        // is a slower hit.
        assert_eq!(std::mem::size_of::<Slot<Arc<Vec<u8>>>>(), 32);
        assert!(std::mem::size_of::<Slot<Held<u64>>>() <= 40);
    }

    #[test]
    fn small_values_are_held_inline_and_large_ones_shared() {
        let clone: fn(&u64) -> u64 = |v| *v;
        let small = Slot::new(Arc::new(7u64), 8, 8, Tier::Memory, None).inlined(Some(&clone));
        assert!(matches!(small.value, Held::Inline(7, _)));
        assert_eq!(small.clone().value().owned(clone), 7);
        assert_eq!(*small.value().shared(), 7);

        let large = Slot::new(Arc::new(7u64), 4096, 8, Tier::Memory, None).inlined(Some(&clone));
        assert!(matches!(large.value, Held::Shared(_)));
        assert_eq!(large.value().owned(clone), 7);

        let unknown = Slot::new(Arc::new(7u64), 8, 8, Tier::Memory, None).inlined(None);
        assert!(matches!(unknown.value, Held::Shared(_)));
    }
}
