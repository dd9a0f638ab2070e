//! The file tier: one file per entry, for large values, shareable by several processes.
//!
//! Layout under the namespace folder: `files/<first two hex digits>/<32 hex digits>` for
//! entries, `files/tmp/` for writes in progress. A write goes to a fresh temporary file
//! (0600) and is renamed into place, so readers in any process see the old entry or the
//! new one, never half of one; with [`Durability::Fsync`] the file and its folder are
//! synced first. Values are streamed through the codec into the file and back, never built
//! in an extra buffer. A file's modification time is its last access: reads refresh it
//! (at most once a minute), and eviction removes the oldest files first.
//!
//! Reads through memory maps (`get_mapped`, `CacheConfig::mmap_reads`) are in `map.rs`,
//! eviction by capacity and count in `eviction.rs`, audits and leftovers in `audit.rs`.

use std::fs;
use std::io::{self, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::audit::{Audited, Leftover, Met};
use super::{too_large, Gauge, Kind, Limits, LoadError, Loaded, Primary, Store, Upkeep, Usage};
use crate::config::{CacheConfig, Durability};
use crate::entry::{self, Expect, Incoming, Outgoing};
use crate::key::Address;
use crate::paths;
use crate::{CacheError, Result, Tier};

mod audit;
mod eviction;
mod map;
mod presence;

/// How stale a file's access time may get before a read refreshes it.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Temporary files older than this are left over from a crashed writer, whatever their
/// name says (a writer on another machine sharing the folder, a reused process id).
const STALE_TMP: Duration = Duration::from_secs(3600);
/// How often writes look for temporary files of dead writers, at most.
const CLEAN_EVERY: Duration = Duration::from_secs(60);

/// The file tier, as the list of persistent tiers has it.
pub(crate) const KIND: Kind = Kind {
    tier: Tier::File,
    folder: Some("files"),
    open: |o| {
        let tier = FileTier::open(o.folder(Tier::File)?, o.config)?;
        Ok(std::sync::Arc::new(tier))
    },
    spare: |_| None,
};

/// The file tier of one namespace folder.
pub(crate) struct FileTier {
    root: PathBuf,
    tmp: PathBuf,
    capacity: u64,
    /// `CacheConfig::max_entries`, if set.
    max_entries: Option<u64>,
    durability: Durability,
    secure: bool,
    /// Read large entries through a memory map (`CacheConfig::mmap_reads`).
    mmap_reads: bool,
    gauge: Gauge,
    evicting: Mutex<()>,
    /// Bytes of temporary files found by the last clean-up that were still being written.
    tmp_bytes: AtomicU64,
    /// When temporary files were last cleaned up (ms since the Unix epoch).
    cleaned_ms: AtomicU64,
    /// Which keys may have a file (shared by every process on this machine).
    presence: presence::Presence,
}

/// Entries from this size are read through a memory map when `mmap_reads` is on.
const MMAP_FROM: u64 = 4 << 20;

/// Numbers the temporary files of this process (shared by all file tiers in it).
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// An entry file found by a scan.
struct Found {
    path: PathBuf,
    len: u64,
    modified: SystemTime,
}

impl FileTier {
    /// Opens (creating) the file tier in `root` and counts what it holds.
    pub fn open(root: &Path, config: &CacheConfig) -> Result<FileTier> {
        paths::ensure_usable_dir(root, config.secure)?;
        let tmp = root.join("tmp");
        paths::create_dir(&tmp, config.secure).map_err(|e| CacheError::io(Tier::File, &tmp, e))?;
        // A look writes nothing, not even the filter: it looks for every key.
        let presence = if config.look_only {
            presence::Presence::off()
        } else {
            presence::Presence::open(root, &tmp, config.secure)
        };
        let tier = FileTier {
            root: root.to_path_buf(),
            tmp,
            capacity: config.disk_capacity,
            max_entries: config.max_entries,
            durability: config.durability,
            secure: config.secure,
            mmap_reads: config.mmap_reads,
            gauge: Gauge::default(),
            evicting: Mutex::new(()),
            tmp_bytes: AtomicU64::new(0),
            cleaned_ms: AtomicU64::new(0),
            presence,
        };
        // A look leaves dead writers' files for it to show (it writes nothing, so no
        // later write cleans them up either).
        if !config.look_only {
            tier.clean_tmp();
        }
        // The filter was mapped first: a file placed after this scan has its bits set by
        // its writer, one found by it gets them here.
        for found in tier.recount()? {
            if let Some(hash) = hash_of(&found.path) {
                tier.presence.note(hash);
            }
        }
        Ok(tier)
    }

    fn path_of(&self, hash: u128) -> PathBuf {
        let name = format!("{hash:032x}");
        self.root.join(&name[..2]).join(name)
    }

    fn io_error(&self, path: &Path, e: io::Error) -> CacheError {
        CacheError::io(Tier::File, path, e)
    }

    /// Every entry file, in every process's writes.
    fn scan(&self) -> Result<Vec<Found>> {
        let mut found = Vec::new();
        let shards = match fs::read_dir(&self.root) {
            Ok(shards) => shards,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(self.io_error(&self.root, e)),
        };
        for shard in shards {
            let shard = shard.map_err(|e| self.io_error(&self.root, e))?;
            let name = shard.file_name();
            if name.len() != 2 || !shard.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let files = match fs::read_dir(shard.path()) {
                Ok(files) => files,
                Err(_) => continue, // removed meanwhile by another process
            };
            for file in files.flatten() {
                if let Ok(meta) = file.metadata() {
                    if meta.is_file() {
                        found.push(Found {
                            path: file.path(),
                            len: meta.len(),
                            modified: meta.modified().unwrap_or(UNIX_EPOCH),
                        });
                    }
                }
            }
        }
        Ok(found)
    }

    /// Sets the counters from a scan of the folder (other processes write here too).
    fn recount(&self) -> Result<Vec<Found>> {
        let found = self.scan()?;
        self.gauge
            .set(found.len() as u64, found.iter().map(|f| f.len).sum());
        Ok(found)
    }

    fn write_tmp(&self, tmp: &Path, entry: &dyn Outgoing) -> Result<u64> {
        let file = paths::create_file(tmp, self.secure).map_err(|e| self.io_error(tmp, e))?;
        let mut out = BufWriter::with_capacity(256 << 10, file);
        let len = entry.write_to(&mut out, Tier::File, tmp)?;
        let file = out
            .into_inner()
            .map_err(|e| self.io_error(tmp, e.into_error()))?;
        if self.durability == Durability::Fsync {
            file.sync_all().map_err(|e| self.io_error(tmp, e))?;
        }
        Ok(len)
    }

    /// Refreshes the access time of an entry that was just read, if it is stale.
    fn touch_file(&self, file: &fs::File, modified: SystemTime, tti: Option<Duration>) {
        let every = tti.map_or(TOUCH_EVERY, |tti| (tti / 4).min(TOUCH_EVERY));
        if modified.elapsed().is_ok_and(|age| age >= every) {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    /// Opens an entry and checks its header. `Ok(None)` when there is no entry.
    fn open_entry(
        &self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> Result<Option<(BufReader<fs::File>, entry::Header, SystemTime)>, LoadError> {
        if !self.presence.may_hold(address.hash()) {
            return Ok(None);
        }
        let path = self.path_of(address.hash());
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LoadError::Failed(self.io_error(&path, e))),
        };
        let meta = file
            .metadata()
            .map_err(|e| LoadError::Failed(self.io_error(&path, e)))?;
        let modified = meta.modified().unwrap_or(UNIX_EPOCH);
        let mut reader = BufReader::with_capacity(64 << 10, file);
        let (header, key) = entry::read_header(&mut reader)
            .map_err(|r| LoadError::refused(r, Tier::File, &path))?;
        header
            .check(&key, expect)
            .map_err(|r| LoadError::refused(r, Tier::File, &path))?;
        if meta.len() != header.entry_len() {
            return Err(LoadError::Invalid(format!(
                "entry file is {} bytes, its header says {}",
                meta.len(),
                header.entry_len()
            )));
        }
        if let Some(tti) = expect.tti {
            if modified.elapsed().is_ok_and(|idle| idle >= tti) {
                return Err(LoadError::Expired);
            }
        }
        Ok(Some((reader, header, modified)))
    }
}

impl FileTier {
    /// Writes an entry with `write` into a fresh temporary file, then places it at
    /// `hash`'s path: replacing what is there, or (`replace == false`) only if nothing
    /// is. `Ok(None)` when an entry was there and was kept.
    fn place(
        &self,
        hash: u128,
        replace: bool,
        write: impl FnOnce(&Path) -> Result<u64>,
    ) -> Result<Option<u64>> {
        let path = self.path_of(hash);
        if replace && self.presence.may_hold(hash) {
            // The old entry goes first: its pages return to the system before the new
            // entry needs as many (measured: writing 321 MB over an entry takes about
            // twice as long when the old file is replaced only at the end). Readers
            // meanwhile see a miss, never a mix, and a failed insert leaves the key absent.
            if let Ok(old) = fs::metadata(&path) {
                match fs::remove_file(&path) {
                    Ok(()) => self.gauge.removed(old.len()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(self.io_error(&path, e)),
                }
            }
        }
        let tmp = self.tmp.join(format!(
            "{hash:032x}.{}.{}",
            std::process::id(),
            TMP_SEQ.fetch_add(1, Relaxed)
        ));
        let written = write(&tmp).and_then(|len| {
            if len > self.capacity {
                return Err(too_large(Tier::File, len, self.capacity));
            }
            Ok(len)
        });
        let len = match written {
            Ok(len) => len,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let shard = path.parent().unwrap_or(&self.root);
        // Before the file can be seen, so that no process takes the key for absent.
        self.presence.note(hash);
        let placed = paths::create_dir(shard, self.secure).and_then(|()| {
            if replace {
                let old = fs::metadata(&path).ok().map(|m| m.len());
                fs::rename(&tmp, &path)?;
                Ok(Some(old))
            } else {
                // A hard link never replaces: an entry there is newer, and stays.
                let linked = match fs::hard_link(&tmp, &path) {
                    Ok(()) => Ok(Some(None)),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
                    Err(e) => Err(e),
                };
                let _ = fs::remove_file(&tmp);
                linked
            }
        });
        let old = match placed {
            Ok(Some(old)) => old,
            Ok(None) => return Ok(None),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(self.io_error(&path, e));
            }
        };
        if self.durability == Durability::Fsync {
            paths::sync_dir(shard).map_err(|e| self.io_error(shard, e))?;
        }
        self.gauge.stored(old, len);
        if self.over_bounds() {
            if let Err(e) = self.evict(&path) {
                tracing::warn!(path = %self.root.display(), error = %e, "file tier: eviction failed");
            }
        }
        self.clean_tmp_if_due();
        Ok(Some(len))
    }
}

impl Store for FileTier {
    fn tier(&self) -> Tier {
        Tier::File
    }

    fn store(&self, address: &Address, entry: &dyn Outgoing) -> Result<Tier> {
        let replace = entry.replaces();
        self.place(address.hash(), replace, |tmp| self.write_tmp(tmp, entry))?;
        Ok(Tier::File)
    }

    fn load(
        &self,
        address: &Address,
        expect: &Expect<'_>,
        into: &mut dyn Incoming,
    ) -> Result<Option<Loaded>, LoadError> {
        let Some((mut reader, header, modified)) = self.open_entry(address, expect)? else {
            return Ok(None);
        };
        let path = self.path_of(address.hash());
        if self.mmap_reads && header.stored_len >= MMAP_FROM {
            self.load_mapped(reader.get_ref(), &header, &path, into)?;
        } else {
            into.read_payload(&mut reader, &header)
                .map_err(|r| LoadError::refused(r, Tier::File, &path))?;
        }
        self.touch_file(reader.get_ref(), modified, expect.tti);
        Ok(Some(Loaded {
            expires_ms: header.expires_ms,
            tier: Tier::File,
        }))
    }

    fn probe(&self, address: &Address, expect: &Expect<'_>) -> Result<Option<Tier>, LoadError> {
        Ok(self.open_entry(address, expect)?.map(|_| Tier::File))
    }

    #[cfg(feature = "ndarray")]
    fn map(
        &self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> Result<Option<super::Mapped>, LoadError> {
        self.map_entry(address, expect)
    }

    fn touch(&self, address: &Address, _now_ms: u64) {
        if let Ok(file) = fs::File::open(self.path_of(address.hash())) {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    fn remove(&self, address: &Address) -> Result<bool> {
        if !self.presence.may_hold(address.hash()) {
            return Ok(false);
        }
        let path = self.path_of(address.hash());
        let len = match fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(self.io_error(&path, e)),
        };
        match fs::remove_file(&path) {
            Ok(()) => {
                self.gauge.removed(len);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io_error(&path, e)),
        }
    }

    fn may_hold(&self, hash: u128) -> bool {
        self.presence.may_hold(hash)
    }
}

impl Upkeep for FileTier {
    fn clear(&self) -> Result<()> {
        for f in self.scan()? {
            match fs::remove_file(&f.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io_error(&f.path, e)),
            }
        }
        self.gauge.set(0, 0);
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        // Every write is complete (renamed into place, and synced under
        // `Durability::Fsync`) before `store` returns: nothing is pending here.
        Ok(())
    }

    fn usage(&self) -> Usage {
        let usage = self.gauge.usage();
        Usage {
            disk_bytes: usage.bytes + self.tmp_bytes.load(Relaxed) + self.presence.disk_bytes(),
            ..usage
        }
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>> {
        let mut keys = Vec::new();
        for f in self.scan()? {
            // A file removed or replaced since the scan, or one that does not check out,
            // is passed over: reads deal with bad entries.
            let Ok(file) = fs::File::open(&f.path) else {
                continue;
            };
            match entry::read_header(&mut BufReader::with_capacity(4096, file)) {
                Ok((_, key)) => keys.push(key),
                Err(refusal) => {
                    tracing::debug!(path = %f.path.display(), ?refusal, "file tier: an entry passed over by a walk");
                }
            }
        }
        Ok(keys)
    }

    fn shrink_to(&self, bytes: u64) -> Result<u64> {
        let _only_one = self.evicting.lock().unwrap_or_else(|p| p.into_inner());
        self.evict_to(None, Limits::of(bytes, None))
    }

    fn audit(&self, payloads: bool, visit: &mut dyn FnMut(&Met) -> bool) -> Result<Audited> {
        self.audit_files(payloads, visit)
    }

    fn leftovers(&self, remove: bool) -> Vec<Leftover> {
        self.leftover_files(remove)
    }
}

/// A tier that always takes writes.
impl Primary for FileTier {}

/// The key hash an entry file is named by.
fn hash_of(path: &Path) -> Option<u128> {
    u128::from_str_radix(path.file_name()?.to_str()?, 16).ok()
}

/// The process id in a temporary file's name, `<hash>.<pid>.<sequence>`.
fn writer_of(name: &std::ffi::OsStr) -> Option<u32> {
    name.to_str()?.split('.').nth(1)?.parse().ok()
}
