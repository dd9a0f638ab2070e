//! Walks over the sled tier: its keys, its audit (every entry of the `entries` tree shown
//! as stored), and the folders crashes and damage leave beside the database.

use std::fs;
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::atomic::Ordering::Relaxed;

use super::super::access::access_id;
use super::super::audit::{Audited, Leftover, Met};
use super::space::{self, COMPACT_FLOOR};
use super::{Handles, SledTier};
use crate::Result;
use crate::{entry, paths};

impl SledTier {
    /// The encoded keys of the entries whose header and key check out.
    pub(super) fn stored_keys(&self) -> Result<Vec<Vec<u8>>> {
        let keys = self.run(|h| {
            let mut keys = Vec::new();
            for item in h.entries.iter() {
                let (_, v) = item?;
                // One that does not check out is passed over: reads deal with bad entries.
                if let Some((_, key)) = entry::head_of(&v) {
                    keys.push(key.to_vec());
                }
            }
            Ok(keys)
        })?;
        Ok(keys.unwrap_or_default())
    }

    /// Shows every entry to `visit`; removes those it returns true for, unless they
    /// were rewritten meanwhile. Entries are read in batches inside [`SledTier::run`]
    /// (where a panic is sled's, and sets the database aside) and shown outside it, so
    /// that nothing `visit` does is taken for sled's failure.
    pub(super) fn audit_entries(
        &self,
        payloads: bool,
        visit: &mut dyn FnMut(&Met) -> bool,
    ) -> Result<Audited> {
        const BATCH: usize = 256;
        let mut after: Option<sled::IVec> = None;
        loop {
            let read = self.run(|h| {
                let items = match &after {
                    Some(last) => h.entries.range((Excluded(last.clone()), Unbounded)),
                    None => h.entries.iter(),
                };
                let mut batch = Vec::with_capacity(BATCH);
                for item in items.take(BATCH) {
                    let (k, v) = item?;
                    let met = self.met(h, &k, &v, payloads)?;
                    batch.push((k, v, met));
                }
                Ok(batch)
            })?;
            let Some(batch) = read else {
                return Ok(Audited::InUse);
            };
            let Some((last, _, _)) = batch.last() else {
                return Ok(Audited::DONE);
            };
            after = Some(last.clone());
            let full = batch.len() == BATCH;
            let chosen: Vec<(sled::IVec, sled::IVec)> = batch
                .into_iter()
                .filter_map(|(k, v, met)| visit(&met).then_some((k, v)))
                .collect();
            if !chosen.is_empty() {
                self.run(|h| {
                    for (k, v) in &chosen {
                        let unchanged = h
                            .entries
                            .compare_and_swap(k, Some(v), None as Option<&[u8]>)?
                            .is_ok();
                        if unchanged {
                            let id = access_id(k);
                            self.touched.forget(id);
                            h.meta.remove(id.to_be_bytes())?;
                            self.gauge.removed(v.len() as u64);
                        }
                    }
                    Ok(())
                })?;
            }
            // A removal sled fails ends the audit with its error: none goes uncounted.
            if !full {
                return Ok(Audited::DONE);
            }
        }
    }

    /// An entry as an audit shows it, with its recorded last access.
    fn met(&self, h: &Handles, k: &[u8], v: &[u8], payloads: bool) -> sled::Result<Met> {
        let (head, payload_fault) = match entry::audit_slice(v, payloads) {
            Ok((header, key, fault)) => (Ok((header, key.to_vec())), fault),
            Err(refusal) => (Err(refusal), None),
        };
        Ok(Met {
            head,
            payload_fault,
            stored_bytes: v.len() as u64,
            touched_ms: self.recorded_access(h, access_id(k))?,
            path: None,
        })
    }

    /// Stores set aside as damaged (`<namespace>/quarantine/`), what an interrupted
    /// compaction left (`sled.old`, `sled.compact`) when the database is open here, and
    /// the space sled took beyond twice its live entries (what crashes leave),
    /// which removing compacts away.
    pub(super) fn leftover_folders(&self, remove: bool) -> Vec<Leftover> {
        let mut found = self.leftover_stores(remove);
        found.extend(self.bloat(remove));
        found
    }

    fn leftover_stores(&self, remove: bool) -> Vec<Leftover> {
        let mut found = Vec::new();
        if let Ok(set_aside) = fs::read_dir(self.namespace_dir.join("quarantine")) {
            for dir in set_aside.flatten() {
                found.push(Leftover {
                    bytes: paths::tree_size(&dir.path()),
                    path: dir.path(),
                    what: "damaged sled store set aside",
                });
            }
        }
        // Opening the database finishes or undoes an interrupted compaction; what is left
        // afterwards belongs to no one, unless another process holds the database.
        if self.accepts_writes() {
            for path in [self.compact_path(), self.old_path()] {
                if path.exists() {
                    found.push(Leftover {
                        bytes: paths::tree_size(&path),
                        path,
                        what: "sled compaction left over",
                    });
                }
            }
        }
        if remove {
            for leftover in &found {
                if let Err(e) = fs::remove_dir_all(&leftover.path) {
                    tracing::warn!(path = %leftover.path.display(), error = %e, "sled tier: cannot remove a leftover");
                }
            }
        }
        found
    }

    /// The database's space beyond its live entries, when the folder takes more than
    /// [`space::recovered_bar`] of them; with `remove`, compacted, and the bytes that
    /// freed.
    fn bloat(&self, remove: bool) -> Option<Leftover> {
        if !self.accepts_writes() {
            return None;
        }
        // Measured when the database opened, and again when a compaction reopens it.
        let disk = self.disk_bytes.load(Relaxed);
        let live = self.gauge.bytes();
        if disk <= COMPACT_FLOOR || disk <= space::recovered_bar(live) {
            return None;
        }
        let bytes = if remove {
            let mut state = self.state_mut();
            self.compact(&mut state);
            drop(state);
            disk.saturating_sub(self.disk_bytes.load(Relaxed))
        } else {
            disk.saturating_sub(live)
        };
        Some(Leftover {
            path: self.path.clone(),
            bytes,
            what: "sled space beyond its live entries (compacted away)",
        })
    }
}
