//! The sled folder's size: measured at open and every few seconds of writing, compacted
//! into a fresh database when sled's leftovers bloat it, and the live budget that keeps it
//! within `disk_capacity`; and the record of its entry count and size in tree `meta`.

use super::*;

/// A folder smaller than this is never compacted.
pub(super) const COMPACT_FLOOR: u64 = 8 << 20;

impl SledTier {
    /// Measures the folder (files vanishing meanwhile are skipped).
    pub(super) fn measure(&self) -> u64 {
        let bytes = paths::tree_size(&self.path);
        self.disk_bytes.store(bytes, Relaxed);
        self.measured_ms
            .store(crate::clock::coarse_now_ms(), Relaxed);
        bytes
    }

    /// How much larger than its live entries sled's folder may grow before it is
    /// compacted, in thousandths. sled needs room of its own: measured here with 30
    /// rounds of rewrites, its folder settles at about 3 times the entries for 1 KB and
    /// 20 KB values, while for 200 KB values (pages written as blob files) it grows
    /// without end (55 times after 30 rounds); a fresh copy takes 1.5 (20 KB) to 2.8
    /// (200 KB) times. So the bar is 4 times, clear of where sled settles by itself, or
    /// half as much again as the last compaction achieved if that was more.
    pub(super) fn compaction_bar(&self) -> u64 {
        let achieved = self.compacted_ratio_milli.load(Relaxed);
        (achieved.saturating_mul(3) / 2).clamp(4000, 12_000)
    }

    /// Whether the folder has passed the compaction bar; or, when the database opened
    /// after a crash (which leaves sled's blobs and segments of the killed process
    /// behind), [`recovered_bar`]; or `disk_capacity`, by
    /// what is really on disk (blobs included), while a compaction would help.
    pub(super) fn wants_compaction(&self) -> bool {
        let disk = self.disk_bytes.load(Relaxed);
        let live = self.gauge.bytes();
        let bloated = disk > live.saturating_mul(self.compaction_bar()) / 1000;
        let recovered = self.recovered.load(Relaxed) && disk > recovered_bar(live);
        disk > COMPACT_FLOOR && (bloated || recovered || self.over_capacity_but_compactable())
    }

    /// Whether the folder takes more than `disk_capacity` while a compaction would make
    /// it smaller: more than a quarter above what the last compaction left (at least
    /// 1.5 times the live entries).
    fn over_capacity_but_compactable(&self) -> bool {
        let disk = self.disk_bytes.load(Relaxed);
        let live = self.gauge.bytes();
        let achieved = self.compacted_ratio_milli.load(Relaxed);
        disk > self.capacity && disk > live.saturating_mul((achieved * 5 / 4).max(1500)) / 1000
    }

    /// The live bytes the tier may hold so that its folder, which may grow to the
    /// compaction bar, stays within `disk_capacity`.
    pub(super) fn live_budget(&self) -> u64 {
        self.capacity / self.compaction_bar() * 1000
    }

    /// The folder a compaction builds the new database in.
    pub(super) fn compact_path(&self) -> PathBuf {
        self.namespace_dir.join("sled.compact")
    }

    /// The folder the old database waits in while a compaction swaps them.
    pub(super) fn old_path(&self) -> PathBuf {
        self.namespace_dir.join("sled.old")
    }

    /// The lock a compaction holds while it builds and swaps the new database, and an
    /// open while it finishes or undoes one a crash interrupted: without it, a process
    /// opening the namespace would remove the new database another process is still
    /// building. `None` when another process holds it (or it cannot be opened).
    fn compaction_lock(&self) -> Option<fs::File> {
        let path = self.namespace_dir.join("sled.compaction.lock");
        let file = paths::open_file(
            fs::OpenOptions::new().create(true).write(true).truncate(false),
            &path,
            self.secure,
        )
            .map_err(|e| {
                tracing::debug!(path = %path.display(), error = %e, "sled tier: cannot open the compaction lock");
            })
            .ok()?;
        file.try_lock().ok().map(|()| file)
    }

