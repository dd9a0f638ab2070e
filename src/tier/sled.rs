//! The sled tier: one sled database per namespace folder, for small and medium values.
//!
//! Two trees: `entries` maps the 16-byte key hash to the enveloped entry (see `entry.rs`);
//! `meta` maps it to the entry's size and last access time, which drive the LRU-ish
//! eviction that keeps the tier within its disk capacity. Reads record their access in
//! memory; the records are written to `meta` in one batch when the tier flushes or evicts.
//!
//! sled locks its folder: one process per database. Within a process, every cache on the
//! same folder shares one `SledTier` (see [`SledTier::open`]).

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use super::{saturating_sub, Address, LoadError, Loaded, Store, Usage};
use crate::config::{CacheConfig, Durability};
use crate::entry::{self, EntryMeta, Expect, Refusal, WriteError};
use crate::{CacheError, Cacheable, Result, Tier};

/// The sled tier of one namespace folder.
pub(crate) struct SledTier {
    path: PathBuf,
    db: sled::Db,
    entries: sled::Tree,
    meta: sled::Tree,
    capacity: u64,
    durability: Durability,
    tti: Option<Duration>,
    count: AtomicU64,
    bytes: AtomicU64,
    evictions: AtomicU64,
    /// Last access (ms) of entries read since the last flush to `meta`.
    touched: Mutex<HashMap<u128, u64>>,
    evicting: Mutex<()>,
}

/// Open sled tiers of this process, by folder.
fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<SledTier>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Weak<SledTier>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

fn meta_value(len: u64, access_ms: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&len.to_le_bytes());
    v[8..].copy_from_slice(&access_ms.to_le_bytes());
    v
}

fn parse_meta(v: &[u8]) -> Option<(u64, u64)> {
    let len = u64::from_le_bytes(v.get(..8)?.try_into().ok()?);
    let access = u64::from_le_bytes(v.get(8..16)?.try_into().ok()?);
    Some((len, access))
}

