//! Access records (for time to idle and least-recently-used order) and eviction of the
//! sled tier.

use super::*;

impl SledTier {
    /// Writes the access times recorded in memory to `meta`.
    pub(super) fn flush_touched(&self) -> Result<()> {
        self.run(|h| self.flush_touched_into(h)).map(|_| ())
    }

    /// One insert a record, not a `Batch`: sled 0.34's `apply_batch` switches every sled
    /// database of the process into its writer-exclusive mode for good, and waits for
    /// every operation in flight in any of them. With four test threads, a batch on one
    /// database and the close of another left four threads spinning in sled for good.
    /// Access times are independent hints, which need no batch's atomicity.
    pub(super) fn flush_touched_into(&self, handles: &Handles) -> sled::Result<()> {
        let touched = self.touched.take();
        if touched.is_empty() {
            return Ok(());
        }
        for &(id, access) in &touched {
            handles
                .meta
                .insert(id.to_be_bytes(), &access.to_le_bytes())?;
        }
        self.touched.written(&touched);
        Ok(())
    }

    /// The last access of an entry: read in this process, recorded in `meta`, or written.
    pub(super) fn last_access(
        &self,
        handles: &Handles,
        id: u64,
        created_ms: u64,
    ) -> sled::Result<u64> {
        Ok(self
            .recorded_access(handles, id)?
            .unwrap_or(0)
            .max(created_ms))
    }

    /// The last read of an entry recorded in this process or in `meta`, if any.
    pub(super) fn recorded_access(&self, handles: &Handles, id: u64) -> sled::Result<Option<u64>> {
        match self.touched.get(id) {
            Some(t) => Ok(Some(t)),
            None => Ok(handles
                .meta
                .get(id.to_be_bytes())?
                .and_then(|v| parse_u64(&v, 0))),
        }
    }

    /// Whether the tier holds more than its live budget or its `max_entries` allow.
    pub(super) fn over_bounds(&self) -> bool {
        !Limits::of(self.live_budget(), self.max_entries).holds(self.gauge.usage())
    }

    /// Removes the least recently used entries until the tier is back within 90% of its
    /// bounds (its live budget, `max_entries`). `keep` (the entry just written) is never
    /// evicted. Skipped while another thread evicts.
    pub(super) fn evict(&self, keep: &[u8]) -> Result<()> {
        let Ok(_only_one) = self.evicting.try_lock() else {
            return Ok(()); // another thread is evicting
        };
        let limits = Limits::after_eviction(self.live_budget(), self.max_entries);
        self.evict_to(Some(keep), limits).map(|_| ())
    }

    /// Removes the least recently used entries until the tier holds at most `limits`.
    /// Returns how many went. The caller holds `evicting`.
    pub(super) fn evict_to(&self, keep: Option<&[u8]>, limits: Limits) -> Result<u64> {
        let evicted = self.run(|h| {
            self.flush_touched_into(h)?;
            let mut all = Vec::new();
            let (mut count, mut bytes) = (0u64, 0u64);
            for item in h.entries.iter() {
                let (k, v) = item?;
                count += 1;
                bytes += v.len() as u64;
                if Some(&*k) == keep {
                    continue;
                }
                let created = entry::created_ms_of(&v).unwrap_or(0);
                let access = self.last_access(h, access_id(&k), created)?;
                all.push((access, k));
            }
            // The scan saw every entry: correct any drift in the counters before deciding.
            self.gauge.set(count, bytes);
            all.sort_unstable();
            let mut evicted = 0;
            for (_, k) in all {
                if limits.holds(self.gauge.usage()) {
                    break;
                }
                if Self::remove_key_in(self, h, &k)? {
                    self.gauge.evicted();
                    evicted += 1;
                }
            }
            Ok(evicted)
        })?;
        Ok(evicted.unwrap_or(0))
    }

    pub(super) fn remove_key_in(&self, handles: &Handles, key: &[u8]) -> sled::Result<bool> {
        let Some(old) = handles.entries.remove(key)? else {
            // No entry, so no access record of one either.
            return Ok(false);
        };
        let id = access_id(key);
        self.touched.forget(id);
        handles.meta.remove(id.to_be_bytes())?;
        self.gauge.removed(old.len() as u64);
        Ok(true)
    }

    /// Checks the time to idle of an entry just read, and records the access (when it
    /// may matter: see [`SledTier::near_bounds`]).
    pub(super) fn access(
        &self,
        handles: &Handles,
        key: &[u8],
        created_ms: u64,
        expect: &Expect<'_>,
    ) -> sled::Result<std::result::Result<(), LoadError>> {
        let id = access_id(key);
        if let Some(tti) = expect.tti {
            let last = self.last_access(handles, id, created_ms)?;
            if idle_out(last, tti, expect.now.ms()) {
                return Ok(Err(LoadError::Expired));
            }
        }
        if expect.tti.is_none() && !self.near_bounds() {
            return Ok(Ok(()));
        }
        if self.touched.record(id, expect.now.coarse_ms()) {
            self.flush_touched_into(handles)?;
        }
        Ok(Ok(()))
    }

    /// Whether the tier holds over half of what its bounds allow, so that eviction may
    /// come. Until then reads record nothing for a cache without a time to idle (each
    /// record costs a write to a table of recent reads, and in time one to `meta`), and
    /// entries not read since are evicted by their creation time.
    fn near_bounds(&self) -> bool {
        !Limits::of(self.live_budget(), self.max_entries)
            .halved()
            .holds(self.gauge.usage())
    }
}
