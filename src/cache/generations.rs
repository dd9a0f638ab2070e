//! Per-key-stripe write generations, so that a slow read never promotes a value that a
//! later write replaced.

use super::*;

/// Per-key-stripe write generations. A write bumps the generation of its key's stripe
/// while it updates the memory tier; a read from below promotes its value into memory only
/// if the generation is still the one it saw before reading, so a slow read never puts
/// back a value that a later insert or remove replaced.
pub(super) struct Generations {
    pub(super) stripes: Box<[Mutex<u64>]>,
    pub(super) hasher: std::collections::hash_map::RandomState,
}

impl Generations {
    pub(super) fn new() -> Self {
        Generations {
            stripes: (0..64).map(|_| Mutex::new(0)).collect(),
            hasher: Default::default(),
        }
    }

    pub(super) fn stripe<K: std::hash::Hash + ?Sized>(&self, key: &K) -> &Mutex<u64> {
        use std::hash::BuildHasher;
        let i = self.hasher.hash_one(key) as usize % self.stripes.len();
        &self.stripes[i]
    }

    /// The generation of `key`'s stripe now.
    pub(super) fn current<K: std::hash::Hash + ?Sized>(&self, key: &K) -> u64 {
        *self.stripe(key).lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bumps the generation of `key`'s stripe, which stays locked (for the memory update
    /// of the write) until the guard is dropped.
    pub(super) fn write<K: std::hash::Hash + ?Sized>(
        &self,
        key: &K,
    ) -> std::sync::MutexGuard<'_, u64> {
        let mut generation = self.stripe(key).lock().unwrap_or_else(|p| p.into_inner());
        *generation += 1;
        generation
    }

    /// Runs a promotion of `key` if no write happened since generation `seen`.
    pub(super) fn promote_if_unchanged<K: std::hash::Hash + ?Sized>(
        &self,
        key: &K,
        seen: u64,
        promote: impl FnOnce(),
    ) {
        let generation = self.stripe(key).lock().unwrap_or_else(|p| p.into_inner());
        if *generation == seen {
            promote();
        }
    }

    /// Bumps every generation (after a clear).
    pub(super) fn bump_all(&self) {
        for stripe in self.stripes.iter() {
            *stripe.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        }
    }
}