fn hash_from_key(k: &[u8]) -> Option<u128> {
    Some(u128::from_be_bytes(k.try_into().ok()?))
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
        let sled_error = |source: sled::Error| {
            let locked = matches!(&source, sled::Error::Io(e)
                if e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("lock"));
            if locked {
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
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(64 << 20)
            .open()
            .map_err(sled_error)?;
        let entries = db.open_tree("entries").map_err(sled_error)?;
        let meta = db.open_tree("meta").map_err(sled_error)?;
        let (mut count, mut bytes) = (0u64, 0u64);
        for item in meta.iter() {
            let (_, v) = item.map_err(sled_error)?;
            if let Some((len, _)) = parse_meta(&v) {
                count += 1;
                bytes += len;
            }
        }
        Ok(SledTier {
            path: path.to_path_buf(),
            db,
            entries,
            meta,
            capacity: config.disk_capacity,
            durability: config.durability,
            tti: config.tti,
            count: AtomicU64::new(count),
            bytes: AtomicU64::new(bytes),
            evictions: AtomicU64::new(0),
            touched: Mutex::new(HashMap::new()),
            evicting: Mutex::new(()),
        })
    }

    fn error(&self, source: sled::Error) -> CacheError {
        CacheError::Sled {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes the access times recorded in memory to `meta`.
    fn flush_touched(&self) -> Result<()> {
        let touched = std::mem::take(&mut *self.touched.lock().unwrap_or_else(|p| p.into_inner()));
        if touched.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (hash, access) in touched {
            let key = hash.to_be_bytes();
            if let Some((len, _)) = self.meta.get(key).map_err(|e| self.error(e))?.and_then(|v| parse_meta(&v)) {
                batch.insert(&key, &meta_value(len, access));
            }
        }
        self.meta.apply_batch(batch).map_err(|e| self.error(e))
    }

    /// Removes the least recently used entries until the tier holds at most 90% of its
    /// capacity.
    fn evict(&self) -> Result<()> {
        let Ok(_only_one) = self.evicting.try_lock() else {
            return Ok(()); // another thread is evicting
        };
        self.flush_touched()?;
        let mut all = Vec::new();
        for item in self.meta.iter() {
            let (k, v) = item.map_err(|e| self.error(e))?;
            if let (Some(hash), Some((len, access))) = (hash_from_key(&k), parse_meta(&v)) {
                all.push((access, hash, len));
            }
        }
        all.sort_unstable();
        let target = self.capacity / 10 * 9;
        for (_, hash, _) in all {
            if self.bytes.load(Relaxed) <= target {
                break;
            }
            if self.remove(hash)? {
                self.evictions.fetch_add(1, Relaxed);
            }
        }
        Ok(())
    }

    /// Checks time to idle against the last recorded access.
    fn idle_expired(&self, hash: u128, now_ms: u64) -> Result<bool> {
        let Some(tti) = self.tti else { return Ok(false) };
        let touched = self.touched.lock().unwrap_or_else(|p| p.into_inner()).get(&hash).copied();
        let last = match touched {
            Some(t) => t,
            None => self
                .meta
                .get(hash.to_be_bytes())
                .map_err(|e| self.error(e))?
                .and_then(|v| parse_meta(&v))
                .map_or(0, |(_, access)| access),
        };
        Ok(last.saturating_add(tti.as_millis() as u64) <= now_ms)
    }
}

fn refusal(r: Refusal) -> LoadError {
    match r {
        Refusal::Expired => LoadError::Expired,
        Refusal::Invalid(reason) => LoadError::Invalid(reason),
    }
}

impl Store for SledTier {
    fn store<V: Cacheable>(&self, address: &Address, meta: &EntryMeta, value: &V) -> Result<u64> {
        let capacity = value.size_hint().min(64 << 20) + address.key.len() + entry::HEADER_LEN + 16;
        let mut out = Cursor::new(Vec::with_capacity(capacity));
        entry::write::<V, V::Codec, _>(&mut out, meta, &address.key, value).map_err(|e| match e {
            WriteError::Codec(e) => CacheError::Encode {
                what: V::type_tag().into_owned(),
                codec: <V::Codec as crate::codec::Codec<V>>::NAME,
                message: e.0,
            },
            WriteError::Io(e) => CacheError::io(Tier::Sled, &self.path, e),
        })?;
        let bytes = out.into_inner();
        let len = bytes.len() as u64;
        let key = address.hash.to_be_bytes();
        self.meta
            .insert(key, &meta_value(len, meta.created_ms))
            .map_err(|e| self.error(e))?;
        let old = self.entries.insert(key, bytes).map_err(|e| self.error(e))?;
        match old {
            Some(old) => saturating_sub(&self.bytes, old.len() as u64),
            None => {
                self.count.fetch_add(1, Relaxed);
            }
        }
        self.bytes.fetch_add(len, Relaxed);
        if self.durability == Durability::Fsync {
            self.db.flush().map_err(|e| self.error(e))?;
        }
        if self.bytes.load(Relaxed) > self.capacity {
            self.evict()?;
        }
        Ok(len)
    }

    fn load<V: Cacheable>(&self, address: &Address, expect: &Expect<'_>) -> Result<Option<Loaded<V>>, LoadError> {
        let Some(bytes) = self
            .entries
            .get(address.hash.to_be_bytes())
            .map_err(|e| self.error(e))?
        else {
            return Ok(None);
        };
        let (value, header) = entry::decode_slice::<V, V::Codec>(&bytes, expect).map_err(refusal)?;
        if self.idle_expired(address.hash, expect.now_ms)? {
            return Err(LoadError::Expired);
        }
        let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
        touched.insert(address.hash, expect.now_ms);
        let flush = touched.len() >= 16 * 1024;
        drop(touched);
        if flush {
            self.flush_touched()?;
        }
        Ok(Some(Loaded {
            value,
            expires_ms: header.expires_ms,
        }))
    }

    fn probe(&self, address: &Address, expect: &Expect<'_>) -> Result<bool, LoadError> {
        let Some(bytes) = self
            .entries
            .get(address.hash.to_be_bytes())
            .map_err(|e| self.error(e))?
        else {
            return Ok(false);
        };
        entry::check_slice(&bytes, expect).map_err(refusal)?;
        if self.idle_expired(address.hash, expect.now_ms)? {
            return Err(LoadError::Expired);
        }
        Ok(true)
    }

    fn remove(&self, hash: u128) -> Result<bool> {
        let key = hash.to_be_bytes();
        let old = self.entries.remove(key).map_err(|e| self.error(e))?;
        self.meta.remove(key).map_err(|e| self.error(e))?;
        self.touched.lock().unwrap_or_else(|p| p.into_inner()).remove(&hash);
        match old {
            Some(old) => {
                saturating_sub(&self.bytes, old.len() as u64);
                saturating_sub(&self.count, 1);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn clear(&self) -> Result<()> {
        self.entries.clear().map_err(|e| self.error(e))?;
        self.meta.clear().map_err(|e| self.error(e))?;
        self.touched.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.count.store(0, Relaxed);
        self.bytes.store(0, Relaxed);
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.flush_touched()?;
        self.db.flush().map(|_| ()).map_err(|e| self.error(e))
    }

    fn usage(&self) -> Usage {
        Usage {
            entries: self.count.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            evictions: self.evictions.load(Relaxed),
        }
    }
}

impl Drop for SledTier {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(path = %self.path.display(), error = %e, "sled tier: flush on drop failed");
        }
    }
}
