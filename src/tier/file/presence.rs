//! Which keys may have an entry file: a Bloom filter in `files/presence`, a memory-mapped
//! file shared by every process that opens the folder.
//!
//! A process sets a key's bits before it places the key's file, and sets the bits of
//! every file its opening scan finds, so a clear bit means that no file of the key exists.
//! Inserts whose value lives in another tier then skip looking for an older file of their
//! key (a `stat`, which costs more than the rest of a memory insert), and reads of keys
//! the tier never held skip opening a file.
//!
//! Bits are only ever set: a crash leaves at worst the bits of a file that never came to
//! be, which costs a look, as without the filter. Once most bits are set (millions of
//! keys written over the folder's life) the filter answers "maybe" more often and the
//! tier looks more often, as it did without one: slower, never wrong.
//!
//! Where the filter cannot be trusted it answers "maybe" to every key: a folder on a
//! network filesystem (writes from other machines do not reach this machine's map) or on
//! one that copies blocks on write (btrfs, zfs: a write through the map could need room
//! a full disk does not have), a `presence` file of another size or format, or one that
//! cannot be made or mapped.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use memmap2::MmapMut;

/// The file's name in the file tier's folder.
const NAME: &str = "presence";
/// What the first word holds: the format of the filter.
const MAGIC: u64 = u64::from_le_bytes(*b"SCPRES01");
/// Bytes before the bits (the magic, and room for the format to grow).
const HEADER: usize = 64;
/// Words of bits: 2^17 words of 64 bits (1 MiB), three bits a key within one word. At a
/// million keys a key with no file is taken for one with a file 2.6% of the time.
const WORDS: usize = 1 << 17;
const LEN: u64 = (HEADER + WORDS * 8) as u64;

/// The presence filter of one file tier.
pub(super) struct Presence {
    /// `None` where the filter cannot be trusted: every key may have a file.
    map: Option<MmapMut>,
}

impl Presence {
    /// Maps the filter of the file tier in `root`, creating it (through a file in `tmp`,
    /// the tier's folder of writes in progress) if there is none. Never fails: a filter
    /// that cannot be used answers "maybe" to every key.
    pub fn open(root: &Path, tmp: &Path, secure: bool) -> Presence {
        if !local_filesystem(root) {
            tracing::debug!(path = %root.display(), "file tier: the folder is not on a local filesystem; every key is looked for");
            return Presence { map: None };
        }
        let path = root.join(NAME);
        match map(&path, tmp, secure) {
            Ok(map) => Presence { map },
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "file tier: cannot map the presence filter; every key is looked for");
                Presence { map: None }
            }
        }
    }

    /// A filter that answers "maybe" to every key.
    pub fn off() -> Presence {
        Presence { map: None }
    }

    /// Bytes the filter takes on disk (its file, once mapped).
    pub fn disk_bytes(&self) -> u64 {
        if self.map.is_some() {
            LEN
        } else {
            0
        }
    }

    /// Records that `hash` may have a file: called before the file is placed.
    pub fn note(&self, hash: u128) {
        if let Some((word, mask)) = self.word(hash) {
            word.fetch_or(mask, SeqCst);
        }
    }

    /// Whether a file of `hash` may exist; `false` only when none does.
    pub fn may_hold(&self, hash: u128) -> bool {
        self.word(hash)
            .is_none_or(|(word, mask)| word.load(SeqCst) & mask == mask)
    }

    /// The word that holds `hash`'s bits, and its bits in it.
    fn word(&self, hash: u128) -> Option<(&AtomicU64, u64)> {
        let words = words(self.map.as_ref()?);
        let index = (hash as u64 as usize) % WORDS;
        let high = (hash >> 64) as u64;
        let mask = (1 << (high & 63)) | (1 << ((high >> 6) & 63)) | (1 << ((high >> 12) & 63));
        Some((&words[index], mask))
    }
}

/// Maps the filter file at `path`, creating it if there is none. `Ok(None)` for a file
/// of another size or format, which is left as it is.
fn map(path: &Path, tmp: &Path, secure: bool) -> io::Result<Option<MmapMut>> {
    let file = match crate::paths::open_file(
        fs::OpenOptions::new().read(true).write(true),
        path,
        secure,
    ) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create(path, tmp, secure)?;
            crate::paths::open_file(fs::OpenOptions::new().read(true).write(true), path, secure)?
        }
        opened => opened?,
    };
    let len = file.metadata()?.len();
    if len != LEN {
        tracing::debug!(path = %path.display(), bytes = len, "file tier: the presence filter has another size; every key is looked for");
        return Ok(None);
    }
    #[allow(unsafe_code)]
    // SAFETY: the map's memory is only ever used through atomics (`words`), so changes
    // by other processes are races on atomics, never on plain memory. The file is never
    // truncated by this crate, and its blocks were all written when it was made, so a
    // write through the map never needs new room (a full disk cannot fault it).
    let map = unsafe { MmapMut::map_mut(&file)? };
    if words_at(&map, 0)[0].load(SeqCst) != MAGIC {
        tracing::debug!(path = %path.display(), "file tier: the presence filter is of another format; every key is looked for");
        return Ok(None);
    }
    Ok(Some(map))
}

