//! The sled tier: one sled database per namespace folder, for small and medium values.
//!
//! Tree `entries` maps a key to its enveloped entry (see `entry.rs`). The sled key is the
//! encoded key itself (prefixed `0`), so that neighbouring keys share pages and no two
//! keys can ever share an entry; keys longer than 64 bytes use their 128-bit hash
//! (prefixed `1`) instead, with the full key kept in the entry to detect a collision.
//!
//! Tree `meta` keeps what eviction and time-to-idle need beyond the entries: the last
//! access of entries that were read (recorded on each read in a lock-free
//! [`AccessTable`], written in one batch when the tier flushes, evicts or closes) and the
//! tier's entry count and size (written when it closes, trusted on the next open only if
//! that close was clean). An insert is one sled write.
//!
//! # Faults
//!
//! sled 0.34 panics inside its own code on some damaged stores, and stays failed after an
//! I/O error (a full disk) until it is reopened. Every call into sled therefore runs under
//! `catch_unwind` here, and the database lives behind a [`State`] that can change:
//!
//! - a panic, or an error sled calls corruption, closes the database and *quarantines* it:
//!   its folder moves to `<namespace>/quarantine/sled-<ms>` (the two newest are kept for
//!   inspection), one warning is logged, the count shows in `stats().sled.quarantined`,
//!   and a fresh database opens in its place;
//! - an I/O error closes the database; it is reopened, at most once a second, by a later
//!   call, so the tier comes back by itself when the disk has room again;
//! - a database locked by another process (sled allows one process per database) is
//!   [`State::Elsewhere`]: this process does not write to sled (the cache sends sled-bound
//!   values to the file tier, which all processes share), tries to take the lock again
//!   every few seconds, and leaves a heartbeat file in `<namespace>/sled-waiters/` so that
//!   the holder sends its new values to the file tier too while others wait.
//!
//! Space: sled leaves orphaned blob files and unused segments behind after crashes (and
//! some without). At open, and at most every few seconds while writing, the tier measures
//! its folder; when it passes the compaction bar (see [`SledTier::compaction_bar`]), the
//! tier *compacts*: it copies the live entries into a fresh database and swaps the folders
//! (a crash midway leaves the old database or the complete new one, never a mix). Live
//! entries are held to `disk_capacity` over that bar, so that the folder stays within
//! `disk_capacity`.
//!
//! Within a process, every cache on the same folder shares one `SledTier` (see
//! [`SledTier::open`]); the first one opened sets its capacity and durability.

use std::collections::HashMap;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, Weak};
use std::time::{Duration, Instant};

use super::access::{access_id, AccessTable};
use super::{too_large, Address, Gauge, LoadError, Loaded, Store, Usage};
use crate::config::{CacheConfig, Durability};
use crate::entry::{self, EntryMeta, Expect};
use crate::{paths, CacheError, Cacheable, Result, Tier};

/// Encoded keys up to this length are sled keys themselves; longer ones are hashed.
const MAX_DIRECT_KEY: usize = 64;
/// The `meta` record of the tier's size.
const USAGE_KEY: &[u8] = b"usage";
/// The `meta` record of what the last compaction achieved (folder over live bytes, in
/// thousandths), so that a store sled cannot make smaller is not compacted at every open.
const COMPACTED_KEY: &[u8] = b"compacted";
/// How long to wait for a sled lock released by a closing database.
const LOCK_WAIT: Duration = Duration::from_millis(500);
/// How often a failed database is reopened, at most.
const REOPEN_EVERY: Duration = Duration::from_secs(1);
/// How often a process without the lock tries to take it, at most.
const RELOCK_EVERY: Duration = Duration::from_secs(2);
/// A waiter's heartbeat older than this is a waiter that left.
const WAITER_FRESH: Duration = Duration::from_secs(30);
/// How often the holder looks for waiters, at most.
const WAITERS_EVERY: Duration = Duration::from_secs(1);
/// How often the tier measures its folder while writing, at most.
const MEASURE_EVERY: Duration = Duration::from_secs(5);
/// A folder smaller than this is never compacted.
const COMPACT_FLOOR: u64 = 8 << 20;
/// Quarantined stores kept for inspection.
const KEEP_QUARANTINED: usize = 2;
/// How long a flush may take before the database counts as stuck.
const FLUSH_WAIT: Duration = Duration::from_secs(30);
/// How long closing a database may take before it counts as stuck.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// An open sled database and its trees.
struct Handles {
    db: sled::Db,
    entries: sled::Tree,
    meta: sled::Tree,
}

