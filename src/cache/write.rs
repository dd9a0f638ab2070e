//! Writes: a value stored in its tier (or its fallback, while its tier cannot take it),
//! older values of the key removed from the other tiers, and entries handed to the shared
//! file tier while other processes want them (sled, held by one process).

use super::*;

impl<K: CacheKey, V: Cacheable> Inner<K, V> {
    /// Stores a value in `tier` (and a copy in memory when small), and deletes older
    /// values of the key from the other tiers. Returns the tier the value went to: the
    /// file tier, which every process sees, while the value's tier cannot take writes.
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
            if tier.is_persistent() && tier != Tier::File && !self.takes_writes(tier) {
                home = self.fallback_of(tier);
                if tier == Tier::Sled {
                    self.mark_sled_values_in_files();
                }
                self.hand_over_entries();
            }
            // An earlier value of this key may be in another tier.
            let tiers = self.persistent_tiers();
            let stale_copy = tiers.len() > 1 && self.may_be_persisted(tiers, &key, home);
            // A value whose home is memory: kept by the memory tier below.
            let in_memory = || match tier {
                Tier::Memory => Ok(()),
                _ => self.memory_fallback(),
            };
            if home == Tier::Memory && !stale_copy {
                return in_memory();
            }
            let address = self.address(&key)?;
            if stale_copy {
                self.remove_persistent(&address, Some(home))?;
            }
            if home == Tier::Memory {
                return in_memory();
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
            match self.open(home)?.store(&address, &entry) {
                // The tier failed and now says it cannot take writes (Redis went down
                // during this insert): the value goes to the fallback, as the next ones.
                Err(e) if home != Tier::File && !self.takes_writes(home) => {
                    tracing::debug!(tier = %home, error = %e, "insert: the tier went down; the value goes to its fallback");
                    Counters::bump(&self.counters.tier(home).errors);
                    home = self.fallback_of(home);
                    if home == Tier::Memory {
                        return self.memory_fallback();
                    }
                    self.open(home)?.store(&address, &entry).map(|_| ())
                }
                stored => stored.map(|_| ()),
            }
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
        self.note_rerouting(tier, home);
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

    /// Where values bound for `tier` go while it takes no writes: its fallback (the file
    /// tier, or what `CacheConfig::redis_fallback` says), or the file tier when the
    /// fallback takes no writes either (sled, held by another process).
    pub(super) fn fallback_of(&self, tier: Tier) -> Tier {
        let fallback = self.open(tier).map_or(Tier::File, |store| store.fallback());
        if fallback.is_persistent() && fallback != Tier::File && !self.takes_writes(fallback) {
            Tier::File
        } else {
            fallback
        }
    }

    /// `Ok` if a value may live in memory alone (a pinned memory type, or the fallback of
    /// a tier that is down): the cache keeps a memory tier.
    fn memory_fallback(&self) -> Result<()> {
        if self.uses_memory {
            Ok(())
        } else {
            Err(CacheError::TierUnavailable {
                tier: Tier::Memory,
                reason: "the tier is down and its fallback is memory, which this cache does not keep (CacheConfig::capacity)",
            })
        }
    }

    /// Whether `tier` takes writes now (for sled: open, held by this process, and not
    /// wanted by other processes).
    pub(super) fn takes_writes(&self, tier: Tier) -> bool {
        self.open(tier).is_ok_and(|store| store.takes_writes())
    }

    /// Leaves the marker that the file tier holds values bound for sled.
    pub(super) fn mark_sled_values_in_files(&self) {
        if self.sled_values_in_files.swap(true, Relaxed) {
            return;
        }
        if let Ok(dir) = &self.dir {
            let marker = paths::sled_values_marker(dir);
            match paths::create_file(&marker, self.config.secure) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    tracing::warn!(path = %marker.display(), error = %e, "cannot mark the file tier as holding sled-bound values");
                    self.sled_values_in_files.store(false, Relaxed);
                }
            }
        }
    }

    /// Moves up to a batch of entries from tiers that other processes want but cannot
    /// read (sled, while they wait for its lock) to the file tier, as they are (times,
    /// type and all). An entry already in the file tier is newer and stays; a moved entry
    /// leaves its tier only if it did not change.
    pub(super) fn hand_over_entries(&self) {
        const BATCH: usize = 32;
        for store in self.open_stores() {
            let entries = store.entries_to_hand_over(BATCH);
            if entries.is_empty() {
                continue;
            }
            let Ok(files) = self.open(Tier::File) else {
                return;
            };
            if store.tier() == Tier::Sled {
                self.mark_sled_values_in_files();
            }
            for moving in entries {
                if let Some((_, key)) = crate::entry::head_of(&moving.entry) {
                    let address = key::address_of_encoded(&self.namespace, key);
                    if let Err(e) = files.adopt(&address, &moving.entry) {
                        tracing::debug!(tier = %store.tier(), error = %e, "cannot move an entry to the file tier");
                        return;
                    }
                }
                // Moved, or not an entry this build can read (damaged, or of another
                // build's format, which it cannot lay out for files): either way it leaves
                // its tier, so that the hand-over gets through the rest.
                store.handed_over(&moving);
            }
        }
    }

    /// Counts a value that went to `home` instead of `tier`, and logs when rerouting
    /// starts and ends.
    pub(super) fn note_rerouting(&self, tier: Tier, home: Tier) {
        if !tier.is_persistent() || tier == Tier::File {
            return;
        }
        let rerouted = home != tier;
        if rerouted {
            Counters::bump(&self.counters.tier(tier).rerouted);
        }
        if self.rerouting.swap(rerouted, Relaxed) != rerouted {
            if rerouted && tier != Tier::Sled {
                // A server that is down has said so, once, itself.
                tracing::debug!(namespace = %self.namespace, tier = %tier, fallback = %home,
                    "the tier cannot take values now: they go to its fallback");
            } else if rerouted {
                tracing::warn!(namespace = %self.namespace, tier = %tier,
                    "the tier cannot take values now (another process holds it, or it failed): they go to the file tier");
            } else {
                tracing::info!(namespace = %self.namespace, tier = %tier, "the tier takes values again");
            }
        }
    }

    /// Whether one of `tiers` but `keep` may hold a value of `key`: `false` only when
    /// each says it holds none (sled holds no entry at all, the file tier's filter has no
    /// bit of the key), so that the insert need not look for one.
    fn may_be_persisted(&self, tiers: &[Tier], key: &K, keep: Tier) -> bool {
        let Some(hash) = key::hash_of(&self.namespace, self.config.key_version, key) else {
            return true;
        };
        tiers
            .iter()
            .filter(|&&tier| tier != keep)
            .any(|&tier| match self.open_if_exists(tier) {
                Ok(Some(store)) => store.may_hold(hash),
                Ok(None) => false,
                Err(_) => true,
            })
    }

    /// Deletes the key from every persistent tier but `keep`. `Ok(true)` if one held it.
    pub(super) fn remove_persistent(&self, address: &Address, keep: Option<Tier>) -> Result<bool> {
        let mut removed = false;
        for &tier in self.persistent_tiers() {
            if Some(tier) == keep {
                continue;
            }
            let Some(store) = self.open_if_exists(tier)? else {
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
