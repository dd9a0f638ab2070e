//! Storage tiers: the [`Tier`] names, and the [`Store`] trait that the persistent tiers
//! (sled, file) implement. The memory tier is the moka front that every cache has.
//!
//! One file a tier: `memory.rs`, `sled/` (the tier in `mod.rs`; its fault handling, space,
//! eviction and processes waiting for its lock beside it), `file/` (the tier, and reads
//! through memory maps in `map.rs`).

use std::fmt;

use crate::entry::{EntryMeta, Expect};
use crate::key::Address;
use crate::{CacheError, Cacheable, Result};

pub(crate) mod access;
pub(crate) mod file;
pub(crate) mod memory;
pub(crate) mod sled;

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
    /// A Redis server, shared across machines.
    Redis,
}

impl Tier {
    /// All tiers, fastest first.
    pub const ALL: [Tier; 4] = [Tier::Memory, Tier::Sled, Tier::File, Tier::Redis];

    /// The tier's lower-case name, as used in attributes (`tier = "sled"`) and messages.
    pub const fn name(self) -> &'static str {
        match self {
            Tier::Memory => "memory",
            Tier::Sled => "sled",
            Tier::File => "file",
            Tier::Redis => "redis",
        }
    }

    /// Whether values in this tier survive the process.
    pub const fn is_persistent(self) -> bool {
        !matches!(self, Tier::Memory)
    }

    /// Parses a tier name as written in attributes: `memory`, `sled`, `file` or `redis`.
    pub fn from_name(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|tier| tier.name() == name)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a persistent tier could not hand back a value it holds.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// The entry outlived its time to live or time to idle.
    Expired,
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

/// A value read from a persistent tier, with the expiry time of its entry.
pub(crate) struct Loaded<V> {
    pub value: V,
    /// Milliseconds since the Unix epoch; 0 for never.
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
}

/// A persistent tier: stores enveloped entries (see `entry.rs`) by address.
pub(crate) trait Store: Send + Sync + 'static {
    /// Writes `value` under `address`, replacing what was there. Returns the stored size.
    fn store<V: Cacheable>(&self, address: &Address, meta: &EntryMeta, value: &V) -> Result<u64>;

    /// Reads and validates the entry at `address`. `Ok(None)` when there is none.
    fn load<V: Cacheable>(
        &self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> std::result::Result<Option<Loaded<V>>, LoadError>;

    /// Validates the header of the entry at `address` without reading its payload.
    fn probe(&self, address: &Address, expect: &Expect<'_>)
        -> std::result::Result<bool, LoadError>;

    /// Deletes the entry. `Ok(true)` when there was one.
    fn remove(&self, address: &Address) -> Result<bool>;

    /// Records a read of the entry at `address` that was answered from a memory copy.
    fn touch(&self, address: &Address, now_ms: u64);

    /// Deletes every entry.
    fn clear(&self) -> Result<()>;

    /// Makes every write so far durable.
    fn flush(&self) -> Result<()>;

    /// Entries and bytes held, and evictions made.
    fn usage(&self) -> Usage;
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
        }
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