    /// Completes or undoes a compaction that a crash interrupted: the new database is
    /// complete once the old one has moved to `sled.old`. Nothing while another process
    /// is compacting.
    pub(super) fn finish_compaction(&self) {
        let Some(_compacting) = self.compaction_lock() else {
            return;
        };
        let (new, old) = (self.compact_path(), self.old_path());
        if new.exists() {
            if !self.path.exists() && old.exists() {
                if let Err(e) = fs::rename(&new, &self.path) {
                    tracing::warn!(path = %new.display(), error = %e, "sled tier: cannot finish an interrupted compaction");
                }
            } else if let Err(e) = fs::remove_dir_all(&new) {
                tracing::warn!(path = %new.display(), error = %e, "sled tier: cannot remove an incomplete compaction");
            }
        }
        if old.exists() && self.path.exists() {
            if let Err(e) = fs::remove_dir_all(&old) {
                tracing::warn!(path = %old.display(), error = %e, "sled tier: cannot remove the database a compaction replaced");
            }
        }
    }

    /// Copies the live entries of the open database into a fresh one and swaps the folders.
    /// On failure the old database stays in use.
    pub(super) fn compact(&self, state: &mut State) {
        let State::Open(handles) = &*state else {
            return;
        };
        let Some(_compacting) = self.compaction_lock() else {
            return;
        };
        let before = self.disk_bytes.load(Relaxed);
        let new = self.compact_path();
        let _ = fs::remove_dir_all(&new);
        let copied = catch_unwind(AssertUnwindSafe(|| -> std::result::Result<(), String> {
            paths::create_dir(&new, self.secure).map_err(|e| e.to_string())?;
            if self.secure {
                paths::owner_only_by_default(&new);
            }
            let _ = self.flush_touched_into(handles);
            let db = sled_config(&new).open().map_err(|e| e.to_string())?;
            // Flushed every COPY_FLUSH bytes: sled writes a node larger than a quarter
            // segment as a blob file each time the node changes, and drops the blobs of
            // older versions only once they are flushed. Copied without flushes, a tree
            // of 200 KB values took 2.7 times its entries; flushed so, 1.1 times.
            let mut unflushed = 0usize;
            for name in ["entries", "meta"] {
                let from = handles.db.open_tree(name).map_err(|e| e.to_string())?;
                let to = db.open_tree(name).map_err(|e| e.to_string())?;
                for item in from.iter() {
                    let (k, v) = item.map_err(|e| e.to_string())?;
                    unflushed += k.len() + v.len();
                    to.insert(k, v).map_err(|e| e.to_string())?;
                    if unflushed >= COPY_FLUSH {
                        unflushed = 0;
                        db.flush().map_err(|e| e.to_string())?;
                    }
                }
            }
            flush_db(&db).map_err(|e| e.to_string())?;
            if close(db) {
                Ok(())
            } else {
                Err("the new database did not close in time".into())
            }
        }));
        let copied = match copied {
            Ok(result) => result,
            Err(panic) => Err(self.contained(&*panic)),
        };
        if let Err(e) = copied {
            tracing::warn!(path = %self.path.display(), error = %e, "sled tier: compaction failed; the database stays as it is");
            let _ = fs::remove_dir_all(&new);
            return;
        }
        let old = std::mem::replace(
            state,
            State::Down {
                since: Instant::now(),
                quarantine: false,
            },
        );
        if let State::Open(handles) = old {
            if !close(handles) {
                let _ = fs::remove_dir_all(&new);
                *state = State::Down {
                    since: Instant::now(),
                    quarantine: true,
                };
                return;
            }
        }
        let swapped =
            fs::rename(&self.path, self.old_path()).and_then(|()| fs::rename(&new, &self.path));
        if let Err(e) = swapped {
            tracing::warn!(path = %self.path.display(), error = %e, "sled tier: cannot swap in the compacted database");
        }
        self.finish_compaction();
        match self.reopen(state) {
            Ok(()) => {
                // A fresh copy: nothing of a crash is left in it.
                self.recovered.store(false, Relaxed);
                let after = self.disk_bytes.load(Relaxed);
                let live = self.gauge.bytes().max(1);
                let ratio = after.saturating_mul(1000) / live;
                self.compacted_ratio_milli.store(ratio, Relaxed);
                if let State::Open(h) = &*state {
                    let recorded = catch_unwind(AssertUnwindSafe(|| {
                        h.meta.insert(COMPACTED_KEY, &ratio.to_le_bytes())
                    }));
                    if !matches!(recorded, Ok(Ok(_))) {
                        tracing::debug!("sled tier: cannot record the compaction");
                    }
                }
                tracing::info!(path = %self.path.display(), before, after, live,
                "sled tier: compacted")
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "sled tier: cannot reopen after compaction")
            }
        }
    }

    /// After a write: measures the folder when due, and compacts when it is bloated.
    pub(super) fn check_space(&self) {
        let now = crate::clock::coarse_now_ms();
        if now.saturating_sub(self.measured_ms.load(Relaxed)) < MEASURE_EVERY.as_millis() as u64 {
            return;
        }
        self.measured_ms.store(now, Relaxed);
        let Ok(_only_one) = self.evicting.try_lock() else {
            return;
        };
        self.measure();
        if self.wants_compaction() {
            let mut state = self.state_mut();
            self.compact(&mut state);
        }
    }
}

