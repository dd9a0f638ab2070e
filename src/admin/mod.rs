//! Looking into caches on disk, and cleaning them, without their types: what the
//! `smartcache` command-line tool does, as a library.
//!
//! A [`Storage`] is a storage root (`CacheConfig::dir`, `$SMARTCACHE_DIR` or the platform
//! cache folder); each folder under it is a namespace. [`Namespace::walk`] shows every
//! entry of its sled and file tiers as an [`EntryInfo`] (key, types, times, sizes, and
//! whether it checks out) and removes those the caller picks; [`Namespace::leftovers`]
//! lists what crashes left behind. Redis entries live on their server and are not
//! walked here.
//!
//! Safe beside programs using the same caches: a file entry is read through one open
//! file (a writer replaces it whole, by rename) and removed only if it is still the file
//! that was read; a sled entry is removed only if it is unchanged; a sled database that
//! a running process holds is reported as in use ([`Walk::in_use`]), never forced.
//!
//! ```no_run
//! use smartcache::admin::{Check, EntryState, Storage};
//!
//! let (root, _) = Storage::default_root()?;
//! let storage = Storage::new(root);
//! for name in storage.namespaces()? {
//!     let namespace = storage.open(&name)?;
//!     // Remove what does not check out; keep the rest.
//!     namespace.walk(Check::Payloads, |entry| matches!(entry.state, EntryState::Corrupt(_)))?;
//! }
//! # Ok::<(), smartcache::CacheError>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::catalog::Catalog;
use crate::config::CacheConfig;
use crate::entry::Refusal;
use crate::tier::audit::{Audited, Met};
use crate::tier::{Kind, Opening, Primary};
use crate::{CacheError, Result, Tier};

mod keys;
#[cfg(test)]
mod tests;

/// Where a storage root came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootSource {
    /// `$SMARTCACHE_DIR`.
    Environment,
    /// The platform's cache folder (`~/.cache/smartcache` on Linux).
    Platform,
}

/// A storage root: one folder per namespace.
#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    /// The storage root at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Storage {
        Storage { root: root.into() }
    }

    /// The root a cache uses when no `CacheConfig::dir` is given: `$SMARTCACHE_DIR`,
    /// else the platform's cache folder.
    pub fn default_root() -> Result<(PathBuf, RootSource)> {
        let (root, from_env) = crate::config::default_root()?;
        let source = match from_env {
            true => RootSource::Environment,
            false => RootSource::Platform,
        };
        Ok((root, source))
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The namespaces under the root, sorted: its folders that hold a tier's folder or a
    /// catalog. None when the root does not exist.
    pub fn namespaces(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.bad_root(format!("cannot list it: {e}"))),
        };
        let mut names = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let ours = ["sled", "files", "catalog", "quarantine"]
                .iter()
                .any(|part| path.join(part).exists());
            if let (true, Some(name)) = (ours && path.is_dir(), entry.file_name().to_str()) {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Opens namespace `name` for a walk: its tiers that exist, only to look. Opening
    /// evicts, compacts, cleans up and sets aside nothing, and waits for no lock: a sled
    /// database held by another process is reported in use by a walk, a damaged one
    /// unavailable ([`Walk::unavailable`]).
    pub fn open(&self, name: &str) -> Result<Namespace> {
        crate::config::validate_namespace(name)?;
        let dir = self.root.join(name);
        if !dir.is_dir() {
            return Err(self.bad_root(format!("it holds no namespace {name:?}")));
        }
        let mut config = CacheConfig::default()
            .dir(&self.root)
            .namespace(name)
            .disk_capacity(1 << 62)
            .memory_capacity(1 << 20);
        config.look_only = true;
        let (mut tiers, mut unavailable) = (Vec::new(), Vec::new());
        for tier in [Tier::Sled, Tier::File] {
            let Some((_, kind)) = Kind::of(tier) else {
                continue;
            };
            let Some(folder) = kind.folder.map(|f| dir.join(f)) else {
                continue;
            };
            if !folder.is_dir() {
                continue;
            }
            let opening = Opening {
                folder: Some(&folder),
                namespace: name,
                config: &config,
            };
            match (kind.open)(&opening) {
                Ok(store) => tiers.push(store),
                Err(e) => unavailable.push((tier, e.to_string())),
            }
        }
        Ok(Namespace {
            name: name.to_string(),
            catalog: Catalog::read(&dir),
            dir,
            tiers,
            unavailable,
            stale_after: STALE_AFTER,
        })
    }

    fn bad_root(&self, reason: String) -> CacheError {
        CacheError::BadDirectory {
            path: self.root.clone(),
            reason,
        }
    }
}

