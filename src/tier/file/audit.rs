//! The file tier's audit: every entry file shown as stored, and the temporary files of
//! writers that died mid-write, which the tier's own clean-up (`clean_tmp`) removes too.

use std::fs;
use std::io::BufReader;
use std::sync::atomic::Ordering::Relaxed;
use std::time::UNIX_EPOCH;

use super::super::audit::{Audited, Leftover, Met};
use super::{writer_of, FileTier, Found, CLEAN_EVERY, STALE_TMP};
use crate::entry::{self, Refusal};
use crate::paths;
use crate::Result;

impl FileTier {
    /// Shows every entry file to `visit`; removes those it returns true for, unless the
    /// file was replaced meanwhile (an entry rewritten by another process stays).
    pub(super) fn audit_files(
        &self,
        payloads: bool,
        visit: &mut dyn FnMut(&Met) -> bool,
    ) -> Result<Audited> {
        let (mut not_removed, mut not_removed_bytes) = (0, 0);
        for found in self.scan()? {
            // Gone since the scan: removed or replaced by a writer; nothing to show.
            let Ok(file) = fs::File::open(&found.path) else {
                continue;
            };
            let Ok(opened) = file.metadata() else {
                continue;
            };
            let mut reader = BufReader::with_capacity(256 << 10, file);
            let (head, payload_fault) = match entry::read_header(&mut reader) {
                Ok((header, key)) => {
                    let whole = header.payload_offset().saturating_add(header.stored_len);
                    let fault = if payloads {
                        entry::audit_payload(&mut reader, &header)
                    } else if whole != opened.len() {
                        // The length is known without reading the payload.
                        Some(Refusal::Invalid(format!(
                            "truncated entry ({} bytes of {whole})",
                            opened.len()
                        )))
                    } else {
                        None
                    };
                    (Ok((header, key)), fault)
                }
                Err(refusal) => (Err(refusal), None),
            };
            let met = Met {
                head,
                payload_fault,
                stored_bytes: found.len,
                touched_ms: Some(ms_of(&found)),
                path: Some(found.path.clone()),
            };
            if visit(&met) && still_the_file_shown(&found, &opened) {
                match fs::remove_file(&found.path) {
                    Ok(()) => self.gauge.removed(found.len),
                    Err(e) => {
                        tracing::warn!(path = %found.path.display(), error = %e, "file tier: cannot remove an entry");
                        not_removed += 1;
                        not_removed_bytes += found.len;
                    }
                }
            }
        }
        Ok(Audited::Done {
            not_removed,
            not_removed_bytes,
        })
    }

    /// Removes the temporary files of writers that died mid-write: those named by a
    /// process of this machine that no longer runs, and any older than an hour.
    pub(super) fn clean_tmp(&self) {
        self.cleaned_ms.store(crate::clock::now_ms(), Relaxed);
        let (dead, live) = self.dead_writers_tmp();
        let removed = dead
            .iter()
            .filter(|f| fs::remove_file(&f.path).is_ok())
            .count();
        self.tmp_bytes.store(live, Relaxed);
        if removed > 0 {
            tracing::info!(path = %self.tmp.display(), removed, "file tier: removed temporary files of writers that died");
        }
    }

    /// Cleans up temporary files when the last clean-up is old enough.
    pub(super) fn clean_tmp_if_due(&self) {
        let last = self.cleaned_ms.load(Relaxed);
        if crate::clock::now_ms().saturating_sub(last) >= CLEAN_EVERY.as_millis() as u64 {
            self.clean_tmp();
        }
    }

    /// The temporary files of writers that died mid-write (see [`FileTier::clean_tmp`]),
    /// and the bytes of those still being written.
    pub(super) fn dead_writers_tmp(&self) -> (Vec<Found>, u64) {
        let (mut dead, mut live) = (Vec::new(), 0u64);
        let Ok(files) = fs::read_dir(&self.tmp) else {
            return (dead, live);
        };
        for file in files.flatten() {
            let Ok(meta) = file.metadata() else {
                continue; // finished (renamed) meanwhile
            };
            let modified = meta.modified().unwrap_or(UNIX_EPOCH);
            let stale = modified.elapsed().is_ok_and(|age| age > STALE_TMP);
            let gone = writer_of(&file.file_name()).is_some_and(|pid| !paths::process_alive(pid));
            if stale || gone {
                dead.push(Found {
                    path: file.path(),
                    len: meta.len(),
                    modified,
                });
            } else {
                live += meta.len();
            }
        }
        (dead, live)
    }

    /// The temporary files of writers that died mid-write.
    pub(super) fn leftover_files(&self, remove: bool) -> Vec<Leftover> {
        let (dead, _) = self.dead_writers_tmp();
        dead.into_iter()
            .filter(|f| !remove || fs::remove_file(&f.path).is_ok())
            .map(|f| Leftover {
                path: f.path,
                bytes: f.len,
                what: "temporary file of a writer that died",
            })
            .collect()
    }
}

fn ms_of(found: &Found) -> u64 {
    found
        .modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Whether the file at `found.path` is still the one opened as `opened`.
fn still_the_file_shown(found: &Found, opened: &fs::Metadata) -> bool {
    let Ok(now) = fs::metadata(&found.path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        now.ino() == opened.ino() && now.dev() == opened.dev()
    }
    #[cfg(not(unix))]
    {
        now.len() == opened.len() && now.modified().ok() == opened.modified().ok()
    }
}
