//! Routing: which tier a value goes to.
//!
//! A type whose [`Cacheable::PLACEMENT`] is [`Placement::Pinned`] always goes to that tier;
//! the `match` on the associated constant is resolved at compile time. A type with
//! [`Placement::Auto`] is routed at run time by its [`Cacheable::size_hint`] against the
//! thresholds of [`CacheConfig`](crate::CacheConfig): small values stay in memory, medium
//! ones go to sled, large ones to files.

use crate::{Cacheable, Tier};

/// How a type chooses its tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Placement {
    /// By size at run time: below `memory_threshold` in memory (or sled with
    /// `persist_all`), below `file_threshold` in sled, otherwise in a file.
    Auto,
    /// Always this tier, decided at compile time.
    Pinned(Tier),
}

/// The size thresholds that drive [`Placement::Auto`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Router {
    /// Values smaller than this stay in memory.
    pub memory_threshold: u64,
    /// Values this large or larger go to files.
    pub file_threshold: u64,
    /// Values that would stay in memory go to sled instead.
    pub persist_all: bool,
    /// Where persisted values of no fixed tier go instead of sled and files (Redis).
    pub persistent_home: Option<Tier>,
    /// Whether a Redis server is configured (for caches of values of many types, whose
    /// values may be pinned to it).
    #[cfg(feature = "redis")]
    pub redis_configured: bool,
}

impl Router {
    /// The tier for `value`, whose `size_hint` is `size`: by its type's placement, or for
    /// a value of its own type by that type's.
    #[inline]
    pub fn route_value<V: Cacheable>(&self, value: &V, size: usize) -> Tier {
        match value.__placement() {
            Placement::Pinned(tier) => tier,
            Placement::Auto => self.route_auto(size),
        }
    }

    /// The tier for a value of `size` bytes under [`Placement::Auto`].
    #[inline]
    pub fn route_auto(&self, size: usize) -> Tier {
        let size = bytes(size);
        let persistent = if size >= self.file_threshold {
            Tier::File
        } else if size >= self.memory_threshold || self.persist_all {
            Tier::Sled
        } else {
            return Tier::Memory;
        };
        self.persistent_home.unwrap_or(persistent)
    }

    /// The persistent tiers that may hold an entry of type `V`, in the order to look.
    /// A tier that cannot always take writes reads its spare itself (see
    /// `tier/failover.rs`).
    pub fn persistent_tiers<V: Cacheable>(&self) -> &'static [Tier] {
        if V::__OWN_TYPES {
            // Each value by its own type: any tier may hold one.
            #[cfg(feature = "redis")]
            if self.redis_configured {
                return &[Tier::Sled, Tier::File, Tier::Redis];
            }
            return &[Tier::Sled, Tier::File];
        }
        match V::PLACEMENT {
            Placement::Pinned(Tier::Memory) => &[],
            Placement::Pinned(Tier::Sled) => &[Tier::Sled],
            Placement::Pinned(Tier::File) => &[Tier::File],
            #[cfg(feature = "redis")]
            Placement::Pinned(Tier::Redis) => &[Tier::Redis],
            #[cfg(feature = "redis")]
            Placement::Auto if self.persistent_home == Some(Tier::Redis) => &[Tier::Redis],
            Placement::Auto => &[Tier::Sled, Tier::File],
        }
    }
}

/// A size in bytes as the configuration counts them (`u64`).
#[inline]
pub(crate) fn bytes(size: usize) -> u64 {
    u64::try_from(size).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router {
            memory_threshold: 10 << 10,
            file_threshold: 1 << 20,
            persist_all: false,
            persistent_home: None,
            #[cfg(feature = "redis")]
            redis_configured: false,
        }
    }

    #[test]
    fn auto_routes_by_size() {
        let r = router();
        assert_eq!(r.route_auto(0), Tier::Memory);
        assert_eq!(r.route_auto((10 << 10) - 1), Tier::Memory);
        assert_eq!(r.route_auto(10 << 10), Tier::Sled);
        assert_eq!(r.route_auto((1 << 20) - 1), Tier::Sled);
        assert_eq!(r.route_auto(1 << 20), Tier::File);
    }

    #[test]
    fn persist_all_keeps_small_values_on_disk() {
        let r = Router {
            persist_all: true,
            ..router()
        };
        assert_eq!(r.route_auto(1), Tier::Sled);
        assert_eq!(r.route_auto(1 << 20), Tier::File);
    }
}
