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
//! - damage sled would fail on at open, found from its own checksums before it is called
//!   (`precheck.rs`), and a panic, or an error sled calls corruption, close the database and
//!   *quarantine* it:
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
//! Space: sled leaves orphaned blobs and segments behind after crashes (and some without).
//! At open, and every few seconds of writing, the tier measures its whole folder
//! (`stats().sled.disk_bytes`); past the bars in `space.rs` it *compacts*: it copies the
//! live entries into a fresh database and swaps the folders (a crash midway leaves the
//! old database or the complete new one, never a mix). `smartcache gc` compacts too.
//!
//! Within a process, every cache on the same folder shares one `SledTier` (see
//! [`SledTier::open`]); the first one opened sets its capacity and durability.
//!
//! Files: this one holds the tier and its [`Store`] methods; `state.rs` the database's
//! state and fault handling, `space.rs` measuring, compaction and the size record,
//! `eviction.rs` access records and eviction, `waiters.rs` other processes on the same
//! database, `audit.rs` walks over every entry (keys, audits) and leftovers, `panics.rs`
//! what a contained panic of sled's leaves, `precheck.rs` the look before each open.

use std::collections::HashMap;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, Weak};
use std::time::{Duration, Instant};

mod audit;
mod eviction;
mod panics;
mod precheck;
mod space;
mod state;
mod waiters;

use self::panics::{close, flush_db};
use self::panics::{is_contained_panic, panicked};
use self::precheck::{precheck, Precheck};
use self::space::{parse_u64, AtOpen};
use self::state::{registry, sled_config, Closure};
use super::access::{access_id, AccessTable};
use super::audit::{Audited, Leftover, Met};
use super::{too_large, Gauge, HandOver, Kind, Limits, LoadError, Loaded, Store, Upkeep, Usage};
use crate::config::{CacheConfig, Durability};
use crate::entry::{self, Expect, Incoming, Outgoing};
use crate::key::Address;
use crate::{paths, CacheError, Result, Tier};

/// The sled tier, as the list of persistent tiers has it.
pub(crate) const KIND: Kind = Kind {
    tier: Tier::Sled,
    folder: Some("sled"),
    open: |o| Ok(SledTier::open(o.folder(Tier::Sled)?, o.config)?),
    // While another process holds the database: the file tier, which every process sees.
    spare: |_| Some(Tier::File),
};

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
    /// `CacheConfig::max_entries`, if set.
    max_entries: Option<u64>,
    durability: Durability,
    secure: bool,
    /// Opened only to be looked at (`CacheConfig::look_only`).
    look_only: bool,
    state: RwLock<State>,
    gauge: Gauge,
    /// Reads since the last write of access times to `meta`.
    touched: AccessTable,
    evicting: Mutex<()>,
    /// Stores set aside as broken.
    quarantined: AtomicU64,
    /// Panics raised inside sled and contained here.
    contained_panics: AtomicU64,
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
    /// Whether the database was last opened after a close that did not finish (a crash),
    /// and has not been compacted since.
    recovered: AtomicBool,
    /// Why the database last closed: for the warning when it is set aside, and repeated
    /// (as I/O, with its path) to the calls that find it closed by an I/O error.
    closed_by: Mutex<Option<Closure>>,
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
        // A look leaves the database to the caches this process opens later.
        if !config.look_only {
            open.insert(path.to_path_buf(), Arc::downgrade(&tier));
        }
        Ok(tier)
    }

    fn open_new(path: &Path, config: &CacheConfig) -> Result<SledTier> {
        paths::ensure_usable_dir(path, config.secure)?;
        if config.secure && !config.look_only {
            // sled creates its files with the process umask: files created in this folder
            // (and its subfolders) are owner-only from the start.
            paths::owner_only_by_default(path);
        }
        let tier = SledTier {
            path: path.to_path_buf(),
            namespace_dir: path.parent().unwrap_or(path).to_path_buf(),
            capacity: config.disk_capacity,
            max_entries: config.max_entries,
            durability: config.durability,
            secure: config.secure,
            look_only: config.look_only,
            state: RwLock::new(State::Down {
                since: Instant::now(),
                quarantine: false,
            }),
            gauge: Gauge::default(),
            touched: AccessTable::new(),
            evicting: Mutex::new(()),
            quarantined: AtomicU64::new(0),
            contained_panics: AtomicU64::new(0),
            disk_bytes: AtomicU64::new(0),
            measured_ms: AtomicU64::new(0),
            others_waiting: AtomicBool::new(false),
            waiters_checked_ms: AtomicU64::new(0),
            shared_all: AtomicBool::new(false),
            compacted_ratio_milli: AtomicU64::new(1000),
            recovered: AtomicBool::new(false),
            closed_by: Mutex::new(None),
        };
        let mut state = tier.state_mut();
        if !tier.look_only {
            tier.finish_compaction();
        }
        tier.reopen(&mut state)?;
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
        let compact =
            !tier.look_only && matches!(&*state, State::Open(_)) && tier.wants_compaction();
        if compact {
            tier.compact(&mut state);
        }
        drop(state);
        Ok(tier)
    }
}