/// What the tier's database is now.
enum State {
    /// Open and usable.
    Open(Handles),
    /// Closed after a failure; reopened by a call after `since + REOPEN_EVERY`.
    Down { since: Instant, quarantine: bool },
    /// Locked by another process since `since`; retried after `RELOCK_EVERY`.
    Elsewhere { since: Instant },
}

/// The sled tier of one namespace folder.
pub(crate) struct SledTier {
    /// The sled folder, `<namespace>/sled`.
    path: PathBuf,
    /// `<namespace>`: quarantine, compaction and waiter files live beside the database.
    namespace_dir: PathBuf,
    capacity: u64,
    durability: Durability,
    secure: bool,
    state: RwLock<State>,
    gauge: Gauge,
    /// Reads since the last write of access times to `meta`.
    touched: AccessTable,
    evicting: Mutex<()>,
    /// Stores set aside as broken.
    quarantined: AtomicU64,
    /// Bytes the folder took when last measured.
    disk_bytes: AtomicU64,
    /// When the folder was last measured (ms on the coarse clock).
    measured_ms: AtomicU64,
    /// Whether other processes wait for this database, and when that was last checked.
    others_waiting: AtomicBool,
    waiters_checked_ms: AtomicU64,
    /// Whether every entry has moved to the file tier since other processes began to wait.
    shared_all: AtomicBool,
    /// Folder size over live bytes right after the last compaction, in thousandths.
    compacted_ratio_milli: AtomicU64,
    /// The I/O error that closed the database, repeated (as I/O, with its path) to the
    /// calls that find it closed.
    last_io_error: Mutex<Option<(std::io::ErrorKind, Option<i32>, String)>>,
    /// Why the database last closed, for the warning when it is set aside.
    last_failure: Mutex<Option<String>>,
}

/// Open sled tiers of this process, by folder.
fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<SledTier>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Weak<SledTier>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The sled key of an address: `0, key` for short keys, `1, hash` for long ones.
fn sled_key(address: &Address) -> std::borrow::Cow<'_, [u8]> {
    if address.key().len() <= MAX_DIRECT_KEY {
        std::borrow::Cow::Borrowed(address.zero_and_key())
    } else {
        let mut key = Vec::with_capacity(17);
        key.push(1);
        key.extend_from_slice(&address.hash().to_be_bytes());
        std::borrow::Cow::Owned(key)
    }
}

fn u64_pair(a: u64, b: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&a.to_le_bytes());
    v[8..].copy_from_slice(&b.to_le_bytes());
    v
}

fn parse_u64(v: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(v.get(at..at + 8)?.try_into().ok()?))
}

fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
        || io.to_string().contains("could not acquire lock"))
}

/// Whether sled reports a damaged store (then set aside) rather than a passing failure.
fn is_corruption(e: &sled::Error) -> bool {
    matches!(
        e,
        sled::Error::Corruption { .. } | sled::Error::ReportableBug(_)
    )
}

/// Whether an error leaves the database unusable until it is reopened.
fn closes_database(e: &sled::Error) -> bool {
    is_corruption(e) || matches!(e, sled::Error::Io(_))
}

