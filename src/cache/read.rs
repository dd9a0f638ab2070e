//! Reads below the memory front: the persistent tiers in order, bad entries counted and
//! removed, and hits promoted into memory.

use super::*;

impl<K: CacheKey, V: Cacheable> Inner<K, V> {
    /// Looks below the memory tier (which already missed). A hit is copied into memory
    /// when `promote` (and the value is small enough). Never inlined: a memory hit's
    /// code stays small without this path, which reads storage.
    #[inline(never)]
    pub(super) fn get_below<Q>(&self, key: &Q, promote: bool) -> Result<Option<Arc<V>>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ToOwned<Owned = K> + ?Sized,
    {
        if self.uses_memory {
            Counters::bump(&self.counters.tier(Tier::Memory).misses);
        }
        let tiers = self.persistent_tiers();
        if tiers.is_empty() {
            Counters::bump(&self.counters.misses);
            return Ok(None);
        }
        let address = self.address(key)?;
        let expect = self.expect(&address);
        let generation = (promote && self.uses_memory).then(|| self.generations.current(key));
        let mut failure = None;
        for &tier in tiers {
            let store = match self.stores.open_if_exists(tier) {
                Ok(Some(store)) => store,
                Ok(None) => continue,
                Err(e) => {
                    Counters::bump(&self.counters.tier(tier).errors);
                    log_failure(tier, &e, "get: tier unavailable");
                    failure.get_or_insert(e);
                    continue;
                }
            };
            let mut into = IncomingValue::<V>::new(self.own_salt);
            match store.load(&address, &expect, &mut into) {
                Ok(Some(loaded)) => {
                    let Some(value) = into.value else {
                        // A tier that reports a hit has decoded the value.
                        Counters::bump(&self.counters.tier(tier).errors);
                        tracing::error!(tier = %tier, "a tier reported a hit without a value");
                        continue;
                    };
                    // The tier that held it: `tier`, or its spare (see `tier/failover.rs`).
                    let held = loaded.tier;
                    self.count_hit(held);
                    return Ok(Some(self.promote(key, value, loaded, held, generation)));
                }
                Ok(None) => Counters::bump(&self.counters.tier(tier).misses),
                Err(LoadError::Failed(e)) => {
                    Counters::bump(&self.counters.tier(tier).errors);
                    log_failure(tier, &e, "get: read failed");
                    failure.get_or_insert(e);
                }
                Err(e) => {
                    Counters::bump(&self.counters.tier(tier).misses);
                    self.discard(store, &address, e);
                }
            }
        }
        Counters::bump(&self.counters.misses);
        match failure {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// Counts and logs an entry a read refused, and deletes it unless it is another
    /// cache's (foreign): an expired or invalid one.
    pub(super) fn discard(&self, store: &dyn Store, address: &Address, why: LoadError) {
        let tier = store.tier();
        let counters = self.counters.tier(tier);
        let key_hash = format_args!("{:032x}", address.hash());
        match &why {
            LoadError::Expired => {
                Counters::bump(&counters.expirations);
                tracing::debug!(tier = %tier, key_hash = %key_hash, "expired entry removed");
            }
            LoadError::Foreign => {
                // Another cache's, another version's or another build's: left in place.
                Counters::bump(&counters.foreign);
                tracing::debug!(tier = %tier, key_hash = %key_hash, "entry of another type, version or envelope format: a miss, left in place");
                return;
            }
            LoadError::Invalid(reason) => {
                Counters::bump(&counters.invalid);
                tracing::warn!(tier = %tier, key_hash = %key_hash, reason = %reason, "invalid entry treated as a miss and removed");
            }
            LoadError::Failed(_) => return,
        }
        if let Err(e) = store.remove(address) {
            Counters::bump(&counters.errors);
            tracing::warn!(tier = %tier, key_hash = %key_hash, error = %e, "cannot remove a bad entry");
        }
    }

    /// Puts a copy of a value read from `tier` in memory, when small enough and when no
    /// write to the key happened since the read began (`generation`).
    pub(super) fn promote<Q>(
        &self,
        key: &Q,
        value: V,
        loaded: Loaded,
        tier: Tier,
        generation: Option<u64>,
    ) -> Arc<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ToOwned<Owned = K> + ?Sized,
    {
        let value = Arc::new(value);
        let Some(generation) = generation else {
            return value;
        };
        let size = value.size_hint();
        if crate::route::bytes(size) <= self.config.promote_max {
            let deadline = deadline_of(loaded.expires_ms);
            let slot = Slot::new(
                Arc::clone(&value),
                size,
                std::mem::size_of::<K>(),
                tier,
                deadline,
            );
            self.generations
                .promote_if_unchanged(key, generation, || self.memory.insert(key.to_owned(), slot));
        }
        value
    }
}