/// How much of each entry a walk reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Header and key only (checksummed): fast, for listing.
    Headers,
    /// The payload too, to its last byte, against its checksum.
    Payloads,
}

/// What a walk found out about an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryState {
    /// It checks out.
    Sound,
    /// Past its time to live.
    Expired,
    /// Written by an older version, of its function's code (a memoized function) or of
    /// its type's `VERSION` or codec, before a newer one was first recorded here (at
    /// least a day ago): builds running side by side keep what they still write.
    Stale,
    /// Damaged: it is a miss for every reader, and why.
    Corrupt(String),
    /// Of an envelope format this build does not read (another build of smartcache, or
    /// damage there): left in place.
    Unknown(String),
    /// It could not be read (permissions, an I/O error): left in place, and why.
    Unreadable(String),
}

/// How long after a newer version of a type or function is first recorded the entries
/// an older one wrote before it count as stale (see [`Namespace::stale_after`]).
pub const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);

impl EntryState {
    /// The state of an entry that does not check out, from why.
    fn of_refusal(refusal: &Refusal) -> EntryState {
        match refusal {
            Refusal::Format(reason) => EntryState::Unknown(reason.clone()),
            Refusal::Io(_) => EntryState::Unreadable(refusal.describe()),
            Refusal::Foreign => EntryState::Unknown(refusal.describe()),
            Refusal::Expired => EntryState::Expired,
            Refusal::Invalid(reason) => EntryState::Corrupt(reason.clone()),
        }
    }
}

/// One stored entry, as a walk shows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EntryInfo {
    /// The tier that holds it.
    pub tier: Tier,
    /// Its encoded key (behind its key version, for a memoized function); empty when
    /// its header is damaged.
    pub key: Vec<u8>,
    /// The key in printable form: the value for keys of a common type, else hex.
    pub key_shown: String,
    /// The code version of the memoized function that stored it.
    pub key_version: Option<u64>,
    /// The Rust types of its key and value, as the namespace's catalog names them.
    pub key_type: Option<String>,
    /// See `key_type`.
    pub value_type: Option<String>,
    /// The fingerprint of its type (and namespace) its header carries.
    pub fingerprint: Option<u64>,
    /// Its codec and compression.
    pub codec: Option<&'static str>,
    /// See `codec`.
    pub compression: Option<&'static str>,
    /// When it was written, when it expires, and when it was last read or written.
    pub created: Option<SystemTime>,
    /// See `created`.
    pub expires: Option<SystemTime>,
    /// See `created`.
    pub touched: Option<SystemTime>,
    /// Bytes of its encoded value, before compression.
    pub value_bytes: Option<u64>,
    /// Bytes it takes in its tier.
    pub stored_bytes: u64,
    /// Whether it checks out.
    pub state: EntryState,
    /// Its file, in the file tier.
    pub path: Option<PathBuf>,
}

/// How a walk ended.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Walk {
    /// Tiers whose store another process holds: not walked.
    pub in_use: Vec<Tier>,
    /// Tiers that could not be opened (a damaged sled database), and why: not walked.
    pub unavailable: Vec<(Tier, String)>,
    /// Entries `visit` chose that could not be removed (permissions, a busy file), each
    /// logged with why: they are still there.
    pub not_removed: u64,
    /// The bytes those entries take.
    pub not_removed_bytes: u64,
}

/// Data a crash or a failed operation left in a namespace folder.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Leftover {
    /// The file or folder.
    pub path: PathBuf,
    /// Bytes it takes.
    pub bytes: u64,
    /// What it is.
    pub what: &'static str,
}

/// One namespace folder, open for walks.
pub struct Namespace {
    name: String,
    dir: PathBuf,
    tiers: Vec<Arc<dyn Primary>>,
    /// Tiers that could not be opened, and why.
    unavailable: Vec<(Tier, String)>,
    catalog: Catalog,
    stale_after: Duration,
}

