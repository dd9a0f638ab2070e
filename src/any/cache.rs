//! [`AnyCache`]: a [`SmartCache`] whose values are of many types.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;

use serde::Serialize;

use super::{AnyCacheable, AnyValue};
use crate::{CacheConfig, CacheError, CacheKey, CacheStats, Result, SmartCache, Tier};

/// A cache for values of many types: each is routed by its own type's placement and size,
/// persisted with its own type's codec, and read back as its type with
/// [`AnyCache::get_as`].
///
/// ```
/// use smartcache::prelude::*;
///
/// let cache: AnyCache<String> = AnyCache::with_config(CacheConfig::temporary())?;
/// cache.insert("answer".into(), Box::new(42u64))?;
/// cache.insert("name".into(), Box::new(String::from("ada")))?;
/// assert_eq!(cache.get_as::<u64>("answer").as_deref(), Some(&42));
/// assert!(cache.try_get_as::<String>("answer").is_err()); // a u64, not a String
/// # Ok::<(), smartcache::CacheError>(())
/// ```
///
/// A value whose type is not registered stays in memory only if its size sends it there;
/// one bound for a persistent tier is refused with [`CacheError::NotRegistered`]. The
/// library registers its built-in families; `#[cacheable(any)]` registers a derived type.
#[derive(Clone)]
pub struct AnyCache<K> {
    inner: SmartCache<K, AnyValue>,
}

impl<K: CacheKey> AnyCache<K> {
    /// A cache with the default configuration (storage opened on first use). Never
    /// fails; a registry that did not reach the program is logged as an error.
    pub fn new() -> Self {
        AnyCache {
            inner: SmartCache::new(),
        }
    }

    /// A cache with this configuration. Fails as [`SmartCache::with_config`] does, and
    /// when the registry of types did not reach the program (see the book).
    pub fn with_config(config: CacheConfig) -> Result<Self> {
        Ok(AnyCache {
            inner: SmartCache::with_config(config)?,
        })
    }

    /// Stores `value` under `key` and returns the tier it went to, chosen by the value's
    /// own type. Replaces any earlier value of `key`, whatever its type.
    pub fn insert(&self, key: K, value: Box<dyn AnyCacheable>) -> Result<Tier> {
        self.inner.insert(key, AnyValue(Arc::from(value)))
    }

    /// The value of `key` if it is a `T`: `cache.get_as::<T>(&key)`. A value of another
    /// type, like a miss, is `None`; [`AnyCache::try_get_as`] tells them apart.
    pub fn get_as<T: AnyCacheable>(&self, key: &(impl KeyOf<K> + ?Sized)) -> Option<Arc<T>> {
        key.get_in(&self.inner).ok().flatten()?.downcast::<T>()
    }

    /// The value of `key` as a `T`: `Ok(None)` for a miss, [`CacheError::WrongType`]
    /// naming both types when the value is of another type, and storage errors as
    /// [`SmartCache::try_get`] returns them.
    pub fn try_get_as<T: AnyCacheable>(
        &self,
        key: &(impl KeyOf<K> + ?Sized),
    ) -> Result<Option<Arc<T>>> {
        let Some(value) = key.get_in(&self.inner)? else {
            return Ok(None);
        };
        match value.downcast::<T>() {
            Some(value) => Ok(Some(value)),
            None => Err(CacheError::WrongType {
                wanted: std::any::type_name::<T>(),
                found: value.get().type_name(),
            }),
        }
    }

    /// The value of `key`, whatever its type.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<AnyValue>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ToOwned<Owned = K> + ?Sized,
    {
        self.inner.get(key)
    }

    /// The tier that holds `key`'s value.
    pub fn tier_of<Q>(&self, key: &Q) -> Option<Tier>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ?Sized,
    {
        self.inner.tier_of(key)
    }

    /// Deletes `key` from every tier. `Ok(true)` when some tier held it.
    pub fn remove<Q>(&self, key: &Q) -> Result<bool>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + Serialize + ?Sized,
    {
        self.inner.remove(key)
    }

    /// Deletes every entry of this cache's namespace, in every tier.
    pub fn clear(&self) -> Result<()> {
        self.inner.clear()
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    /// A snapshot of the counters. Entries of types this program has not registered are
    /// counted as `foreign`.
    pub fn stats(&self) -> CacheStats {
        self.inner.stats()
    }

    /// The typed cache underneath, for what `AnyCache` does not repeat.
    pub fn as_smart_cache(&self) -> &SmartCache<K, AnyValue> {
        &self.inner
    }
}

/// A key of an [`AnyCache<K>`], or a borrowed form of it that hashes, compares and
/// serializes as `K` does (`&str` for `String`), as [`SmartCache::get`] takes. Every such
/// type is one; it lets [`AnyCache::get_as`] be called as `get_as::<T>(&key)`.
pub trait KeyOf<K>: key_of::Sealed<K> {}

impl<K, Q> KeyOf<K> for Q
where
    K: CacheKey + Borrow<Q>,
    Q: Hash + Eq + Serialize + ToOwned<Owned = K> + ?Sized,
{
}

mod key_of {
    use super::*;

    /// What [`KeyOf`](super::KeyOf) does, out of users' reach.
    pub trait Sealed<K> {
        fn get_in(&self, cache: &SmartCache<K, AnyValue>) -> Result<Option<Arc<AnyValue>>>;
    }

    impl<K, Q> Sealed<K> for Q
    where
        K: CacheKey + Borrow<Q>,
        Q: Hash + Eq + Serialize + ToOwned<Owned = K> + ?Sized,
    {
        fn get_in(&self, cache: &SmartCache<K, AnyValue>) -> Result<Option<Arc<AnyValue>>> {
            cache.try_get(self)
        }
    }
}

impl<K: CacheKey> Default for AnyCache<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K> std::fmt::Debug for AnyCache<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnyCache").finish_non_exhaustive()
    }
}
