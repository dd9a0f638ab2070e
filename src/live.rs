//! Every cache alive in this process, memoized functions' included: what
//! [`clear_all`] and [`stats_all`] walk, and what
//! [`clear_namespace`](crate::clear_namespace) asks first.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::{CacheStats, Result};

/// What the process-wide functions need of a cache, whatever its key and value types.
pub(crate) trait Live: Send + Sync {
    fn namespace(&self) -> &str;
    fn path(&self) -> Option<&Path>;
    fn clear(&self) -> Result<()>;
    fn stats(&self) -> CacheStats;
}

/// The caches built so far; dropped ones are weak references that no longer upgrade.
static LIVE: Mutex<Vec<Weak<dyn Live>>> = Mutex::new(Vec::new());

/// Adds a cache that was just built (and forgets the dropped ones).
pub(crate) fn register(cache: Weak<dyn Live>) {
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|cache| cache.strong_count() > 0);
    live.push(cache);
}

/// The caches alive now.
pub(crate) fn alive() -> Vec<Arc<dyn Live>> {
    let live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.iter().filter_map(Weak::upgrade).collect()
}

/// Clears every cache alive in this process, memoized functions' included (twat-cache's
/// `clear_cache()`): every entry of their namespaces, in every tier. Goes on past a cache
/// that fails, and returns the first error.
pub fn clear_all() -> Result<()> {
    let mut first = None;
    for cache in alive() {
        if let Err(e) = cache.clear() {
            tracing::warn!(namespace = cache.namespace(), error = %e, "clear_all: a cache could not be cleared");
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// The statistics of every cache alive in this process, memoized functions' included,
/// by namespace (twat-cache's `get_stats()`).
pub fn stats_all() -> Vec<(String, CacheStats)> {
    let mut all: Vec<_> = alive()
        .iter()
        .map(|cache| (cache.namespace().to_string(), cache.stats()))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}