/// Whether an entry last read at `last_ms` has idled out at `now_ms`.
fn idle_out(last_ms: u64, tti: Duration, now_ms: u64) -> bool {
    last_ms.saturating_add(u64::try_from(tti.as_millis()).unwrap_or(u64::MAX)) <= now_ms
}

impl Store for SledTier {
    fn tier(&self) -> Tier {
        Tier::Sled
    }

    fn store(&self, address: &Address, entry: &dyn Outgoing) -> Result<Tier> {
        if !entry.replaces() {
            return Err(CacheError::TierUnavailable {
                tier: Tier::Sled,
                reason: "the sled tier takes no entries handed over by another tier",
            });
        }
        let bytes = entry.to_vec(Tier::Sled, &self.path)?;
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
        if self.over_bounds() {
            if let Err(e) = self.evict(&key) {
                tracing::warn!(path = %self.path.display(), error = %e, "sled tier: eviction failed");
            }
        }
        self.check_space();
        Ok(Tier::Sled)
    }

    fn load(
        &self,
        address: &Address,
        expect: &Expect<'_>,
        into: &mut dyn Incoming,
    ) -> Result<Option<Loaded>, LoadError> {
        let key = sled_key(address);
        let read = self.run(|h| {
            let Some(bytes) = h.entries.get(&key)? else {
                return Ok(None);
            };
            let header = match into.decode_entry(&bytes, expect) {
                Ok(header) => header,
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
                    expires_ms: header.expires_ms,
                    tier: Tier::Sled,
                },
            )))
        })?;
        read.flatten().transpose()
    }

    fn probe(&self, address: &Address, expect: &Expect<'_>) -> Result<Option<Tier>, LoadError> {
        let key = sled_key(address);
        let probed = self.run(|h| {
            let Some(bytes) = h.entries.get(&key)? else {
                return Ok(Ok(None));
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
            Ok(Ok(Some(Tier::Sled)))
        })?;
        probed.unwrap_or(Ok(None))
    }

    fn remove(&self, address: &Address) -> Result<bool> {
        if self.holds_no_entry() {
            return Ok(false);
        }
        let key = sled_key(address);
        match self.run(|h| self.remove_key_in(h, &key)) {
            Ok(removed) => Ok(removed.unwrap_or(false)),
            // Nothing of a doomed database is read again: the entry is as good as gone.
            Err(_) if self.doomed() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn may_hold(&self, _hash: u128) -> bool {
        !self.holds_no_entry()
    }

    fn touch(&self, address: &Address, now_ms: u64) {
        let id = access_id(&sled_key(address));
        if self.touched.record(id, now_ms) {
            if let Err(e) = self.flush_touched() {
                tracing::debug!(error = %e, "sled tier: cannot write access times");
            }
        }
    }
}

impl Upkeep for SledTier {
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

    /// The folder is measured afresh: sled writes on its own flush thread, so what was
    /// measured at the last write may be seconds old.
    fn usage(&self) -> Usage {
        Usage {
            disk_bytes: self.measure(),
            quarantined: self.quarantined.load(Relaxed),
            contained_panics: self.contained_panics.load(Relaxed),
            ..self.gauge.usage()
        }
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>> {
        self.stored_keys()
    }

    fn shrink_to(&self, bytes: u64) -> Result<u64> {
        let _only_one = self.evicting.lock().unwrap_or_else(|p| p.into_inner());
        self.evict_to(None, Limits::of(bytes, None))
    }

    fn audit(&self, payloads: bool, visit: &mut dyn FnMut(&Met) -> bool) -> Result<Audited> {
        self.audit_entries(payloads, visit)
    }

    fn leftovers(&self, remove: bool) -> Vec<Leftover> {
        self.leftover_folders(remove)
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
                    Err(panic) => {
                        let reason = self.contained(&*panic);
                        tracing::warn!(path = %self.path.display(), reason = %reason, "sled tier: sled panicked while closing; the panic was contained")
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
