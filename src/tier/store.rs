//! What every persistent tier is to the cache: the [`Store`] and [`Upkeep`] traits it
//! implements, its [`Kind`] (name, folder, how it opens, its spare) and the [`Opening`] it
//! opens with, and what a read answers ([`Loaded`], [`LoadError`], [`Mapped`]).

use std::path::Path;
use std::sync::Arc;

use super::audit;
use super::gauge::Usage;
use super::{Tier, PERSISTENT};
use crate::config::CacheConfig;
use crate::entry::{Expect, Incoming, Outgoing};
use crate::key::Address;
use crate::{CacheError, Result};

/// A persistent tier as [`PERSISTENT`] lists it: its name, its folder, how it opens.
pub(crate) struct Kind {
    pub tier: Tier,
    /// Its folder in a namespace folder, for a tier kept on this machine. A read opens
    /// such a tier only if the folder exists, so that reads never create storage.
    pub folder: Option<&'static str>,
    /// Opens (creating) the tier.
    pub open: fn(&Opening<'_>) -> Result<Arc<dyn Primary>>,
    /// Where values bound for this tier go while it takes no writes (see
    /// `tier/failover.rs`): `None` for a tier that always takes them.
    pub spare: fn(&CacheConfig) -> Option<Tier>,
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
    /// The tier that held it: this one, or for a failover store its spare.
    pub tier: Tier,
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

/// A persistent tier: stores enveloped entries (see `entry/`) by address. What every
/// persistent tier does to one entry; what it does as a whole is [`Upkeep`].
pub(crate) trait Store: Upkeep + Send + Sync + 'static {
    /// Which tier this is.
    fn tier(&self) -> Tier;

    /// Writes `entry` under `address`, replacing what was there unless the entry says
    /// otherwise ([`Outgoing::replaces`]). Returns the tier that took it: this one, or
    /// for a failover store its spare ([`Tier::Memory`]: kept in memory alone).
    fn store(&self, address: &Address, entry: &dyn Outgoing) -> Result<Tier>;

    /// Reads and validates the entry at `address`, decoding its value into `into`.
    /// `Ok(None)` when there is none.
    fn load(
        &self,
        address: &Address,
        expect: &Expect<'_>,
        into: &mut dyn Incoming,
    ) -> std::result::Result<Option<Loaded>, LoadError>;

    /// Validates the header of the entry at `address` without reading its payload.
    /// Returns the tier that holds it, `None` when there is none.
    fn probe(
        &self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> std::result::Result<Option<Tier>, LoadError>;

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

    /// Deletes the entry. `Ok(true)` when there was one.
    fn remove(&self, address: &Address) -> Result<bool>;

    /// Whether an entry of the key whose address hashes to `hash` may be here; `false`
    /// only when none is (so that an insert elsewhere need not look for an older one).
    fn may_hold(&self, _hash: u128) -> bool {
        true
    }

    /// Records a read of the entry at `address` that was answered from a memory copy.
    fn touch(&self, address: &Address, now_ms: u64);
}

/// What a persistent tier does as a whole: for the cache's `clear`, `flush`, `stats`,
/// `keys` and `shrink_to`, and for the tools (audits, leftovers).
pub(crate) trait Upkeep {
    /// Deletes every entry.
    fn clear(&self) -> Result<()>;

    /// Makes every write so far durable.
    fn flush(&self) -> Result<()>;

    /// Entries and bytes held, and evictions made.
    fn usage(&self) -> Usage;

    /// The encoded keys of the entries held whose header and key check out, of every
    /// type: the cache checks each against its own (`SmartCache::keys`).
    fn keys(&self) -> Result<Vec<Vec<u8>>>;

    /// Evicts the least recently used entries until the tier holds at most `bytes`.
    /// Returns how many went. A tier that keeps its own bounds (a Redis server's
    /// `maxmemory`) evicts nothing.
    fn shrink_to(&self, _bytes: u64) -> Result<u64> {
        Ok(0)
    }

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
}

/// A tier as it opens: a [`Store`], and what the failover store in front of it asks
/// (see `tier/failover.rs`). The
/// defaults suit a tier that always takes writes.
pub(crate) trait Primary: Store {
    /// Whether the tier takes writes now. While it does not, they go to its spare.
    fn takes_writes(&self) -> bool {
        true
    }

    /// Whether the spare's copy of a key is newer than the tier's whatever the marker
    /// says, so that it is read first (see the module docs).
    fn spare_is_newer(&self) -> bool {
        false
    }

    /// Up to `max` entries to hand over to the spare, as they are stored.
    fn entries_to_hand_over(&self, _max: usize) -> Vec<HandOver> {
        Vec::new()
    }

    /// Forgets an entry handed over, unless it changed since.
    fn handed_over(&self, _entry: &HandOver) {}
}

/// An entry a tier hands over to its spare: its id in the tier, and its bytes as stored.
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
