//! Storage tiers: the [`Tier`] names, and the [`Store`] trait that the persistent tiers
//! (sled, file) implement. The memory tier is the moka front that every cache has.
//!
//! One file a tier: `memory.rs`, `sled.rs`, `file.rs`.

use std::fmt;

use crate::entry::{EntryMeta, Expect};
use crate::{CacheError, Cacheable, Result};

pub(crate) mod file;
pub(crate) mod memory;
pub(crate) mod sled;

/// Where a value lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// The address of an entry in a persistent tier: the stable 128-bit hash of
/// (namespace, encoded key), and the encoded key itself, stored in the entry so that a
/// hash collision is detected instead of served.
///
/// The bytes are kept as one buffer, `namespace, 0, key`, which is also what was hashed;
/// `0, key` is the key's sled key (see `sled.rs`).
pub(crate) struct Address {
    pub hash: u128,
    bytes: Vec<u8>,
    key_at: usize,
}

impl Address {
    /// `bytes` holds `namespace, 0, key`, with the key starting at `key_at`.
    pub fn new(bytes: Vec<u8>, key_at: usize) -> Self {
        debug_assert!(key_at >= 1 && key_at <= bytes.len() && bytes[key_at - 1] == 0);
        Address {
            hash: xxhash_rust::xxh3::xxh3_128(&bytes),
            bytes,
            key_at,
        }
    }

    /// The encoded key.
    #[inline]
    pub fn key(&self) -> &[u8] {
        &self.bytes[self.key_at..]
    }

    /// The encoded key behind a `0` byte.
    #[inline]
    pub fn zero_and_key(&self) -> &[u8] {
        &self.bytes[self.key_at.saturating_sub(1)..]
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

    /// Deletes every entry.
    fn clear(&self) -> Result<()>;

    /// Makes every write so far durable.
    fn flush(&self) -> Result<()>;

    /// Entries and bytes held, and evictions made.
    fn usage(&self) -> Usage;
}

/// Subtracts from a counter without wrapping below zero.
pub(crate) fn saturating_sub(counter: &std::sync::atomic::AtomicU64, n: u64) {
    use std::sync::atomic::Ordering::Relaxed;
    let _ = counter.fetch_update(Relaxed, Relaxed, |c| Some(c.saturating_sub(n)));
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
                *last = None;
                Ok(self.cell.get_or_init(|| t))
            }
            Err(e) => {
                *last = Some(std::time::Instant::now());
                Err(e)
            }
        }
    }
}
