//! Eviction of the file tier: the least recently used files (oldest modification time)
//! go first, past `disk_capacity` or `max_entries`, and on `shrink_to`.

use super::*;

impl FileTier {
    /// Whether the tier holds more than its capacity or its `max_entries` allow.
    pub(super) fn over_bounds(&self) -> bool {
        !Limits::of(self.capacity, self.max_entries).holds(self.gauge.usage())
    }

    /// Removes the least recently used files until the tier is back within 90% of its
    /// bounds (see [`Limits::after_eviction`]). `keep` (the entry just written) is never
    /// evicted. Skipped while another thread evicts.
    pub(super) fn evict(&self, keep: &Path) -> Result<()> {
        let Ok(_only_one) = self.evicting.try_lock() else {
            return Ok(());
        };
        let limits = Limits::after_eviction(self.capacity, self.max_entries);
        self.evict_to(Some(keep), limits).map(|_| ())
    }

    /// Removes the least recently used files until the tier holds at most `limits`.
    /// Returns how many went. The caller holds `evicting`.
    pub(super) fn evict_to(&self, keep: Option<&Path>, limits: Limits) -> Result<u64> {
        let mut found = self.recount()?;
        found.sort_unstable_by_key(|f| f.modified);
        let mut evicted = 0;
        for f in found {
            if limits.holds(self.gauge.usage()) {
                break;
            }
            if Some(f.path.as_path()) == keep {
                continue;
            }
            match fs::remove_file(&f.path) {
                Ok(()) => {
                    self.gauge.evicted();
                    evicted += 1;
                }
                // Another process removed it since the scan: it is gone all the same.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io_error(&f.path, e)),
            }
            self.gauge.removed(f.len);
        }
        Ok(evicted)
    }
}
