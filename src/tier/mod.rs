//! Storage tiers: the [`Tier`] names, the [`Store`] trait that every persistent tier
//! implements, and [`PERSISTENT`], the list of them. The memory tier is the front that
//! every cache has.
//!
//! One file (or folder) a tier: `memory/` (the tier, on moka in `moka.rs` or quick_cache
//! in `quick.rs`), `sled/` (the tier in `mod.rs`; its fault handling, space, eviction and
//! processes waiting for its lock beside it), `file/` (the tier, and reads through memory
//! maps in `map.rs`), `redis/`.
//!
//! A tier stores and reads enveloped entries by [`Address`], and never sees the type of a
//! value: it writes an [`Outgoing`] entry and decodes into an [`Incoming`] place (see
//! `entry/typed.rs`), so the cache holds its tiers as `dyn Store`. Adding a persistent
//! tier is a file that implements [`Store`] and defines its [`Kind`], a line in
//! [`PERSISTENT`], and the tier's public name (a [`Tier`] variant, its `CacheStats` field).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::config::CacheConfig;
use crate::entry::{Expect, Incoming, Outgoing};
use crate::key::Address;
use crate::{CacheError, Result};

pub(crate) mod access;
pub(crate) mod audit;
pub(crate) mod file;
pub(crate) mod memory;
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod sled;

/// Every persistent tier.
#[cfg(not(feature = "redis"))]
pub(crate) const PERSISTENT: [Kind; 2] = [sled::KIND, file::KIND];
/// Every persistent tier.
#[cfg(feature = "redis")]
pub(crate) const PERSISTENT: [Kind; 3] = [sled::KIND, file::KIND, redis::KIND];

/// Where a value lives. More tiers may come: match with a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Tier {
    /// In process memory (moka): the fastest tier, lost when the process ends.
    Memory,
    /// The embedded key-value store (sled): small and medium values, persistent.
    /// One process at a time may open a sled database.
    Sled,
    /// One file per entry: large values, persistent, shareable by several processes.
    File,
    /// A Redis server, shared by processes and machines (feature `redis`).
    #[cfg(feature = "redis")]
    Redis,
}

impl Tier {
    /// All tiers, fastest first.
    #[cfg(not(feature = "redis"))]
    pub const ALL: [Tier; 3] = [Tier::Memory, Tier::Sled, Tier::File];
    /// All tiers, fastest first.
    #[cfg(feature = "redis")]
    pub const ALL: [Tier; 4] = [Tier::Memory, Tier::Sled, Tier::File, Tier::Redis];

    /// The tier's lower-case name, as used in attributes (`tier = "sled"`) and messages.
    pub const fn name(self) -> &'static str {
        match self {
            Tier::Memory => "memory",
            Tier::Sled => "sled",
            Tier::File => "file",
            #[cfg(feature = "redis")]
            Tier::Redis => "redis",
        }
    }

    /// Whether values in this tier survive the process.
    pub const fn is_persistent(self) -> bool {
        !matches!(self, Tier::Memory)
    }

    /// Parses a tier name as written in attributes: `memory`, `sled` or `file`.
    pub fn from_name(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|tier| tier.name() == name)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A persistent tier as [`PERSISTENT`] lists it: its name, its folder, how it opens.
pub(crate) struct Kind {
    pub tier: Tier,
    /// Its folder in a namespace folder, for a tier kept on this machine. A read opens
    /// such a tier only if the folder exists, so that reads never create storage.
    pub folder: Option<&'static str>,
    /// Opens (creating) the tier.
    pub open: fn(&Opening<'_>) -> Result<Arc<dyn Store>>,
}

/// What a tier opens with.
pub(crate) struct Opening<'a> {
    /// `<namespace folder>/<Kind::folder>`, for a tier with a folder.
    pub folder: Option<&'a Path>,
    /// The cache's namespace (for a tier that keeps no folder of it).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub namespace: &'a str,
    pub config: &'a CacheConfig,
}

