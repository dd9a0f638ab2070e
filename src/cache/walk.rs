//! Walking a cache: its live keys and entries ([`SmartCache::keys`], [`SmartCache::iter`]),
//! and the upkeep that walks it ([`SmartCache::purge_expired`], [`SmartCache::shrink_to`]).
//!
//! A walk lists what the tiers hold now: the memory tier's slots, and each persistent
//! tier's entries whose header checks out for this cache's type, version and namespace.
//! Entries of other types in the namespace are passed over and left in place; expired
//! and invalid ones are counted and removed, as a read would.

use std::collections::HashSet;

use serde::de::DeserializeOwned;

use super::*;

/// The entries of a [`SmartCache`], as [`SmartCache::iter`] returns them: each key of
/// the walk with its value, read when the iterator reaches it. An entry removed or
/// expired meanwhile is passed over.
pub struct Iter<K, V> {
    cache: SmartCache<K, V>,
    keys: std::vec::IntoIter<K>,
}

impl<K: CacheKey, V: Cacheable> Iterator for Iter<K, V> {
    type Item = (K, Arc<V>);

    fn next(&mut self) -> Option<Self::Item> {
        for key in self.keys.by_ref() {
            if let Some(value) = self.cache.inner.peek(&key) {
                return Some((key, value));
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.keys.len()))
    }
}

impl<K, V> fmt::Debug for Iter<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("keys_left", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl<K: CacheKey + DeserializeOwned, V: Cacheable> SmartCache<K, V> {
    /// The keys of the live entries, in every tier: those in memory and those each
    /// persistent tier holds for this cache's value type (written by this process or any
    /// other), each once, in no particular order. A snapshot: entries written meanwhile
    /// may be missing.
    ///
    /// Fails when a persistent tier cannot be read (the error names it). Reading every
    /// entry's header, it costs a read per entry on disk.
    ///
    /// ```
    /// # use smartcache::prelude::*;
    /// let cache = CacheConfig::temporary().build::<String, u32>()?;
    /// cache.insert("a".into(), 1)?;
    /// cache.insert("b".into(), 2)?;
    /// let mut keys = cache.keys()?;
    /// keys.sort();
    /// assert_eq!(keys, ["a", "b"]);
    /// # Ok::<(), smartcache::CacheError>(())
    /// ```
    pub fn keys(&self) -> Result<Vec<K>> {
        let inner = &*self.inner;
        let mut keys = HashSet::new();
        if inner.uses_memory {
            keys.extend(inner.memory.keys());
        }
        let version = inner.config.key_version;
        inner.walk(|address| keys.extend(key::decode::<K>(version, address.key())))?;
        Ok(keys.into_iter().collect())
    }

    /// The live entries, keys with their values, as [`SmartCache::keys`] lists them; each
    /// value is read when the iterator reaches it, without being copied into memory.
    ///
    /// ```
    /// # use smartcache::prelude::*;
    /// let cache = CacheConfig::temporary().build::<u32, String>()?;
    /// cache.insert(1, "one".into())?;
    /// let all: Vec<(u32, String)> = cache.iter()?.map(|(k, v)| (k, v.to_string())).collect();
    /// assert_eq!(all, [(1, "one".to_string())]);
    /// # Ok::<(), smartcache::CacheError>(())
    /// ```
    pub fn iter(&self) -> Result<Iter<K, V>> {
        Ok(Iter {
            cache: self.clone(),
            keys: self.keys()?.into_iter(),
        })
    }
}

impl<K: CacheKey, V: Cacheable> SmartCache<K, V> {
    /// Removes every entry of this cache past its time to live or idle, in every tier,
    /// now rather than when it is next read. Returns how many were removed (a value held
    /// in memory and on disk counts in each). Redis expires its keys itself.
    pub fn purge_expired(&self) -> Result<u64> {
        let inner = &*self.inner;
        let mut purged = 0;
        if inner.uses_memory {
            purged += inner.memory.purge_expired();
        }
        purged += inner.walk(|_| {})?;
        Ok(purged)
    }

    /// Evicts the least recently used entries of the tiers on this machine (sled and
    /// files) until their entries take at most `bytes` together; each tier gives up its
    /// share, in proportion to what it holds. Returns how many were evicted. This acts on
    /// the whole namespace, whatever the type of its entries, as eviction by
    /// [`CacheConfig::disk_capacity`] does. The memory tier keeps its own bound.
    ///
    /// ```
    /// # use smartcache::prelude::*;
    /// let cache = CacheConfig::temporary().build::<u32, Vec<u8>>()?;
    /// for i in 0..10 {
    ///     cache.insert(i, vec![0; 100 << 10])?; // 100 KiB: sled
    /// }
    /// cache.shrink_to(500 << 10)?;
    /// assert!(cache.stats().sled.bytes <= 500 << 10);
    /// # Ok::<(), smartcache::CacheError>(())
    /// ```
    pub fn shrink_to(&self, bytes: u64) -> Result<u64> {
        let inner = &*self.inner;
        let mut local = Vec::new();
        for kind in PERSISTENT.iter().filter(|kind| kind.folder.is_some()) {
            if let Some(store) = inner.stores.open_if_exists(kind.tier)? {
                local.push((store, store.usage().bytes));
            }
        }
        let total: u64 = local.iter().map(|(_, held)| held).sum();
        if total <= bytes {
            return Ok(0);
        }
        let mut evicted = 0;
        for (store, held) in local {
            // This tier's share of `bytes`, rounded down, so that the shares sum to at most it.
            let share = u128::from(bytes) * u128::from(held) / u128::from(total);
            evicted += store.shrink_to(u64::try_from(share).unwrap_or(u64::MAX))?;
        }
        Ok(evicted)
    }
}

impl<K: CacheKey, V: Cacheable> Inner<K, V> {
    /// Calls `live` with the address of every entry of this cache's type (and key version)
    /// in its persistent tiers whose header checks out and that has not expired. Expired
    /// and invalid entries are removed and counted; entries of other types, or of another
    /// version of a memoized function's code, are passed over.
    /// Returns how many expired entries were removed.
    pub(super) fn walk(&self, mut live: impl FnMut(&Address)) -> Result<u64> {
        let mut expired = 0;
        for &tier in self.persistent_tiers() {
            let Some(store) = self.stores.open_if_exists(tier)? else {
                continue;
            };
            let version = self.config.key_version.map(u64::to_be_bytes);
            for encoded in store.keys()? {
                // Another version of a memoized function's code: its entries are its own,
                // left as they are (its own time to idle, even its own codec).
                if version.is_some_and(|v| !encoded.starts_with(&v)) {
                    continue;
                }
                let address = key::address_of_encoded(&self.namespace, &encoded);
                match store.probe(&address, &self.expect(&address)) {
                    Ok(Some(_)) => live(&address),
                    Ok(None) | Err(LoadError::Foreign) => {}
                    Err(LoadError::Failed(e)) => return Err(e),
                    Err(why) => {
                        expired += u64::from(matches!(why, LoadError::Expired));
                        self.discard(store, &address, why);
                    }
                }
            }
        }
        Ok(expired)
    }

    /// The value of `key`, counted as a read but not copied into memory (for
    /// [`Iter`]). Tier failures are misses, logged as for `get`.
    fn peek(&self, key: &K) -> Option<Arc<V>> {
        if let Some(value) = self.get_memory(key) {
            return Some(value);
        }
        self.get_below(key, false).unwrap_or_default()
    }
}
