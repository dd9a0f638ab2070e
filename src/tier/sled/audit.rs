//! Walks over the sled tier: its keys, its audit (every entry of the `entries` tree shown
//! as stored), and the folders crashes and damage leave beside the database.

use std::fs;

use super::super::access::access_id;
use super::super::audit::{bytes_under, Audited, Leftover, Met};
use super::SledTier;
use crate::entry;
use crate::Result;

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
    /// were rewritten meanwhile.
    pub(super) fn audit_entries(
        &self,
        payloads: bool,
        visit: &mut dyn FnMut(&Met) -> bool,
    ) -> Result<Audited> {
        let walked = self.run(|h| {
            for item in h.entries.iter() {
                let (k, v) = item?;
                let head = entry::audit_slice(&v, payloads);
                let (head, payload_fault, created) = match head {
                    Ok((header, key, fault)) => {
                        (Ok((header, key.to_vec())), fault, Some(header.created_ms))
                    }
                    Err(reason) => (Err(reason), None, None),
                };
                let touched_ms = match created {
                    Some(created) => Some(self.last_access(h, access_id(&k), created)?),
                    None => None,
                };
                let met = Met {
                    head,
                    payload_fault,
                    stored_bytes: v.len() as u64,
                    touched_ms,
                    path: None,
                };
                if visit(&met) {
                    let unchanged = h
                        .entries
                        .compare_and_swap(&k, Some(&v), None as Option<&[u8]>)?
                        .is_ok();
                    if unchanged {
                        let id = access_id(&k);
                        self.touched.forget(id);
                        h.meta.remove(id.to_be_bytes())?;
                        self.gauge.removed(v.len() as u64);
                    }
                }
            }
            Ok(())
        })?;
        Ok(match walked {
            Some(()) => Audited::Done,
            None => Audited::InUse,
        })
    }

    /// Stores set aside as damaged (`<namespace>/quarantine/`), and what an interrupted
    /// compaction left (`sled.old`, `sled.compact`) when the database is open here.
    pub(super) fn leftover_folders(&self, remove: bool) -> Vec<Leftover> {
        let mut found = Vec::new();
        if let Ok(set_aside) = fs::read_dir(self.namespace_dir.join("quarantine")) {
            for dir in set_aside.flatten() {
                found.push(Leftover {
                    bytes: bytes_under(&dir.path()),
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
                        bytes: bytes_under(&path),
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
}