impl Opening<'_> {
    /// The folder of a tier kept in one.
    pub fn folder(&self, tier: Tier) -> Result<&Path> {
        self.folder.ok_or(CacheError::TierUnavailable {
            tier,
            reason: "no storage folder: set CacheConfig::dir or $SMARTCACHE_DIR",
        })
    }
}

impl Kind {
    /// The entry of `tier` in [`PERSISTENT`], with its index there.
    pub fn of(tier: Tier) -> Option<(usize, &'static Kind)> {
        PERSISTENT
            .iter()
            .enumerate()
            .find(|(_, kind)| kind.tier == tier)
    }
}

/// Why a persistent tier could not hand back a value it holds.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// The entry outlived its time to live or time to idle.
    Expired,
    /// The entry belongs to another type, version or envelope format (see
    /// `entry::Refusal::Foreign` and `entry::Refusal::Format`).
    Foreign,
    /// The entry is corrupt, truncated, stale, foreign or a hash collision.
    Invalid(String),
    /// The tier itself failed (I/O, sled).
    Failed(CacheError),
}

impl From<CacheError> for LoadError {
    fn from(error: CacheError) -> Self {
        LoadError::Failed(error)
    }
}

/// What a persistent tier says of an entry it read (the value went to the `Incoming`).
pub(crate) struct Loaded {
    /// The entry's expiry time, in milliseconds since the Unix epoch; 0 for never.
    pub expires_ms: u64,
}

/// Entries and bytes held by a tier.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usage {
    pub entries: u64,
    pub bytes: u64,
    pub evictions: u64,
    /// Bytes the tier's folder takes on disk, leftovers and store overhead included.
    pub disk_bytes: u64,
    /// Damaged stores set aside and replaced.
    pub quarantined: u64,
    /// Panics raised inside the store's engine and contained (sled).
    pub contained_panics: u64,
}

/// A persistent tier: stores enveloped entries (see `entry/`) by address.
pub(crate) trait Store: Send + Sync + 'static {
    /// Which tier this is.
    fn tier(&self) -> Tier;

    /// Writes `entry` under `address`, replacing what was there. Returns the stored size.
    fn store(&self, address: &Address, entry: &dyn Outgoing) -> Result<u64>;

    /// Reads and validates the entry at `address`, decoding its value into `into`.
    /// `Ok(None)` when there is none.
    fn load(
        &self,
        address: &Address,
        expect: &Expect<'_>,
        into: &mut dyn Incoming,
    ) -> std::result::Result<Option<Loaded>, LoadError>;

    /// Validates the header of the entry at `address` without reading its payload.
    fn probe(&self, address: &Address, expect: &Expect<'_>)
        -> std::result::Result<bool, LoadError>;

    /// Deletes the entry. `Ok(true)` when there was one.
    fn remove(&self, address: &Address) -> Result<bool>;

    /// Whether an entry of the key whose address hashes to `hash` may be here; `false`
    /// only when none is (so that an insert elsewhere need not look for an older one).
    fn may_hold(&self, _hash: u128) -> bool {
        true
    }

    /// Records a read of the entry at `address` that was answered from a memory copy.
    fn touch(&self, address: &Address, now_ms: u64);

    /// Deletes every entry.
    fn clear(&self) -> Result<()>;

    /// Makes every write so far durable.
    fn flush(&self) -> Result<()>;

    /// Entries and bytes held, and evictions made.
    fn usage(&self) -> Usage;

    /// The encoded keys of the entries held whose header and key check out, of every
    /// type: the cache checks each against its own (`SmartCache::keys`).
    fn keys(&self) -> Result<Vec<Vec<u8>>>;

    /// Shows every entry held to `visit`, checking payloads too with `payloads`, and
    /// removes those for which `visit` returns true, unless they changed meanwhile.
    /// A tier without an audit of its own shows nothing.
    fn audit(
        &self,
        _payloads: bool,
        _visit: &mut dyn FnMut(&audit::Met) -> bool,
    ) -> Result<audit::Audited> {
        Ok(audit::Audited::DONE)
    }

    /// What crashes and failed operations left in the tier's folder; removed with
    /// `remove`. Data a live writer is still working on is not listed.
    fn leftovers(&self, _remove: bool) -> Vec<audit::Leftover> {
        Vec::new()
    }

    /// Evicts the least recently used entries until the tier holds at most `bytes`.
    /// Returns how many went. A tier that keeps its own bounds (a Redis server's
    /// `maxmemory`) evicts nothing.
    fn shrink_to(&self, _bytes: u64) -> Result<u64> {
        Ok(0)
    }

    // What follows concerns tiers that cannot always take writes, and the file tier that
    // takes them meanwhile (every process sees it). The defaults suit a tier that can.

    /// Whether the tier takes writes now. While it does not, values bound for it go to
    /// its [`Store::fallback`].
    fn takes_writes(&self) -> bool {
        true
    }

    /// Where values bound for this tier go while it takes no writes: the file tier, which
    /// every process sees, unless the tier is configured otherwise (Redis).
    fn fallback(&self) -> Tier {
        Tier::File
    }

    /// Whether other processes want what this tier holds and cannot read it: the file
    /// tier, where they write, then has the newest values and is read first.
    fn wanted_elsewhere(&self) -> bool {
        false
    }

    /// Up to `max` entries to hand to the file tier while [`Store::wanted_elsewhere`],
    /// as they are stored (see [`Store::adopt`]).
    fn entries_to_hand_over(&self, _max: usize) -> Vec<HandOver> {
        Vec::new()
    }

    /// Forgets an entry handed over, unless it changed since.
    fn handed_over(&self, _entry: &HandOver) {}

    /// Stores an entry handed over by another tier (see `entry::relaid_for_file`),
    /// unless an entry is there already. `Ok(false)` when one was.
    fn adopt(&self, _address: &Address, _entry: &[u8]) -> Result<bool> {
        Err(CacheError::TierUnavailable {
            tier: self.tier(),
            reason: "this tier does not take entries from other tiers",
        })
    }

    /// Maps the entry at `address` into memory, header checked and payload unread, for
    /// `get_mapped`. `Ok(None)` when there is none, or the tier keeps no files.
    #[cfg(feature = "ndarray")]
    fn map(
        &self,
        _address: &Address,
        _expect: &Expect<'_>,
    ) -> std::result::Result<Option<Mapped>, LoadError> {
        Ok(None)
    }
}

