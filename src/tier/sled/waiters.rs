//! Several processes on one sled database: a process that cannot take the lock leaves a
//! heartbeat in `<namespace>/sled-waiters/`; the holder, while it sees others' heartbeats,
//! sends new values to the file tier and hands over the entries it already has.

use super::*;
use crate::tier::Primary;

impl SledTier {
    pub(super) fn waiters_dir(&self) -> PathBuf {
        self.namespace_dir.join("sled-waiters")
    }

    /// This process's heartbeat file among the waiters.
    fn heartbeat(&self) -> PathBuf {
        self.waiters_dir().join(std::process::id().to_string())
    }

    /// Leaves (or refreshes) this process's heartbeat among the waiters.
    pub(super) fn join_waiters(&self) {
        let dir = self.waiters_dir();
        let file = self.heartbeat();
        let written =
            paths::create_dir(&dir, self.secure).and_then(|()| {
                match paths::create_file(&file, self.secure) {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => fs::File::options()
                        .write(true)
                        .open(&file)?
                        .set_modified(std::time::SystemTime::now()),
                    Err(e) => Err(e),
                }
            });
        if let Err(e) = written {
            tracing::debug!(path = %file.display(), error = %e, "sled tier: cannot leave a waiter heartbeat");
        }
    }

    pub(super) fn leave_waiters(&self) {
        let _ = fs::remove_file(self.heartbeat());
    }

    /// Whether another process has waited for this database recently (checked at most
    /// once a second); old heartbeats are removed.
    pub fn others_waiting(&self) -> bool {
        let now = crate::clock::coarse_now_ms();
        let checked = self.waiters_checked_ms.load(Relaxed);
        if now.saturating_sub(checked) < WAITERS_EVERY.as_millis() as u64 {
            return self.others_waiting.load(Relaxed);
        }
        self.waiters_checked_ms.store(now, Relaxed);
        let me = std::process::id().to_string();
        let mut waiting = false;
        if let Ok(files) = fs::read_dir(self.waiters_dir()) {
            for file in files.flatten() {
                let age = file
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|m| m.elapsed().ok());
                match age {
                    Some(age) if age < WAITER_FRESH => waiting |= file.file_name() != *me,
                    Some(_) => {
                        let _ = fs::remove_file(file.path());
                    }
                    None => {}
                }
            }
        }
        let was = self.others_waiting.swap(waiting, Relaxed);
        if waiting && !was {
            self.shared_all.store(false, Relaxed);
            tracing::info!(path = %self.path.display(), "sled tier: other processes use this namespace; new values bound for sled go to the shared file tier");
        }
        waiting
    }

    /// Up to `max` entries to move to the file tier while other processes wait for the
    /// database (so that they see them). Empty when there are none left, or none need
    /// moving.
    pub fn entries_to_share(&self, max: usize) -> Vec<HandOver> {
        if !self.others_waiting() || self.shared_all.load(Relaxed) {
            return Vec::new();
        }
        let taken = self.run(|h| {
            h.entries
                .iter()
                .take(max)
                .map(|item| {
                    item.map(|(id, entry)| HandOver {
                        id: id.to_vec(),
                        entry: entry.to_vec(),
                    })
                })
                .collect::<sled::Result<Vec<_>>>()
        });
        match taken {
            Ok(Some(entries)) => {
                if entries.is_empty() {
                    self.shared_all.store(true, Relaxed);
                }
                entries
            }
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::debug!(error = %e, "sled tier: cannot list entries to share");
                Vec::new()
            }
        }
    }

    /// Removes an entry that has been moved, if it did not change since.
    pub fn remove_moved(&self, moved: &HandOver) {
        let removed = self.run(|h| {
            let swapped =
                h.entries
                    .compare_and_swap(&moved.id, Some(&moved.entry[..]), None::<&[u8]>)?;
            if swapped.is_ok() {
                self.gauge.removed(moved.entry.len() as u64);
                self.touched.forget(access_id(&moved.id));
            }
            Ok(())
        });
        if let Err(e) = removed {
            tracing::debug!(error = %e, "sled tier: cannot remove a moved entry");
        }
    }
}

/// Held by one process at a time: while others wait for it, they write to the spare,
/// whose copies are then the newer ones, and this process hands its entries over.
impl Primary for SledTier {
    fn takes_writes(&self) -> bool {
        self.accepts_writes()
    }

    fn spare_is_newer(&self) -> bool {
        self.others_waiting()
    }

    fn entries_to_hand_over(&self, max: usize) -> Vec<HandOver> {
        self.entries_to_share(max)
    }

    fn handed_over(&self, entry: &HandOver) {
        self.remove_moved(entry);
    }
}