/// Whether an I/O error is a passing condition of the machine (a full disk, a quota,
/// a file-size limit, permissions, resources) rather than a sign of a damaged store.
fn is_transient(e: &sled::Error) -> bool {
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

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// How one attempt to open a database ended.
enum Opened {
    Open(Handles, (u64, u64)),
    Locked,
    /// sled panicked or reported corruption: the store must be set aside.
    Damaged(String),
    Failed(sled::Error),
}

/// Opens the database in `path` and counts its entries, containing sled's panics.
fn open_db(path: &Path) -> Opened {
    let started = Instant::now();
    loop {
        let attempt = catch_unwind(|| -> sled::Result<(Handles, (u64, u64))> {
            let db = sled::Config::new()
                .path(path)
                .cache_capacity(64 << 20)
                .open()?;
            let entries = db.open_tree("entries")?;
            let meta = db.open_tree("meta")?;
            let handles = Handles { db, entries, meta };
            let usage = handles.load_usage()?;
            Ok((handles, usage))
        });
        return match attempt {
            Ok(Ok((handles, usage))) => Opened::Open(handles, usage),
            // A database this process just closed may hold its lock a moment longer.
            Ok(Err(e)) if is_lock_error(&e) && started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Ok(Err(e)) if is_lock_error(&e) => Opened::Locked,
            Ok(Err(e)) if is_transient(&e) => Opened::Failed(e),
            Ok(Err(e)) => Opened::Damaged(e.to_string()),
            Err(panic) => Opened::Damaged(format!("sled panicked: {}", panic_message(&*panic))),
        };
    }
}

/// Runs `work` on a thread of its own and waits for it at most `limit`. sled 0.34 can
/// block forever in a flush (which its close also runs) after some write failures: a
/// failed blob write leaves a claimed log slot that is never completed. `None` when the
/// work did not finish in time (the thread is left to it); a panic is contained.
fn within<R: Send + 'static>(
    limit: Duration,
    work: impl FnOnce() -> R + Send + 'static,
) -> Option<std::thread::Result<R>> {
    let (done, wait) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("smartcache-sled".into())
        .spawn(move || {
            let _ = done.send(catch_unwind(AssertUnwindSafe(work)));
        });
    match spawned {
        Ok(_) => wait.recv_timeout(limit).ok(),
        Err(e) => {
            tracing::warn!(error = %e, "sled tier: cannot start a thread");
            None
        }
    }
}

/// Flushes a database, at most for [`FLUSH_WAIT`].
fn flush_db(db: &sled::Db) -> sled::Result<()> {
    let db = db.clone();
    match within(FLUSH_WAIT, move || db.flush()) {
        Some(Ok(flushed)) => flushed.map(|_| ()),
        Some(Err(panic)) => Err(sled::Error::ReportableBug(format!(
            "sled panicked in a flush: {}",
            panic_message(&*panic)
        ))),
        None => Err(sled::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "sled did not finish a flush in time (its log is stuck after a failed write)",
        ))),
    }
}

/// Drops a database (sled flushes on close), containing its panics, waiting at most
/// [`CLOSE_WAIT`]. `false` when it did not close in time: it is stuck, and keeps its
/// folder locked for as long as this process runs.
fn close<T: Send + 'static>(handles: T) -> bool {
    match within(CLOSE_WAIT, move || drop(handles)) {
        Some(Ok(())) => true,
        Some(Err(_)) => {
            tracing::warn!("sled tier: the database panicked while closing");
            true
        }
        None => {
            tracing::warn!("sled tier: the database did not close in time; it is set aside");
            false
        }
    }
}

impl Handles {
    /// The entry count and bytes from the record a clean close left, or by counting the
    /// entries; then marks the record unclean until the tier closes.
    fn load_usage(&self) -> sled::Result<(u64, u64)> {
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
        Ok((count, bytes))
    }

    fn write_usage(&self, count: u64, bytes: u64, clean: bool) -> sled::Result<()> {
        let mut record = u64_pair(count, bytes).to_vec();
        record.push(u8::from(clean));
        self.meta.insert(USAGE_KEY, record).map(|_| ())
    }
}