/// An entry a tier hands to the file tier: its id in the tier, and its bytes as stored.
pub(crate) struct HandOver {
    pub id: Vec<u8>,
    pub entry: Vec<u8>,
}

/// An entry file mapped into memory (see [`Store::map`]).
#[cfg(feature = "ndarray")]
pub(crate) struct Mapped {
    pub map: memmap2::Mmap,
    pub header: crate::entry::Header,
    pub file: std::fs::Metadata,
}

/// Subtracts from a counter without wrapping below zero.
fn saturating_sub(counter: &std::sync::atomic::AtomicU64, n: u64) {
    use std::sync::atomic::Ordering::Relaxed;
    let _ = counter.fetch_update(Relaxed, Relaxed, |c| Some(c.saturating_sub(n)));
}

/// The entries, bytes and evictions of a persistent tier.
#[derive(Debug, Default)]
pub(crate) struct Gauge {
    count: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
    evictions: std::sync::atomic::AtomicU64,
}

impl Gauge {
    /// An entry of `len` bytes was written, replacing one of `old` bytes if any.
    pub fn stored(&self, old: Option<u64>, len: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        match old {
            Some(old) => saturating_sub(&self.bytes, old),
            None => {
                self.count.fetch_add(1, Relaxed);
            }
        }
        self.bytes.fetch_add(len, Relaxed);
    }

    /// An entry of `len` bytes is gone.
    pub fn removed(&self, len: u64) {
        saturating_sub(&self.bytes, len);
        saturating_sub(&self.count, 1);
    }

