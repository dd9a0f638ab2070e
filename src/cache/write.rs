//! Writes: a value stored in its tier (whose failover store sends it to the tier's spare
//! while the tier cannot take it), and older values of the key removed from the other
//! tiers.

use super::*;

impl<K: CacheKey, V: Cacheable> Inner<K, V> {
    /// Stores a value in `tier` (and a copy in memory when small), and deletes older
    /// values of the key from the other tiers. Returns the tier the value went to: the
    /// tier's spare while it cannot take writes.
    ///
    /// An insert that fails changes nothing that could be read back: older values it could
    /// not delete stay consistent with the failed insert, and no stale copy stays in memory.
    ///
    /// `ttl`: the entry's own time to live; `None` for the cache's.
    pub(super) fn store(
        &self,
        key: K,
        value: Arc<V>,
        size: usize,
        tier: Tier,
        ttl: Option<Duration>,
    ) -> Result<Tier> {
        let ttl = ttl
            .or_else(|| self.ttl_of.and_then(|ttl_of| ttl_of(&*value)))
            .or(self.config.ttl);
        let key_size = std::mem::size_of::<K>();
        let mut home = tier;
        let result = (|| {
            if V::PLACEMENT == Placement::Pinned(Tier::Memory) {
                return Ok(());
            }
            // An earlier value of this key may be in another tier.
            let tiers = self.persistent_tiers();
            let stale_copy = tiers.len() > 1 && self.may_be_persisted(tiers, &key, tier);
            if tier == Tier::Memory && !stale_copy {
                return Ok(());
            }
            let address = self.address(&key)?;
            if stale_copy {
                self.remove_persistent(&address, Some(tier))?;
            }
            if tier == Tier::Memory {
                return Ok(());
            }
            let now = now_ms();
            let (codec, fingerprint) = self.identity(&value)?;
            let meta = EntryMeta {
                codec,
                fingerprint,
                created_ms: now,
                expires_ms: ttl.map_or(0, |ttl| {
                    now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
                        .max(1)
                }),
                compression: self.config.compression,
                options: crate::codec::CodecOptions {
                    image_format: self.config.image_format,
                },
            };
            let entry = OutgoingValue {
                meta: &meta,
                key: address.key(),
                value: &*value,
            };
            // The tier's failover store may send it to its spare (see `tier/failover.rs`):
            // memory alone, for a server that is down with no spare on disk.
            home = self.stores.open(tier)?.store(&address, &entry)?;
            if home == Tier::Memory && !self.uses_memory {
                return Err(CacheError::TierUnavailable {
                    tier: Tier::Memory,
                    reason: "the tier is down and its fallback is memory, which this cache does not keep (CacheConfig::capacity)",
                });
            }
            Ok(())
        })();
        if let Err(e) = result {
            Counters::bump(&self.counters.tier(home).errors);
            if self.uses_memory {
                let _write = self.generations.write(&key);
                self.memory.remove(&key);
            }
            tracing::warn!(tier = %home, error = %e, "insert failed");
            return Err(e);
        }
        if home != tier {
            Counters::bump(&self.counters.tier(tier).rerouted);
        }
        Counters::bump(&self.counters.tier(home).inserts);
        if !self.uses_memory {
            return Ok(home);
        }
        let deadline = ttl.and_then(|ttl| Instant::now().checked_add(ttl));
        let keep = home == Tier::Memory || crate::route::bytes(size) <= self.config.promote_max;
        let _write = self.generations.write(&key);
        if keep {
            self.memory
                .insert(key, Slot::new(value, size, key_size, home, deadline));
        } else {
            self.memory.remove(&key);
        }
        Ok(home)
    }

    /// The codec and type fingerprint an entry of `value` records: this cache's, or for a
    /// value of its own type that type's (mixed with the namespace's salt), which the
    /// program must know for the entry to be read back.
    fn identity(&self, value: &V) -> Result<(u16, u64)> {
        match (self.own_salt, value.__identity()?) {
            (Some(salt), Some((codec, fingerprint))) => Ok((codec, fingerprint ^ salt)),
            _ => Ok((<V::Codec as Codec<V>>::ID, self.fingerprint)),
        }
    }

    /// Whether one of `tiers` but `keep` may hold a value of `key`: `false` only when
    /// each says it holds none (sled holds no entry at all, the file tier's filter has no
    /// bit of the key), so that the insert need not look for one.
    fn may_be_persisted(&self, tiers: &[Tier], key: &K, keep: Tier) -> bool {
        let Some(hash) = key::hash_of(&self.namespace, self.config.key_version, key) else {
            return true;
        };
        tiers.iter().filter(|&&tier| tier != keep).any(|&tier| {
            match self.stores.open_if_exists(tier) {
                Ok(Some(store)) => store.may_hold(hash),
                Ok(None) => false,
                Err(_) => true,
            }
        })
    }

    /// Deletes the key from every persistent tier but `keep`. `Ok(true)` if one held it.
    pub(super) fn remove_persistent(&self, address: &Address, keep: Option<Tier>) -> Result<bool> {
        let mut removed = false;
        for &tier in self.persistent_tiers() {
            if Some(tier) == keep {
                continue;
            }
            let Some(store) = self.stores.open_if_exists(tier)? else {
                continue;
            };
            match store.remove(address) {
                Ok(found) => removed |= found,
                // An insert while a tier is down: the new value, in a tier read before it,
                // hides the old one until the tier is back.
                Err(e @ CacheError::TierUnavailable { .. }) if keep.is_some() => {
                    tracing::debug!(tier = %tier, error = %e, "insert: an older value could not be removed");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }
}
