//! The zero-copy form of arrays (feature `ndarray`): [`SmartCache::get_mapped`] maps a
//! file-tier entry into memory and views its elements in place, like numpy's and
//! joblib's `mmap_mode`. A hit costs an open, a header check and an `mmap`, whatever
//! the array's size.
//!
//! # Why it is sound, and what is checked
//!
//! - **The bytes do not change under the view.** smartcache never writes an entry file
//!   in place: a new value is a new file renamed over the old name, and eviction or
//!   removal unlinks. A map keeps the file it mapped alive, so a [`MappedArray`] keeps
//!   seeing the value it was given even after the key is replaced or removed. The one
//!   assumption is that no other program writes into the cache folder (entry files are
//!   0600 by default); it is the same assumption every memory-mapped store makes.
//! - **The envelope is checked on every hit**: format, type fingerprint, codec, the full
//!   key (no hash collision is served), expiry, the file's length, the array header
//!   (element type, dimension, shape against the payload length) and the alignment of
//!   the data.
//! - **The payload checksum is checked once per entry per process**: the first mapped
//!   hit of an entry hashes its payload (which also brings it into the page cache);
//!   later hits of that same entry file (same inode, creation time and checksum) skip
//!   it. A damaged entry is therefore still a miss, counted and removed, the first time
//!   a process maps it.
//! - Only uncompressed arrays in the file tier can be viewed in place. `get_mapped` says
//!   [`CacheError::NotMappable`] for a compressed entry, or for an array that lives in
//!   memory or sled (smaller than `file_threshold`): read those with `get`, or pin the
//!   array type to [`Tier::File`] so that every array is mappable.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError};

use ndarray::{Array, ArrayView, Dimension};

use crate::codec::{dimension, read_layout, MappableElement};
use crate::entry::Header;
use crate::tier::LoadError;
use crate::{CacheError, CacheKey, Result, SmartCache, Tier};

/// An array viewed in place in a memory-mapped file-tier entry. See
/// [`SmartCache::get_mapped`].
pub struct MappedArray<A, D> {
    map: memmap2::Mmap,
    /// Byte range of the elements in `map`.
    start: usize,
    end: usize,
    dim: D,
    _elements: PhantomData<A>,
}

impl<A: MappableElement, D: Dimension> MappedArray<A, D> {
    /// A view of the array, without a copy.
    pub fn view(&self) -> ArrayView<'_, A, D> {
        let items = A::view(&self.map[self.start..self.end])
            .expect("alignment and length were checked when the entry was mapped");
        ArrayView::from_shape(self.dim.clone(), items)
            .expect("the shape was checked against the data length when the entry was mapped")
    }

    /// The shape of the array.
    pub fn shape(&self) -> &[usize] {
        self.dim.slice()
    }

    /// An owned copy of the array.
    pub fn to_owned(&self) -> Array<A, D> {
        self.view().to_owned()
    }
}

impl<A, D: std::fmt::Debug> std::fmt::Debug for MappedArray<A, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedArray")
            .field("dim", &self.dim)
            .field("bytes", &(self.end - self.start))
            .finish_non_exhaustive()
    }
}

/// An entry file: (device, inode, creation time, payload checksum).
type FileIdentity = (u64, u64, u64, u64);

/// Entry files whose payload checksum this process has checked.
static VERIFIED: Mutex<Option<HashSet<FileIdentity>>> = Mutex::new(None);
/// Entries remembered at most; the set starts over beyond.
const VERIFIED_MAX: usize = 1 << 16;

#[cfg(unix)]
fn identity(file: &std::fs::Metadata, header: &Header) -> Option<FileIdentity> {
    use std::os::unix::fs::MetadataExt;
    Some((
        file.dev(),
        file.ino(),
        header.created_ms,
        header.payload_hash,
    ))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata, _: &Header) -> Option<FileIdentity> {
    None
}

