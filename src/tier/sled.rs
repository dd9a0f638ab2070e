//! The sled tier: one sled database per namespace folder, for small and medium values.
//!
//! Tree `entries` maps a key to its enveloped entry (see `entry.rs`). The sled key is the
//! encoded key itself (prefixed `0`), so that neighbouring keys share pages and no two
//! keys can ever share an entry; keys longer than 64 bytes use their 128-bit hash
//! (prefixed `1`) instead, with the full key kept in the entry to detect a collision.
//!
//! Tree `meta` keeps what eviction and time-to-idle need beyond the entries: the last
//! access of entries that were read (recorded on each read in a lock-free
//! [`AccessTable`], written in one batch when the tier flushes, evicts or closes) and the tier's entry count and size (written
//! when it closes, trusted on the next open only if that close was clean). An insert is one
//! sled write.
//!
//! sled locks its folder: one process per database. Within a process, every cache on the
//! same folder shares one `SledTier` (see [`SledTier::open`]); the first one opened sets
//! its capacity and durability.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use super::access::{access_id, AccessTable};
use super::{too_large, Address, Gauge, LoadError, Loaded, Store, Usage};
use crate::config::{CacheConfig, Durability};
use crate::entry::{self, EntryMeta, Expect};
use crate::{CacheError, Cacheable, Result, Tier};

/// Encoded keys up to this length are sled keys themselves; longer ones are hashed.
const MAX_DIRECT_KEY: usize = 64;
/// The `meta` record of the tier's size.
const USAGE_KEY: &[u8] = b"usage";
/// How long to wait for a sled lock released by a closing database.
const LOCK_WAIT: Duration = Duration::from_millis(500);

/// The sled tier of one namespace folder.
pub(crate) struct SledTier {
    path: PathBuf,
    db: sled::Db,
    entries: sled::Tree,
    meta: sled::Tree,
    capacity: u64,
    durability: Durability,
    secure: bool,
    gauge: Gauge,
    /// Reads since the last write of access times to `meta`.
    touched: AccessTable,
    evicting: Mutex<()>,
}

/// Open sled tiers of this process, by folder.
fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<SledTier>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Weak<SledTier>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The sled key of an address: `0, key` for short keys, `1, hash` for long ones.
fn sled_key(address: &Address) -> std::borrow::Cow<'_, [u8]> {
    if address.key().len() <= MAX_DIRECT_KEY {
        std::borrow::Cow::Borrowed(address.zero_and_key())
    } else {
        let mut key = Vec::with_capacity(17);
        key.push(1);
        key.extend_from_slice(&address.hash().to_be_bytes());
        std::borrow::Cow::Owned(key)
    }
}

fn u64_pair(a: u64, b: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&a.to_le_bytes());
    v[8..].copy_from_slice(&b.to_le_bytes());
    v
}

fn parse_u64(v: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(v.get(at..at + 8)?.try_into().ok()?))
}

fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
        || io.to_string().contains("lock"))
}

