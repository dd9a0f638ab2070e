//! Everything a user of the cache needs, in one import: `use smartcache::prelude::*;`.

pub use crate::{
    configure_for, memoize, AnyCache, AnyCacheable, CacheConfig, CacheError, CacheKey, CacheStats,
    Cacheable, Compression, ContentKey, Durability, Eviction, ImageFormat, Placement, SmartCache,
    Tier, TierStats,
};