/// Makes the filter file: written in full in `tmp` (every block of it, so that writes
/// through a map never need room), then linked into place unless another process got
/// there first. Named like the tier's other writes in progress, so that what a writer
/// killed meanwhile leaves is cleaned up with them.
fn create(path: &Path, tmp: &Path, secure: bool) -> io::Result<()> {
    use std::io::Write;
    let tmp = tmp.join(format!("{NAME}.{}.{}", std::process::id(), next_tmp()));
    let written = crate::paths::create_file(&tmp, secure).and_then(|mut file| {
        let mut content = vec![0u8; LEN as usize];
        content[..8].copy_from_slice(&MAGIC.to_le_bytes());
        file.write_all(&content)
    });
    let linked = written.and_then(|()| match fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        linked => linked,
    });
    let _ = fs::remove_file(&tmp);
    linked
}

/// Numbers this process's temporary filter files.
fn next_tmp() -> u64 {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    SEQ.fetch_add(1, SeqCst)
}

/// The filter's bits.
fn words(map: &MmapMut) -> &[AtomicU64] {
    &words_at(map, HEADER)[..WORDS]
}

/// The map's memory from byte `at` as 64-bit atomics.
fn words_at(map: &MmapMut, at: usize) -> &[AtomicU64] {
    let bytes = &map[at..];
    #[allow(unsafe_code)]
    // SAFETY: a map starts on a page boundary and `at` is a multiple of 8, so the words
    // are aligned; the slice covers only the map's bytes, which live as long as `map`;
    // `AtomicU64` has the size and layout of `u64`, and every access is atomic.
    unsafe {
        std::slice::from_raw_parts(bytes.as_ptr().cast::<AtomicU64>(), bytes.len() / 8)
    }
}

/// Whether `root` is on a filesystem whose shared maps every process sees at once (a local
/// one) and that writes a file's blocks in place (so that a full disk cannot fault a
/// write through a map): known ones of Linux only; elsewhere the filter is off.
#[cfg(target_os = "linux")]
fn local_filesystem(root: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    const LOCAL: [i64; 6] = [
        0xEF53,     // ext2, ext3, ext4
        0x58465342, // xfs
        0x01021994, // tmpfs
        0x858458F6, // ramfs
        0x3153464A, // jfs
        0x52654973, // reiserfs
    ];
    let Ok(path) = std::ffi::CString::new(root.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `statfs` writes into the zeroed struct it is given and reads the
    // NUL-terminated path, both alive for the call.
    #[allow(unsafe_code)]
    let kind = unsafe {
        let mut stat: libc::statfs = std::mem::zeroed();
        if libc::statfs(path.as_ptr(), &mut stat) != 0 {
            return false;
        }
        stat.f_type
    };
    // `f_type`'s integer type differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    LOCAL.contains(&(kind as i64))
}

#[cfg(not(target_os = "linux"))]
fn local_filesystem(_root: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_bit_means_no_file_and_bits_are_shared_through_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Presence::open(dir.path(), dir.path(), true);
        assert!(a.map.is_some(), "a temporary folder is local");
        let b = Presence::open(dir.path(), dir.path(), true);
        let hashes: Vec<u128> = (0..1000u128)
            .map(|i| crate::hash::hash128(&i.to_le_bytes()))
            .collect();
        assert!(hashes.iter().all(|&h| !a.may_hold(h)));
        for &h in &hashes[..500] {
            a.note(h);
        }
        // Seen through the other map of the same file, as another process would.
        assert!(hashes[..500].iter().all(|&h| b.may_hold(h)));
        let false_positives = hashes[500..].iter().filter(|&&h| b.may_hold(h)).count();
        assert!(false_positives < 5, "{false_positives} of 500");
    }

    #[test]
    fn a_foreign_file_turns_the_filter_off() {
        for (content, what) in [
            (vec![1u8; 100], "size"),
            (vec![7u8; LEN as usize], "format"),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            fs::write(dir.path().join(NAME), &content).expect("write");
            let presence = Presence::open(dir.path(), dir.path(), true);
            assert!(presence.map.is_none(), "{what}");
            assert!(presence.may_hold(1), "{what}");
            presence.note(1);
            assert_eq!(
                fs::read(dir.path().join(NAME)).expect("read"),
                content,
                "{what}"
            );
        }
    }
}