impl<K: CacheKey, A: MappableElement, D: Dimension + 'static> SmartCache<K, Array<A, D>> {
    /// The array of `key`, viewed in place in its file-tier entry instead of read into
    /// memory: for large, read-mostly arrays. The hit costs the same whatever the array's
    /// size; the first hit of an entry in a process also checks its payload checksum. The
    /// module [`mapped`](crate::mapped) gives the safety argument.
    ///
    /// `Ok(None)` when no tier holds `key`. Arrays smaller than `file_threshold` (1 MiB
    /// by default) live in memory or sled, where there is no file to map: for those, and
    /// for compressed entries, the answer is [`CacheError::NotMappable`], and `get` reads
    /// the value. A cache whose arrays must all be mappable routes them to files:
    /// `CacheConfig::tier(Tier::File)`, or a type pinned to `Tier::File`.
    ///
    /// ```
    /// # fn main() -> Result<(), smartcache::CacheError> {
    /// use ndarray::Array2;
    /// use smartcache::prelude::*;
    ///
    /// let cache: SmartCache<u64, Array2<f64>> = CacheConfig::temporary().build()?;
    /// cache.insert(7, Array2::from_elem((1024, 1024), 0.5))?; // 8 MiB: a file
    /// let mapped = cache.get_mapped(&7)?.expect("a hit");
    /// assert_eq!(mapped.view().sum(), 0.5 * 1024.0 * 1024.0);
    ///
    /// cache.insert(8, Array2::from_elem((4, 4), 1.0))?; // 128 bytes: memory, no file
    /// assert!(matches!(cache.get_mapped(&8), Err(CacheError::NotMappable { .. })));
    /// assert_eq!(cache.get(&8).map(|a| a.len()), Some(16));
    /// # Ok(()) }
    /// ```
    pub fn get_mapped<Q>(&self, key: &Q) -> Result<Option<MappedArray<A, D>>>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + serde::Serialize + ?Sized,
    {
        let mapped = self.map_file_entry(key, |mapped| {
            if mapped.header.is_compressed() {
                return Err(LoadError::Failed(CacheError::NotMappable {
                    reason: "the entry is compressed",
                    fix: "read it with get, or build the cache with CacheConfig::compression(Compression::None)",
                }));
            }
            view_entry::<A, D>(mapped.map, &mapped.header, &mapped.file)
        })?;
        if mapped.is_some() {
            return Ok(mapped);
        }
        // Not in a file: say so if another tier holds it.
        match self.tier_of(key) {
            Some(Tier::Memory) | Some(Tier::Sled) => Err(CacheError::NotMappable {
                reason: "the array is in the memory or sled tier (it is smaller than file_threshold), where there is no file to map",
                fix: "read it with get, or send arrays to files with CacheConfig::tier(Tier::File)",
            }),
            _ => Ok(None),
        }
    }
}

/// Checks a mapped entry's payload (checksum once per process, array header, alignment)
/// and builds the view.
fn view_entry<A: MappableElement, D: Dimension>(
    map: memmap2::Mmap,
    header: &Header,
    file: &std::fs::Metadata,
) -> std::result::Result<MappedArray<A, D>, LoadError> {
    let payload = header
        .payload_of(&map)
        .ok_or_else(|| LoadError::Invalid("truncated entry".into()))?;
    let start = map.len() - payload.len();
    verify_once(payload, header, file)?;
    let mut input = payload;
    let layout = read_layout::<A, D, _>(&mut input, header.raw_len)
        .map_err(|e| LoadError::Invalid(format!("payload does not decode: {e}")))?;
    let dim = dimension::<D>(&layout.shape)
        .map_err(|e| LoadError::Invalid(format!("payload does not decode: {e}")))?;
    let data_start = start + layout.data_offset;
    let data_end = start + payload.len();
    if A::view(&map[data_start..data_end]).is_none() {
        return Err(LoadError::Invalid(
            "array data is not aligned for its element type; use get".into(),
        ));
    }
    Ok(MappedArray {
        map,
        start: data_start,
        end: data_end,
        dim,
        _elements: PhantomData,
    })
}

/// Checks the payload checksum, unless this process already checked this entry file.
fn verify_once(
    payload: &[u8],
    header: &Header,
    file: &std::fs::Metadata,
) -> std::result::Result<(), LoadError> {
    if payload.len() as u64 != header.stored_len {
        return Err(LoadError::Invalid("truncated entry".into()));
    }
    let id = identity(file, header);
    let known = |set: &Option<HashSet<_>>| {
        id.is_some_and(|id| set.as_ref().is_some_and(|set| set.contains(&id)))
    };
    if known(&VERIFIED.lock().unwrap_or_else(PoisonError::into_inner)) {
        return Ok(());
    }
    if crate::hash::hash64(payload) != header.payload_hash {
        return Err(LoadError::Invalid(
            "corrupt payload (checksum mismatch)".into(),
        ));
    }
    if let Some(id) = id {
        let mut verified = VERIFIED.lock().unwrap_or_else(PoisonError::into_inner);
        let set = verified.get_or_insert_with(HashSet::new);
        if set.len() >= VERIFIED_MAX {
            set.clear();
        }
        set.insert(id);
    }
    Ok(())
}
