//! Every cache alive in this process, memoized functions' included: what
//! [`clear_all`] and [`stats_all`] walk, and what [`clear_namespace`] asks first.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::{CacheConfig, CacheStats, Result};

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
fn alive() -> Vec<Arc<dyn Live>> {
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

/// Deletes every entry of namespace `name` under the storage root `dir`, in every tier
/// there, without the cache's types: through the caches of this process that use it, and
/// by opening it otherwise. `Ok` when the namespace does not exist. A namespace whose
/// sled store another process holds is an error naming it.
pub fn clear_namespace(dir: impl AsRef<Path>, name: &str) -> Result<()> {
    crate::config::validate_namespace(name)?;
    let folder: PathBuf = dir.as_ref().join(name);
    let mut cleared = false;
    for cache in alive() {
        if cache.path() == Some(folder.as_path()) {
            cache.clear()?;
            cleared = true;
        }
    }
    if cleared || !folder.is_dir() {
        return Ok(());
    }
    // `clear` deletes every entry of the namespace, whatever its type.
    let cache: crate::SmartCache<Vec<u8>, Vec<u8>> = CacheConfig::default()
        .dir(dir.as_ref())
        .namespace(name)
        .build()?;
    cache.clear()
}