    /// An eviction happened.
    pub fn evicted(&self) {
        self.evictions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets the entries and bytes (after counting them, or clearing).
    pub fn set(&self, count: u64, bytes: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.count.store(count, Relaxed);
        self.bytes.store(bytes, Relaxed);
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn usage(&self) -> Usage {
        use std::sync::atomic::Ordering::Relaxed;
        Usage {
            entries: self.count.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            evictions: self.evictions.load(Relaxed),
            disk_bytes: 0,
            quarantined: 0,
            contained_panics: 0,
        }
    }
}

/// What a tier may hold: bytes and entries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub bytes: u64,
    pub entries: u64,
}

impl Limits {
    /// The bounds of a tier: `bytes`, and `max_entries` entries if set.
    pub fn of(bytes: u64, max_entries: Option<u64>) -> Self {
        Limits {
            bytes,
            entries: max_entries.unwrap_or(u64::MAX),
        }
    }

    /// Half of these limits.
    pub fn halved(self) -> Self {
        Limits {
            bytes: self.bytes / 2,
            entries: self.entries / 2,
        }
    }

    /// Where an eviction stops, for a tier of `capacity` bytes and at most `max_entries`:
    /// 90% of each, so that the next writes do not evict again at once (and, for a few
    /// entries, one fewer).
    pub fn after_eviction(capacity: u64, max_entries: Option<u64>) -> Self {
        Limits {
            bytes: capacity / 10 * 9,
            entries: max_entries.map_or(u64::MAX, |n| n - (n / 10).max(1)),
        }
    }

    /// Whether `usage` is within these limits.
    pub fn holds(&self, usage: Usage) -> bool {
        usage.bytes <= self.bytes && usage.entries <= self.entries
    }
}

/// The error for an entry of `len` bytes that can never fit in a tier of `capacity`.
pub(crate) fn too_large(tier: Tier, len: u64, capacity: u64) -> CacheError {
    CacheError::config(
        format!("an entry of {len} bytes is larger than the {tier} tier's disk_capacity of {capacity} bytes"),
        "raise CacheConfig::disk_capacity (or, for sled, lower CacheConfig::file_threshold so large values go to files)",
    )
}

impl LoadError {
    /// The load error for a refused entry of `tier` at `path`.
    pub fn refused(refusal: crate::entry::Refusal, tier: Tier, path: &std::path::Path) -> Self {
        use crate::entry::Refusal;
        match refusal {
            Refusal::Expired => LoadError::Expired,
            Refusal::Foreign | Refusal::Format(_) => LoadError::Foreign,
            Refusal::Invalid(reason) => LoadError::Invalid(reason),
            Refusal::Io(e) => LoadError::Failed(CacheError::io(tier, path, e)),
        }
    }
}

/// A persistent tier opened on first use. A failed open is retried, at most once a second.
pub(crate) struct LazyTier<T> {
    cell: std::sync::OnceLock<T>,
    last_failure: std::sync::Mutex<Option<std::time::Instant>>,
}

impl<T> LazyTier<T> {
    pub fn new() -> Self {
        LazyTier {
            cell: std::sync::OnceLock::new(),
            last_failure: std::sync::Mutex::new(None),
        }
    }

    /// The tier if it is open.
    pub fn get(&self) -> Option<&T> {
        self.cell.get()
    }

    /// The tier, opened with `open` if need be.
    pub fn get_or_open(&self, tier: Tier, open: impl FnOnce() -> Result<T>) -> Result<&T> {
        if let Some(t) = self.cell.get() {
            return Ok(t);
        }
        let mut last = self.last_failure.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = self.cell.get() {
            return Ok(t);
        }
        if last.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(1)) {
            return Err(CacheError::TierUnavailable {
                tier,
                reason: "it failed to open less than a second ago (see the earlier error)",
            });
        }
        match open() {
            Ok(t) => {
                if last.is_some() {
                    tracing::info!(tier = %tier, "the tier opened after an earlier failure");
                }
                *last = None;
                Ok(self.cell.get_or_init(|| t))
            }
            Err(e) => {
                if last.is_none() {
                    tracing::warn!(tier = %tier, error = %e, "the tier cannot be opened; it is tried again at most once a second");
                } else {
                    tracing::debug!(tier = %tier, error = %e, "the tier still cannot be opened");
                }
                *last = Some(std::time::Instant::now());
                Err(e)
            }
        }
    }
}
