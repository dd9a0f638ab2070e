//! Shared by the examples: timing a read and naming the tier that answered it.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use smartcache::prelude::*;

/// Runs `read` on `cache` and says how long it took and which tier answered it (the tier
/// whose hit count rose).
pub fn answered<K: CacheKey, V: Cacheable, T>(
    cache: &SmartCache<K, V>,
    read: impl FnOnce() -> T,
) -> (T, Duration, &'static str) {
    let before = cache.stats();
    let start = Instant::now();
    let value = read();
    let took = start.elapsed();
    let after = cache.stats();
    let tier = Tier::ALL
        .into_iter()
        .find(|&t| after.tier(t).hits > before.tier(t).hits)
        .map_or("-", Tier::name);
    (value, took, tier)
}

/// A duration in milliseconds, as the examples print it.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}