impl SledTier {
    /// Opens the sled database in `path`, or returns the one this process already has open.
    pub fn open(path: &Path, config: &CacheConfig) -> Result<Arc<SledTier>> {
        let mut open = registry().lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, tier| tier.strong_count() > 0);
        if let Some(tier) = open.get(path).and_then(Weak::upgrade) {
            return Ok(tier);
        }
        let tier = Arc::new(SledTier::open_new(path, config)?);
        open.insert(path.to_path_buf(), Arc::downgrade(&tier));
        Ok(tier)
    }

    fn open_new(path: &Path, config: &CacheConfig) -> Result<SledTier> {
        crate::paths::ensure_usable_dir(path, config.secure)?;
        let error = |source: sled::Error| {
            if is_lock_error(&source) {
                CacheError::Locked {
                    path: path.to_path_buf(),
                }
            } else {
                CacheError::Sled {
                    path: path.to_path_buf(),
                    source,
                }
            }
        };
        let started = std::time::Instant::now();
        let db = loop {
            match sled::Config::new()
                .path(path)
                .cache_capacity(64 << 20)
                .open()
            {
                // A database this process just closed may hold its lock a moment longer.
                Err(e) if is_lock_error(&e) && started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other.map_err(error)?,
            }
        };
        if config.secure {
            // sled creates its files with the process umask; the folder is already 0700.
            crate::paths::restrict_tree(path).map_err(|e| CacheError::io(Tier::Sled, path, e))?;
        }
        let entries = db.open_tree("entries").map_err(error)?;
        let meta = db.open_tree("meta").map_err(error)?;
        let tier = SledTier {
            path: path.to_path_buf(),
            db,
            entries,
            meta,
            capacity: config.disk_capacity,
            durability: config.durability,
            secure: config.secure,
            gauge: Gauge::default(),
            touched: AccessTable::new(),
            evicting: Mutex::new(()),
        };
        tier.load_usage()?;
        Ok(tier)
    }

    fn error(&self, source: sled::Error) -> CacheError {
        CacheError::Sled {
            path: self.path.clone(),
            source,
        }
    }

    /// Sets the counters from the record a clean close left, or by counting the entries;
    /// then marks the record unclean until this tier closes.
    fn load_usage(&self) -> Result<()> {
        let record = self.meta.get(USAGE_KEY).map_err(|e| self.error(e))?;
        let clean = record
            .as_deref()
            .and_then(|v| Some((parse_u64(v, 0)?, parse_u64(v, 8)?, *v.get(16)? == 1)))
            .filter(|&(_, _, clean)| clean);
        let (count, bytes) = match clean {
            Some((count, bytes, _)) => (count, bytes),
            None => {
                let (mut count, mut bytes) = (0u64, 0u64);
                for item in self.entries.iter() {
                    let (_, v) = item.map_err(|e| self.error(e))?;
                    count += 1;
                    bytes += v.len() as u64;
                }
                (count, bytes)
            }
        };
        self.gauge.set(count, bytes);
        self.write_usage(false)
    }

    fn write_usage(&self, clean: bool) -> Result<()> {
        let usage = self.gauge.usage();
        let mut record = u64_pair(usage.entries, usage.bytes).to_vec();
        record.push(u8::from(clean));
        self.meta
            .insert(USAGE_KEY, record)
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Writes the access times recorded in memory to `meta`.
    fn flush_touched(&self) -> Result<()> {
        let touched = self.touched.take();
        if touched.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for &(id, access) in &touched {
            batch.insert(&id.to_be_bytes(), &access.to_le_bytes());
        }
        self.meta.apply_batch(batch).map_err(|e| self.error(e))?;
        self.touched.written(&touched);
        Ok(())
    }

    /// The last access of an entry: read in this process, recorded in `meta`, or written.
    fn last_access(&self, id: u64, created_ms: u64) -> Result<u64> {
        let recorded = match self.touched.get(id) {
            Some(t) => Some(t),
            None => self
                .meta
                .get(id.to_be_bytes())
                .map_err(|e| self.error(e))?
                .and_then(|v| parse_u64(&v, 0)),
        };
        Ok(recorded.unwrap_or(0).max(created_ms))
    }

    /// Removes the least recently used entries until the tier holds at most 90% of its
    /// capacity. `keep` (the entry just written) is never evicted.
    fn evict(&self, keep: &[u8]) -> Result<()> {
        let Ok(_only_one) = self.evicting.try_lock() else {
            return Ok(()); // another thread is evicting
        };
        self.flush_touched()?;
        let mut all = Vec::new();
        let (mut count, mut bytes) = (0u64, 0u64);
        for item in self.entries.iter() {
            let (k, v) = item.map_err(|e| self.error(e))?;
            count += 1;
            bytes += v.len() as u64;
            if &*k == keep {
                continue;
            }
            let created = parse_u64(&v, 24).unwrap_or(0);
            let access = self.last_access(access_id(&k), created)?;
            all.push((access, k));
        }
        // The scan saw every entry: correct any drift in the counters before deciding.
        self.gauge.set(count, bytes);
        all.sort_unstable();
        let target = self.capacity / 10 * 9;
        for (_, k) in all {
            if self.gauge.bytes() <= target {
                break;
            }
            if self.remove_key(&k)? {
                self.gauge.evicted();
            }
        }
        Ok(())
    }

    fn remove_key(&self, key: &[u8]) -> Result<bool> {
        let old = self.entries.remove(key).map_err(|e| self.error(e))?;
        let id = access_id(key);
        self.touched.forget(id);
        self.meta
            .remove(id.to_be_bytes())
            .map_err(|e| self.error(e))?;
        match old {
            Some(old) => {
                self.gauge.removed(old.len() as u64);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Checks the time to idle of an entry just read, and records the access.
    fn access(
        &self,
        key: &[u8],
        created_ms: u64,
        expect: &Expect<'_>,
    ) -> std::result::Result<(), LoadError> {
        let id = access_id(key);
        if let Some(tti) = expect.tti {
            let last = self.last_access(id, created_ms)?;
            let tti_ms = u64::try_from(tti.as_millis()).unwrap_or(u64::MAX);
            if last.saturating_add(tti_ms) <= expect.now.ms() {
                return Err(LoadError::Expired);
            }
        }
        if self.touched.record(id, expect.now.coarse_ms()) {
            self.flush_touched()?;
        }
        Ok(())
    }
}

impl Store for SledTier {
    fn store<V: Cacheable>(&self, address: &Address, meta: &EntryMeta, value: &V) -> Result<u64> {
        let bytes = entry::to_vec::<V, V::Codec>(meta, address.key(), value, value.size_hint())
            .map_err(|e| e.into_cache_error::<V>(Tier::Sled, &self.path))?;
        let len = bytes.len() as u64;
        if len > self.capacity {
            return Err(too_large(Tier::Sled, len, self.capacity));
        }
        let key = sled_key(address);
        let old = self
            .entries
            .insert(&key, bytes)
            .map_err(|e| self.error(e))?;
        self.gauge.stored(old.map(|old| old.len() as u64), len);
        if self.durability == Durability::Fsync {
            self.db.flush().map_err(|e| self.error(e))?;
        }
        if self.gauge.bytes() > self.capacity {
            if let Err(e) = self.evict(&key) {
                tracing::warn!(path = %self.path.display(), error = %e, "sled tier: eviction failed");
            }
        }
        Ok(len)
    }

    fn load<V: Cacheable>(
        &self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> Result<Option<Loaded<V>>, LoadError> {
        let key = sled_key(address);
        let Some(bytes) = self.entries.get(&key).map_err(|e| self.error(e))? else {
            return Ok(None);
        };
        let (value, header) = entry::decode_slice::<V, V::Codec>(&bytes, expect)
            .map_err(|r| LoadError::refused(r, Tier::Sled, &self.path))?;
        self.access(&key, header.created_ms, expect)?;
        Ok(Some(Loaded {
            value,
            expires_ms: header.expires_ms,
        }))
    }

    fn probe(&self, address: &Address, expect: &Expect<'_>) -> Result<bool, LoadError> {
        let key = sled_key(address);
        let Some(bytes) = self.entries.get(&key).map_err(|e| self.error(e))? else {
            return Ok(false);
        };
        let header = entry::check_slice(&bytes, expect)
            .map_err(|r| LoadError::refused(r, Tier::Sled, &self.path))?;
        if let Some(tti) = expect.tti {
            let last = self.last_access(access_id(&key), header.created_ms)?;
            if last.saturating_add(u64::try_from(tti.as_millis()).unwrap_or(u64::MAX))
                <= expect.now.ms()
            {
                return Err(LoadError::Expired);
            }
        }
        Ok(true)
    }

    fn remove(&self, address: &Address) -> Result<bool> {
        self.remove_key(&sled_key(address))
    }

    fn touch(&self, address: &Address, now_ms: u64) {
        let id = access_id(&sled_key(address));
        if self.touched.record(id, now_ms) {
            if let Err(e) = self.flush_touched() {
                tracing::debug!(error = %e, "sled tier: cannot write access times");
            }
        }
    }

    fn clear(&self) -> Result<()> {
        self.entries.clear().map_err(|e| self.error(e))?;
        self.meta.clear().map_err(|e| self.error(e))?;
        self.touched.clear();
        self.gauge.set(0, 0);
        self.write_usage(false)
    }

    fn flush(&self) -> Result<()> {
        self.flush_touched()?;
        self.db.flush().map_err(|e| self.error(e))?;
        if self.secure {
            // Files sled created since it opened (snapshots) follow the umask.
            crate::paths::restrict_tree(&self.path)
                .map_err(|e| CacheError::io(Tier::Sled, &self.path, e))?;
        }
        Ok(())
    }

    fn usage(&self) -> Usage {
        self.gauge.usage()
    }
}

impl Drop for SledTier {
    fn drop(&mut self) {
        let closed = self
            .flush_touched()
            .and_then(|()| self.write_usage(true))
            .and_then(|()| self.flush());
        if let Err(e) = closed {
            tracing::warn!(path = %self.path.display(), error = %e, "sled tier: flush on close failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_direct_and_long_keys_hashed() {
        let short = Address::new(b"ns\0abc".to_vec(), 3);
        assert_eq!(&*sled_key(&short), b"\0abc");
        let mut bytes = b"ns\0".to_vec();
        bytes.extend_from_slice(&[1; 65]);
        let long = Address::new(bytes, 3);
        let mut expected = vec![1u8];
        expected.extend_from_slice(&long.hash().to_be_bytes());
        assert_eq!(&*sled_key(&long), expected);
    }
}