impl SledTier {
    /// Opens the sled database in `path`, or returns the one this process already has open.
    /// A damaged database is set aside and replaced; one locked by another process gives a
    /// tier that does not take writes (see the module docs). Fails when the folder is
    /// unusable or sled cannot open a fresh database (I/O).
    pub fn open(path: &Path, config: &CacheConfig) -> Result<Arc<SledTier>> {
        let mut open = registry().lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, tier| tier.strong_count() > 0);
        if let Some(tier) = open.get(path).and_then(Weak::upgrade) {
            return Ok(tier);
        }
        let tier = Arc::new(SledTier::open_new(path, config)?);
        open.insert(path.to_path_buf(), Arc::downgrade(&tier));
        Ok(tier)
    }

    fn open_new(path: &Path, config: &CacheConfig) -> Result<SledTier> {
        paths::ensure_usable_dir(path, config.secure)?;
        if config.secure {
            // sled creates its files with the process umask: files created in this folder
            // (and its subfolders) are owner-only from the start.
            paths::owner_only_by_default(path);
        }
        let tier = SledTier {
            path: path.to_path_buf(),
            namespace_dir: path.parent().unwrap_or(path).to_path_buf(),
            capacity: config.disk_capacity,
            durability: config.durability,
            secure: config.secure,
            state: RwLock::new(State::Down {
                since: Instant::now(),
                quarantine: false,
            }),
            gauge: Gauge::default(),
            touched: AccessTable::new(),
            evicting: Mutex::new(()),
            quarantined: AtomicU64::new(0),
            disk_bytes: AtomicU64::new(0),
            measured_ms: AtomicU64::new(0),
            others_waiting: AtomicBool::new(false),
            waiters_checked_ms: AtomicU64::new(0),
            shared_all: AtomicBool::new(false),
            compacted_ratio_milli: AtomicU64::new(1000),
            last_io_error: Mutex::new(None),
            last_failure: Mutex::new(None),
        };
        let mut state = tier.state_mut();
        tier.finish_compaction();
        match tier.reopen(&mut state) {
            Ok(()) => {}
            Err(e) => return Err(e),
        }
        if let State::Open(h) = &*state {
            let recorded = catch_unwind(AssertUnwindSafe(|| h.meta.get(COMPACTED_KEY)));
            if let Some(ratio) = recorded
                .ok()
                .and_then(|r| r.ok())
                .flatten()
                .and_then(|v| parse_u64(&v, 0))
            {
                tier.compacted_ratio_milli.store(ratio.max(1000), Relaxed);
            }
        }
        let compact = matches!(&*state, State::Open(_)) && tier.wants_compaction();
        if compact {
            tier.compact(&mut state);
        }
        drop(state);
        Ok(tier)
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn error(&self, source: sled::Error) -> CacheError {
        match source {
            sled::Error::Io(io) => CacheError::io(Tier::Sled, &self.path, io),
            source => CacheError::Sled {
                path: self.path.clone(),
                source,
            },
        }
    }

    fn unavailable(reason: &'static str) -> CacheError {
        CacheError::TierUnavailable {
            tier: Tier::Sled,
            reason,
        }
    }

    /// Opens the database into `state` (which is not open): on damage, sets the store
    /// aside and opens a fresh one. `Err` only for an I/O failure of the fresh open.
    fn reopen(&self, state: &mut State) -> Result<()> {
        let quarantine_first = matches!(
            state,
            State::Down {
                quarantine: true,
                ..
            }
        );
        if quarantine_first {
            self.quarantine("it failed while open (see the earlier warning)");
        }
        let mut opened = open_db(&self.path);
        if let Opened::Damaged(reason) = &opened {
            self.quarantine(reason);
            opened = open_db(&self.path);
        }
        match opened {
            Opened::Open(handles, (count, bytes)) => {
                *self.last_io_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                if let State::Elsewhere { .. } = state {
                    tracing::info!(path = %self.path.display(), "sled tier: the lock was released; this process uses sled again");
                    self.leave_waiters();
                }
                self.gauge.set(count, bytes);
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
                self.join_waiters();
                *state = State::Elsewhere {
                    since: Instant::now(),
                };
                Ok(())
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
                self.note_io_error(&e);
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
    fn quarantine(&self, reason: &str) {
        let dir = self.namespace_dir.join("quarantine");
        let target = dir.join(format!("sled-{}", entry::now_ms()));
        let moved =
            paths::create_dir(&dir, self.secure).and_then(|()| fs::rename(&self.path, &target));
        match moved {
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
    fn handles(&self) -> Result<Option<RwLockReadGuard<'_, State>>> {
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

    /// Remembers the I/O error that closed the database.
    fn note_io_error(&self, e: &sled::Error) {
        let mut last = self.last_io_error.lock().unwrap_or_else(|p| p.into_inner());
        *last = match e {
            sled::Error::Io(io) => Some((io.kind(), io.raw_os_error(), io.to_string())),
            _ => None,
        };
    }

    /// The error for a call that finds the database closed: the I/O error that closed it,
    /// with the path, or why it is closed.
    fn down_error(&self) -> CacheError {
        let last = self.last_io_error.lock().unwrap_or_else(|p| p.into_inner());
        match &*last {
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
    fn run<R>(&self, op: impl FnOnce(&Handles) -> sled::Result<R>) -> Result<Option<R>> {
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
                    self.note_io_error(&e);
                    self.fail(&e.to_string(), !is_transient(&e));
                }
                Err(self.error(e))
            }
            Err(panic) => {
                drop(state);
                let reason = format!("sled panicked: {}", panic_message(&*panic));
                self.fail(&reason, true);
                Err(Self::unavailable(
                    "sled panicked on its database, which is set aside and replaced (see the warning logged)",
                ))
            }
        }
    }

    /// Closes the database after a failure; a damaged one is set aside when reopened.
    /// A damaged (or stuck) database is set aside and a fresh one opened at once; one
    /// closed by an I/O error is reopened by a later call, at most once a second.
    fn fail(&self, reason: &str, damaged: bool) {
        let mut state = self.state_mut();
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.to_string());
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
    fn doomed(&self) -> bool {
        matches!(
            *self.state.read().unwrap_or_else(|p| p.into_inner()),
            State::Down {
                quarantine: true,
                ..
            }
        )
    }

    /// Whether the tier takes writes now: open, and no other process waits for it.
    pub fn accepts_writes(&self) -> bool {
        match self.handles() {
            Ok(Some(_)) => !self.others_waiting(),
            _ => false,
        }
    }

    // ---- processes waiting for the lock ----------------------------------------------

    fn waiters_dir(&self) -> PathBuf {
        self.namespace_dir.join("sled-waiters")
    }

    /// Leaves (or refreshes) this process's heartbeat among the waiters.
    fn join_waiters(&self) {
        let dir = self.waiters_dir();
        let file = dir.join(std::process::id().to_string());
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

    fn leave_waiters(&self) {
        let _ = fs::remove_file(self.waiters_dir().join(std::process::id().to_string()));
    }

    /// Whether another process has waited for this database recently (checked at most
    /// once a second); old heartbeats are removed.
    pub fn others_waiting(&self) -> bool {
        let now = entry::coarse_now_ms();
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
    /// database (so that they see them): `(sled key, entry)`. Empty when there are none
    /// left, or none need moving.
    pub fn entries_to_share(&self, max: usize) -> Vec<(sled::IVec, sled::IVec)> {
        if !self.others_waiting() || self.shared_all.load(Relaxed) {
            return Vec::new();
        }
        let taken = self.run(|h| h.entries.iter().take(max).collect::<sled::Result<Vec<_>>>());
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

    /// Removes the entry at `key` if it still holds `entry` (it has been moved).
    pub fn remove_moved(&self, key: &[u8], entry: &sled::IVec) {
        let removed = self.run(|h| {
            let swapped = h
                .entries
                .compare_and_swap(key, Some(entry), None::<&[u8]>)?;
            if swapped.is_ok() {
                self.gauge.removed(entry.len() as u64);
                self.touched.forget(access_id(key));
            }
            Ok(())
        });
        if let Err(e) = removed {
            tracing::debug!(error = %e, "sled tier: cannot remove a moved entry");
        }
    }

    // ---- space ---------------------------------------------------------------------

    /// Measures the folder (files vanishing meanwhile are skipped).
    fn measure(&self) -> u64 {
        let bytes = paths::tree_size(&self.path);
        self.disk_bytes.store(bytes, Relaxed);
        self.measured_ms.store(entry::coarse_now_ms(), Relaxed);
        bytes
    }

    /// How much larger than its live entries sled's folder may grow before it is
    /// compacted, in thousandths. sled needs room of its own: measured here with 30
    /// rounds of rewrites, its folder settles at about 3 times the entries for 1 KB and
    /// 20 KB values, while for 200 KB values (pages written as blob files) it grows
    /// without end (55 times after 30 rounds); a fresh copy takes 1.5 (20 KB) to 2.8
    /// (200 KB) times. So the bar is 4 times, clear of where sled settles by itself, or
    /// half as much again as the last compaction achieved if that was more.
    fn compaction_bar(&self) -> u64 {
        let achieved = self.compacted_ratio_milli.load(Relaxed);
        (achieved.saturating_mul(3) / 2).clamp(4000, 12_000)
    }

    /// Whether the folder has passed the compaction bar.
    fn wants_compaction(&self) -> bool {
        let disk = self.disk_bytes.load(Relaxed);
        let live = self.gauge.bytes();
        disk > COMPACT_FLOOR && disk > live.saturating_mul(self.compaction_bar()) / 1000
    }

    /// The live bytes the tier may hold so that its folder, which may grow to the
    /// compaction bar, stays within `disk_capacity`.
    fn live_budget(&self) -> u64 {
        self.capacity / self.compaction_bar() * 1000
    }

    /// The folder a compaction builds the new database in.
    fn compact_path(&self) -> PathBuf {
        self.namespace_dir.join("sled.compact")
    }

    /// The folder the old database waits in while a compaction swaps them.
    fn old_path(&self) -> PathBuf {
        self.namespace_dir.join("sled.old")
    }

    /// Completes or undoes a compaction that a crash interrupted: the new database is
    /// complete once the old one has moved to `sled.old`.
    fn finish_compaction(&self) {
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
    fn compact(&self, state: &mut State) {
        let State::Open(handles) = &*state else {
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
            let db = sled::Config::new()
                .path(&new)
                .open()
                .map_err(|e| e.to_string())?;
            for name in ["entries", "meta"] {
                let from = handles.db.open_tree(name).map_err(|e| e.to_string())?;
                let to = db.open_tree(name).map_err(|e| e.to_string())?;
                for item in from.iter() {
                    let (k, v) = item.map_err(|e| e.to_string())?;
                    to.insert(k, v).map_err(|e| e.to_string())?;
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
            Err(panic) => Err(format!("sled panicked: {}", panic_message(&*panic))),
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
    fn check_space(&self) {
        let now = entry::coarse_now_ms();
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

    // ---- access records and eviction -----------------------------------------------

    /// Writes the access times recorded in memory to `meta`.
    fn flush_touched(&self) -> Result<()> {
        self.run(|h| self.flush_touched_into(h)).map(|_| ())
    }

    fn flush_touched_into(&self, handles: &Handles) -> sled::Result<()> {
        let touched = self.touched.take();
        if touched.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for &(id, access) in &touched {
            batch.insert(&id.to_be_bytes(), &access.to_le_bytes());
        }
        handles.meta.apply_batch(batch)?;
        self.touched.written(&touched);
        Ok(())
    }

    /// The last access of an entry: read in this process, recorded in `meta`, or written.
    fn last_access(&self, handles: &Handles, id: u64, created_ms: u64) -> sled::Result<u64> {
        let recorded = match self.touched.get(id) {
            Some(t) => Some(t),
            None => handles
                .meta
                .get(id.to_be_bytes())?
                .and_then(|v| parse_u64(&v, 0)),
        };
        Ok(recorded.unwrap_or(0).max(created_ms))
    }

    /// Removes the least recently used entries until the tier holds at most 90% of its
    /// live budget. `keep` (the entry just written) is never evicted.
    fn evict(&self, keep: &[u8]) -> Result<()> {
        let Ok(_only_one) = self.evicting.try_lock() else {
            return Ok(()); // another thread is evicting
        };
        self.run(|h| {
            self.flush_touched_into(h)?;
            let mut all = Vec::new();
            let (mut count, mut bytes) = (0u64, 0u64);
            for item in h.entries.iter() {
                let (k, v) = item?;
                count += 1;
                bytes += v.len() as u64;
                if &*k == keep {
                    continue;
                }
                let created = entry::created_ms_of(&v).unwrap_or(0);
                let access = self.last_access(h, access_id(&k), created)?;
                all.push((access, k));
            }
            // The scan saw every entry: correct any drift in the counters before deciding.
            self.gauge.set(count, bytes);
            all.sort_unstable();
            let target = self.live_budget() / 10 * 9;
            for (_, k) in all {
                if self.gauge.bytes() <= target {
                    break;
                }
                if Self::remove_key_in(self, h, &k)? {
                    self.gauge.evicted();
                }
            }
            Ok(())
        })
        .map(|_| ())
    }

    fn remove_key_in(&self, handles: &Handles, key: &[u8]) -> sled::Result<bool> {
        let old = handles.entries.remove(key)?;
        let id = access_id(key);
        self.touched.forget(id);
        handles.meta.remove(id.to_be_bytes())?;
        Ok(match old {
            Some(old) => {
                self.gauge.removed(old.len() as u64);
                true
            }
            None => false,
        })
    }

    /// Checks the time to idle of an entry just read, and records the access.
    fn access(
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
        if self.touched.record(id, expect.now.coarse_ms()) {
            self.flush_touched_into(handles)?;
        }
        Ok(Ok(()))
    }
}

/// Whether an entry last read at `last_ms` has idled out at `now_ms`.
fn idle_out(last_ms: u64, tti: Duration, now_ms: u64) -> bool {
    last_ms.saturating_add(u64::try_from(tti.as_millis()).unwrap_or(u64::MAX)) <= now_ms
}

impl Store for SledTier {
    fn store<V: Cacheable>(&self, address: &Address, meta: &EntryMeta, value: &V) -> Result<u64> {
        let bytes = entry::to_vec::<V, V::Codec>(meta, address.key(), value, value.size_hint())
            .map_err(|e| e.into_cache_error::<V>(Tier::Sled, &self.path))?;
        let len = bytes.len() as u64;
        if len > self.capacity {
            return Err(too_large(Tier::Sled, len, self.capacity));
        }
        let key = sled_key(address);
        let durability = self.durability;
        let stored = self.run(|h| {
            let old = h.entries.insert(&key, bytes)?;
            if durability == Durability::Fsync {
                flush_db(&h.db)?;
            }
            Ok(old.map(|old| old.len() as u64))
        })?;
        let Some(old) = stored else {
            return Err(Self::unavailable(
                "another process holds the sled database (values bound for sled go to the file tier)",
            ));
        };
        self.gauge.stored(old, len);
        if self.gauge.bytes() > self.live_budget() {
            if let Err(e) = self.evict(&key) {
                tracing::warn!(path = %self.path.display(), error = %e, "sled tier: eviction failed");
            }
        }
        self.check_space();
        Ok(len)
    }

    fn load<V: Cacheable>(
        &self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> Result<Option<Loaded<V>>, LoadError> {
        let key = sled_key(address);
        let read = self.run(|h| {
            let Some(bytes) = h.entries.get(&key)? else {
                return Ok(None);
            };
            let (value, header) = match entry::decode_slice::<V, V::Codec>(&bytes, expect) {
                Ok(decoded) => decoded,
                Err(refusal) => {
                    return Ok(Some(Err(LoadError::refused(
                        refusal,
                        Tier::Sled,
                        &self.path,
                    ))))
                }
            };
            Ok(Some(self.access(h, &key, header.created_ms, expect)?.map(
                |()| Loaded {
                    value,
                    expires_ms: header.expires_ms,
                },
            )))
        })?;
        read.flatten().transpose()
    }

    fn probe(&self, address: &Address, expect: &Expect<'_>) -> Result<bool, LoadError> {
        let key = sled_key(address);
        let probed = self.run(|h| {
            let Some(bytes) = h.entries.get(&key)? else {
                return Ok(Ok(false));
            };
            let header = match entry::check_slice(&bytes, expect) {
                Ok(header) => header,
                Err(refusal) => {
                    return Ok(Err(LoadError::refused(refusal, Tier::Sled, &self.path)))
                }
            };
            if let Some(tti) = expect.tti {
                let last = self.last_access(h, access_id(&key), header.created_ms)?;
                if idle_out(last, tti, expect.now.ms()) {
                    return Ok(Err(LoadError::Expired));
                }
            }
            Ok(Ok(true))
        })?;
        probed.unwrap_or(Ok(false))
    }

    fn remove(&self, address: &Address) -> Result<bool> {
        let key = sled_key(address);
        match self.run(|h| self.remove_key_in(h, &key)) {
            Ok(removed) => Ok(removed.unwrap_or(false)),
            // Nothing of a doomed database is read again: the entry is as good as gone.
            Err(_) if self.doomed() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn touch(&self, address: &Address, now_ms: u64) {
        let id = access_id(&sled_key(address));
        if self.touched.record(id, now_ms) {
            if let Err(e) = self.flush_touched() {
                tracing::debug!(error = %e, "sled tier: cannot write access times");
            }
        }
    }

    fn clear(&self) -> Result<()> {
        self.run(|h| {
            h.entries.clear()?;
            h.meta.clear()?;
            self.touched.clear();
            self.gauge.set(0, 0);
            h.write_usage(0, 0, false)
        })?;
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.run(|h| {
            self.flush_touched_into(h)?;
            flush_db(&h.db)
        })?;
        Ok(())
    }

    fn usage(&self) -> Usage {
        Usage {
            disk_bytes: self.disk_bytes.load(Relaxed),
            quarantined: self.quarantined.load(Relaxed),
            ..self.gauge.usage()
        }
    }
}

impl Drop for SledTier {
    fn drop(&mut self) {
        let state = std::mem::replace(
            self.state.get_mut().unwrap_or_else(|p| p.into_inner()),
            State::Down {
                since: Instant::now(),
                quarantine: false,
            },
        );
        match state {
            State::Open(handles) => {
                let usage = self.gauge.usage();
                let closed = catch_unwind(AssertUnwindSafe(|| -> sled::Result<()> {
                    self.flush_touched_into(&handles)?;
                    handles.write_usage(usage.entries, usage.bytes, true)?;
                    flush_db(&handles.db)
                }));
                match closed {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(path = %self.path.display(), error = %e, "sled tier: flush on close failed")
                    }
                    Err(_) => {
                        tracing::warn!(path = %self.path.display(), "sled tier: sled panicked while closing")
                    }
                }
                close(handles);
            }
            State::Elsewhere { .. } => self.leave_waiters(),
            State::Down { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_direct_and_long_keys_hashed() {
        let short = Address::new(b"ns\0abc".to_vec(), 3);
        assert_eq!(&*sled_key(&short), b"\0abc");
        let mut bytes = b"ns\0".to_vec();
        bytes.extend_from_slice(&[1; 65]);
        let long = Address::new(bytes, 3);
        let mut expected = vec![1u8];
        expected.extend_from_slice(&long.hash().to_be_bytes());
        assert_eq!(&*sled_key(&long), expected);
    }
}
