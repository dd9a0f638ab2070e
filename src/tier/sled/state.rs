//! The sled tier's database and the faults it survives: sled's errors sorted into passing
//! ones (a full disk) and damage, every call contained with `catch_unwind` (flushes and
//! closes bounded in time by `panics.rs`), and the [`State`] changes that follow (reopen
//! later, set aside and replace at once, or leave to the process that holds the lock).

use super::*;

/// Why the database closed.
pub(super) struct Closure {
    pub(super) reason: String,
    /// The I/O error's kind, OS code and text, when one closed it.
    pub(super) io: Option<(std::io::ErrorKind, Option<i32>, String)>,
}

pub(super) fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
        || io.to_string().contains("could not acquire lock"))
}

/// Whether sled reports a damaged store (then set aside) rather than a passing failure.
pub(super) fn is_corruption(e: &sled::Error) -> bool {
    matches!(
        e,
        sled::Error::Corruption { .. } | sled::Error::ReportableBug(_)
    )
}

/// Whether an error leaves the database unusable until it is reopened.
pub(super) fn closes_database(e: &sled::Error) -> bool {
    is_corruption(e) || matches!(e, sled::Error::Io(_))
}

/// Whether an I/O error is a passing condition of the machine (a full disk, a quota,
/// a file-size limit, permissions, resources) rather than a sign of a damaged store.
pub(super) fn is_transient(e: &sled::Error) -> bool {
    let sled::Error::Io(io) = e else {
        return false;
    };
    use std::io::ErrorKind::*;
    if matches!(
        io.kind(),
        PermissionDenied
            | OutOfMemory
            | Interrupted
            | WouldBlock
            | TimedOut
            | StorageFull
            | FileTooLarge
            | QuotaExceeded
            | ReadOnlyFilesystem
    ) {
        return true;
    }
    #[cfg(unix)]
    {
        const TRANSIENT: [i32; 9] = [
            libc::ENOSPC,
            libc::EDQUOT,
            libc::EFBIG,
            libc::EIO,
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOMEM,
            libc::EROFS,
            libc::EAGAIN,
        ];
        io.raw_os_error()
            .is_some_and(|code| TRANSIENT.contains(&code))
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// How this tier configures every sled database it opens.
pub(super) fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new().path(path).cache_capacity(64 << 20)
}

/// How one attempt to open a database ended.
pub(super) enum Opened {
    Open(Handles, AtOpen),
    Locked,
    /// sled panicked or reported corruption: the store must be set aside.
    Damaged(String),
    Failed(sled::Error),
}

/// Opens the database in `path` and counts its entries, containing sled's panics.
/// A lock still held is waited for up to `lock_wait`: a database this process has just
/// closed may hold it a moment longer.
pub(super) fn open_db(path: &Path, lock_wait: Duration) -> Opened {
    let started = Instant::now();
    loop {
        let attempt = catch_unwind(|| -> sled::Result<(Handles, AtOpen)> {
            let db = sled_config(path).open()?;
            let entries = db.open_tree("entries")?;
            let meta = db.open_tree("meta")?;
            let handles = Handles { db, entries, meta };
            let usage = handles.load_usage()?;
            Ok((handles, usage))
        });
        return match attempt {
            Ok(Ok((handles, usage))) => Opened::Open(handles, usage),
            // A database this process just closed may hold its lock a moment longer.
            Ok(Err(e)) if is_lock_error(&e) && started.elapsed() < lock_wait => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Ok(Err(e)) if is_lock_error(&e) => Opened::Locked,
            Ok(Err(e)) if is_transient(&e) => Opened::Failed(e),
            Ok(Err(e)) => Opened::Damaged(e.to_string()),
            Err(panic) => Opened::Damaged(panicked(&*panic)),
        };
    }
}

impl SledTier {
    pub(super) fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn error(&self, source: sled::Error) -> CacheError {
        match source {
            sled::Error::Io(io) => CacheError::io(Tier::Sled, &self.path, io),
            source => CacheError::Sled {
                path: self.path.clone(),
                source: Box::new(source),
            },
        }
    }

    pub(super) fn unavailable(reason: &'static str) -> CacheError {
        CacheError::TierUnavailable {
            tier: Tier::Sled,
            reason,
        }
    }

    /// Opens the database into `state` (which is not open): on damage, sets the store
    /// aside and opens a fresh one. `Err` only for an I/O failure of the fresh open.
    pub(super) fn reopen(&self, state: &mut State) -> Result<()> {
        let quarantine_first = matches!(
            state,
            State::Down {
                quarantine: true,
                ..
            }
        );
        if quarantine_first {
            let reason = self
                .closed()
                .as_ref()
                .map_or_else(|| "it failed while open".into(), |c| c.reason.clone());
            self.quarantine(&reason);
        }
        // Another process held the lock at the last try: one try, no waiting, so that
        // this process's calls do not stall every time it looks again.
        let lock_wait = match state {
            State::Elsewhere { .. } => Duration::ZERO,
            _ => LOCK_WAIT,
        };
        if let Precheck::Damaged(reason) = precheck(&self.path, !self.look_only) {
            self.quarantine(&format!("found before opening it: {reason}"));
        }
        let mut opened = open_db(&self.path, lock_wait);
        if let Opened::Damaged(reason) = &opened {
            if is_contained_panic(reason) {
                self.contained_panics.fetch_add(1, Relaxed);
            }
            self.quarantine(reason);
            opened = open_db(&self.path, lock_wait);
        }
        match opened {
            Opened::Open(handles, usage) => {
                *self.closed() = None;
                if let State::Elsewhere { .. } = state {
                    tracing::info!(path = %self.path.display(), "sled tier: the lock was released; this process uses sled again");
                    self.leave_waiters();
                }
                self.gauge.set(usage.count, usage.bytes);
                if !usage.clean {
                    self.recovered.store(true, Relaxed);
                }
                self.touched.clear();
                *state = State::Open(handles);
                self.measure();
                Ok(())
            }
            Opened::Locked => {
                if !matches!(state, State::Elsewhere { .. }) {
                    tracing::warn!(path = %self.path.display(),
                        "sled tier: another process holds this sled database; values bound for sled go to the file tier, shared by all processes, until the lock is free");
                }
                if !self.look_only {
                    self.join_waiters();
                }
                *state = State::Elsewhere {
                    since: Instant::now(),
                };
                Ok(())
            }
            Opened::Damaged(_) if self.look_only => {
                *state = State::Down {
                    since: Instant::now(),
                    quarantine: false,
                };
                Err(CacheError::TierUnavailable {
                    tier: Tier::Sled,
                    reason: "the sled database is damaged (a cache that opens it sets it aside and starts a fresh one)",
                })
            }
            Opened::Damaged(reason) => {
                tracing::warn!(path = %self.path.display(), reason = %reason, "sled tier: a fresh database failed too");
                *state = State::Down {
                    since: Instant::now(),
                    quarantine: true,
                };
                Err(Self::unavailable(
                    "a fresh sled database could not be opened either (see the warning logged)",
                ))
            }
            Opened::Failed(e) => {
                self.note_closure(&e.to_string(), Some(&e));
                *state = State::Down {
                    since: Instant::now(),
                    quarantine: false,
                };
                Err(self.error(e))
            }
        }
    }

    /// Moves the sled folder to `<namespace>/quarantine/sled-<ms>` and keeps the newest
    /// few quarantined stores; removes it when it cannot be moved.
    pub(super) fn quarantine(&self, reason: &str) {
        if self.look_only {
            tracing::warn!(path = %self.path.display(), reason = %reason,
                "sled tier: the database is damaged; left in place (a cache opening it sets it aside)");
            return;
        }
        let dir = self.namespace_dir.join("quarantine");
        let target = dir.join(format!("sled-{}", crate::clock::now_ms()));
        let moved =
            paths::create_dir(&dir, self.secure).and_then(|()| fs::rename(&self.path, &target));
        match moved {
            Ok(()) if is_contained_panic(reason) => {
                tracing::warn!(path = %self.path.display(), moved_to = %target.display(), reason = %reason,
                    "sled tier: sled panicked on this damaged database, and the panic was contained: the \
                     `thread '..' panicked at ..sled..` message printed above is that panic, not a crash of \
                     this program. The database was set aside and a fresh one opened");
            }
            Ok(()) => {
                tracing::warn!(path = %self.path.display(), moved_to = %target.display(), reason = %reason,
                    "sled tier: the database is damaged; it was set aside and a fresh one opened");
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), reason = %reason, error = %e,
                    "sled tier: the database is damaged and cannot be moved aside; it is deleted");
                if let Err(e) = fs::remove_dir_all(&self.path) {
                    tracing::warn!(path = %self.path.display(), error = %e, "sled tier: cannot delete the damaged database");
                }
            }
        }
        self.quarantined.fetch_add(1, Relaxed);
        paths::keep_newest(&dir, KEEP_QUARANTINED);
        if let Err(e) = paths::create_dir(&self.path, self.secure) {
            tracing::warn!(path = %self.path.display(), error = %e, "sled tier: cannot recreate the folder");
        } else if self.secure {
            paths::owner_only_by_default(&self.path);
        }
    }

    /// The open database, reopening it first if it is due. `Ok(None)` when another process
    /// holds it.
    pub(super) fn handles(&self) -> Result<Option<RwLockReadGuard<'_, State>>> {
        {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            match &*state {
                State::Open(_) => return Ok(Some(state)),
                State::Elsewhere { since } if since.elapsed() < RELOCK_EVERY => return Ok(None),
                State::Down { since, .. } if since.elapsed() < REOPEN_EVERY => {
                    return Err(self.down_error())
                }
                _ => {}
            }
        }
        {
            let mut state = self.state_mut();
            let due = match &*state {
                State::Open(_) => false,
                State::Elsewhere { since } => since.elapsed() >= RELOCK_EVERY,
                State::Down { since, .. } => since.elapsed() >= REOPEN_EVERY,
            };
            if due {
                self.reopen(&mut state)?;
            }
        }
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        match &*state {
            State::Open(_) => Ok(Some(state)),
            State::Elsewhere { .. } => Ok(None),
            State::Down { .. } => Err(self.down_error()),
        }
    }

    /// Why the database last closed.
    fn closed(&self) -> std::sync::MutexGuard<'_, Option<Closure>> {
        self.closed_by.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers why the database closed: `reason`, and the error if sled gave one.
    fn note_closure(&self, reason: &str, error: Option<&sled::Error>) {
        let io = match error {
            Some(sled::Error::Io(io)) => Some((io.kind(), io.raw_os_error(), io.to_string())),
            _ => None,
        };
        *self.closed() = Some(Closure {
            reason: reason.to_string(),
            io,
        });
    }

    /// The error for a call that finds the database closed: the I/O error that closed it,
    /// with the path, or why it is closed.
    pub(super) fn down_error(&self) -> CacheError {
        let closed = self.closed();
        match closed.as_ref().and_then(|c| c.io.as_ref()) {
            Some((_, Some(code), _)) => CacheError::io(
                Tier::Sled,
                &self.path,
                std::io::Error::from_raw_os_error(*code),
            ),
            Some((kind, None, message)) => CacheError::io(
                Tier::Sled,
                &self.path,
                std::io::Error::new(*kind, message.clone()),
            ),
            None => Self::unavailable(
                "it failed and is reopened at most once a second (see the warning logged)",
            ),
        }
    }

    /// Runs `op` on the open database, containing sled's panics: a panic or a fatal error
    /// closes the database (see the module docs). `Ok(None)` when another process holds it.
    pub(super) fn run<R>(&self, op: impl FnOnce(&Handles) -> sled::Result<R>) -> Result<Option<R>> {
        let Some(state) = self.handles()? else {
            return Ok(None);
        };
        let State::Open(handles) = &*state else {
            return Err(Self::unavailable("it closed meanwhile"));
        };
        match catch_unwind(AssertUnwindSafe(|| op(handles))) {
            Ok(Ok(r)) => Ok(Some(r)),
            Ok(Err(e)) => {
                drop(state);
                if closes_database(&e) {
                    self.note_closure(&e.to_string(), Some(&e));
                    self.fail(&e.to_string(), !is_transient(&e));
                }
                Err(self.error(e))
            }
            Err(panic) => {
                drop(state);
                let reason = self.contained(&*panic);
                self.note_closure(&reason, None);
                self.fail(&reason, true);
                Err(Self::unavailable(
                    "sled panicked on its database, which is set aside and replaced (see the warning logged)",
                ))
            }
        }
    }

    /// Closes the database after a failure. A damaged (or stuck) database is set aside
    /// and a fresh one opened at once; one closed by an I/O error is reopened by a later
    /// call, at most once a second.
    pub(super) fn fail(&self, reason: &str, damaged: bool) {
        let mut state = self.state_mut();
        if let State::Open(_) = &*state {
            if damaged {
                // Setting it aside warns, once, with the reason.
                tracing::debug!(path = %self.path.display(), reason = %reason, "sled tier: damaged database closed");
            } else {
                tracing::warn!(path = %self.path.display(), reason = %reason,
                    "sled tier: database closed after a failure; it is reopened by a later call");
            }
            let old = std::mem::replace(
                &mut *state,
                State::Down {
                    since: Instant::now(),
                    quarantine: damaged,
                },
            );
            if let State::Open(handles) = old {
                if !close(handles) {
                    // Still locked by the stuck database: only a fresh one can serve.
                    *state = State::Down {
                        since: Instant::now(),
                        quarantine: true,
                    };
                }
            }
            if matches!(
                *state,
                State::Down {
                    quarantine: true,
                    ..
                }
            ) {
                if let Err(e) = self.reopen(&mut state) {
                    tracing::warn!(path = %self.path.display(), error = %e, "sled tier: no fresh database yet; tried again by a later call");
                }
            }
        }
    }

    /// Whether the database is closed for good: it is set aside when reopened, so that
    /// nothing in it can be read again.
    pub(super) fn doomed(&self) -> bool {
        matches!(
            *self.state.read().unwrap_or_else(|p| p.into_inner()),
            State::Down {
                quarantine: true,
                ..
            }
        )
    }

    /// Whether the tier takes writes now: open, and no other process waits for it.
    /// Whether the database is open here and holds no entry: then no other process can
    /// have written one (sled takes one process at a time), and a removal has nothing to
    /// find.
    pub(super) fn holds_no_entry(&self) -> bool {
        if self.gauge.usage().entries != 0 {
            return false;
        }
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        matches!(&*state, State::Open(_))
    }

    pub fn accepts_writes(&self) -> bool {
        match self.handles() {
            Ok(Some(_)) => !self.others_waiting(),
            _ => false,
        }
    }
}

/// Open sled tiers of this process, by folder.
pub(super) fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<SledTier>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Weak<SledTier>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}
