//! The persistent tier an operation goes to, by reference: one enum over the tiers, since
//! their generic methods rule out `dyn`.

use super::*;

/// A persistent tier, by reference (the tiers have generic methods, so no `dyn`).
#[derive(Clone, Copy)]
pub(super) enum Persistent<'a> {
    Sled(&'a SledTier),
    File(&'a FileTier),
}

impl Persistent<'_> {
    pub(super) fn tier(self) -> Tier {
        match self {
            Persistent::Sled(_) => Tier::Sled,
            Persistent::File(_) => Tier::File,
        }
    }
    pub(super) fn store<V: Cacheable>(
        self,
        address: &Address,
        meta: &EntryMeta,
        value: &V,
    ) -> Result<u64> {
        match self {
            Persistent::Sled(t) => t.store(address, meta, value),
            Persistent::File(t) => t.store(address, meta, value),
        }
    }
    pub(super) fn load<V: Cacheable>(
        self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> std::result::Result<Option<Loaded<V>>, LoadError> {
        match self {
            Persistent::Sled(t) => t.load(address, expect),
            Persistent::File(t) => t.load(address, expect),
        }
    }
    pub(super) fn probe(
        self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> std::result::Result<bool, LoadError> {
        match self {
            Persistent::Sled(t) => t.probe(address, expect),
            Persistent::File(t) => t.probe(address, expect),
        }
    }
    pub(super) fn remove(self, address: &Address) -> Result<bool> {
        match self {
            Persistent::Sled(t) => t.remove(address),
            Persistent::File(t) => t.remove(address),
        }
    }
    pub(super) fn clear(self) -> Result<()> {
        match self {
            Persistent::Sled(t) => t.clear(),
            Persistent::File(t) => t.clear(),
        }
    }
    pub(super) fn flush(self) -> Result<()> {
        match self {
            Persistent::Sled(t) => t.flush(),
            Persistent::File(t) => t.flush(),
        }
    }
    pub(super) fn touch(self, address: &Address, now_ms: u64) {
        match self {
            Persistent::Sled(t) => t.touch(address, now_ms),
            Persistent::File(t) => t.touch(address, now_ms),
        }
    }
    pub(super) fn usage(self) -> Usage {
        match self {
            Persistent::Sled(t) => t.usage(),
            Persistent::File(t) => t.usage(),
        }
    }
}
