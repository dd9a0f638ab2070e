//! Storage tiers: the [`Tier`] names, the [`Store`] and [`Upkeep`] traits that every
//! persistent tier implements, and [`PERSISTENT`], the list of them. The memory tier is
//! the front that every cache has.
//!
//! One folder a tier: `memory/` (the tier, on moka in `moka.rs` or quick_cache in
//! `quick.rs`, its slots in `slot.rs`), `sled/` (the tier in `mod.rs`; its fault handling,
//! space, eviction and processes waiting for its lock beside it), `file/` (the tier, and
//! reads through memory maps in `map.rs`), `redis/`. Beside them: `store.rs`, what every
//! persistent tier is to the cache (the [`Store`] and [`Upkeep`] traits, its [`Kind`],
//! what a read answers); `failover.rs`, the store in front of a tier that cannot always
//! take writes (sled held by another process, a Redis server down), which sends them to
//! the tier's spare meanwhile; `gauge.rs`, what a tier holds and may hold (usage, counts,
//! limits); `lazy.rs`, a tier opened on first use; `access.rs`, the record of recent reads
//! (sled), and `audit.rs`, walks over what a tier holds, for the tools.
//!
//! A tier stores and reads enveloped entries by address, and never sees the type of a
//! value: it writes an outgoing entry and decodes into an incoming place (see
//! `entry/typed.rs`), so the cache holds its tiers as `dyn Store`. Adding a persistent
//! tier is a folder that implements [`Store`], [`Upkeep`] and [`Primary`] (whose defaults
//! suit a tier that always takes writes) and defines its [`Kind`], and a line in
//! [`PERSISTENT`]; its public name is a [`Tier`] variant and its `CacheStats` field.

use std::fmt;

pub(crate) mod access;
pub(crate) mod audit;
mod failover;
pub(crate) mod file;
mod gauge;
mod lazy;
pub(crate) mod memory;
#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod sled;
mod store;

pub(crate) use self::failover::{fronted, OpenTier};
pub(crate) use self::gauge::{too_large, Gauge, Limits, Usage};
pub(crate) use self::lazy::LazyTier;
#[cfg(feature = "ndarray")]
pub(crate) use self::store::Mapped;
pub(crate) use self::store::{HandOver, Kind, LoadError, Loaded, Opening, Primary, Store, Upkeep};

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
