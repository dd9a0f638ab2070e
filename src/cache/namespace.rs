//! Clearing a namespace by name, whether a cache of this process has it open or not:
//! [`clear_namespace`].

use std::path::{Path, PathBuf};

use crate::{CacheConfig, Result};

/// Deletes every entry of namespace `name` under the storage root `dir`, in every tier
/// there, without the cache's types: through the caches of this process that use it, and
/// by opening it otherwise. `Ok` when the namespace does not exist. A namespace whose
/// sled store another process holds is an error naming it.
pub fn clear_namespace(dir: impl AsRef<Path>, name: &str) -> Result<()> {
    crate::config::validate_namespace(name)?;
    let folder: PathBuf = dir.as_ref().join(name);
    let mut cleared = false;
    for cache in crate::live::alive() {
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