impl Namespace {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// How long after a newer version is first recorded the entries an older version
    /// wrote before it count as [`EntryState::Stale`]; [`STALE_AFTER`] unless set.
    pub fn stale_after(mut self, after: Duration) -> Self {
        self.stale_after = after;
        self
    }

    /// Shows every entry of its sled and file tiers to `visit`, reading as `check` says,
    /// and removes those `visit` returns true for, unless they changed since they were
    /// read. Those that could not be removed are counted in [`Walk::not_removed`].
    pub fn walk(&self, check: Check, mut visit: impl FnMut(&EntryInfo) -> bool) -> Result<Walk> {
        let mut walk = Walk {
            unavailable: self.unavailable.clone(),
            ..Walk::default()
        };
        let now_ms = crate::clock::now_ms();
        for store in &self.tiers {
            let tier = store.tier();
            let audited = store.audit(check == Check::Payloads, &mut |met| {
                visit(&self.info(tier, met, now_ms))
            })?;
            match audited {
                Audited::InUse => walk.in_use.push(tier),
                Audited::Done {
                    not_removed,
                    not_removed_bytes,
                } => {
                    walk.not_removed += not_removed;
                    walk.not_removed_bytes += not_removed_bytes;
                }
            }
        }
        Ok(walk)
    }

    /// What crashes and failed operations left here (temporary files of writers that
    /// died, damaged stores set aside); removed with `remove`.
    pub fn leftovers(&self, remove: bool) -> Vec<Leftover> {
        self.tiers
            .iter()
            .flat_map(|store| store.leftovers(remove))
            .map(|l| Leftover {
                path: l.path,
                bytes: l.bytes,
                what: l.what,
            })
            .collect()
    }

    /// Deletes every entry of its sled and file tiers.
    pub fn clear(&self) -> Result<Walk> {
        let mut walk = Walk {
            unavailable: self.unavailable.clone(),
            ..Walk::default()
        };
        for store in &self.tiers {
            if !store.takes_writes() {
                walk.in_use.push(store.tier());
                continue;
            }
            store.clear()?;
        }
        Ok(walk)
    }

    fn info(&self, tier: Tier, met: &Met, now_ms: u64) -> EntryInfo {
        let time = |ms: u64| UNIX_EPOCH.checked_add(Duration::from_millis(ms));
        let mut info = EntryInfo {
            tier,
            key: Vec::new(),
            key_shown: String::new(),
            key_version: None,
            key_type: None,
            value_type: None,
            fingerprint: None,
            codec: None,
            compression: None,
            created: None,
            expires: None,
            touched: met.touched_ms.and_then(time),
            value_bytes: None,
            stored_bytes: met.stored_bytes,
            state: EntryState::Sound,
            path: met.path.clone(),
        };
        let (header, key) = match &met.head {
            Ok(head) => head,
            Err(refusal) => {
                info.key_shown = "?".into();
                info.state = EntryState::of_refusal(refusal);
                return info;
            }
        };
        let named = self.catalog.type_of(header.fingerprint);
        info.key_version = self.catalog.version_of(key);
        let bare_key = match info.key_version {
            Some(_) => &key[8..],
            None => &key[..],
        };
        info.key_shown = keys::shown(bare_key, named.map(|t| t.key_type.as_str()));
        info.key = key.clone();
        info.key_type = named.map(|t| t.key_type.clone());
        info.value_type = named.map(|t| t.value_type.clone());
        info.fingerprint = Some(header.fingerprint);
        info.codec = Some(crate::codec::name_of(header.codec));
        info.compression = Some(header.packing.name());
        info.created = time(header.created_ms);
        info.expires = (header.expires_ms != 0)
            .then(|| time(header.expires_ms))
            .flatten();
        info.value_bytes = Some(header.raw_len);
        let superseded = self
            .catalog
            .superseded_at(header.fingerprint, info.key_version)
            .filter(|&at| {
                header.created_ms < at
                    && now_ms.saturating_sub(at) >= self.stale_after.as_millis() as u64
            });
        info.state = if let Some(fault) = &met.payload_fault {
            EntryState::of_refusal(fault)
        } else if header.expires_ms != 0 && now_ms >= header.expires_ms {
            EntryState::Expired
        } else if superseded.is_some() {
            EntryState::Stale
        } else {
            EntryState::Sound
        };
        info
    }
}