/// Bytes a compaction copies between two flushes of the new database.
const COPY_FLUSH: usize = 128 << 10;

/// The most a folder of `live` bytes of entries may take after a crash before it is
/// compacted (sled's leftovers of the killed process are then most of it): twice its
/// entries, with no slack, since sled writes up to 16 MB more after the check when it
/// reopens a store of 200 KB values a killed writer left (measured), and that must still
/// fit in the 16 MiB promised.
pub(super) fn recovered_bar(live: u64) -> u64 {
    live.saturating_mul(2)
}

/// Two numbers as 16 little-endian bytes.
fn u64_pair(a: u64, b: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&a.to_le_bytes());
    v[8..].copy_from_slice(&b.to_le_bytes());
    v
}

/// The little-endian number at `at` in `v`.
pub(super) fn parse_u64(v: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(v.get(at..at + 8)?.try_into().ok()?))
}

/// The tier's entry count and bytes when its database opened.
pub(super) struct AtOpen {
    pub(super) count: u64,
    pub(super) bytes: u64,
    /// Whether the record was left by a clean close; otherwise the database was not closed
    /// (its process was killed, or crashed) and the entries were counted.
    pub(super) clean: bool,
}

/// The record of the tier's entry count and size, in tree `meta`.
impl Handles {
    /// The entry count and bytes from the record a clean close left, or by counting the
    /// entries, and whether that close was clean; then marks the record unclean until the
    /// tier closes.
    pub(super) fn load_usage(&self) -> sled::Result<AtOpen> {
        let record = self.meta.get(USAGE_KEY)?;
        let clean = record
            .as_deref()
            .and_then(|v| Some((parse_u64(v, 0)?, parse_u64(v, 8)?, *v.get(16)? == 1)))
            .filter(|&(_, _, clean)| clean);
        let (count, bytes) = match clean {
            Some((count, bytes, _)) => (count, bytes),
            None => {
                let (mut count, mut bytes) = (0u64, 0u64);
                for item in self.entries.iter() {
                    let (_, v) = item?;
                    count += 1;
                    bytes += v.len() as u64;
                }
                (count, bytes)
            }
        };
        self.write_usage(count, bytes, false)?;
        Ok(AtOpen {
            count,
            bytes,
            clean: clean.is_some(),
        })
    }

    pub(super) fn write_usage(&self, count: u64, bytes: u64, clean: bool) -> sled::Result<()> {
        let mut record = u64_pair(count, bytes).to_vec();
        record.push(u8::from(clean));
        self.meta.insert(USAGE_KEY, record).map(|_| ())
    }
}
