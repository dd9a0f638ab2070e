//! Memory-mapped file entries, for `get_mapped` (feature `ndarray`).

use super::*;

#[cfg(feature = "ndarray")]
impl<K: CacheKey, V: Cacheable> SmartCache<K, V> {
    /// Maps the file-tier entry of `key` (header checked, payload unread) and hands it to
    /// `view`; counts the hit or miss, and discards an entry `view` refuses.
    pub(crate) fn map_file_entry<T, Q: Serialize + ?Sized>(
        &self,
        key: &Q,
        view: impl FnOnce(crate::tier::Mapped) -> std::result::Result<T, LoadError>,
    ) -> Result<Option<T>> {
        let inner = &*self.inner;
        let miss = || {
            Counters::bump(&inner.counters.tier(Tier::File).misses);
            Counters::bump(&inner.counters.misses);
        };
        let Some(files) = inner.stores.open_if_exists(Tier::File)? else {
            miss();
            return Ok(None);
        };
        let address = inner.address(key)?;
        let expect = inner.expect(&address);
        let result = files
            .map(&address, &expect)
            .and_then(|mapped| mapped.map(view).transpose());
        match result {
            Ok(Some(value)) => {
                inner.count_hit(Tier::File);
                Ok(Some(value))
            }
            Ok(None) => {
                miss();
                Ok(None)
            }
            Err(LoadError::Failed(e)) => {
                Counters::bump(&inner.counters.tier(Tier::File).errors);
                Err(e)
            }
            Err(why) => {
                miss();
                inner.discard(files, &address, why);
                Ok(None)
            }
        }
    }
}
