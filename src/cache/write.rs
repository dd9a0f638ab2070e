//! Writes: a value stored in its tier (or the file tier, while sled cannot take it), older
//! values of the key removed from the other tiers, and sled entries handed to the shared
//! file tier while other processes wait for sled.

use super::*;

impl<K: CacheKey, V: Cacheable> Inner<K, V> {
    /// Stores a value in `tier` (and a copy in memory when small), and deletes older
    /// values of the key from the other tiers. Returns the tier the value went to: the
    /// file tier for a sled-bound value while sled cannot take it.
    ///
    /// An insert that fails changes nothing that could be read back: older values it could
    /// not delete stay consistent with the failed insert, and no stale copy stays in memory.
    pub(super) fn store(&self, key: K, value: Arc<V>, size: usize, tier: Tier) -> Result<Tier> {
        let ttl = self.config.ttl;
        let key_size = std::mem::size_of::<K>();
        let address = match V::PLACEMENT {
            Placement::Pinned(Tier::Memory) => None,
            _ => Some(self.address(&key)?),
        };
        let mut home = tier;
        let result = (|| {
            let Some(address) = &address else {
                return Ok(());
            };
            if tier == Tier::Sled && !self.sled_takes_writes() {
                home = Tier::File;
                self.mark_sled_values_in_files();
                if let Some(sled) = self.sled.get() {
                    self.share_sled_entries(sled);
                }
            }
            if self.persistent_tiers().len() > 1 {
                // An earlier value of this key may be in another tier.
                self.remove_persistent(address, Some(home))?;
            }
            if home == Tier::Memory {
                return Ok(());
            }
            let now = now_ms();
            let meta = EntryMeta {
                codec: <V::Codec as Codec<V>>::ID,
                fingerprint: self.fingerprint,
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
            self.open(home)?.store(address, &meta, &*value).map(|_| ())
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
        let keep = home == Tier::Memory
            || (size <= self.config.promote_max && self.memory.admits(deadline));
        let _write = self.generations.write(&key);
        if keep {
            self.memory
                .insert(key, Slot::new(value, size, key_size, home, deadline));
        } else {
            self.memory.remove(&key);
        }
        Ok(home)
    }

    /// Whether the sled tier takes writes now (open, held by this process, and not
    /// wanted by other processes).
    pub(super) fn sled_takes_writes(&self) -> bool {
        match self.open(Tier::Sled) {
            Ok(Persistent::Sled(sled)) => sled.accepts_writes(),
            _ => false,
        }
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

    /// Moves up to a batch of entries from sled, which other processes cannot read, to
    /// the file tier, as they are (times, type and all). An entry already in the file
    /// tier is newer and stays; a moved entry leaves sled only if it did not change.
    pub(super) fn share_sled_entries(&self, sled: &SledTier) {
        const BATCH: usize = 32;
        let entries = sled.entries_to_share(BATCH);
        if entries.is_empty() {
            return;
        }
        let files = match self.open(Tier::File) {
            Ok(Persistent::File(files)) => files,
            _ => return,
        };
        self.mark_sled_values_in_files();
        for (sled_key, stored) in entries {
            if let Some((key, relaid)) = crate::entry::relaid_for_file(&stored) {
                let hash = key::address_of_encoded(&self.namespace, &key).hash();
                if let Err(e) = files.adopt(hash, &relaid) {
                    tracing::debug!(error = %e, "cannot move a sled entry to the file tier");
                    return;
                }
            }
            // Moved, or not an entry anyone could read: either way it leaves sled.
            sled.remove_moved(&sled_key, &stored);
        }
    }

    /// Counts a value that went to `home` instead of `tier`, and logs when rerouting
    /// starts and ends.
    pub(super) fn note_rerouting(&self, tier: Tier, home: Tier) {
        if tier != Tier::Sled {
            return;
        }
        let rerouted = home != tier;
        if rerouted {
            Counters::bump(&self.counters.tier(tier).rerouted);
        }
        if self.rerouting.swap(rerouted, Relaxed) != rerouted {
            if rerouted {
                tracing::warn!(namespace = %self.namespace,
                    "the sled tier cannot take values now (another process holds it, or it failed): they go to the file tier");
            } else {
                tracing::info!(namespace = %self.namespace, "the sled tier takes values again");
            }
        }
    }

    /// Deletes the key from every persistent tier but `keep`. `Ok(true)` if one held it.
    pub(super) fn remove_persistent(&self, address: &Address, keep: Option<Tier>) -> Result<bool> {
        let mut removed = false;
        for &tier in self.persistent_tiers() {
            if Some(tier) == keep {
                continue;
            }
            if let Some(store) = self.open_if_exists(tier)? {
                removed |= store.remove(address)?;
            }
        }
        Ok(removed)
    }
}
