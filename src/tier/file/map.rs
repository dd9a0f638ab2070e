//! Reading file entries through a memory map: `get_mapped` views (feature `ndarray`),
//! and large reads with `CacheConfig::mmap_reads`.

use super::*;

impl FileTier {
    /// Maps an entry file into memory.
    #[allow(unsafe_code)]
    pub(super) fn map_file(
        &self,
        file: &fs::File,
        path: &Path,
    ) -> Result<memmap2::Mmap, LoadError> {
        // SAFETY: `Mmap::map` is unsafe because another process could change the file
        // while it is mapped. smartcache never writes an entry file in place (a new entry
        // is a new file renamed over the old name; eviction and removal unlink), and
        // entry files are private to their owner (0600 by default); a process that
        // writes into the cache folder by other means breaks that contract, as it would
        // for any memory-mapped store (numpy's and joblib's `mmap_mode` alike).
        unsafe { memmap2::Mmap::map(file) }.map_err(|e| LoadError::Failed(self.io_error(path, e)))
    }

    /// Maps an entry into memory after checking its header (type, codec, key, expiry,
    /// length); the payload is not read. `Ok(None)` when there is no entry. The mapped
    /// bytes stay as they were checked for as long as the map lives, even if the entry
    /// is replaced or removed (see `map_file`).
    #[cfg(feature = "ndarray")]
    pub(super) fn map_entry(
        &self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> Result<Option<super::super::Mapped>, LoadError> {
        let Some((reader, header, modified)) = self.open_entry(address, expect)? else {
            return Ok(None);
        };
        let file = reader.into_inner();
        let path = self.path_of(address.hash());
        let map = self.map_file(&file, &path)?;
        let meta = file
            .metadata()
            .map_err(|e| LoadError::Failed(self.io_error(&path, e)))?;
        if map.len() as u64 != header.entry_len() {
            return Err(LoadError::Invalid(
                "entry changed size while being mapped".into(),
            ));
        }
        self.touch_file(&file, modified, expect.tti);
        Ok(Some(super::super::Mapped {
            map,
            header,
            file: meta,
        }))
    }

    /// Decodes an entry's payload straight from a memory map of its file (checksum
    /// first, then the codec), instead of reading it into a buffer. The caller opted in
    /// to `mmap_reads`, whose documentation gives the cost: an I/O error, or a file
    /// truncated by another program, while the map is read is a SIGBUS.
    pub(super) fn load_mapped(
        &self,
        file: &fs::File,
        header: &entry::Header,
        path: &Path,
        into: &mut dyn Incoming,
    ) -> Result<(), LoadError> {
        let map = self.map_file(file, path)?;
        let payload = header
            .payload_of(&map)
            .ok_or_else(|| LoadError::Invalid("truncated entry".into()))?;
        into.decode_payload(payload, header)
            .map_err(|r| LoadError::refused(r, Tier::File, path))
    }
}
